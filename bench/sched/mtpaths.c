#define _GNU_SOURCE
/* mtpaths: what the paths between workers cost per operation, so that a
 * machine with more CPUs can tell where scaling stops.
 *
 *   mtpaths wake busy|idle|local|one [N]
 *     A task blocked on an unbuffered channel is woken N times by a send
 *     from worker 0: busy, the task is on worker 1 while another task
 *     there runs (the waker finds the worker awake: no eventfd write);
 *     idle, the task is alone on worker 1, which is asleep in its poller
 *     at every send (read from /proc: the wake must write its eventfd);
 *     local, the task is on worker 0 with the waker (worker 1 idle); one,
 *     the same under weft_run. Every send finds the receiver parked (the
 *     program waits for that outside the timed part). Prints the waker's
 *     ns per send and the latency from the send to the woken task
 *     running.
 *   mtpaths steal [TASKS] [WORK] [WORKERS] [BATCH]
 *     Worker 0 spawns TASKS short tasks (WORK rounds of arithmetic each),
 *     BATCH at a time, pausing after each batch, while the other workers
 *     (WORKERS in all, 1: weft_run) have nothing of their own and steal.
 *     Prints ns per task and how many tasks each worker ran.
 *   mtpaths contend [WORKERS] [MSGS] [CAP]
 *     Every worker runs a sender and a receiver on one channel of
 *     capacity CAP; each sender sends MSGS. Prints ns per message.
 *   mtpaths cg busy|idle|local|one N
 *     The wake case for callgrind: only the N sends are counted, with
 *       valgrind --tool=callgrind --collect-atstart=no mtpaths cg ...
 *     (the waiting around them spins with sched_yield, which hands
 *     valgrind's lock to the other worker). Instructions per wake are
 *     (Ir(N2) - Ir(N1)) / (N2 - N1), which repeats exactly.
 * Every figure is printed as key=value pairs on one line. */
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "weft.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_TOGGLE_COLLECT
#endif

