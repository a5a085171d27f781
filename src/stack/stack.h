/* Stack memory: private stacks, each its own mapping with a PROT_NONE
 * guard page at the low end, committed lazily by the kernel and kept in a
 * per-thread pool for reuse. */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stddef.h>

typedef struct weft__stack {
    char *map;       /* the whole mapping; its first weft__guard_size() bytes are the guard */
    size_t map_size; /* bytes mapped, guard included */
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

/* Gets a mapping with at least `usable` bytes above its guard page, from
 * this thread's pool when one of that size is there. Returns 0, or -1 with
 * errno ENOMEM. */
int weft__stack_get(weft__stack *s, size_t usable);

/* Returns a mapping to this thread's pool, or unmaps it when the pool is
 * full. */
void weft__stack_put(const weft__stack *s);

/* Unmaps a stack now, bypassing the pool. */
void weft__stack_unmap(const weft__stack *s);

/* Unmaps every stack in this thread's pool (at thread exit). */
void weft__stack_pool_drain(void);

static inline char *weft__stack_lo(const weft__stack *s)
{
    return s->map + weft__guard_size();
}

static inline char *weft__stack_hi(const weft__stack *s)
{
    return s->map + s->map_size;
}

#endif
