#include "co/defer.h"

#include <errno.h>
#include <stdlib.h>

/* The first chunk is small: most coroutines that defer register one or two
 * handlers. Later chunks are larger. */
#define FIRST 4
#define LATER 32

typedef struct weft__defer {
    void (*fn)(void *);
    void *arg;
} weft__defer;

struct weft__defer_chunk {
    weft__defer_chunk *next;
    unsigned n, cap;
    weft__defer e[];
};

int weft__defer_push(weft__defers *d, void (*fn)(void *), void *arg)
{
    weft__defer_chunk *c = d->top;
    if (c == NULL || c->n == c->cap) {
        unsigned cap = c == NULL ? FIRST : LATER;
        weft__defer_chunk *n = malloc(sizeof *n + cap * sizeof(weft__defer));
        if (n == NULL) {
            errno = ENOMEM;
            return -1;
        }
        n->n = 0;
        n->cap = cap;
        n->next = c;
        d->top = c = n;
    }
    c->e[c->n].fn = fn;
    c->e[c->n].arg = arg;
    c->n++;
    return 0;
}

void weft__defer_run(weft__defers *d)
{
    weft__defer_chunk *c;
    while ((c = d->top) != NULL) {
        if (c->n == 0) {
            d->top = c->next;
            free(c);
            continue;
        }
        weft__defer h = c->e[--c->n];
        h.fn(h.arg);
    }
}
