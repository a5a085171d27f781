#include "co/defer.h"

#include <errno.h>
#include <stdlib.h>

#define CHUNK 16

struct weft__defer_chunk {
    weft__defer_chunk *next;
    unsigned n;
    weft__defer e[CHUNK];
};

int weft__defer_push(weft__defers *d, void (*fn)(void *), void *arg)
{
    weft__defer *slot;
    if (d->more == NULL && d->n < WEFT_DEFER_INLINE) {
        slot = &d->inl[d->n++];
    } else {
        weft__defer_chunk *c = d->more;
        if (c == NULL || c->n == CHUNK) {
            c = malloc(sizeof *c);
            if (c == NULL) {
                errno = ENOMEM;
                return -1;
            }
            c->n = 0;
            c->next = d->more;
            d->more = c;
        }
        slot = &c->e[c->n++];
    }
    slot->fn = fn;
    slot->arg = arg;
    return 0;
}

static int pop(weft__defers *d, weft__defer *out)
{
    weft__defer_chunk *c = d->more;
    if (c != NULL) {
        *out = c->e[--c->n];
        if (c->n == 0) {
            d->more = c->next;
            free(c);
        }
        return 1;
    }
    if (d->n == 0)
        return 0;
    *out = d->inl[--d->n];
    return 1;
}

void weft__defer_run(weft__defers *d)
{
    weft__defer h;
    while (pop(d, &h))
        h.fn(h.arg);
}
