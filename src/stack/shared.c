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

static size_t deep_part(size_t len, uint32_t inl_cap)
{
    return len > inl_cap ? len - inl_cap : 0;
}

int weft__image_reserve(weft__image *im, size_t len, uint32_t inl_cap)
{
    size_t need = deep_part(len, inl_cap);
    if (need <= im->ext_cap)
        return 0;
    /* Sized to the need, rounded to malloc's 16-byte granule: the memory
     * per suspended coroutine is the figure that matters here. */
    need = (need + 15) & ~(size_t)15;
    if (need > UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    char *b = malloc(need);
    if (b == NULL) {
        errno = ENOMEM;
        return -1;
    }
    free(im->ext);
    im->ext = b;
    im->ext_cap = (uint32_t)need;
    return 0;
}

void weft__image_shrink(weft__image *im, size_t deep)
{
    if (deep == 0) {
        free(im->ext);
        im->ext = NULL;
        im->ext_cap = 0;
        return;
    }
    size_t cap = (deep + 15) & ~(size_t)15;
    char *b = realloc(im->ext, cap);
    if (b != NULL) {
        im->ext = b;
        im->ext_cap = (uint32_t)cap;
    }
}

void weft__image_free(weft__image *im)
{
    free(im->ext);
    im->ext = NULL;
    im->ext_cap = 0;
}
