/* Cancellation, task groups, join errors, and tasks as coroutines. */
#include "check.h"
#include "weft.h"

#define MS 1000000LL

static int cleaned, steps;

static void cleanup(void *arg)
{
    (void)arg;
    cleaned++;
}

static void *blocked_sleeper(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_defer(cleanup, NULL), 0);
    CHECK_ERR(weft_sleep(-1), -1, ECANCELED);
    /* Every later blocking call fails the same way. */
    CHECK_ERR(weft_pause(), -1, ECANCELED);
    CHECK_ERR(weft_sleep(weft_now() + MS), -1, ECANCELED);
    weft_chan *ch = weft_chan_new(1, 1);
    char c = 0;
    /* Except what needs no wait, with deadline 0: */
    CHECK_INT(weft_chan_send(ch, &c, 0), 0);
    CHECK_ERR(weft_chan_send(ch, &c, 0), -1, ECANCELED); /* full */
    CHECK_ERR(weft_chan_recv(ch, &c, -1), -1, ECANCELED);
    CHECK_INT(weft_chan_recv(ch, &c, 0), 0);
    CHECK_ERR(weft_chan_recv(ch, &c, 0), -1, ECANCELED); /* empty */
    CHECK_INT(weft_chan_free(ch), 0);
    return (void *)7;
}

static void *self_canceller(void *arg)
{
    (void)arg;
    CHECK_INT(weft_cancel(weft_co_self()), 0);
    CHECK_ERR(weft_pause(), -1, ECANCELED);
    return NULL;
}

static void *looper(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_defer(cleanup, NULL), 0);
    while (weft_sleep(weft_now() + MS) == 0)
        steps++;
    CHECK_INT(errno, ECANCELED);
    return NULL;
}

static void *quick(void *arg)
{
    return arg;
}

static weft_co *main_co;

static void *joins_main(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_join(main_co, NULL, 0), -1, EDEADLK);
    return NULL;
}

static weft_co *target;

static void *second_joiner(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_join(target, NULL, -1), -1, EDEADLK);
    return NULL;
}

static void *group_closer_inside(void *arg)
{
    CHECK_ERR(weft_group_close(arg), -1, EDEADLK);
    CHECK_ERR(weft_group_wait(arg, -1), -1, EDEADLK);
    return NULL;
}

static void *yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        steps++;
        CHECK_PTR(weft_co_yield((void *)1), NULL); /* acts as weft_pause */
    }
    return NULL;
}

