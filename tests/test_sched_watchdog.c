/* The watchdog: WEFT_DEBUG=slow:MS reports a task that calls plain
 * sleep(1), with its name, how long it ran and a backtrace; weft_watchdog
 * turns it on and off; one report per occurrence (a CPU loop, twice with a
 * pause between, gives two); a task that keeps pausing is never reported;
 * off, nothing is printed. Also: weft_run's first task named with
 * weft_co_set_name, and the dump of fd waits with their direction and of
 * a select. Each
 * case runs in a child whose stderr is checked. */
#include "check.h"
#include "weft.h"

#include <poll.h>
#include <time.h>

static const char REPORT[] = "has run for ";

/* Under a tool or on a loaded machine a thread that the kernel keeps off
 * its CPU for the limit looks stuck too: there, at least the stalls made
 * on purpose must be reported. */
static int exactly(int n, int want)
{
    return test_under() && *test_under() ? n >= want : n == want;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* Not static, not inlined: the backtrace names it (-rdynamic). */
void *watchdog_sleeper(void *arg);
__attribute__((noinline)) void *watchdog_sleeper(void *arg)
{
    (void)arg;
    sleep(1); /* blocks the thread: no weft call */
    return NULL;
}

static void *first(void *arg)
{
    CHECK_INT(weft_co_set_name(NULL, "first"), 0);
    CHECK_STR(weft_co_name(weft_co_self()), "first");
    weft_opts o = {0, 0, "sleeper"};
    weft_co *t = weft_spawn(watchdog_sleeper, NULL, &o);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    if (arg) /* the first task itself blocks too */
        watchdog_sleeper(NULL);
    return NULL;
}

static void env_child(void *arg)
{
    if (arg)
        setenv("WEFT_DEBUG", arg, 1);
    CHECK_INT(weft_run(first, arg, NULL), 0);
    CHECK_INT(weft_watchdog(0), 0); /* its thread ends before _exit */
}

static void spin(int64_t ms)
{
    int64_t end = weft_now() + ms * 1000000;
    while (weft_now() < end)
        ;
}

static void *spinner(void *arg)
{
    (void)arg;
    spin(400);
    CHECK_INT(weft_pause(), 0);
    spin(400);
    /* Pausing all the time gives the thread back: never reported. */
    int64_t end = weft_now() + 300 * 1000000LL;
    while (weft_now() < end)
        CHECK_INT(weft_pause(), 0);
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        weft_sleep(weft_now() + 1000000);
    return NULL;
}

static void call_child(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_watchdog(-1), -1, EINVAL);
    CHECK_INT(weft_watchdog(100), 0);
    CHECK_INT(weft_watchdog(100), 0); /* again: the same watchdog */
    CHECK_INT(weft_run(spinner, NULL, NULL), 0);
    /* Turned off, then the same stall: nothing more. */
    CHECK_INT(weft_watchdog(0), 0);
    CHECK_INT(weft_watchdog(0), 0);
    CHECK_INT(weft_run(first, NULL, NULL), 0);
}

static void *named_spinner(void *arg)
{
    (void)arg;
    weft_opts o = {0, 0, "spinner"};
    weft_co *t = weft_spawn(spinner, NULL, &o);
    weft_co *k = weft_spawn(ticker, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(weft_join(k, NULL, -1), 0);
    return NULL;
}

static void pair_child(void *arg)
{
    (void)arg;
    CHECK_INT(weft_watchdog(100), 0);
    CHECK_INT(weft_run(named_spinner, NULL, NULL), 0);
    CHECK_INT(weft_watchdog(0), 0);
}

static void *quick(void *arg)
{
    return arg;
}

static void *forked(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_set_name(NULL, "forked"), 0);
    spin(300);
    return NULL;
}

/* A child of fork keeps the watchdog on: its thread is made again. */
static void fork_child(void *arg)
{
    (void)arg;
    CHECK_INT(weft_watchdog(100), 0);
    CHECK_INT(weft_run(quick, NULL, NULL), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK_INT(weft_run(forked, NULL, NULL), 0);
        CHECK_INT(weft_watchdog(0), 0);
        _exit(0);
    }
    int st;
    CHECK_INT(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_INT(weft_watchdog(0), 0);
}

static int pfd[2];

static void *fd_waiter(void *arg)
{
    return (void *)(intptr_t)weft_wait_fd(pfd[0], (int)(intptr_t)arg, weft_now() + 50 * 1000000LL);
}

static int qfd[2];

static void *fd_waiter2(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)weft_wait_fd(qfd[0], POLLIN | POLLOUT, weft_now() + 50 * 1000000LL);
}

