#include "stack/stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "debug/tools.h"

__thread weft__pool_bin weft__pool[WEFT_POOL_BINS] __attribute__((tls_model("initial-exec")));

size_t weft__page_size_cache;

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

/* Guard pages. A PROT_NONE page splits the stack's mapping in two, so each
 * stack costs two of the process's ~65,530 maps and private stacks stop near
 * 32,000. Where the kernel has guard regions (MADV_GUARD_INSTALL), the guard
 * lives in the page tables instead: the mapping stays whole and adjacent
 * stacks merge into one map, so the count is bounded by memory alone. */
enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_mode;

/* Checks that a guard region really faults (an emulator may accept the
 * advice and ignore it): the kernel refuses to read it with EFAULT. */
static int probe_guard_regions(void)
{
    size_t page = weft__page_size();
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    int ok = 0, fds[2];
    if (madvise(m, page, MADV_GUARD_INSTALL) == 0 && pipe(fds) == 0) {
        ok = write(fds[1], m, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(m, 2 * page);
    return ok;
}

static int use_madvise_guard(void)
{
    int mode = __atomic_load_n(&guard_mode, __ATOMIC_RELAXED);
    if (__builtin_expect(mode == GUARD_UNKNOWN, 0)) {
        const char *env = getenv("WEFT_GUARD");
        if (env && strcmp(env, "mprotect") == 0)
            mode = GUARD_MPROTECT;
        else
            mode = probe_guard_regions() ? GUARD_MADVISE : GUARD_MPROTECT;
        __atomic_store_n(&guard_mode, mode, __ATOMIC_RELAXED);
    }
    return mode == GUARD_MADVISE;
}

static int install_guard(char *map, size_t size)
{
    if (use_madvise_guard())
        return madvise(map, size, MADV_GUARD_INSTALL);
    return mprotect(map, size, PROT_NONE);
}

size_t weft__page_size_slow(void)
{
    weft__page_size_cache = (size_t)sysconf(_SC_PAGESIZE);
    return weft__page_size_cache;
}

static void unmap(char *map, size_t map_size, unsigned vg_id)
{
    weft__tools_stack_unregister(vg_id);
    munmap(map, map_size);
}

void weft__stack_unmap(const weft__stack *s)
{
    unmap(s->map, s->map_size, s->vg_id);
}

/* Makes bin i the first, where the inline fast paths look. */
static weft__pool_bin *to_front(int i)
{
    if (i > 0) {
        weft__pool_bin t = weft__pool[i];
        weft__pool[i] = weft__pool[0];
        weft__pool[0] = t;
    }
    return &weft__pool[0];
}

int weft__stack_get_slow(weft__stack *s, size_t map_size)
{
    size_t guard = weft__guard_size();
    for (int i = 0; i < WEFT_POOL_BINS; i++) {
        if (weft__pool[i].map_size == map_size && weft__pool[i].head) {
            weft__stack_pop(to_front(i), s);
            return 0;
        }
    }
    /* MAP_NORESERVE: pages are committed as they are touched, and an idle
     * stack's address space is not charged to the overcommit account. */
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        errno = ENOMEM;
        return -1;
    }
    if (install_guard(map, guard) != 0) {
        munmap(map, map_size); /* out of map entries: the split failed */
        errno = ENOMEM;
        return -1;
    }
    s->map = map;
    s->map_size = map_size;
    s->vg_id = weft__tools_stack_register(map + guard, map + map_size);
    return 0;
}

void weft__stack_put_slow(const weft__stack *s)
{
    int found = -1;
    for (int i = 0; i < WEFT_POOL_BINS && found < 0; i++)
        if (weft__pool[i].map_size == s->map_size)
            found = i;
    for (int i = 0; i < WEFT_POOL_BINS && found < 0; i++)
        if (weft__pool[i].head == NULL)
            found = i;
    if (found < 0 || weft__pool[found].count >= WEFT_POOL_MAX) {
        unmap(s->map, s->map_size, s->vg_id);
        return;
    }
    /* A coroutine freed while suspended leaves poisoned frames behind. */
    weft__tools_stack_reset(weft__stack_lo(s), s->map_size - weft__guard_size());
    weft__pool_bin *b = to_front(found);
    b->map_size = s->map_size;
    weft__stack_push(b, s);
}

void weft__stack_pool_drain(void)
{
    for (int i = 0; i < WEFT_POOL_BINS; i++) {
        weft__pool_bin *b = &weft__pool[i];
        while (b->head) {
            weft__pool_node *n = b->head;
            b->head = n->next;
            unmap((char *)n + sizeof *n - n->map_size, n->map_size, n->vg_id);
        }
        b->count = 0;
        b->map_size = 0;
    }
}
