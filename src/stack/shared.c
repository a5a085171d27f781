#include "stack/shared.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "debug/tools.h"

typedef struct group {
    size_t size;
    unsigned next;
    weft__shared *stacks[WEFT_SHARED_PER_SIZE];
    struct group *link;
} group;

static __thread group *groups __attribute__((tls_model("initial-exec")));

static weft__shared *shared_map(size_t size)
{
    weft__shared *s = malloc(sizeof *s);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (weft__stack_get(&s->stack, size) != 0) {
        free(s);
        return NULL;
    }
    s->lo = weft__stack_lo(&s->stack);
    s->hi = weft__stack_hi(&s->stack);
    s->owner = NULL;
    s->users = 0;
    return s;
}

weft__shared *weft__shared_pick(size_t size, const weft__shared *avoid)
{
    group *g = groups;
    while (g && g->size != size)
        g = g->link;
    if (g == NULL) {
        g = calloc(1, sizeof *g);
        if (g == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        g->size = size;
        g->link = groups;
        groups = g;
    }
    unsigned i = g->next++ % WEFT_SHARED_PER_SIZE;
    if (g->stacks[i] != NULL && g->stacks[i] == avoid)
        i = g->next++ % WEFT_SHARED_PER_SIZE;
    if (g->stacks[i] == NULL && (g->stacks[i] = shared_map(size)) == NULL)
        return NULL;
    g->stacks[i]->users++;
    return g->stacks[i];
}

void weft__shared_drop(weft__shared *s)
{
    s->users--;
}

void weft__shared_drain(void)
{
    while (groups) {
        group *g = groups;
        groups = g->link;
        for (int i = 0; i < WEFT_SHARED_PER_SIZE; i++) {
            weft__shared *s = g->stacks[i];
            /* A stack still used by a coroutine that outlives its thread
             * stays mapped: that coroutine may still be freed. */
            if (s && s->users == 0) {
                weft__stack_unmap(&s->stack);
                free(s);
            }
        }
        free(g);
    }
}

int weft__image_reserve(weft__image *im, size_t len, char *inl, uint32_t inl_cap)
{
    if (len <= im->cap)
        return 0;
    if (len > UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    /* Grow by half again, so a stack that deepens step by step does not
     * reallocate at every step. */
    size_t cap = len + len / 2;
    if (cap > UINT32_MAX)
        cap = len;
    char *b = malloc(cap);
    if (b == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (im->buf != inl)
        free(im->buf);
    im->buf = b;
    im->cap = (uint32_t)cap;
    (void)inl_cap;
    return 0;
}

void weft__image_save(weft__image *im, const char *from, const char *hi, char *inl,
                      uint32_t inl_cap)
{
    size_t len = (size_t)(hi - from);
    /* Shrink a heap image that is four times too large. */
    if (im->buf != inl && len * 4 < im->cap) {
        if (len <= inl_cap) {
            free(im->buf);
            im->buf = inl;
            im->cap = inl_cap;
        } else {
            char *b = realloc(im->buf, len);
            if (b != NULL) {
                im->buf = b;
                im->cap = (uint32_t)len;
            }
        }
    }
    /* The frames may hold poisoned redzones of instrumented code. */
    weft__tools_unpoison(from, len);
    memcpy(im->buf, from, len);
    im->len = (uint32_t)len;
}

void weft__image_restore(const weft__image *im, char *hi)
{
    weft__tools_unpoison(hi - im->len, im->len);
    memcpy(hi - im->len, im->buf, im->len);
}

void weft__image_free(weft__image *im, char *inl)
{
    if (im->buf != inl)
        free(im->buf);
    im->buf = inl;
}