static void *selector(void *arg)
{
    (void)arg;
    weft_chan *ch = weft_chan_new(1, 0);
    char x;
    weft_case cs[2] = {{.op = WEFT_FD, .fd = qfd[1], .events = POLLIN},
                       {.ch = ch, .op = WEFT_RECV, .elem = &x}};
    weft_select(cs, 2, weft_now() + 50 * 1000000LL);
    weft_chan_free(ch);
    return NULL;
}

static void *dump_fds(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_set_name(NULL, "main"), 0);
    weft_opts o = {0, 0, "reader"}, ob = {0, 0, "both"}, os = {0, 0, "selector"};
    weft_co *a = weft_spawn(fd_waiter, (void *)(intptr_t)POLLIN, &o);
    weft_co *b = weft_spawn(fd_waiter2, NULL, &ob);
    weft_co *c = weft_spawn(selector, NULL, &os);
    weft_pause();
    weft_dump();
    weft_join(a, NULL, -1);
    weft_join(b, NULL, -1);
    weft_join(c, NULL, -1);
    return NULL;
}

static void dump_child(void *arg)
{
    (void)arg;
    CHECK_INT(weft_run(dump_fds, NULL, NULL), 0);
}

int main(void)
{
    static char out[65536];
    /* WEFT_DEBUG=slow:100: the task in sleep(1) is reported, by name. */
    int st = test_fork(env_child, "color,slow:100", out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK_INT(count(out, REPORT), 2);
    CHECK(strstr(out, "weft: task #"));
    CHECK(strstr(out, "'sleeper' has run for "));
    CHECK(strstr(out, "'first' has run for "));
    CHECK(strstr(out, " ms without giving the thread back; where it is:\n"));
    /* The backtrace, with -rdynamic; qemu-user's signal frames do not
     * unwind on every architecture. */
    if (!test_under_is("qemu"))
        CHECK(strstr(out, "(watchdog_sleeper+"));
    /* No watchdog: nothing. */
    st = test_fork(env_child, NULL, out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK_INT(count(out, REPORT), 0);
    st = test_fork(env_child, "slow:0", out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK_INT(count(out, REPORT), 0);

    /* By the call: two stalls of a CPU loop, two reports; pausing, none;
     * after weft_watchdog(0), the sleep(1) is not reported. Not under
     * valgrind, which runs one thread at a time in long slices: a thread
     * that spins keeps the watchdog's from looking for longer than the
     * limit (a thread blocked in a system call, as above, does not). */
    if (!test_under_is("valgrind")) {
        st = test_fork(call_child, NULL, out, sizeof out);
        CHECK_EXITED(st, 0, out);
        CHECK(exactly(count(out, REPORT), 2));
        CHECK(strstr(out, "'' has run for ")); /* the first task, unnamed */
        /* With other tasks ready (a ticker), the same. */
        st = test_fork(pair_child, NULL, out, sizeof out);
        CHECK_EXITED(st, 0, out);
        CHECK(exactly(count(out, "'spinner' has run for "), 2));
        CHECK(exactly(count(out, REPORT), 2));
    }

    /* Not under TSan, which starts no thread after a fork, nor valgrind
     * (the forked task spins, see above). */
    if (!test_under_is("tsan") && !test_under_is("valgrind")) {
        st = test_fork(fork_child, NULL, out, sizeof out);
        CHECK_EXITED(st, 0, out);
        CHECK_INT(count(out, "'forked' has run for "), 1);
    }

    /* The dump names the fd and the direction of an fd wait. */
    CHECK_INT(pipe(pfd), 0);
    CHECK_INT(pipe(qfd), 0);
    st = test_fork(dump_child, NULL, out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK(strstr(out, "'main' running"));
    char want[64];
    snprintf(want, sizeof want, "'reader' waiting on fd read %d for ", pfd[0]);
    CHECK(strstr(out, want));
    snprintf(want, sizeof want, "'both' waiting on fd read/write %d for ", qfd[0]);
    CHECK(strstr(out, want));
    CHECK(strstr(out, "'selector' waiting on select of 2 cases for "));

    CHECK_ERR(weft_co_set_name(NULL, "x"), -1, EINVAL);
    puts("ok");
    return 0;
}
