/* Generators that wait: a generator driven by a task with weft_co_send may
 * sleep, wait on a channel or a lock; the task is parked meanwhile and
 * resumed straight into the generator. Also timers at scale: deadlines
 * fire in order, and deadlines removed early leave the heap consistent. */
#include "check.h"
#include "weft.h"

#define MS 1000000LL

static weft_chan *feed;
static weft_mutex mu;
static int other_ran;

/* Yields each value received from the channel, doubled, after a sleep. */
static void *doubler(void *arg)
{
    (void)arg;
    int v;
    while (weft_chan_recv(feed, &v, -1) == 0) {
        CHECK_INT(weft_sleep(weft_now() + MS), 0);
        CHECK_INT(weft_mutex_lock(&mu, -1), 0);
        CHECK_INT(weft_mutex_unlock(&mu), 0);
        weft_co_yield((void *)(intptr_t)(2 * v));
    }
    CHECK_INT(errno, EPIPE);
    return (void *)-1;
}

/* A generator that drives another one: parks two levels deep. */
static void *outer(void *arg)
{
    weft_co *inner = arg;
    void *out;
    while (weft_co_send(inner, NULL, &out) == 1)
        weft_co_yield((void *)((intptr_t)out + 1));
    return NULL;
}

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 3; i++) {
        other_ran++;
        CHECK_INT(weft_chan_send(feed, &i, -1), 0);
    }
    /* Hold the lock a while, so the generator waits on it. */
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    CHECK_INT(weft_sleep(weft_now() + 2 * MS), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    int four = 4;
    CHECK_INT(weft_chan_send(feed, &four, -1), 0);
    CHECK_INT(weft_chan_close(feed), 0);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    weft_co *gen = weft_co_new(doubler, NULL, NULL);
    weft_co *out = weft_co_new(outer, gen, NULL);
    CHECK(gen && out);
    void *v;
    int expect = 3; /* (1 * 2) + 1 */
    int n = 0, r;
    while ((r = weft_co_send(out, NULL, &v)) == 1) {
        CHECK_INT((intptr_t)v, expect);
        expect += 2;
        n++;
    }
    CHECK_INT(r, 0);
    CHECK_INT(n, 4);
    weft_co_free(out);
    weft_co_free(gen);
    return NULL;
}

enum { NTIMERS = 2000 };
static int64_t deadlines[NTIMERS];
static int fired[NTIMERS], nfired;
static int64_t max_late;

static void *timed(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (weft_sleep(deadlines[i]) != 0) {
        CHECK_INT(errno, ECANCELED);
        return NULL;
    }
    int64_t late = weft_now() - deadlines[i];
    CHECK(late >= 0);
    if (late > max_late)
        max_late = late;
    fired[nfired++] = (int)i;
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    feed = weft_chan_new(sizeof(int), 0);
    weft_mutex_init(&mu);
    weft_co *c = weft_spawn(consumer, NULL, NULL);
    weft_co *p = weft_spawn(producer, NULL, NULL);
    CHECK_INT(weft_join(c, NULL, -1), 0);
    CHECK_INT(weft_join(p, NULL, -1), 0);
    CHECK_INT(other_ran, 3);
    weft_chan_free(feed);
    weft_mutex_destroy(&mu);

    /* Timers: random deadlines within 100 ms, a third cancelled early. */
    unsigned seed = 12345;
    weft_co *t[NTIMERS];
    weft_opts small = {16 * 1024, 0, NULL};
    for (int i = 0; i < NTIMERS; i++) {
        t[i] = weft_spawn(timed, (void *)(intptr_t)i, &small);
        CHECK(t[i]);
    }
    /* The tasks read their deadline when they first run, after this. */
    int slow = test_under_is("valgrind") || test_under_is("qemu") || test_under_is("tsan");
    int64_t base = weft_now() + (slow ? 3000 : test_under_is("asan") ? 300 : 30) * MS;
    for (int i = 0; i < NTIMERS; i++) {
        seed = seed * 1103515245 + 12345;
        deadlines[i] = base + (int64_t)(seed >> 8) % (100 * MS);
    }
    CHECK_INT(weft_pause(), 0); /* all are asleep now */
    /* A timer that fired before its task was cancelled (the machine was
     * slower than the margin, and the loop fired timers during the pause)
     * wins: the count is exact only when the pause ended before the first
     * deadline. No timer fires while main cancels. */
    int early = weft_now() < base;
    for (int i = 0; i < NTIMERS; i += 3)
        CHECK_INT(weft_cancel(t[i]), 0);
    for (int i = 0; i < NTIMERS; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    if (early)
        CHECK_INT(nfired, NTIMERS - (NTIMERS + 2) / 3);
    else
        CHECK(nfired >= NTIMERS - (NTIMERS + 2) / 3 && nfired <= NTIMERS);
    for (int i = 1; i < nfired; i++)
        CHECK(deadlines[fired[i - 1]] <= deadlines[fired[i]]);
    /* Lateness is a time on a shared machine: printed, not asserted. */
    printf("%d timers fired in deadline order, at most %.1f ms late\n", nfired, max_late / 1e6);
    return NULL;
}

int main(void)
{
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    return 0;
}
