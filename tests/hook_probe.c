/* The probe of the hook tests: N tasks on one thread make a call that the
 * server holds, through a library's unmodified blocking API. The calls
 * prove they parked three ways: all N were in progress at once (a call
 * that blocked the thread would let no other task start its own), a ticker
 * task ran while they waited, and together they took about one hold, not
 * N. */
#include "hook_fixture.h"

#include <weft.h>

#define MS 1000000LL

static struct {
    const hook_probe_ops *ops;
    void *ctx;
    weft_wg opened; /* reaches zero when every task has its connection */
    weft_wg gate;   /* reaches zero when the calls may start */
    int failed;
    int inside, max_inside, finished;
    long ticks;
    int64_t start, last_end;
} P;

static void *probe_task(void *arg)
{
    int index = (int)(intptr_t)arg;
    void *state = P.ops->open(index, P.ctx);
    if (!state)
        P.failed++;
    CHECK_INT(weft_wg_done(&P.opened), 0);
    CHECK_INT(weft_wg_wait(&P.gate, -1), 0);
    if (state) {
        if (++P.inside > P.max_inside)
            P.max_inside = P.inside;
        if (P.ops->held(state, P.ctx) != 0)
            P.failed++;
        P.inside--;
        P.last_end = weft_now();
        P.ops->close(state, P.ctx);
    }
    P.finished++;
    return NULL;
}

/* Counts its wake-ups while calls are in progress. */
static void *ticker(void *arg)
{
    (void)arg;
    CHECK_INT(weft_wg_wait(&P.gate, -1), 0);
    while (P.finished < HOOK_PROBE_TASKS) {
        CHECK_INT(weft_sleep(weft_now() + 2 * MS), 0);
        if (P.inside > 0)
            P.ticks++;
    }
    return NULL;
}

static void *probe_main(void *arg)
{
    (void)arg;
    /* Room for the libraries' deepest calls (TLS handshakes, libcurl's
     * transfer loop); only the touched pages cost memory. */
    weft_opts opts = {.stack_size = 1024 * 1024};
    weft_co *tasks[HOOK_PROBE_TASKS + 1];
    for (int i = 0; i < HOOK_PROBE_TASKS; i++) {
        tasks[i] = weft_spawn(probe_task, (void *)(intptr_t)i, &opts);
        CHECK(tasks[i] != NULL);
    }
    tasks[HOOK_PROBE_TASKS] = weft_spawn(ticker, NULL, NULL);
    CHECK(tasks[HOOK_PROBE_TASKS] != NULL);
    CHECK_INT(weft_wg_wait(&P.opened, -1), 0);
    P.start = weft_now();
    CHECK_INT(weft_wg_done(&P.gate), 0);
    for (int i = 0; i <= HOOK_PROBE_TASKS; i++)
        CHECK_INT(weft_join(tasks[i], NULL, -1), 0);
    return NULL;
}

void hook_probe_run(const char *what, const hook_probe_ops *ops, void *ctx)
{
    memset(&P, 0, sizeof P);
    P.ops = ops;
    P.ctx = ctx;
    CHECK_INT(weft_wg_init(&P.opened), 0);
    CHECK_INT(weft_wg_add(&P.opened, HOOK_PROBE_TASKS), 0);
    CHECK_INT(weft_wg_init(&P.gate), 0);
    CHECK_INT(weft_wg_add(&P.gate, 1), 0);
    CHECK_INT(weft_run(probe_main, NULL, NULL), 0);
    CHECK_INT(weft_wg_destroy(&P.opened), 0);
    CHECK_INT(weft_wg_destroy(&P.gate), 0);

    long long ms = (long long)((P.last_end - P.start) / MS);
    printf("%d %s calls held %d ms each: %lld ms in all, %d in progress at once, %ld ticks "
           "of another task meanwhile\n",
           HOOK_PROBE_TASKS, what, hook_hold_ms(), ms, P.max_inside, P.ticks);
    fflush(stdout);
    if (P.failed)
        FAIL("%d of %d tasks failed their %s", P.failed, HOOK_PROBE_TASKS, what);
    if (P.max_inside != HOOK_PROBE_TASKS)
        FAIL("the calls did not park: at most %d of %d were in progress at once", P.max_inside,
             HOOK_PROBE_TASKS);
    if (P.ticks < 2)
        FAIL("the calls did not park: another task woke %ld times while they waited", P.ticks);
    if (ms < hook_hold_ms() / 2)
        FAIL("the server did not hold the calls (%lld ms for %d ms holds)", ms, hook_hold_ms());
    if (ms >= (long long)HOOK_PROBE_TASKS * hook_hold_ms() / 2)
        FAIL("the calls did not overlap: %lld ms, not less than half of %d one after another", ms,
             HOOK_PROBE_TASKS * hook_hold_ms());
}
