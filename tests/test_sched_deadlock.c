/* Deadlock detection, weft_dump and the SIGQUIT opt-in. */
#include "check.h"
#include "weft.h"

static int cleaned;

static void cleanup(void *arg)
{
    (void)arg;
    cleaned++;
}

static void *stuck_recv(void *arg)
{
    weft_co_defer(cleanup, NULL);
    int v;
    CHECK_ERR(weft_chan_recv(arg, &v, -1), -1, ECANCELED);
    return NULL;
}

static void *stuck_main(void *arg)
{
    weft_co_defer(cleanup, NULL);
    weft_opts o = {0, 0, "stuck"};
    weft_co *t = weft_spawn(stuck_recv, arg, &o);
    CHECK_ERR(weft_join(t, NULL, -1), -1, ECANCELED);
    return (void *)5;
}

static void deadlock_child(void *arg)
{
    (void)arg;
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    void *r = NULL;
    CHECK_ERR(weft_run(stuck_main, ch, &r), -1, EDEADLK);
    CHECK_PTR(r, (void *)5); /* main unwound and returned */
    CHECK_INT(cleaned, 2);
    /* The scheduler is gone: a new run works. */
    CHECK_ERR(weft_dump(), -1, EPERM);
    weft_chan_free(ch);
}

static void *dumper_sleeper(void *arg)
{
    (void)arg;
    weft_sleep(weft_now() + 50 * 1000000LL);
    return NULL;
}

static void *dump_main(void *arg)
{
    weft_opts o = {0, 0, "napper"};
    weft_co *t = weft_spawn(dumper_sleeper, NULL, &o);
    weft_pause();
    if (arg)
        raise(SIGQUIT);
    else
        CHECK_INT(weft_dump(), 0);
    weft_join(t, NULL, -1);
    return NULL;
}

static void dump_child(void *arg)
{
    if (arg)
        CHECK_INT(weft_dump_on_sigquit(1), 0);
    CHECK_INT(weft_run(dump_main, arg, NULL), 0);
    if (arg)
        CHECK_INT(weft_dump_on_sigquit(0), 0);
}

int main(void)
{
    static char out[8192];
    char line[256];
    int st = test_fork(deadlock_child, NULL, out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK_INT(test_count_lines(out, "weft: all tasks are asleep - deadlock!", NULL, 0), 1);
    CHECK_INT(test_count_lines(out, "weft: 2 tasks", NULL, 0), 1);
    CHECK_INT(test_count_lines(out, "weft:   #", NULL, 0), 2);
    CHECK_INT(test_count_lines(out, "weft:   #", line, sizeof line), 2);
    CHECK(strstr(line, "waiting on join #")); /* main first */
    CHECK(strstr(out, "'stuck' waiting on chan recv 0x"));
    CHECK(strstr(out, " ms\n"));

    for (intptr_t sig = 0; sig < 2; sig++) {
        st = test_fork(dump_child, (void *)sig, out, sizeof out);
        CHECK_EXITED(st, 0, out);
        CHECK_INT(test_count_lines(out, "weft: 2 tasks", NULL, 0), 1);
        CHECK(strstr(out, "'' running"));
        CHECK(strstr(out, "'napper' waiting on sleep for "));
    }
    return 0;
}
