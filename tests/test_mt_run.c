/* weft_run_threads, weft_spawn_on, weft_worker and weft_workers: the number
 * of workers, where main and spawned tasks run, results, the end of a run,
 * the errors, stealing (and what is never stolen), started tasks that stay
 * on their thread, the run order of unstarted tasks, and a deadlock across
 * workers. */
#include "check.h"
#include "weft.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

/* ---- pthread_create fails on demand (linked with --wrap=pthread_create) -- */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* The number of creates that still succeed before they fail; -1: never
 * fail. */
static atomic_int creates_left = -1;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int left = atomic_load(&creates_left);
    if (left == 0)
        return EAGAIN;
    if (left > 0)
        atomic_fetch_sub(&creates_left, 1);
    return __real_pthread_create(t, attr, fn, arg);
}

/* ---- helpers ------------------------------------------------------------ */

static int slow(void)
{
    return test_under_is("valgrind") || test_under_is("qemu") || test_under_is("asan") ||
           test_under_is("tsan");
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A joined thread leaves /proc/self/task a moment after pthread_join
 * returns (the kernel wakes the joiner before the thread is reaped): waits
 * up to ten seconds for the count to come down to n. Below n is n: a
 * thread of an earlier case (or qemu-user's own) left since n was counted,
 * which only hides a thread left behind if both happen at once. */
static int threads_settle(int n)
{
    int now = count_threads();
    for (int i = 0; i < 1000 && now > n; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        now = count_threads();
    }
    return now < n ? n : now;
}

static int affinity_cpus(void)
{
    cpu_set_t set;
    CHECK_INT(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

/* A little computation that cannot be folded away, and never blocks. */
static void burn(int n)
{
    volatile unsigned x = 1;
    for (int i = 0; i < n; i++)
        x = x * 1103515245u + 12345u;
}

/* Waits without giving the thread to weft (only to the kernel) until *v
 * reaches min; 0 if it did not within a minute: the caller fails then,
 * rather than hanging the suite. */
static int spin_until(atomic_int *v, int min)
{
    int64_t end = weft_now() + WEFT_S(60);
    while (atomic_load(v) < min) {
        if (weft_now() > end)
            return 0;
        sched_yield();
    }
    return 1;
}

/* Stealable tasks: private stacks also when the suite makes shared ones
 * the process default (shared-stack tasks are never stolen). */
static const weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};

static void *nothing(void *arg)
{
    return arg;
}

static atomic_int ran;

static void *mark_ran(void *arg)
{
    atomic_fetch_add(&ran, 1);
    return arg;
}

static void *report_worker(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)weft_worker();
}

/* ---- outside a run -------------------------------------------------------- */

static void check_outside(void)
{
    CHECK_ERR(weft_worker(), -1, EPERM);
    CHECK_ERR(weft_workers(), 0, EPERM);
    CHECK_ERR(weft_spawn_on(0, nothing, NULL, NULL), NULL, EPERM);
}

static void *outside_gen(void *arg)
{
    (void)arg;
    check_outside(); /* a coroutine that is not a task is outside too */
    return NULL;
}

/* A plain thread during a run runs no scheduler. */
static void *plain_thread(void *arg)
{
    (void)arg;
    check_outside();
    return NULL;
}

static void *offloaded(void *arg)
{
    (void)arg;
    check_outside(); /* the I/O pool's threads are not workers */
    return (void *)1;
}

/* ---- the number of workers, where main runs, results ---------------------- */

typedef struct basics {
    unsigned n;
    int expect;      /* weft_workers() */
    pthread_t th[8]; /* the thread of each worker, as its task saw it */
} basics;

static basics *cur_basics;

static void *record_thread(void *arg)
{
    int k = (int)(intptr_t)arg;
    CHECK_INT(weft_worker(), k);
    CHECK_INT(weft_workers(), cur_basics->expect);
    cur_basics->th[k] = pthread_self();
    return (void *)(intptr_t)(100 + k);
}

static pthread_t caller;

static void *basics_main(void *arg)
{
    basics *b = arg;
    CHECK_INT(weft_worker(), 0);
    CHECK_INT(weft_workers(), b->expect);
    CHECK(pthread_equal(pthread_self(), caller)); /* worker 0 is the caller */
    CHECK(weft_task_self() != NULL);
    int n = b->expect < 8 ? b->expect : 8;
    weft_co *t[8];
    for (int k = 0; k < n; k++)
        CHECK((t[k] = weft_spawn_on(k, record_thread, (void *)(intptr_t)k, NULL)) != NULL);
    for (int k = 0; k < n; k++) {
        void *r = NULL;
        CHECK_INT(weft_join(t[k], &r, -1), 0);
        CHECK_INT((intptr_t)r, 100 + k);
    }
    /* One thread per worker: all distinct, worker 0 the caller. */
    CHECK(pthread_equal(b->th[0], caller));
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(!pthread_equal(b->th[i], b->th[j]));
    /* Neither a plain thread nor a thread of the I/O pool is a worker. */
    pthread_t p;
    CHECK_INT(pthread_create(&p, NULL, plain_thread, NULL), 0);
    CHECK_INT(pthread_join(p, NULL), 0);
    void *r = NULL;
    CHECK_INT(weft_offload(offloaded, NULL, &r), 0);
    CHECK_PTR(r, (void *)1);
    return (void *)(uintptr_t)(0xbee0 + b->n);
}

static void run_basics(unsigned n, int expect)
{
    basics b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.expect = expect;
    cur_basics = &b;
    caller = pthread_self();
    void *res = NULL;
    CHECK_INT(weft_run_threads(n, basics_main, &b, &res), 0);
    CHECK_PTR(res, (void *)(uintptr_t)(0xbee0 + n));
    check_outside();
}

static void test_counts(void)
{
    run_basics(1, 1);
    run_basics(2, 2);
    run_basics(4, 4);
    run_basics(0, affinity_cpus());
    /* 0 is the CPUs the process may use, not those the machine has. */
    cpu_set_t all, one;
    CHECK_INT(sched_getaffinity(0, sizeof all, &all), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    CHECK_INT(sched_setaffinity(0, sizeof one, &one), 0);
    run_basics(0, 1);
    CHECK_INT(sched_setaffinity(0, sizeof all, &all), 0);
    /* result may be NULL. */
    atomic_store(&ran, 0);
    CHECK_INT(weft_run_threads(3, mark_ran, NULL, NULL), 0);
    CHECK_INT(atomic_load(&ran), 1);
}

/* The workers' threads are gone when the call returns. */
static void test_threads_joined(void)
{
    /* Start the I/O pool (which stays) before counting. */
    CHECK_INT(weft_offload(nothing, NULL, NULL), 0);
    int before = count_threads();
    CHECK_INT(weft_run_threads(4, mark_ran, NULL, NULL), 0);
    CHECK_INT(threads_settle(before), before);
}

/* ---- it returns when every task of every worker has finished -------------- */

static atomic_int finished, cleaned;

static void on_clean(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cleaned, 1);
}

static void *leaf(void *arg)
{
    CHECK_INT(weft_co_defer(on_clean, NULL), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(1) * (1 + (intptr_t)arg))), 0);
    atomic_fetch_add(&finished, 1);
    return NULL;
}

