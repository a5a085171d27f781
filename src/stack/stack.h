/* Stack memory: private stacks, each with a guard at its low end (a guard
 * region in the page tables, or a PROT_NONE range), carved from large
 * mappings (slab.c), committed lazily by the kernel and kept in a
 * per-thread pool for reuse. */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stddef.h>

typedef struct weft__stack {
    char *map; /* the stack's part of its slab; its first weft__guard_size() bytes are the guard */
    size_t map_size; /* bytes, guard included */
    unsigned vg_id;  /* valgrind's stack id */
} weft__stack;

/* Bytes of a page, cached. */
extern size_t weft__page_size_cache;
size_t weft__page_size_slow(void);
static inline size_t weft__page_size(void)
{
    size_t p = weft__page_size_cache;
    return __builtin_expect(p != 0, 1) ? p : weft__page_size_slow();
}

/* Bytes of the guard below every stack: 64 KiB, or a page if larger.
 * Compilers that probe large frames (-fstack-clash-protection) assume a
 * guard of one page on x86_64 but of 64 KiB on aarch64, and a wide guard
 * also catches frames of up to 64 KiB in code built without probes. It
 * costs address space only. */
static inline size_t weft__guard_size(void)
{
    size_t page = weft__page_size();
    return page > 65536 ? page : 65536;
}

/* The per-thread pool: a few size classes, each a list threaded through
 * the top bytes of the free stacks themselves, so pooling allocates
 * nothing. The class used last is first, where the inline paths look. */
#define WEFT_POOL_BINS 4
#define WEFT_POOL_MAX 256 /* stacks an idle thread keeps per class */

typedef struct weft__pool_node {
    struct weft__pool_node *next;
    unsigned vg_id;
} weft__pool_node;

typedef struct weft__pool_bin {
    size_t map_size;
    weft__pool_node *head;
    unsigned count;
} weft__pool_bin;

extern __thread weft__pool_bin weft__pool[WEFT_POOL_BINS]
    __attribute__((tls_model("initial-exec")));
extern int weft__tools_asan;

/* Bytes mapped for a stack with `usable` bytes above its guard. */
static inline size_t weft__stack_map_size(size_t usable)
{
    size_t page = weft__page_size();
    return ((usable + page - 1) & ~(page - 1)) + weft__guard_size();
}

int weft__stack_get_slow(weft__stack *s, size_t map_size);

/* Takes the first stack of a bin that has one. */
static inline void weft__stack_pop(weft__pool_bin *b, weft__stack *s)
{
    weft__pool_node *n = b->head;
    b->head = n->next;
    b->count--;
    s->map = (char *)n + sizeof *n - b->map_size;
    s->map_size = b->map_size;
    s->vg_id = n->vg_id;
}
void weft__stack_put_slow(const weft__stack *s);

/* Gets a mapping with at least `usable` bytes above its guard, from this
 * thread's pool when one of that size is there. Returns 0, or -1 with
 * errno ENOMEM. */
static inline int weft__stack_get(weft__stack *s, size_t usable)
{
    size_t map_size = weft__stack_map_size(usable);
    weft__pool_bin *b = &weft__pool[0];
    if (__builtin_expect(b->head != NULL && b->map_size == map_size, 1)) {
        weft__stack_pop(b, s);
        return 0;
    }
    return weft__stack_get_slow(s, map_size);
}

static inline void weft__stack_push(weft__pool_bin *b, const weft__stack *s)
{
    weft__pool_node *n = (weft__pool_node *)(s->map + s->map_size - sizeof *n);
    n->vg_id = s->vg_id;
    n->next = b->head;
    b->head = n;
    b->count++;
}

/* Returns a stack to this thread's pool, or to its slab when the pool is
 * full. */
static inline void weft__stack_put(const weft__stack *s)
{
    weft__pool_bin *b = &weft__pool[0];
    /* Under ASan the slow path also clears the stack's stale shadow. */
    if (__builtin_expect(
            b->map_size == s->map_size && b->count < WEFT_POOL_MAX && !weft__tools_asan, 1)) {
        weft__stack_push(b, s);
        return;
    }
    weft__stack_put_slow(s);
}

/* Returns a stack to its slab now, bypassing the pool. */
void weft__stack_unmap(const weft__stack *s);

/* Returns every stack in this thread's pool to its slab (at thread exit). */
void weft__stack_pool_drain(void);

/* slab.c: a stack of map_size bytes, guard included, from the slabs (0, or
 * -1 with errno ENOMEM), and one given back; a slab whose stacks are all
 * back is unmapped. Thread-safe. */
int weft__slab_get(weft__stack *s, size_t map_size);
void weft__slab_put(const weft__stack *s);

/* Are guards regions in the page tables (1; else PROT_NONE ranges, 0)?
 * Probed once; WEFT_GUARD=mprotect forces the ranges. -1 while the probe
 * cannot run for want of memory or fds. */
int weft__stack_guard_regions(void);

static inline char *weft__stack_lo(const weft__stack *s)
{
    return s->map + weft__guard_size();
}

static inline char *weft__stack_hi(const weft__stack *s)
{
    return s->map + s->map_size;
}

#endif