static void test_cancel(void)
{
    cleaned = 0;
    weft_co *t = weft_spawn(blocked_sleeper, NULL, NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_cancel(t), 0);
    CHECK_INT(weft_cancel(t), 0); /* twice is fine */
    void *r;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_PTR(r, (void *)7);
    CHECK_INT(cleaned, 1);

    /* Cancelled before it started: its first blocking call fails. */
    t = weft_spawn(blocked_sleeper, NULL, NULL);
    CHECK_INT(weft_cancel(t), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(cleaned, 2);

    t = weft_spawn(self_canceller, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* Cancelling a finished task does nothing. */
    t = weft_spawn(quick, NULL, NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_cancel(t), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    CHECK_ERR(weft_cancel(NULL), -1, EINVAL);
    weft_co *plain = weft_co_new(quick, NULL, NULL);
    CHECK_ERR(weft_cancel(plain), -1, EINVAL);
    weft_co_free(plain);
}

static void test_join_errors(void)
{
    CHECK_ERR(weft_join(NULL, NULL, -1), -1, EINVAL);
    weft_co *plain = weft_co_new(quick, NULL, NULL);
    CHECK_ERR(weft_join(plain, NULL, -1), -1, EINVAL);
    weft_co_free(plain);
    CHECK_ERR(weft_join(weft_co_self(), NULL, -1), -1, EDEADLK);

    /* Private: the second join below reads a freed task's object, which
     * outlives the free only in a private stack's (pooled) mapping; a
     * shared task's object goes back to malloc. */
    static const weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};
    weft_co *t = weft_spawn(joins_main, NULL, &priv);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    /* Joined and freed: a second join is refused while the memory is not
     * reused. */
    CHECK_ERR(weft_join(t, NULL, -1), -1, EDEADLK);

    /* Two joiners at once. */
    target = weft_spawn(looper, NULL, NULL);
    t = weft_spawn(second_joiner, NULL, NULL);
    CHECK_ERR(weft_join(target, NULL, 0), -1, EAGAIN);
    CHECK_ERR(weft_join(target, NULL, weft_now() - 1), -1, ETIMEDOUT);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_join(target, NULL, t0 + 3 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 3 * MS);
    /* the second joiner ran while we waited, and was refused */
    CHECK_INT(weft_join(t, NULL, -1), 0);
    weft_cancel(target);
    CHECK_INT(weft_join(target, NULL, -1), 0);

    /* Sending to a task is refused. */
    t = weft_spawn(quick, NULL, NULL);
    CHECK_ERR(weft_co_send(t, NULL, NULL), -1, EINVAL);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    CHECK_ERR(weft_spawn(NULL, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_run(quick, NULL, NULL), -1, EBUSY);
}

static void test_group(void)
{
    CHECK_ERR(weft_group_close(NULL), -1, EINVAL);
    CHECK_ERR(weft_group_wait(NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_group_spawn(NULL, quick, NULL, NULL), NULL, EINVAL);

    /* Tasks that finish on their own; wait waits for all of them. */
    weft_group *g = weft_group_new();
    CHECK(g);
    CHECK_INT(weft_group_wait(g, 0), 0);
    weft_co *q = weft_group_spawn(g, quick, NULL, NULL);
    CHECK(q);
    CHECK_ERR(weft_join(q, NULL, -1), -1, EINVAL); /* the group owns it */
    CHECK_ERR(weft_group_wait(g, 0), -1, EAGAIN);
    CHECK_INT(weft_group_wait(g, -1), 0);
    CHECK_INT(weft_group_close(g), 0);

    /* Close cancels the ones left and waits for them. */
    cleaned = 0;
    steps = 0;
    g = weft_group_new();
    for (int i = 0; i < 5; i++)
        CHECK(weft_group_spawn(g, looper, NULL, NULL));
    weft_co *in = weft_group_spawn(g, group_closer_inside, g, NULL);
    CHECK(in);
    /* They run while this one sleeps (however slow the tool). */
    while (steps < 5)
        CHECK_INT(weft_sleep(weft_now() + MS), 0);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_group_wait(g, t0 + 2 * MS), -1, ETIMEDOUT);
    CHECK_INT(weft_group_close(g), 0);
    CHECK_INT(cleaned, 5);
}

static void *main_task(void *arg)
{
    (void)arg;
    main_co = weft_co_self();
    test_cancel();
    test_join_errors();
    test_group();
    steps = 0;
    weft_co *y = weft_spawn(yielder, NULL, NULL);
    CHECK_INT(weft_join(y, NULL, -1), 0);
    CHECK_INT(steps, 3);
    return NULL;
}

static void *cancelled_main(void *arg)
{
    (void)arg;
    weft_group *g = weft_group_new();
    weft_group_spawn(g, looper, NULL, NULL);
    weft_cancel(weft_co_self());
    CHECK_ERR(weft_sleep(-1), -1, ECANCELED);
    /* Closing still works for a cancelled task. */
    CHECK_INT(weft_group_close(g), 0);
    return NULL;
}

int main(void)
{
    CHECK_ERR(weft_run(NULL, NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_spawn(quick, NULL, NULL), NULL, EPERM);
    CHECK_ERR(weft_cancel(NULL), -1, EPERM);
    CHECK_ERR(weft_pause(), -1, EPERM);
    CHECK_ERR(weft_sleep(0), -1, EPERM);
    CHECK_ERR(weft_join(NULL, NULL, 0), -1, EPERM);
    weft_group *g = weft_group_new();
    CHECK_ERR(weft_group_spawn(g, quick, NULL, NULL), NULL, EPERM);
    CHECK_ERR(weft_group_wait(g, 0), -1, EPERM);
    CHECK_INT(weft_group_close(g), 0);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    CHECK_INT(weft_run(cancelled_main, NULL, NULL), 0);
    return 0;
}
