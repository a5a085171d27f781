/* Futures that can be abandoned, and event channels fed by plain threads:
 * who frees what (checked by ASan and valgrind: nothing leaks, nothing is
 * used after free), abandoning twice, abandoning while a task waits,
 * abandon racing the completer (run under TSan); events in order from a
 * foreign thread, overflow refused and counted, close, EBUSY, bad
 * input. */
#include "io_util.h"

#include <pthread.h>

static void *complete_after(void *arg)
{
    usleep(20000);
    CHECK_INT(weft_future_complete(arg, (void *)1), 0); /* frees it: abandoned */
    return NULL;
}

static void *complete_now(void *arg)
{
    weft_future_complete(arg, (void *)2);
    return NULL;
}

static void *waits_future(void *arg)
{
    return (void *)(intptr_t)weft_future_wait(arg, NULL, ms_from_now(50));
}

static void abandon_cases(void)
{
    CHECK_ERR(weft_future_abandon(NULL), -1, EINVAL);
    /* Completed first: abandon frees it. */
    weft_future *f = weft_future_new();
    CHECK_INT(weft_future_complete(f, NULL), 0);
    CHECK_INT(weft_future_abandon(f), 0);
    /* The waiter times out, abandons; the late completion frees it. */
    f = weft_future_new();
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, complete_after, f), 0);
    CHECK_ERR(weft_future_wait(f, NULL, ms_from_now(1)), -1, ETIMEDOUT);
    CHECK_INT(weft_future_abandon(f), 0);
    pthread_join(th, NULL);
    /* Twice before completion: EALREADY; an abandoned future refuses
     * waits and queries. */
    f = weft_future_new();
    CHECK_INT(weft_future_abandon(f), 0);
    CHECK_ERR(weft_future_abandon(f), -1, EALREADY);
    CHECK_ERR(weft_future_wait(f, NULL, 0), -1, EINVAL);
    CHECK_ERR(weft_future_done(f), -1, EINVAL);
    CHECK_INT(weft_future_complete(f, NULL), 0);
    /* A task waits on it: EBUSY, nothing changes. */
    f = weft_future_new();
    weft_co *t = weft_spawn(waits_future, f, NULL);
    weft_pause();
    CHECK_ERR(weft_future_abandon(f), -1, EBUSY);
    void *r;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_INT((intptr_t)r, -1);
    CHECK_INT(weft_future_abandon(f), 0);
    CHECK_INT(weft_future_complete(f, NULL), 0);
    /* The race: completions land before, during and after the abandon. */
    for (int i = 0; i < 300; i++) {
        f = weft_future_new();
        CHECK_INT(pthread_create(&th, NULL, complete_now, f), 0);
        if (weft_future_wait(f, NULL, i % 2 ? 0 : ms_from_now(1)) != 0)
            CHECK(errno == ETIMEDOUT || errno == EAGAIN); /* deadline 0: EAGAIN */
        CHECK_INT(weft_future_abandon(f), 0);
        pthread_join(th, NULL);
    }
}

#define N 5000

static void *producer(void *arg)
{
    for (intptr_t i = 1; i <= N; i++)
        while (weft_events_post(arg, (void *)i) != 0) {
            CHECK_INT(errno, EAGAIN);
            usleep(50);
        }
    CHECK_INT(weft_events_close(arg), 0);
    return NULL;
}

static void *recv_one(void *arg)
{
    return (void *)(intptr_t)(weft_events_recv(arg, NULL, ms_from_now(30)) ? errno : 0);
}

static void event_cases(void)
{
    CHECK_ERR(weft_events_new(0), NULL, EINVAL);
    CHECK_ERR(weft_events_new(SIZE_MAX / 2), NULL, EINVAL);
    CHECK_ERR(weft_events_post(NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_events_close(NULL), -1, EINVAL);
    CHECK_ERR(weft_events_recv(NULL, NULL, 0), -1, EINVAL);
    CHECK_INT(weft_events_dropped(NULL), 0);
    weft_events_free(NULL);

    /* A plain thread feeds a stream; the task gets every event in order. */
    weft_events *e = weft_events_new(8);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, producer, e), 0);
    void *v;
    for (intptr_t want = 1; want <= N; want++) {
        CHECK_INT(weft_events_recv(e, &v, ms_from_now(10000)), 0);
        CHECK_INT((intptr_t)v, want);
    }
    CHECK_ERR(weft_events_recv(e, &v, ms_from_now(10000)), -1, EPIPE);
    pthread_join(th, NULL);
    CHECK_ERR(weft_events_post(e, NULL), -1, EPIPE);
    CHECK_ERR(weft_events_close(e), -1, EPIPE);
    weft_events_free(e);

    /* Overflow: the post that finds the queue full is refused and
     * counted; what was queued stays. */
    e = weft_events_new(4);
    for (intptr_t i = 1; i <= 4; i++)
        CHECK_INT(weft_events_post(e, (void *)i), 0);
    CHECK_ERR(weft_events_post(e, (void *)5), -1, EAGAIN);
    CHECK_ERR(weft_events_post(e, (void *)6), -1, EAGAIN);
    CHECK_INT(weft_events_dropped(e), 2);
    for (intptr_t i = 1; i <= 4; i++) {
        CHECK_INT(weft_events_recv(e, &v, 0), 0);
        CHECK_INT((intptr_t)v, i);
    }
    CHECK_ERR(weft_events_recv(e, &v, 0), -1, EAGAIN);
    /* One waiter at a time. */
    weft_co *t = weft_spawn(recv_one, e, NULL);
    weft_pause();
    CHECK_ERR(weft_events_recv(e, &v, ms_from_now(10)), -1, EBUSY);
    void *r;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_INT((intptr_t)r, ETIMEDOUT);
    /* Events queued at close are still received, then EPIPE. */
    CHECK_INT(weft_events_post(e, (void *)9), 0);
    CHECK_INT(weft_events_close(e), 0);
    CHECK_INT(weft_events_recv(e, &v, 0), 0);
    CHECK_INT((intptr_t)v, 9);
    CHECK_ERR(weft_events_recv(e, &v, 0), -1, EPIPE);
    weft_events_free(e);
    /* Freed with events queued: dropped, nothing leaks. */
    e = weft_events_new(2);
    CHECK_INT(weft_events_post(e, NULL), 0);
    weft_events_free(e);
}

static void *main_task(void *arg)
{
    (void)arg;
    abandon_cases();
    event_cases();
    return NULL;
}

int main(void)
{
    io_test_init();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    weft_events *e = weft_events_new(1);
    CHECK_ERR(weft_events_recv(e, NULL, 0), -1, EPERM);
    CHECK_INT(weft_events_post(e, NULL), 0); /* posting needs no task */
    weft_events_free(e);
    puts("ok");
    return 0;
}