static void *branch(void *arg)
{
    int k = (int)(intptr_t)arg;
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(2) * k)), 0);
    /* Grandchildren on the next worker and on this one, never joined. */
    CHECK(weft_spawn_on((k + 1) % weft_workers(), leaf, arg, NULL) != NULL);
    CHECK(weft_spawn(leaf, arg, NULL) != NULL);
    atomic_fetch_add(&finished, 1);
    return NULL;
}

static void *finish_main(void *arg)
{
    (void)arg;
    for (int k = 0; k < weft_workers(); k++)
        CHECK(weft_spawn_on(k, branch, (void *)(intptr_t)k, NULL) != NULL);
    return (void *)7; /* without joining anything */
}

static void test_all_finish(void)
{
    atomic_store(&finished, 0);
    atomic_store(&cleaned, 0);
    void *res = NULL;
    CHECK_INT(weft_run_threads(3, finish_main, NULL, &res), 0);
    CHECK_PTR(res, (void *)7);
    CHECK_INT(atomic_load(&finished), 3 * 3);
    CHECK_INT(atomic_load(&cleaned), 3 * 2);
}

/* ---- errors of weft_run_threads ------------------------------------------- */

static void *nested_runs(void *arg)
{
    (void)arg;
    atomic_store(&ran, 0);
    CHECK_ERR(weft_run_threads(2, mark_ran, NULL, NULL), -1, EBUSY);
    CHECK_ERR(weft_run_threads(0, mark_ran, NULL, NULL), -1, EBUSY);
    CHECK_ERR(weft_run(mark_ran, NULL, NULL), -1, EBUSY);
    CHECK_INT(atomic_load(&ran), 0);
    return (void *)(intptr_t)weft_worker();
}

