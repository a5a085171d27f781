/* Task groups: a finished group task is freed as soon as it finishes, so
 * that rounds of many group tasks keep memory and memory maps bounded even
 * when the loop never sleeps. */
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

int main(void)
{
    /* Read once, on the first stack weft makes. */
    setenv("WEFT_GUARD", "mprotect", 1);
    CHECK_INT(weft_run(rounds_main, NULL, NULL), 0);
    return 0;
}
