/* Task groups: a finished group task is freed as soon as it finishes, so
 * that rounds of many group tasks keep memory and memory maps bounded even
 * when the loop never sleeps; several tasks may close one group; and every
 * errno the group functions document. */
#include <sys/resource.h>
#include <weft.h>

#include "check.h"

static int slow_tool(void)
{
    return test_under_is("valgrind") || test_under_is("qemu") || test_under_is("tsan") ||
           test_under_is("asan");
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

    /* Shared stacks, which cost no maps: the resident size stays put
     * (except under the tools, which hold freed memory back). */
    round_of(n, WEFT_STACK_SHARED);
    round_of(n, WEFT_STACK_SHARED);
    long rss0 = test_status_kb("VmRSS");
    for (int r = 0; r < rounds; r++)
        round_of(n, WEFT_STACK_SHARED);
    long rss1 = test_status_kb("VmRSS");
    if (!slow_tool() && rss1 > rss0 + 4096)
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

/* ---- every errno -------------------------------------------------------- */

static void *quick(void *arg)
{
    return arg;
}

static void *sleeps(void *arg)
{
    (void)arg;
    weft_sleep(-1);
    return NULL;
}

static void *waits_for(void *arg)
{
    CHECK_ERR(weft_group_wait(arg, -1), -1, ECANCELED);
    return NULL;
}

static void *errors_main(void *arg)
{
    (void)arg;
    /* Not a group: the memory of something else. */
    static _Alignas(64) char other[256];
    weft_group *bad = (weft_group *)other;
    CHECK_ERR(weft_group_spawn(NULL, quick, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_group_spawn(bad, quick, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_group_wait(NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_group_wait(bad, -1), -1, EINVAL);
    CHECK_ERR(weft_group_close(NULL), -1, EINVAL);
    CHECK_ERR(weft_group_close(bad), -1, EINVAL);

    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    /* The errors of weft_spawn. */
    CHECK_ERR(weft_group_spawn(g, NULL, NULL, NULL), NULL, EINVAL);
    weft_opts tiny = {.stack_size = 1};
    CHECK_ERR(weft_group_spawn(g, quick, NULL, &tiny), NULL, EINVAL);
    weft_opts kind = {.stack_kind = 99};
    CHECK_ERR(weft_group_spawn(g, quick, NULL, &kind), NULL, EINVAL);

    CHECK(weft_group_spawn(g, sleeps, NULL, NULL));
    CHECK_ERR(weft_group_wait(g, 0), -1, EAGAIN);
    CHECK_ERR(weft_group_wait(g, weft_now() - 1), -1, ETIMEDOUT);
    /* Cancelled while waiting, and before. */
    weft_co *w = weft_spawn(waits_for, g, NULL);
    CHECK(w != NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_cancel(w), 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK_INT(weft_cancel(weft_co_self()), 0);
    CHECK_ERR(weft_group_wait(g, -1), -1, ECANCELED);
    CHECK_INT(weft_group_close(g), 0); /* not cancellable */
    return NULL;
}

/* Two tasks, each closing the other's group, wait for each other with
 * cancellation off: weft_run gives up on them. Their groups still have a
 * task each, and the thread, not being a task, cannot wait for it. */
static weft_group *ga, *gb;

static void *closes(void *arg)
{
    weft_group_close(arg);
    return NULL;
}

static void *crossed_main(void *arg)
{
    (void)arg;
    ga = weft_group_new();
    gb = weft_group_new();
    CHECK(ga && gb);
    CHECK(weft_group_spawn(ga, closes, gb, NULL));
    CHECK(weft_group_spawn(gb, closes, ga, NULL));
    return NULL;
}

static void crossed(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_run(crossed_main, NULL, NULL), -1, EDEADLK);
    CHECK_ERR(weft_group_close(ga), -1, EPERM);
    CHECK_ERR(weft_group_close(ga), -1, EPERM); /* left as it was */
    CHECK_ERR(weft_group_wait(ga, 0), -1, EPERM);
    CHECK_ERR(weft_group_spawn(ga, quick, NULL, NULL), NULL, EPERM);
}

static void limit_address_space(size_t extra)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    fclose(f);
    CHECK(kb > 0);
    struct rlimit rl = {.rlim_cur = (rlim_t)kb * 1024 + extra, .rlim_max = RLIM_INFINITY};
    CHECK_INT(setrlimit(RLIMIT_AS, &rl), 0);
}

static void *spawn_until_enomem(void *arg)
{
    (void)arg;
    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    weft_opts big = {.stack_size = (size_t)16 << 20, .stack_kind = WEFT_STACK_PRIVATE};
    limit_address_space((size_t)64 << 20);
    int n = 0;
    while (weft_group_spawn(g, quick, NULL, &big))
        if (++n > 8)
            FAIL("%d tasks of 16 MiB under 64 MiB more address space", n);
    CHECK_INT(errno, ENOMEM);
    CHECK_INT(weft_group_close(g), 0);
    return NULL;
}

static void spawn_enomem(void *arg)
{
    (void)arg;
    CHECK_INT(weft_run(spawn_until_enomem, NULL, NULL), 0);
}

/* Takes every block of this size that malloc can hand out, chained so that
 * the compiler cannot drop the calls. */
static void *take_all(size_t size, void *chain)
{
    void **p;
    while ((p = malloc(size))) {
        *p = chain;
        chain = p;
    }
    return chain;
}

/* Every block malloc could hand out taken, down to the smallest. */
static void new_enomem(void *arg)
{
    (void)arg;
    void *chain = NULL;
    limit_address_space((size_t)16 << 20);
    for (size_t size = (size_t)1 << 20; size >= 4096; size /= 2)
        chain = take_all(size, chain);
    for (size_t size = 4096; size >= sizeof(void *); size -= 8)
        chain = take_all(size, chain);
    CHECK(chain != NULL);
    CHECK_ERR(weft_group_new(), NULL, ENOMEM);
}

static void in_child(void (*fn)(void *))
{
    char out[8192];
    int status = test_fork(fn, NULL, out, sizeof out);
    CHECK_EXITED(status, 0, out);
}

int main(void)
{
    /* Read once, on the first stack weft makes. */
    setenv("WEFT_GUARD", "mprotect", 1);
    CHECK_INT(weft_run(rounds_main, NULL, NULL), 0);
    CHECK_INT(weft_run(closers_main, NULL, NULL), 0);
    CHECK_INT(weft_run(errors_main, NULL, NULL), 0);
    in_child(crossed);
    /* (The tools reserve address space of their own or replace malloc.) */
    if (!slow_tool()) {
        in_child(spawn_enomem);
        in_child(new_enomem);
    } else {
        printf("ENOMEM cases skipped under %s\n", test_under());
    }
    return 0;
}
