/* Task groups: a finished group task is freed as soon as it finishes, so
 * that rounds of many group tasks keep memory and memory maps bounded even
 * when the loop never sleeps; several tasks may close one group. */
#include <weft.h>

#include "check.h"

static int slow_tool(void)
{
    return test_under_is("valgrind") || test_under_is("qemu") || test_under_is("tsan") ||
           test_under_is("asan");
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- finished tasks are freed promptly ---------------------------------- */

static void *pauses(void *arg)
{
    (void)arg;
    weft_pause();
    return NULL;
}

/* One round: n tasks of the given stack kind, all alive at once (each
 * pauses once), then the group is waited for and closed. Never idles. */
static void round_of(int n, int kind)
{
    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    weft_opts o = {.stack_kind = kind};
    for (int i = 0; i < n; i++)
        if (!weft_group_spawn(g, pauses, NULL, &o))
            FAIL("spawn %d of %d: %s", i, n, strerror(errno));
    CHECK_INT(weft_group_wait(g, -1), 0);
    CHECK_INT(weft_group_close(g), 0);
}

static void *rounds_main(void *arg)
{
    (void)arg;
    int rounds = slow_tool() ? 12 : 100, n = slow_tool() ? 300 : 1000;

    /* Private stacks: two maps each under WEFT_GUARD=mprotect. With the
     * finished tasks kept until the loop idles, creation ran out of maps
     * after about 32 rounds. */
    round_of(n, WEFT_STACK_PRIVATE);
    round_of(n, WEFT_STACK_PRIVATE);
    int maps0 = test_count_maps();
    for (int r = 0; r < rounds; r++)
        round_of(n, WEFT_STACK_PRIVATE);
    int maps1 = test_count_maps();
    if (maps1 > maps0 + 16)
        FAIL("maps grew from %d to %d over %d rounds of %d group tasks", maps0, maps1, rounds, n);

    /* Shared stacks, which cost no maps: the resident size stays put. */
    round_of(n, WEFT_STACK_SHARED);
    round_of(n, WEFT_STACK_SHARED);
    long rss0 = rss_kb();
    for (int r = 0; r < rounds; r++)
        round_of(n, WEFT_STACK_SHARED);
    long rss1 = rss_kb();
    if (!test_under_is("valgrind") && rss1 > rss0 + 4096)
        FAIL("resident size grew from %ld to %ld kB over %d rounds of %d group tasks", rss0, rss1,
             rounds, n);
    return NULL;
}

/* ---- several closers --------------------------------------------------- */

static weft_group *shared_g;
static weft_wg last_done;
static int closed;

static void done_cleanup(void *arg)
{
    CHECK_INT(weft_wg_done(arg), 0);
}

static void *sleeps_until_cancelled(void *arg)
{
    if (arg) /* wakes the late closer right before the group is empty */
        CHECK_INT(weft_co_defer(done_cleanup, arg), 0);
    CHECK_ERR(weft_sleep(-1), -1, ECANCELED);
    return NULL;
}

static void *closer(void *arg)
{
    (void)arg;
    CHECK_INT(weft_group_close(shared_g), 0);
    closed++;
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    CHECK_INT(weft_group_wait(shared_g, -1), 0);
    return NULL;
}

/* Runs when the last task's cleanup handler has run, so before the two
 * closers have seen the group empty: it finds it empty and returns. */
static void *late_closer(void *arg)
{
    (void)arg;
    CHECK_INT(weft_wg_wait(&last_done, -1), 0);
    CHECK_INT(weft_group_close(shared_g), 0);
    closed++;
    return NULL;
}

static void *closers_main(void *arg)
{
    (void)arg;
    CHECK_INT(weft_wg_init(&last_done), 0);
    CHECK_INT(weft_wg_add(&last_done, 1), 0);
    shared_g = weft_group_new();
    CHECK(shared_g != NULL);
    CHECK(weft_group_spawn(shared_g, sleeps_until_cancelled, NULL, NULL));
    CHECK(weft_group_spawn(shared_g, sleeps_until_cancelled, &last_done, NULL));
    weft_co *late = weft_spawn(late_closer, NULL, NULL);
    weft_co *w = weft_spawn(waiter, NULL, NULL);
    weft_co *a = weft_spawn(closer, NULL, NULL);
    weft_co *b = weft_spawn(closer, NULL, NULL);
    CHECK(late && w && a && b);
    CHECK_INT(weft_join(a, NULL, -1), 0);
    CHECK_INT(weft_join(b, NULL, -1), 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK_INT(weft_join(late, NULL, -1), 0);
    CHECK_INT(closed, 3);
    CHECK_INT(weft_wg_destroy(&last_done), 0);
    return NULL;
}

int main(void)
{
    /* Read once, on the first stack weft makes. */
    setenv("WEFT_GUARD", "mprotect", 1);
    CHECK_INT(weft_run(rounds_main, NULL, NULL), 0);
    CHECK_INT(weft_run(closers_main, NULL, NULL), 0);
    return 0;
}