static void *busy_main(void *arg)
{
    (void)arg;
    CHECK_INT((intptr_t)nested_runs(NULL), 0);
    /* On another worker's thread too. */
    weft_co *t = weft_spawn_on(1, nested_runs, NULL, NULL);
    CHECK(t != NULL);
    void *r = NULL;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_INT((intptr_t)r, 1);
    return NULL;
}

static void *run_under_run(void *arg)
{
    (void)arg;
    /* Under weft_run: one worker, index 0, and spawn_on knows only it. */
    CHECK_INT(weft_worker(), 0);
    CHECK_INT(weft_workers(), 1);
    weft_co *t = weft_spawn_on(0, report_worker, NULL, NULL);
    CHECK(t != NULL);
    void *r = (void *)1;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_INT((intptr_t)r, 0);
    CHECK_ERR(weft_spawn_on(1, nothing, NULL, NULL), NULL, EINVAL);
    atomic_store(&ran, 0);
    CHECK_ERR(weft_run_threads(2, mark_ran, NULL, NULL), -1, EBUSY);
    CHECK_INT(atomic_load(&ran), 0);
    return NULL;
}

/* weft_run_threads inside a coroutine that is not a task. */
static void *gen_runs(void *arg)
{
    (void)arg;
    void *res = NULL;
    static basics b;
    memset(&b, 0, sizeof b);
    b.n = 2;
    b.expect = 2;
    cur_basics = &b;
    caller = pthread_self();
    CHECK_INT(weft_run_threads(2, basics_main, &b, &res), 0);
    CHECK_PTR(res, (void *)(uintptr_t)(0xbee0 + 2));
    return (void *)3;
}

static void test_errors(void)
{
    atomic_store(&ran, 0);
    void *res = (void *)9;
    CHECK_ERR(weft_run_threads(WEFT_WORKERS_MAX + 1, mark_ran, NULL, &res), -1, EINVAL);
    CHECK_ERR(weft_run_threads(UINT_MAX, mark_ran, NULL, &res), -1, EINVAL);
    CHECK_ERR(weft_run_threads(2, NULL, NULL, &res), -1, EINVAL);
    CHECK_ERR(weft_run_threads(0, NULL, NULL, NULL), -1, EINVAL);
    CHECK_INT(atomic_load(&ran), 0);
    CHECK_PTR(res, (void *)9);
    check_outside();

    CHECK_INT(weft_run_threads(2, busy_main, NULL, NULL), 0);
    CHECK_INT(weft_run(run_under_run, NULL, NULL), 0);

    weft_co *g = weft_co_new(gen_runs, NULL, NULL);
    CHECK(g != NULL);
    void *out = NULL;
    CHECK_INT(weft_co_send(g, NULL, &out), 0);
    CHECK_PTR(out, (void *)3);
    weft_co_free(g);

    g = weft_co_new(outside_gen, NULL, NULL);
    CHECK(g != NULL);
    CHECK_INT(weft_co_send(g, NULL, NULL), 0);
    weft_co_free(g);
}

/* EAGAIN: a worker's thread could not be started; the ones started are
 * stopped again, and main does not run. */
static void test_eagain(void)
{
    int before = count_threads();
    for (int ok = 0; ok < 3; ok++) {
        atomic_store(&ran, 0);
        atomic_store(&creates_left, ok);
        errno = 0;
        int rc = weft_run_threads(4, mark_ran, NULL, NULL);
        int e = errno;
        atomic_store(&creates_left, -1);
        if (rc != -1 || e != EAGAIN)
            FAIL("weft_run_threads(4) with pthread_create failing after %d: %d errno %d (%s)", ok,
                 rc, e, strerror(e));
        CHECK_INT(atomic_load(&ran), 0);
        CHECK_INT(threads_settle(before), before);
        check_outside();
    }
    /* And the next run works. */
    CHECK_INT(weft_run_threads(4, mark_ran, NULL, NULL), 0);
    CHECK_INT(atomic_load(&ran), 1);
    /* The next test counts from here: this run's threads must be gone. */
    CHECK_INT(threads_settle(before), before);
}

