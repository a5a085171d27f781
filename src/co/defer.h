/* Cleanup handlers of a coroutine: a stack of (fn, arg), the first few
 * stored inline so that most coroutines never allocate for them. */
#ifndef WEFT_DEFER_H
#define WEFT_DEFER_H

#define WEFT_DEFER_INLINE 4

typedef struct weft__defer {
    void (*fn)(void *);
    void *arg;
} weft__defer;

typedef struct weft__defer_chunk weft__defer_chunk;

typedef struct weft__defers {
    unsigned n;              /* handlers in `inl` */
    weft__defer_chunk *more; /* further handlers, newest chunk first */
    weft__defer inl[WEFT_DEFER_INLINE];
} weft__defers;

/* Pushes a handler. Returns 0, or -1 with errno ENOMEM. */
int weft__defer_push(weft__defers *d, void (*fn)(void *), void *arg);

/* Pops and runs handlers, newest first, until none is left (handlers that
 * a handler pushes run too). Frees what was allocated. */
void weft__defer_run(weft__defers *d);

static inline int weft__defer_any(const weft__defers *d)
{
    return d->n != 0 || d->more != 0;
}

#endif
