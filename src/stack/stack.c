#include "stack/stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/tools.h"

__thread weft__pool_bin weft__pool[WEFT_POOL_BINS] __attribute__((tls_model("initial-exec")));

size_t weft__page_size_cache;

size_t weft__page_size_slow(void)
{
    weft__page_size_cache = (size_t)sysconf(_SC_PAGESIZE);
    return weft__page_size_cache;
}

void weft__stack_unmap(const weft__stack *s)
{
    weft__slab_put(s);
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
    for (int i = 0; i < WEFT_POOL_BINS; i++) {
        if (weft__pool[i].map_size == map_size && weft__pool[i].head) {
            weft__stack_pop(to_front(i), s);
            return 0;
        }
    }
    return weft__slab_get(s, map_size);
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
        weft__slab_put(s);
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
            weft__stack st;
            weft__stack_pop(b, &st);
            weft__slab_put(&st);
        }
        b->count = 0;
        b->map_size = 0;
    }
}