static void die(const char *what)
{
    fprintf(stderr, "mtpaths: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A task of this program that runs on another worker than it was placed
 * on would make the figures lie, or spin for ever waiting for itself:
 * stop at once. */
static void placed(const char *who, int want)
{
    if (weft_worker() != want) {
        fprintf(stderr, "mtpaths: the %s runs on worker %d, not on worker %d (weft_spawn_on)\n",
                who, weft_worker(), want);
        exit(1);
    }
}

static long count_arg(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < 0) {
        fprintf(stderr, "mtpaths: %s is not a count\n", argv[i]);
        exit(2);
    }
    return v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double mean_i64(const int64_t *v, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += (double)v[i];
    return n ? s / (double)n : 0;
}

/* Sorts v. */
static int64_t median_i64(int64_t *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return n ? v[n / 2] : 0;
}

/* The median cost of reading the clock, taken off each timed send. */
static int64_t clock_cost(void)
{
    int64_t v[1001];
    for (int i = 0; i < 1001; i++) {
        int64_t a = weft_now();
        v[i] = weft_now() - a;
    }
    return median_i64(v, 1001);
}

static inline void relax(void)
{
#if defined(__x86_64__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* ---- wake ---------------------------------------------------------------- */

enum { BUSY, IDLE, LOCAL, ONE };
static const char *const wake_names[] = {"busy", "idle", "local", "one"};
#define WARMUP 100

static struct {
    int mode, cg;
    long n; /* sends, warm-up included */
    weft_chan *c;
    atomic_long sent, consumed; /* sends done, receives done */
    atomic_long ready;          /* busy: the target saw consumed == sent == ready - 1 */
    atomic_int stop;
    atomic_int started; /* the waiter has started (and then parks at once) */
    atomic_int tid;     /* the waiter's thread */
    int64_t *cost, *lat;
    long asleep, missed;
} wk;

/* In cg mode a spinning thread would hold valgrind's lock for a whole
 * time slice: hand it over at each turn instead. */
static void spin_turn(void)
{
    if (wk.cg)
        sched_yield();
    else
        relax();
}

/* Whether thread tid is blocked in the poller's system call. */
static int in_poller(int tid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long nr = -1;
    if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    switch (nr) {
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
#ifdef SYS_io_uring_enter
    case SYS_io_uring_enter:
#endif
        return 1;
    default:
        return 0;
    }
}

static void *waiter(void *arg)
{
    placed("waiter", (int)(intptr_t)arg);
    atomic_store(&wk.tid, (int)syscall(SYS_gettid));
    atomic_store(&wk.started, 1);
    for (long k = 0; k < wk.n; k++) {
        int64_t t0;
        if (weft_chan_recv(wk.c, &t0, -1) != 0)
            die("weft_chan_recv");
        wk.lat[k] = weft_now() - t0;
        atomic_store_explicit(&wk.consumed, k + 1, memory_order_release);
    }
    return NULL;
}

/* Keeps worker 1 running. After each pause the waiter, if it was woken,
 * has run and parked again (it is never preempted between its receive
 * and its next one), so consumed == sent means it is parked: say so, and
 * stay running until the waker's send has come. */
static void *busy(void *arg)
{
    (void)arg;
    placed("busy task", 1);
    while (!atomic_load(&wk.stop)) {
        weft_pause();
        long s = atomic_load(&wk.sent);
        if (!atomic_load(&wk.started) ||
            atomic_load_explicit(&wk.consumed, memory_order_acquire) != s)
            continue;
        atomic_store(&wk.ready, s + 1);
        /* The waker takes ready back (to 0) when its send found no
         * receiver after all. */
        while (atomic_load(&wk.sent) == s && atomic_load(&wk.ready) == s + 1 &&
               !atomic_load(&wk.stop))
            spin_turn();
    }
    return NULL;
}

/* A wait of the waker that lasts 30 s means a lost wake-up: say which. */
static void check_stuck(int64_t since, long i)
{
    if (weft_now() - since > WEFT_S(30)) {
        fprintf(stderr, "mtpaths: wake %s: send %ld: the waiter has not parked again after 30 s\n",
                wake_names[wk.mode], i);
        exit(1);
    }
}

/* Waits until the waiter is parked for send number i, and for idle, until
 * its worker sleeps in the poller; counts the timed sends that found it
 * asleep. */
static void wait_parked(long i)
{
    int64_t since = weft_now();
    if (wk.mode == LOCAL || wk.mode == ONE) {
        while (!atomic_load(&wk.started) ||
               atomic_load_explicit(&wk.consumed, memory_order_acquire) != i) {
            weft_pause();
            check_stuck(since, i);
        }
        return;
    }
    /* Until the waiter starts, main (on this worker) may still have to
     * spawn it: let it run. */
    while (!atomic_load(&wk.started)) {
        weft_pause();
        check_stuck(since, i);
    }
    if (wk.mode == BUSY) {
        while (atomic_load(&wk.ready) != i + 1) {
            spin_turn();
            check_stuck(since, i);
        }
        return;
    }
    while (atomic_load_explicit(&wk.consumed, memory_order_acquire) != i) {
        spin_turn();
        check_stuck(since, i);
    }
    /* A worker may look for work a while before it sleeps; give it up to
     * 100 ms (20,000 turns under valgrind). */
    int64_t end = weft_now() + WEFT_MS(100);
    for (long turns = 0; !in_poller(atomic_load(&wk.tid)); turns++) {
        if (wk.cg ? turns > 20000 : weft_now() > end)
            return;
        spin_turn();
    }
    if (i >= WARMUP)
        wk.asleep++;
}

static void *waker(void *arg)
{
    (void)arg;
    placed("waker", 0);
    for (long i = 0; i < wk.n;) {
        wait_parked(i);
        int64_t t0 = weft_now();
        CALLGRIND_TOGGLE_COLLECT;
        int rc = weft_chan_send(wk.c, &t0, 0);
        CALLGRIND_TOGGLE_COLLECT;
        int64_t t1 = weft_now();
        if (rc != 0) {
            if (errno != EAGAIN)
                die("weft_chan_send");
            wk.missed++; /* not parked after all: wait again */
            atomic_store(&wk.ready, 0);
            if (wk.mode == LOCAL || wk.mode == ONE)
                weft_pause();
            continue;
        }
        wk.cost[i] = t1 - t0;
        atomic_store(&wk.sent, ++i);
    }
    atomic_store(&wk.stop, 1);
    return NULL;
}

static void *wake_main(void *arg)
{
    (void)arg;
    int target = wk.mode == BUSY || wk.mode == IDLE;
    weft_co *s = weft_spawn_on(0, waker, NULL, NULL);
    weft_co *w = weft_spawn_on(target, waiter, (void *)(intptr_t)target, NULL);
    weft_co *b = wk.mode == BUSY ? weft_spawn_on(1, busy, NULL, NULL) : NULL;
    if (!w || !s || (wk.mode == BUSY && !b))
        die("weft_spawn_on");
    weft_join(s, NULL, -1);
    weft_join(w, NULL, -1);
    if (b)
        weft_join(b, NULL, -1);
    return NULL;
}

static int run_wake(const char *mode, long n, int cg)
{
    wk.mode = -1;
    for (int m = 0; m < 4; m++)
        if (strcmp(mode, wake_names[m]) == 0)
            wk.mode = m;
    if (wk.mode < 0 || n <= 0) {
        fprintf(stderr, "mtpaths: wake busy|idle|local|one [N]\n");
        return 2;
    }
#ifndef HAVE_CALLGRIND
    if (cg) {
        fprintf(stderr, "mtpaths: built without valgrind/callgrind.h: no cg mode\n");
        return 2;
    }
#endif
    wk.cg = cg;
    wk.n = n + WARMUP;
    wk.c = weft_chan_new(sizeof(int64_t), 0);
    wk.cost = calloc((size_t)wk.n, sizeof(int64_t));
    wk.lat = calloc((size_t)wk.n, sizeof(int64_t));
    if (!wk.c || !wk.cost || !wk.lat)
        die("memory");
    int64_t clk = clock_cost();
    if ((wk.mode == ONE ? weft_run(wake_main, NULL, NULL)
                        : weft_run_threads(2, wake_main, NULL, NULL)) != 0)
        die("weft_run_threads");
    int64_t *cost = wk.cost + WARMUP, *lat = wk.lat + WARMUP;
    for (long i = 0; i < n; i++)
        cost[i] -= clk;
    double cmean = mean_i64(cost, n), lmean = mean_i64(lat, n);
    printf("wake=%s%s n=%ld waker_ns_p50=%lld waker_ns_mean=%.1f latency_ns_p50=%lld "
           "latency_ns_mean=%.1f asleep=%ld missed=%ld clock_ns=%lld\n",
           wake_names[wk.mode], cg ? "-cg" : "", n, (long long)median_i64(cost, n), cmean,
           (long long)median_i64(lat, n), lmean, wk.asleep, wk.missed, (long long)clk);
    free(wk.cost);
    free(wk.lat);
    weft_chan_free(wk.c);
    return 0;
}

/* ---- steal --------------------------------------------------------------- */

/* One line per worker, so that counting does not bounce a line between
 * CPUs. */
typedef struct {
    alignas(64) long ran;
    unsigned long sink;
} per_worker;
static per_worker perw[WEFT_WORKERS_MAX];

static struct {
    long tasks, work, batch;
} st;

static void *short_task(void *arg)
{
    per_worker *p = &perw[weft_worker()];
    p->ran++;
    unsigned long x = (unsigned long)(uintptr_t)arg;
    for (long i = 0; i < st.work; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    p->sink += x;
    return NULL;
}

static void *steal_main(void *arg)
{
    *(int64_t *)arg = weft_now();
    for (long i = 0; i < st.tasks;) {
        for (long j = 0; j < st.batch && i < st.tasks; j++, i++) {
            weft_co *t = weft_spawn(short_task, (void *)(uintptr_t)i, NULL);
            if (!t || weft_detach(t) != 0)
                die("weft_spawn");
        }
        weft_pause(); /* runs what was not stolen of this batch */
    }
    return NULL;
}

static int run_steal(long tasks, long work, long workers, long batch)
{
    if (tasks <= 0 || workers <= 0 || workers > WEFT_WORKERS_MAX || batch <= 0) {
        fprintf(stderr, "mtpaths: steal [TASKS] [WORK] [WORKERS] [BATCH]\n");
        return 2;
    }
    st.tasks = tasks;
    st.work = work;
    st.batch = batch;
    int64_t t0 = 0;
    int rc = workers == 1 ? weft_run(steal_main, &t0, NULL)
                          : weft_run_threads((unsigned)workers, steal_main, &t0, NULL);
    int64_t t1 = weft_now();
    if (rc != 0)
        die("weft_run_threads");
    long sum = 0;
    char ran[512] = "";
    size_t len = 0;
    for (long k = 0; k < workers; k++) {
        sum += perw[k].ran;
        if (len < sizeof ran - 24)
            len +=
                (size_t)snprintf(ran + len, sizeof ran - len, "%s%ld", k ? "," : "", perw[k].ran);
    }
    printf("steal workers=%ld tasks=%ld work=%ld batch=%ld ns_per_task=%.1f "
           "stolen_share=%.3f ran=%s ok=%d\n",
           workers, tasks, work, batch, (double)(t1 - t0) / (double)tasks,
           (double)(sum - perw[0].ran) / (double)tasks, ran, sum == tasks);
    return sum == tasks ? 0 : 1;
}

/* ---- contend ------------------------------------------------------------- */

static struct {
    weft_chan *c;
    long msgs;
} ct;
static per_worker got[WEFT_WORKERS_MAX];

static void *sender(void *arg)
{
    long v = (long)(intptr_t)arg;
    placed("sender", (int)v);
    for (long i = 0; i < ct.msgs; i++)
        if (weft_chan_send(ct.c, &v, -1) != 0)
            die("weft_chan_send");
    return NULL;
}

static void *receiver(void *arg)
{
    placed("receiver", (int)(intptr_t)arg);
    per_worker *p = &got[(intptr_t)arg];
    long v;
    while (weft_chan_recv(ct.c, &v, -1) == 0)
        p->ran++;
    if (errno != EPIPE)
        die("weft_chan_recv");
    return NULL;
}

static void *contend_main(void *arg)
{
    int n = weft_workers();
    weft_co **s = calloc((size_t)n, sizeof *s), **r = calloc((size_t)n, sizeof *r);
    if (!s || !r)
        die("memory");
    *(int64_t *)arg = weft_now();
    for (int k = 0; k < n; k++) {
        r[k] = weft_spawn_on(k, receiver, (void *)(intptr_t)k, NULL);
        s[k] = weft_spawn_on(k, sender, (void *)(intptr_t)k, NULL);
        if (!r[k] || !s[k])
            die("weft_spawn_on");
    }
    for (int k = 0; k < n; k++)
        weft_join(s[k], NULL, -1);
    weft_chan_close(ct.c); /* the receivers drain, then stop */
    for (int k = 0; k < n; k++)
        weft_join(r[k], NULL, -1);
    free(s);
    free(r);
    return NULL;
}

static int run_contend(long workers, long msgs, long cap)
{
    if (workers <= 0 || workers > WEFT_WORKERS_MAX || msgs <= 0) {
        fprintf(stderr, "mtpaths: contend [WORKERS] [MSGS] [CAP]\n");
        return 2;
    }
    ct.msgs = msgs;
    ct.c = weft_chan_new(sizeof(long), (size_t)cap);
    if (!ct.c)
        die("weft_chan_new");
    int64_t t0 = 0;
    if (weft_run_threads((unsigned)workers, contend_main, &t0, NULL) != 0)
        die("weft_run_threads");
    int64_t t1 = weft_now();
    long sum = 0;
    char recv[512] = "";
    size_t len = 0;
    for (long k = 0; k < workers; k++) {
        sum += got[k].ran;
        if (len < sizeof recv - 24)
            len +=
                (size_t)snprintf(recv + len, sizeof recv - len, "%s%ld", k ? "," : "", got[k].ran);
    }
    long total = workers * msgs;
    printf("contend workers=%ld msgs=%ld cap=%ld ns_per_msg=%.1f received=%s ok=%d\n", workers,
           total, cap, (double)(t1 - t0) / (double)total, recv, sum == total);
    weft_chan_free(ct.c);
    return sum == total ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "wake") == 0 && argc > 2)
        return run_wake(argv[2], count_arg(argc, argv, 3, 10000), 0);
    if (strcmp(what, "cg") == 0 && argc > 2)
        return run_wake(argv[2], count_arg(argc, argv, 3, 10000), 1);
    if (strcmp(what, "steal") == 0)
        return run_steal(count_arg(argc, argv, 2, 100000), count_arg(argc, argv, 3, 0),
                         count_arg(argc, argv, 4, 2), count_arg(argc, argv, 5, 100));
    if (strcmp(what, "contend") == 0)
        return run_contend(count_arg(argc, argv, 2, 2), count_arg(argc, argv, 3, 100000),
                           count_arg(argc, argv, 4, 0));
    fprintf(stderr,
            "usage: %s wake busy|idle|local|one [N]\n"
            "       %s steal [TASKS] [WORK] [WORKERS] [BATCH]\n"
            "       %s contend [WORKERS] [MSGS] [CAP]\n"
            "       %s cg busy|idle|local|one N   (under callgrind, "
            "--collect-atstart=no)\n",
            argv[0], argv[0], argv[0], argv[0]);
    return 2;
}
