/* Cleanup handlers of a coroutine: a stack of (fn, arg) in heap chunks, so
 * that a coroutine that registers none pays one pointer for them. */
#ifndef WEFT_DEFER_H
#define WEFT_DEFER_H

typedef struct weft__defer_chunk weft__defer_chunk;

typedef struct weft__defers {
    weft__defer_chunk *top; /* newest chunk first */
} weft__defers;

/* Pushes a handler. Returns 0, or -1 with errno ENOMEM. */
int weft__defer_push(weft__defers *d, void (*fn)(void *), void *arg);

/* Pops and runs handlers, newest first, until none is left (handlers that
 * a handler pushes run too). Frees what was allocated. */
void weft__defer_run(weft__defers *d);

static inline int weft__defer_any(const weft__defers *d)
{
    return d->top != 0;
}

#endif
