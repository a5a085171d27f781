/* The worker pool's threads: a burst of offloaded calls runs at once, on
 * as many workers as it needs (up to WEFT_WORKERS), even when an idle
 * worker is there to take the first of them. No time is asserted: the
 * calls meet at a rendezvous, and only a rendezvous that never completes
 * (a generous limit) fails. Jobs of tasks on shared stacks are not on
 * those stacks. And exit() returns to the system while
 * offloaded calls still block. */
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
    /* Private stacks: a shared-stack task in weft_offload keeps its stack
     * until the call returns, so the calls of tasks that share a stack
     * would not all be in the rendezvous at once. */
    weft_opts o = {.stack_kind = WEFT_STACK_PRIVATE};
    for (int i = 0; i < n; i++)
        CHECK((ts[i] = weft_spawn(offload_rendezvous, NULL, &o)) != NULL);
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

/* ---- shared stacks ---- */

/* Tasks on one shared stack offload while others run on that stack: the
 * job that the worker and the poller write must not be on it. */
static void *slow_same(void *arg)
{
    usleep(2000);
    return arg;
}

static void *shared_offloader(void *arg)
{
    for (int i = 0; i < 20; i++) {
        void *r = NULL;
        CHECK_INT(weft_offload(slow_same, arg, &r), 0);
        CHECK_PTR(r, arg);
    }
    return NULL;
}

static atomic_int offloaders_left;

/* Keeps the shared stack busy with frames of its own. */
static void *scribbler(void *arg)
{
    (void)arg;
    while (atomic_load(&offloaders_left) > 0) {
        volatile char frame[2048];
        memset((char *)frame, 0x5a, sizeof frame);
        weft_pause();
    }
    return NULL;
}

static void *shared_task(void *arg)
{
    (void)arg;
    weft_opts o = {.stack_kind = WEFT_STACK_SHARED};
    enum { N = 6 };
    weft_co *ts[N], *sc[2];
    atomic_store(&offloaders_left, N);
    for (int i = 0; i < 2; i++)
        CHECK((sc[i] = weft_spawn(scribbler, NULL, &o)) != NULL);
    for (int i = 0; i < N; i++)
        CHECK((ts[i] = weft_spawn(shared_offloader, (void *)(intptr_t)(i + 1), &o)) != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT(weft_join(ts[i], NULL, -1), 0);
        atomic_fetch_sub(&offloaders_left, 1);
    }
    for (int i = 0; i < 2; i++)
        CHECK_INT(weft_join(sc[i], NULL, -1), 0);
    return NULL;
}

/* ---- exit() while an offloaded call blocks ---- */

static int never[2] = {-1, -1};
static atomic_int blocked;

static void *read_forever(void *arg)
{
    (void)arg;
    char c;
    atomic_fetch_add(&blocked, 1);
    return (void *)read(never[0], &c, 1); /* nobody writes */
}

static void *offload_forever(void *arg)
{
    (void)arg;
    weft_offload(read_forever, NULL, NULL);
    FAIL("the read returned");
}

static void *exit_task(void *arg)
{
    (void)arg;
    weft_spawn(offload_forever, NULL, NULL);
    weft_spawn(offload_forever, NULL, NULL);
    /* Pauses, not sleeps: the scheduler's timer heap would be left to
     * exit, reachable only from weft_run's frame on the thread's own
     * stack, which LeakSanitizer does not scan from a coroutine. */
    while (atomic_load(&blocked) < 2)
        weft_pause();
    exit(0);
}

/* In a child: exit() must not wait for the workers that block; if it
 * did, the alarm would kill the child. */
static void exit_while_blocked(void *arg)
{
    (void)arg;
    alarm(30);
    CHECK_INT(pipe(never), 0);
    weft_run(exit_task, NULL, NULL);
    _exit(3);
}

int main(void)
{
    io_test_init();
    setenv("WEFT_WORKERS", "8", 1);
    /* First, while this process has no thread: the child starts workers,
     * which ThreadSanitizer refuses after a fork of many threads. */
    char out[4096];
    int status = test_fork(exit_while_blocked, NULL, out, sizeof out);
    /* Under valgrind the child is checked for leaks too, and the workers
     * left blocking at exit hold their thread blocks (the normal exit,
     * with the pool idle, is clean): its error exit still proves that
     * exit() returned, where a hang would end in the alarm. */
    if (test_under_is("valgrind") && WIFEXITED(status) && WEXITSTATUS(status) == 99)
        status = 0;
    CHECK_EXITED(status, 0, out);
    CHECK_INT(weft_run(concurrency_task, NULL, NULL), 0);
    CHECK_INT(weft_run(shared_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
