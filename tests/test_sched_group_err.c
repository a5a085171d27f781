/* Group failures and results: a check that maps return values to codes,
 * weft_group_fail, fail-fast cancellation of the others (and of tasks
 * spawned later), the first failure from weft_group_wait and
 * weft_group_failure, each task's result, and every errno of these. */
#include <stdint.h>
#include <weft.h>

#include "check.h"

static int code_of(void *result, void *arg)
{
    (void)arg;
    return (int)(intptr_t)result;
}

static int cancelled_seen;

/* Waits until cancelled; a success then. */
static void *waits(void *arg)
{
    (void)arg;
    if (weft_sleep(-1) != 0 && errno == ECANCELED)
        cancelled_seen++;
    return NULL;
}

/* Fails with code arg after a pause. */
static void *fails(void *arg)
{
    weft_pause();
    return arg;
}

static void fail_fast_by_value(void)
{
    weft_group_opts o = {WEFT_GROUP_FAILFAST | WEFT_GROUP_RESULTS, code_of, NULL};
    weft_group *g = weft_group_new_opts(&o);
    CHECK(g != NULL);
    cancelled_seen = 0;
    CHECK(weft_group_spawn(g, waits, NULL, NULL));
    CHECK(weft_group_spawn(g, fails, (void *)(intptr_t)5, NULL));
    CHECK(weft_group_spawn(g, waits, NULL, NULL));
    size_t idx = 99;
    CHECK_INT(weft_group_failure(g, &idx), 0);
    CHECK_INT(idx, 99);
    CHECK_INT(weft_group_wait(g, -1), 5);
    CHECK_INT(cancelled_seen, 2);
    CHECK_INT(weft_group_failure(g, &idx), 5);
    CHECK_INT(idx, 1);
    void *r = (void *)1;
    CHECK_INT(weft_group_result(g, 0, &r), 0);
    CHECK_PTR(r, NULL);
    CHECK_INT(weft_group_result(g, 1, &r), 5);
    CHECK_PTR(r, (void *)(intptr_t)5);
    /* A task spawned after the failure starts cancelled. */
    CHECK(weft_group_spawn(g, waits, NULL, NULL));
    CHECK_INT(weft_group_wait(g, -1), 5);
    CHECK_INT(cancelled_seen, 3);
    CHECK_INT(weft_group_close(g), 0);
}

/* Fails by call, then goes on: its own calls still work. */
static void *fails_by_call(void *arg)
{
    (void)arg;
    weft_pause();
    CHECK_INT(weft_group_fail(EIO), 0);
    CHECK_INT(weft_group_fail(ENOSPC), 0); /* the first one counts */
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(1))), 0);
    return (void *)(intptr_t)7; /* not checked: it failed already */
}

static void fail_fast_by_call(void)
{
    weft_group_opts o = {WEFT_GROUP_FAILFAST | WEFT_GROUP_RESULTS, code_of, NULL};
    weft_group *g = weft_group_new_opts(&o);
    cancelled_seen = 0;
    for (int i = 0; i < 4; i++)
        CHECK(weft_group_spawn(g, i == 2 ? fails_by_call : waits, NULL, NULL));
    CHECK_INT(weft_group_wait(g, -1), EIO);
    CHECK_INT(cancelled_seen, 3);
    size_t idx;
    CHECK_INT(weft_group_failure(g, &idx), EIO);
    CHECK_INT(idx, 2);
    void *r;
    CHECK_INT(weft_group_result(g, 2, &r), EIO);
    CHECK_PTR(r, (void *)(intptr_t)7);
    CHECK_INT(weft_group_close(g), 0);
}

static int finished;

static void *sleeps(void *arg)
{
    (void)arg;
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(10))), 0);
    finished++;
    return NULL;
}

/* Without WEFT_GROUP_FAILFAST a failure cancels nothing. */
static void no_fail_fast(void)
{
    weft_group_opts o = {0, code_of, NULL};
    weft_group *g = weft_group_new_opts(&o);
    finished = 0;
    CHECK(weft_group_spawn(g, sleeps, NULL, NULL));
    CHECK(weft_group_spawn(g, fails, (void *)(intptr_t)3, NULL));
    CHECK(weft_group_spawn(g, fails, (void *)(intptr_t)4, NULL));
    CHECK(weft_group_spawn(g, sleeps, NULL, NULL));
    CHECK_INT(weft_group_wait(g, -1), 3);
    CHECK_INT(finished, 2);
    CHECK_ERR(weft_group_result(g, 0, NULL), -1, EINVAL); /* no results kept */
    CHECK_INT(weft_group_close(g), 0);
}

static void *square(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (i % 3 == 0)
        weft_pause();
    return (void *)(i * i);
}

static void results(void)
{
    weft_group_opts o = {WEFT_GROUP_RESULTS, NULL, NULL};
    weft_group *g = weft_group_new_opts(&o);
    enum { N = 100 };
    for (intptr_t i = 0; i < N; i++)
        CHECK(weft_group_spawn(g, square, (void *)i, NULL));
    CHECK_ERR(weft_group_result(g, 0, NULL), -1, EAGAIN); /* not started */
    CHECK_ERR(weft_group_result(g, N, NULL), -1, EINVAL);
    CHECK_INT(weft_group_wait(g, -1), 0);
    for (intptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_INT(weft_group_result(g, (size_t)i, &r), 0);
        CHECK_INT((intptr_t)r, i * i);
    }
    CHECK_INT(weft_group_failure(g, NULL), 0);
    CHECK_INT(weft_group_close(g), 0);
}

static void *fail_outside_group(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_group_fail(EIO), -1, EPERM);
    return NULL;
}

static void *fail_zero(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_group_fail(0), -1, EINVAL);
    CHECK_ERR(weft_group_fail(-3), -1, EINVAL);
    return NULL;
}

static void bad_input(void)
{
    weft_group_opts bad = {8, NULL, NULL};
    CHECK_ERR(weft_group_new_opts(&bad), NULL, EINVAL);
    CHECK_ERR(weft_group_failure(NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_group_result(NULL, 0, NULL), -1, EINVAL);
    weft_co *t = weft_spawn(fail_outside_group, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    weft_group *g = weft_group_new_opts(NULL);
    CHECK(weft_group_spawn(g, fail_zero, NULL, NULL));
    CHECK_INT(weft_group_wait(g, -1), 0);
    CHECK_INT(weft_group_close(g), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    fail_fast_by_value();
    fail_fast_by_call();
    no_fail_fast();
    results();
    bad_input();
    return NULL;
}

int main(void)
{
    CHECK_ERR(weft_group_fail(EIO), -1, EPERM);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
