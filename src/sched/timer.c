/* Timers: a binary min-heap of deadlines, each entry holding its task, and
 * each task its index in the heap, so that a wait that ends early removes
 * its deadline in O(log n). A sequence number breaks ties so that equal
 * deadlines fire in the order they were set. */
#include "sched/sched.h"

#include <errno.h>
#include <stdlib.h>

static inline int before(const weft__timer *a, const weft__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(weft__sched *s, size_t i, weft__timer e)
{
    s->heap[i] = e;
    e.task->heap_idx = i;
}

static void sift_up(weft__sched *s, size_t i, weft__timer e)
{
    while (i > 1 && before(&e, &s->heap[i / 2])) {
        place(s, i, s->heap[i / 2]);
        i /= 2;
    }
    place(s, i, e);
}

static void sift_down(weft__sched *s, size_t i, weft__timer e)
{
    size_t n = s->nheap;
    for (;;) {
        size_t c = 2 * i;
        if (c > n)
            break;
        if (c + 1 <= n && before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(&s->heap[c], &e))
            break;
        place(s, i, s->heap[c]);
        i = c;
    }
    place(s, i, e);
}

int weft__timer_add(weft__sched *s, weft__task *t, int64_t when)
{
    if (s->nheap + 1 >= s->capheap) {
        size_t cap = s->capheap ? 2 * s->capheap : 256;
        weft__timer *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            errno = ENOMEM;
            return -1;
        }
        s->heap = h;
        s->capheap = cap;
    }
    weft__timer e = {when, s->seq++, t};
    sift_up(s, ++s->nheap, e);
    return 0;
}

void weft__timer_del(weft__sched *s, weft__task *t)
{
    size_t i = t->heap_idx;
    t->heap_idx = 0;
    weft__timer last = s->heap[s->nheap--];
    if (i > s->nheap)
        return; /* it was the last entry */
    if (i > 1 && before(&last, &s->heap[i / 2]))
        sift_up(s, i, last);
    else
        sift_down(s, i, last);
}

size_t weft__timer_fire(weft__sched *s, int64_t now)
{
    size_t n = 0;
    while (s->nheap && s->heap[1].when <= now) {
        weft__task *t = s->heap[1].task;
        weft__timer_del(s, t);
        weft__wake(t, ETIMEDOUT, 0);
        n++;
    }
    return n;
}

void weft__timer_free(weft__sched *s)
{
    free(s->heap);
    s->heap = NULL;
    s->nheap = s->capheap = 0;
}
