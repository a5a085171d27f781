/* Placing a task of a multi-worker run on a given worker, for the
 * benchmarks that need to know where each task runs (xping, mtpaths). */
#ifndef WEFT_BENCH_PLACE_H
#define WEFT_BENCH_PLACE_H

#include "weft.h"

typedef struct place_req {
    int worker;
    weft_fn fn;
    void *arg;
} place_req;

static void *place_relay(void *p)
{
    place_req *r = p;
    return weft_spawn_on(r->worker, r->fn, r->arg, NULL);
}

/* weft_spawn_on(worker, fn, arg, NULL), except that a task for the
 * caller's own worker is spawned from a task on another worker: a spawn
 * for one's own worker passes through the ring of stealable tasks, where
 * an idle worker can take it before it is pinned, while one from another
 * worker goes straight to the target's inbox. Returns the task, or NULL
 * with errno. */
static inline weft_co *place_spawn(int worker, weft_fn fn, void *arg)
{
    int n = weft_workers();
    if (n <= 1 || worker != weft_worker())
        return weft_spawn_on(worker, fn, arg, NULL);
    /* r stays in place while the caller waits: call from a task on a
     * private stack. */
    place_req r = {worker, fn, arg};
    weft_co *relay = weft_spawn_on((worker + 1) % n, place_relay, &r, NULL);
    void *t = NULL;
    if (!relay || weft_join(relay, &t, -1) != 0)
        return NULL;
    return t;
}

#endif
