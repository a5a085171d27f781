/* The worker pool's threads: a burst of offloaded calls runs at once, on
 * as many workers as it needs (up to WEFT_WORKERS), even when an idle
 * worker is there to take the first of them. No time is asserted: the
 * calls meet at a rendezvous, and only a rendezvous that never completes
 * (a generous limit) fails. */
#include "io_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define WORKERS 8

static atomic_int arrived;
static int target;

/* Blocks its worker until `target` calls are in here at once; returns
 * whether they all came. */
static void *rendezvous(void *arg)
{
    (void)arg;
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 30000 && atomic_load(&arrived) < target; i++)
        usleep(1000);
    return (void *)(intptr_t)(atomic_load(&arrived) >= target);
}

static void *offload_rendezvous(void *arg)
{
    (void)arg;
    void *met = NULL;
    CHECK_INT(weft_offload(rendezvous, NULL, &met), 0);
    return met;
}

/* n tasks offload at once; each call waits for all n. */
static void burst(int n)
{
    atomic_store(&arrived, 0);
    target = n;
    weft_co *ts[WORKERS];
    for (int i = 0; i < n; i++)
        CHECK((ts[i] = weft_spawn(offload_rendezvous, NULL, NULL)) != NULL);
    for (int i = 0; i < n; i++) {
        void *met = NULL;
        CHECK_INT(weft_join(ts[i], &met, -1), 0);
        if (!met)
            FAIL("burst of %d: only %d calls ran at once", n, atomic_load(&arrived));
    }
}

static void *one(void *arg)
{
    return arg;
}

static void *concurrency_task(void *arg)
{
    (void)arg;
    /* One worker, left idle: the burst must not queue behind it. */
    void *r = NULL;
    CHECK_INT(weft_offload(one, (void *)7, &r), 0);
    CHECK_INT((intptr_t)r, 7);
    burst(2);
    burst(WORKERS);
    /* Every worker idle now: a second full burst runs at once too. */
    burst(WORKERS);
    return NULL;
}

int main(void)
{
    io_test_init();
    setenv("WEFT_WORKERS", "8", 1);
    CHECK_INT(weft_run(concurrency_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