/* ---- weft_spawn_on: placement and errors ---------------------------------- */

static void *spawn_from(void *arg)
{
    /* From worker 3, onto every worker. */
    (void)arg;
    CHECK_INT(weft_worker(), 3);
    for (int k = 0; k < 4; k++) {
        weft_co *t = weft_spawn_on(k, report_worker, NULL, NULL);
        CHECK(t != NULL);
        void *r = NULL;
        CHECK_INT(weft_join(t, &r, -1), 0);
        CHECK_INT((intptr_t)r, k);
    }
    return NULL;
}

static void *spawn_on_plain(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_spawn_on(0, nothing, NULL, NULL), NULL, EPERM);
    return NULL;
}

static void *spawn_on_offloaded(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_spawn_on(0, nothing, NULL, NULL), NULL, EPERM);
    return NULL;
}

static atomic_int pinned_on[4], stolen_started;

static void *pinned(void *arg)
{
    (void)arg;
    int w = weft_worker();
    CHECK(w >= 0 && w < 4);
    atomic_fetch_add(&pinned_on[w], 1);
    return NULL;
}

static void *stealable(void *arg)
{
    (void)arg;
    atomic_fetch_add(&stolen_started, 1);
    return (void *)(intptr_t)weft_worker();
}

static void *spawn_on_main(void *arg)
{
    (void)arg;
    /* From main (worker 0) onto each worker. */
    for (int k = 0; k < 4; k++) {
        weft_co *t = weft_spawn_on(k, report_worker, NULL, NULL);
        CHECK(t != NULL);
        void *r = NULL;
        CHECK_INT(weft_join(t, &r, -1), 0);
        CHECK_INT((intptr_t)r, k);
    }
    weft_co *t = weft_spawn_on(3, spawn_from, NULL, NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* Pinned tasks stay on their worker even while it is busy and the
     * others are idle: while this task keeps worker 0, the stealable
     * tasks are taken by the others, the pinned ones wait for it. */
    enum { PINNED = 40, STEAL = 8 };
    weft_co *pt[PINNED], *st[STEAL];
    for (int i = 0; i < PINNED; i++)
        CHECK((pt[i] = weft_spawn_on(0, pinned, NULL, NULL)) != NULL);
    for (int i = 0; i < STEAL; i++)
        CHECK((st[i] = weft_spawn(stealable, NULL, &priv)) != NULL);
    if (!spin_until(&stolen_started, 1))
        FAIL("no task was stolen from a busy worker 0 in a minute");
    CHECK_INT(atomic_load(&pinned_on[0]), 0);
    for (int i = 0; i < STEAL; i++)
        CHECK_INT(weft_join(st[i], NULL, -1), 0);
    for (int i = 0; i < PINNED; i++)
        CHECK_INT(weft_join(pt[i], NULL, -1), 0);
    CHECK_INT(atomic_load(&pinned_on[0]), PINNED);

    /* Errors. */
    weft_opts bad_kind = {.stack_kind = 7};
    weft_opts bad_size = {.stack_size = 1};
    CHECK_ERR(weft_spawn_on(-1, nothing, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(4, nothing, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(INT_MAX, nothing, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(INT_MIN, nothing, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(1, NULL, NULL, NULL), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(1, nothing, NULL, &bad_kind), NULL, EINVAL);
    CHECK_ERR(weft_spawn_on(2, nothing, NULL, &bad_size), NULL, EINVAL);
    pthread_t p;
    CHECK_INT(pthread_create(&p, NULL, spawn_on_plain, NULL), 0);
    CHECK_INT(pthread_join(p, NULL), 0);
    CHECK_INT(weft_offload(spawn_on_offloaded, NULL, NULL), 0);
    return NULL;
}

static void test_spawn_on(void)
{
    CHECK_INT(weft_run_threads(4, spawn_on_main, NULL, NULL), 0);
}

/* ENOMEM: a 1 GiB stack under a small RLIMIT_AS, in a child. */
static void *enomem_main(void *arg)
{
    (void)arg;
    struct rlimit rl;
    CHECK_INT(getrlimit(RLIMIT_AS, &rl), 0);
    long kb = test_status_kb("VmSize");
    CHECK(kb > 0);
    struct rlimit small = {(rlim_t)(kb + 256 * 1024) * 1024, rl.rlim_max};
    CHECK_INT(setrlimit(RLIMIT_AS, &small), 0);
    weft_opts huge = {.stack_size = WEFT_STACK_MAX, .stack_kind = WEFT_STACK_PRIVATE};
    CHECK_ERR(weft_spawn_on(1, nothing, NULL, &huge), NULL, ENOMEM);
    CHECK_INT(setrlimit(RLIMIT_AS, &rl), 0);
    return NULL;
}

static void enomem_child(void *arg)
{
    (void)arg;
    CHECK_INT(weft_run_threads(2, enomem_main, NULL, NULL), 0);
}

static void test_spawn_on_enomem(void)
{
    if (slow()) {
        printf("spawn_on ENOMEM case skipped under %s\n", test_under());
        return;
    }
    static char out[4096];
    int st = test_fork(enomem_child, NULL, out, sizeof out);
    CHECK_EXITED(st, 0, out);
}

/* ---- stealing ------------------------------------------------------------- */

static atomic_int on_worker[2];

static void *cpu_task(void *arg)
{
    burn((int)(intptr_t)arg);
    int w = weft_worker();
    CHECK(w == 0 || w == 1);
    atomic_fetch_add(&on_worker[w], 1);
    return NULL;
}

static void *steal_main(void *arg)
{
    (void)arg;
    /* Rounds of tasks until one runs on worker 1 (the first, unless a
     * slow tool lets worker 0 finish them before worker 1 wakes). */
    int n = slow() ? 100 : 2000, work = slow() ? 2000 : 20000, rounds = 0;
    weft_co **t = calloc((size_t)n, sizeof *t);
    CHECK(t != NULL);
    while (atomic_load(&on_worker[1]) == 0 && rounds < 50) {
        rounds++;
        for (int i = 0; i < n; i++)
            CHECK((t[i] = weft_spawn(cpu_task, (void *)(intptr_t)work, &priv)) != NULL);
        for (int i = 0; i < n; i++)
            CHECK_INT(weft_join(t[i], NULL, -1), 0);
    }
    free(t);
    CHECK_INT(atomic_load(&on_worker[0]) + atomic_load(&on_worker[1]), rounds * n);
    /* valgrind runs one thread at a time, and may never let worker 1 run
     * while worker 0 has work: there a steal cannot be required. */
    if (atomic_load(&on_worker[1]) == 0 && test_under_is("valgrind"))
        printf("stealing: none in %d rounds under valgrind\n", rounds);
    else if (atomic_load(&on_worker[1]) == 0)
        FAIL("all %d tasks of %d rounds ran on worker 0", n, rounds);
    return NULL;
}

static void test_stealing(void)
{
    CHECK_INT(weft_run_threads(2, steal_main, NULL, NULL), 0);
    printf("stealing: %d tasks on worker 0, %d on worker 1\n", atomic_load(&on_worker[0]),
           atomic_load(&on_worker[1]));
}

/* Shared-stack tasks and tasks of groups run where they were spawned,
 * even when that worker is busy and stealable tasks next to them are
 * taken by an idle one. */
typedef struct stay {
    int home;
    atomic_int elsewhere, ran, stolen;
} stay;

static void *stay_task(void *arg)
{
    stay *s = arg;
    if (weft_worker() != s->home)
        atomic_fetch_add(&s->elsewhere, 1);
    atomic_fetch_add(&s->ran, 1);
    return NULL;
}

static void *stay_plain(void *arg)
{
    stay *s = arg;
    if (weft_worker() != s->home)
        atomic_fetch_add(&s->stolen, 1);
    return NULL;
}

static void *stay_spawner(void *arg)
{
    stay *s = arg;
    s->home = weft_worker();
    enum { K = 24 };
    weft_opts shared = {.stack_kind = WEFT_STACK_SHARED};
    weft_co *sh[K], *pl[2 * K];
    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    /* Interleaved with stealable ones, so that a thief sees both kinds. */
    for (int i = 0; i < K; i++) {
        CHECK((sh[i] = weft_spawn(stay_task, s, &shared)) != NULL);
        CHECK((pl[2 * i] = weft_spawn(stay_plain, s, &priv)) != NULL);
        CHECK(weft_group_spawn(g, stay_task, s, &priv) != NULL);
        CHECK((pl[2 * i + 1] = weft_spawn(stay_plain, s, &priv)) != NULL);
    }
    if (!spin_until(&s->stolen, 1))
        FAIL("worker %d: no task was stolen from it while it was busy", s->home);
    CHECK_INT(atomic_load(&s->ran), 0);
    for (int i = 0; i < K; i++)
        CHECK_INT(weft_join(sh[i], NULL, -1), 0);
    for (int i = 0; i < 2 * K; i++)
        CHECK_INT(weft_join(pl[i], NULL, -1), 0);
    CHECK_INT(weft_group_wait(g, -1), 0);
    CHECK_INT(weft_group_close(g), 0);
    CHECK_INT(atomic_load(&s->ran), 2 * K);
    CHECK_INT(atomic_load(&s->elsewhere), 0);
    return NULL;
}

static void *stay_main(void *arg)
{
    stay *s = arg;
    CHECK_PTR(stay_spawner(&s[0]), NULL);
    /* From a task that runs on another worker than main's. */
    weft_co *t = weft_spawn_on(1, stay_spawner, &s[1], NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(s[1].home, 1);
    return NULL;
}

static void test_never_stolen(void)
{
    static stay s[2];
    CHECK_INT(weft_run_threads(2, stay_main, s, NULL), 0);
}

/* ---- a started task never changes threads --------------------------------- */

typedef struct roam {
    weft_chan *ping, *pong;
    weft_mutex m;
    weft_sem sem;
    weft_chan *never;
    atomic_int moved, done;
    atomic_int seen[4];
} roam;

static void check_home(roam *r, int w, pthread_t th, int *e)
{
    if (weft_worker() != w || !pthread_equal(pthread_self(), th) || &errno != e)
        atomic_fetch_add(&r->moved, 1);
}

static void *roamer(void *arg)
{
    roam *r = arg;
    int w = weft_worker();
    pthread_t th = pthread_self();
    int *e = &errno;
    atomic_fetch_add(&r->seen[w], 1);
    int rounds = slow() ? 20 : 100;
    for (int i = 0; i < rounds; i++) {
        int v = i;
        switch (i % 6) {
        case 0:
            CHECK_INT(weft_sleep(weft_after(WEFT_US(50))), 0);
            break;
        case 1:
            CHECK_INT(weft_pause(), 0);
            break;
        case 2: /* woken by a task of any worker */
            CHECK_INT(weft_chan_send(r->ping, &v, -1), 0);
            CHECK_INT(weft_chan_recv(r->pong, &v, -1), 0);
            break;
        case 3:
            CHECK_INT(weft_mutex_lock(&r->m, -1), 0);
            CHECK_INT(weft_pause(), 0);
            CHECK_INT(weft_mutex_unlock(&r->m), 0);
            break;
        case 4:
            CHECK_INT(weft_sem_wait(&r->sem, -1), 0);
            CHECK_INT(weft_sleep(weft_after(WEFT_US(20))), 0);
            CHECK_INT(weft_sem_post(&r->sem), 0);
            break;
        case 5:
            CHECK_ERR(weft_chan_recv(r->never, &v, weft_after(WEFT_US(100))), -1, ETIMEDOUT);
            break;
        }
        check_home(r, w, th, e);
    }
    atomic_fetch_add(&r->done, 1);
    return NULL;
}

/* Answers each ping with a pong, until the channel closes. */
static void *ponger(void *arg)
{
    roam *r = arg;
    int v;
    while (weft_chan_recv(r->ping, &v, -1) == 0)
        CHECK_INT(weft_chan_send(r->pong, &v, -1), 0);
    CHECK_INT(errno, EPIPE);
    return NULL;
}

static void *roam_main(void *arg)
{
    roam *r = arg;
    enum { N = 48 };
    weft_co *t[N], *p[4];
    for (int k = 0; k < 4; k++)
        CHECK((p[k] = weft_spawn_on(k, ponger, r, NULL)) != NULL);
    /* Half placed on every worker, half stealable. */
    for (int i = 0; i < N; i++)
        CHECK((t[i] = i % 2 ? weft_spawn_on(i / 2 % 4, roamer, r, NULL)
                            : weft_spawn(roamer, r, &priv)) != NULL);
    for (int i = 0; i < N; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    CHECK_INT(weft_chan_close(r->ping), 0);
    for (int k = 0; k < 4; k++)
        CHECK_INT(weft_join(p[k], NULL, -1), 0);
    CHECK_INT(atomic_load(&r->done), N);
    return NULL;
}

static void test_stays(void)
{
    static roam r;
    CHECK((r.ping = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK((r.pong = weft_chan_new(sizeof(int), 2)) != NULL);
    CHECK((r.never = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK_INT(weft_mutex_init(&r.m), 0);
    CHECK_INT(weft_sem_init(&r.sem, 2), 0);
    CHECK_INT(weft_run_threads(4, roam_main, &r, NULL), 0);
    CHECK_INT(atomic_load(&r.moved), 0);
    for (int k = 0; k < 4; k++)
        CHECK(atomic_load(&r.seen[k]) > 0);
    CHECK_INT(weft_chan_free(r.ping), 0);
    CHECK_INT(weft_chan_free(r.pong), 0);
    CHECK_INT(weft_chan_free(r.never), 0);
    CHECK_INT(weft_mutex_destroy(&r.m), 0);
    CHECK_INT(weft_sem_destroy(&r.sem), 0);
}

/* ---- run order: unstarted spawned tasks run newest first ------------------ */

static char order[8];
static atomic_int norder;

static void *append(void *arg)
{
    order[atomic_fetch_add(&norder, 1)] = (char)(intptr_t)arg;
    return NULL;
}

/* Spawns a, b, c with opts and lets them run: no other worker can take
 * them (one worker, or tasks that are never stolen). */
static void spawn_abc(const weft_opts *o, const char *expect)
{
    memset(order, 0, sizeof order);
    atomic_store(&norder, 0);
    weft_co *t[3];
    for (int i = 0; i < 3; i++)
        CHECK((t[i] = weft_spawn(append, (void *)(intptr_t)('a' + i), o)) != NULL);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    CHECK_STR(order, expect);
}

static void *order_main(void *arg)
{
    (void)arg;
    spawn_abc(&priv, "cba");
    return NULL;
}

static void *order_shared(void *arg)
{
    (void)arg;
    static const weft_opts shared = {.stack_kind = WEFT_STACK_SHARED};
    spawn_abc(&shared, "abc"); /* never stolen: weft_run's order */
    return NULL;
}

static void *order_main2(void *arg)
{
    (void)arg;
    order_shared(NULL);
    weft_co *t = weft_spawn_on(1, order_shared, NULL, NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    return NULL;
}

static void test_order(void)
{
    CHECK_INT(weft_run_threads(1, order_main, NULL, NULL), 0);
}

static void test_order_shared(void)
{
    CHECK_INT(weft_run_threads(2, order_main2, NULL, NULL), 0);
}

/* ---- deadlock across workers ---------------------------------------------- */

static atomic_int dl_cleaned, dl_canceled;

static void dl_clean(void *arg)
{
    (void)arg;
    atomic_fetch_add(&dl_cleaned, 1);
}

static void *stuck(void *arg)
{
    weft_co_defer(dl_clean, NULL);
    int v;
    if (weft_chan_recv(arg, &v, -1) == -1 && errno == ECANCELED)
        atomic_fetch_add(&dl_canceled, 1);
    return NULL;
}

typedef struct dl {
    weft_chan *a, *b;
} dl;

static void *dl_main(void *arg)
{
    dl *d = arg;
    weft_co_set_name(NULL, "dl.main");
    weft_opts o1 = {.name = "stuck.one"}, o2 = {.name = "stuck.two"};
    weft_co *t1 = weft_spawn_on(1, stuck, d->a, &o1);
    weft_co *t2 = weft_spawn_on(2, stuck, d->b, &o2);
    CHECK(t1 && t2);
    CHECK_ERR(weft_join(t1, NULL, -1), -1, ECANCELED);
    return (void *)11;
}

static void deadlock_child(void *arg)
{
    (void)arg;
    dl d = {weft_chan_new(sizeof(int), 0), weft_chan_new(sizeof(int), 0)};
    CHECK(d.a && d.b);
    void *res = NULL;
    CHECK_ERR(weft_run_threads(3, dl_main, &d, &res), -1, EDEADLK);
    CHECK_PTR(res, (void *)11); /* main unwound and returned */
    CHECK_INT(atomic_load(&dl_canceled), 2);
    CHECK_INT(atomic_load(&dl_cleaned), 2);
    check_outside();
    CHECK_INT(weft_chan_free(d.a), 0);
    CHECK_INT(weft_chan_free(d.b), 0);
    /* A run after it works. */
    CHECK_INT(weft_run_threads(2, mark_ran, NULL, NULL), 0);
}

/* Not a deadlock: a task on one worker waits for what a sleeping task of
 * another worker, or a plain thread through a future, will do. */
static void *late_sender(void *arg)
{
    int v = 5;
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(20))), 0);
    CHECK_INT(weft_chan_send(arg, &v, -1), 0);
    return NULL;
}

static void *patient(void *arg)
{
    int v = 0;
    CHECK_INT(weft_chan_recv(arg, &v, -1), 0);
    CHECK_INT(v, 5);
    return NULL;
}

static void *late_completer(void *arg)
{
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_INT(weft_future_complete(arg, (void *)6), 0);
    return NULL;
}

static void *future_waiter(void *arg)
{
    void *v = NULL;
    CHECK_INT(weft_future_wait(arg, &v, -1), 0);
    CHECK_PTR(v, (void *)6);
    return NULL;
}

static void *no_deadlock_main(void *arg)
{
    weft_chan *ch = arg;
    weft_co *r = weft_spawn_on(1, patient, ch, NULL);
    weft_co *s = weft_spawn_on(2, late_sender, ch, NULL);
    weft_future *f = weft_future_new();
    CHECK(r && s && f);
    weft_co *w = weft_spawn_on(1, future_waiter, f, NULL);
    CHECK(w != NULL);
    pthread_t p;
    CHECK_INT(pthread_create(&p, NULL, late_completer, f), 0);
    CHECK_INT(weft_join(r, NULL, -1), 0);
    CHECK_INT(weft_join(s, NULL, -1), 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK_INT(pthread_join(p, NULL), 0);
    weft_future_free(f);
    return NULL;
}

static void test_deadlock(void)
{
    static char out[16384];
    int st = test_fork(deadlock_child, NULL, out, sizeof out);
    CHECK_EXITED(st, 0, out);
    CHECK(strstr(out, "deadlock"));
    CHECK_INT(test_count_lines(out, "weft: all tasks are asleep - deadlock!", NULL, 0), 1);
    /* The report lists the tasks of each worker. */
    CHECK(strstr(out, "'stuck.one' waiting on chan recv"));
    CHECK(strstr(out, "'stuck.two' waiting on chan recv"));
    CHECK(strstr(out, "'dl.main' waiting on join #"));

    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    CHECK(ch != NULL);
    CHECK_INT(weft_run_threads(3, no_deadlock_main, ch, NULL), 0);
    CHECK_INT(weft_chan_free(ch), 0);
}

/* Runs each part, or only those named on the command line; names it on
 * stdout first, so that a crash shows where it was. */
static int nargs;
static char **args;

static void run(const char *name, void (*test)(void))
{
    int want = nargs == 0;
    for (int i = 0; i < nargs; i++)
        want |= strcmp(args[i], name) == 0;
    if (!want)
        return;
    printf("%s\n", name);
    test();
}

#define RUN(test) run(#test, test)

int main(int argc, char **argv)
{
    nargs = argc - 1;
    args = argv + 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_outside();
    /* First: it forks, which TSan allows only while no other thread runs
     * (the I/O pool's start with the first weft_offload). */
    RUN(test_deadlock);
    RUN(test_errors);
    RUN(test_counts);
    RUN(test_all_finish);
    RUN(test_spawn_on);
    RUN(test_spawn_on_enomem);
    RUN(test_stealing);
    RUN(test_never_stolen);
    RUN(test_stays);
    RUN(test_eagain);
    RUN(test_threads_joined);
    RUN(test_order);
    RUN(test_order_shared);
    check_outside();
    return 0;
}
