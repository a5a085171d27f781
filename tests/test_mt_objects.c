/* The sched layer's objects between tasks of different workers of
 * weft_run_threads (placed with weft_spawn_on): channels and select,
 * close, mutex, cond, wait group, semaphore, futures (also completed by a
 * plain thread), event channels, join, cancel, deadlines, a plain thread
 * on a channel, and each worker's own fds.
 * The objects are static: a shared-stack task's frames move, and the
 * suite also runs with shared stacks as the default. */
#include "check.h"
#include "weft.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define W 4

static int slow(void)
{
    return test_under_is("valgrind") || test_under_is("qemu") || test_under_is("asan") ||
           test_under_is("tsan");
}

static weft_co *on(int worker, weft_fn fn, void *arg)
{
    weft_co *t = weft_spawn_on(worker, fn, arg, NULL);
    CHECK(t != NULL);
    return t;
}

static void *join(weft_co *t)
{
    void *r = NULL;
    CHECK_INT(weft_join(t, &r, -1), 0);
    return r;
}

/* What each test's main returns: it got to the end. */
static int ok_marker;
#define OK ((void *)&ok_marker)

static void run(weft_fn main)
{
    void *r = NULL;
    CHECK_INT(weft_run_threads(W, main, NULL, &r), 0);
    CHECK_PTR(r, OK);
}

/* Until *v reaches min, letting the others run: how a task waits for
 * tasks of other workers to have got somewhere. */
static void await_count(atomic_int *v, int min)
{
    while (atomic_load(v) < min)
        CHECK_INT(weft_sleep(weft_after(WEFT_US(200))), 0);
}

/* What a task does just before it blocks: count itself, then let the
 * blocker run a little later, so that the wait has most likely begun (the
 * checks hold either way). */
static atomic_int arrived;

static void settle(int n)
{
    await_count(&arrived, n);
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(5))), 0);
}

/* ---- channels: every value received exactly once -------------------------- */

enum { PRODUCERS = 3, CONSUMERS = W, NMAX = 4000 };

static weft_chan *ch;
static int per_producer;
static atomic_int got[PRODUCERS * NMAX];
static atomic_llong sum;

static void *producer(void *arg)
{
    int base = (int)(intptr_t)arg * per_producer;
    for (int i = 0; i < per_producer; i++) {
        int v = base + i;
        CHECK_INT(weft_chan_send(ch, &v, -1), 0);
        if (i % 64 == 0)
            CHECK_INT(weft_pause(), 0);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    int v;
    long n = 0;
    while (weft_chan_recv(ch, &v, -1) == 0) {
        CHECK(v >= 0 && v < PRODUCERS * per_producer);
        atomic_fetch_add(&got[v], 1);
        atomic_fetch_add(&sum, v);
        n++;
    }
    CHECK_INT(errno, EPIPE);
    return (void *)n;
}

static void *chan_main(void *arg)
{
    (void)arg;
    static const size_t caps[] = {0, 1, 4, 64};
    per_producer = slow() ? 300 : NMAX;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        CHECK((ch = weft_chan_new(sizeof(int), caps[c])) != NULL);
        memset(got, 0, sizeof got);
        atomic_store(&sum, 0);
        weft_co *p[PRODUCERS], *q[CONSUMERS];
        for (int k = 0; k < CONSUMERS; k++)
            q[k] = on(k, consumer, NULL);
        for (int k = 0; k < PRODUCERS; k++)
            p[k] = on(1 + k, producer, (void *)(intptr_t)k);
        for (int k = 0; k < PRODUCERS; k++)
            join(p[k]);
        CHECK_INT(weft_chan_close(ch), 0);
        long total = 0;
        for (int k = 0; k < CONSUMERS; k++)
            total += (long)join(q[k]);
        long n = (long)PRODUCERS * per_producer;
        CHECK_INT(total, n);
        for (long v = 0; v < n; v++)
            if (atomic_load(&got[v]) != 1)
                FAIL("capacity %zu: value %ld received %d times", caps[c], v, atomic_load(&got[v]));
        CHECK_INT(atomic_load(&sum), n * (n - 1) / 2);
        CHECK_INT(weft_chan_free(ch), 0);
    }
    return OK;
}

/* ---- close wakes the waiters of other workers ----------------------------- */

static weft_chan *c_recv, *c_send, *c_sel, *c_buf;

static void *blocked_recv(void *arg)
{
    (void)arg;
    int v;
    atomic_fetch_add(&arrived, 1);
    CHECK_ERR(weft_chan_recv(c_recv, &v, -1), -1, EPIPE);
    return NULL;
}

static void *blocked_send(void *arg)
{
    (void)arg;
    int v = 1;
    atomic_fetch_add(&arrived, 1);
    CHECK_ERR(weft_chan_send(c_send, &v, -1), -1, EPIPE);
    return NULL;
}

static void *blocked_select(void *arg)
{
    (void)arg;
    int a, b = 3;
    weft_case cs[2] = {{.ch = c_sel, .op = WEFT_RECV, .elem = &a},
                       {.ch = c_send, .op = WEFT_SEND, .elem = &b}};
    atomic_fetch_add(&arrived, 1);
    CHECK_INT(weft_select(cs, 2, -1), 1); /* nothing comes on c_sel */
    CHECK_INT(cs[1].err, EPIPE);
    return NULL;
}

static void *drainer(void *arg)
{
    (void)arg;
    int v, n = 0;
    atomic_fetch_add(&arrived, 1);
    while (weft_chan_recv(c_buf, &v, -1) == 0)
        n++;
    CHECK_INT(errno, EPIPE);
    return (void *)(intptr_t)n;
}

static void *close_main(void *arg)
{
    (void)arg;
    CHECK((c_recv = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK((c_send = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK((c_sel = weft_chan_new(sizeof(int), 2)) != NULL);
    CHECK((c_buf = weft_chan_new(sizeof(int), 4)) != NULL);
    atomic_store(&arrived, 0);
    weft_co *t[5] = {on(1, blocked_recv, NULL), on(2, blocked_send, NULL),
                     on(3, blocked_select, NULL), on(3, blocked_recv, NULL),
                     on(2, blocked_send, NULL)};
    settle(5);
    CHECK_INT(weft_chan_close(c_recv), 0);
    join(t[0]);
    join(t[3]);
    CHECK_INT(weft_chan_close(c_send), 0); /* wakes both senders and the select */
    join(t[1]);
    join(t[2]);
    join(t[4]);

    /* Buffered: the receivers of other workers drain, then get EPIPE. */
    for (int i = 0; i < 4; i++)
        CHECK_INT(weft_chan_send(c_buf, &i, 0), 0);
    atomic_store(&arrived, 0);
    weft_co *d[3] = {on(1, drainer, NULL), on(2, drainer, NULL), on(3, drainer, NULL)};
    settle(3);
    CHECK_INT(weft_chan_close(c_buf), 0);
    intptr_t n = 0;
    for (int i = 0; i < 3; i++)
        n += (intptr_t)join(d[i]);
    CHECK_INT(n, 4);
    CHECK_INT(weft_chan_free(c_recv), 0);
    CHECK_INT(weft_chan_free(c_send), 0);
    CHECK_INT(weft_chan_free(c_sel), 0);
    CHECK_INT(weft_chan_free(c_buf), 0);
    return OK;
}

/* ---- select over channels whose peers are on other workers ---------------- */

enum { SEL_MAX = 3000 };
static weft_chan *sa, *sb, *sc, *sd;
static int sel_n;
static atomic_int sel_got[2 * SEL_MAX];

static void *send_range(void *arg)
{
    /* Sends base .. base + sel_n - 1 on its channel, then closes it. */
    int base = (int)(intptr_t)arg;
    weft_chan *c = base ? sb : sa;
    for (int i = 0; i < sel_n; i++) {
        int v = base + i;
        CHECK_INT(weft_chan_send(c, &v, -1), 0);
    }
    CHECK_INT(weft_chan_close(c), 0);
    return NULL;
}

static void *select_receiver(void *arg)
{
    (void)arg;
    int open[2] = {1, 1}, va, vb;
    weft_chan *chs[2] = {sa, sb};
    int *elems[2] = {&va, &vb};
    long n = 0;
    while (open[0] || open[1]) {
        weft_case cs[2];
        int map[2];
        size_t k = 0;
        for (int i = 0; i < 2; i++)
            if (open[i]) {
                map[k] = i;
                cs[k++] = (weft_case){.ch = chs[i], .op = WEFT_RECV, .elem = elems[i]};
            }
        int rc = weft_select(cs, k, -1);
        CHECK(rc >= 0 && (size_t)rc < k);
        int i = map[rc];
        if (cs[rc].err) {
            CHECK_INT(cs[rc].err, EPIPE);
            open[i] = 0;
            continue;
        }
        int v = *elems[i];
        CHECK(i == 0 ? v < sel_n : v >= SEL_MAX && v < SEL_MAX + sel_n);
        atomic_fetch_add(&sel_got[i == 0 ? v : v - SEL_MAX + sel_n], 1);
        n++;
    }
    return (void *)n;
}

static void *select_sender(void *arg)
{
    /* Each value on whichever of sc and sd has a receiver first. */
    (void)arg;
    int picked[2] = {0, 0};
    for (int i = 0; i < 2 * sel_n; i++) {
        int v = i;
        weft_case cs[2] = {{.ch = sc, .op = WEFT_SEND, .elem = &v},
                           {.ch = sd, .op = WEFT_SEND, .elem = &v}};
        int rc = weft_select(cs, 2, -1);
        CHECK(rc == 0 || rc == 1);
        CHECK_INT(cs[rc].err, 0);
        picked[rc]++;
    }
    CHECK_INT(weft_chan_close(sc), 0);
    CHECK_INT(weft_chan_close(sd), 0);
    return (void *)(intptr_t)(picked[0] > 0 && picked[1] > 0);
}

static void *plain_receiver(void *arg)
{
    weft_chan *c = arg;
    int v;
    long n = 0;
    while (weft_chan_recv(c, &v, -1) == 0) {
        CHECK(v >= 0 && v < 2 * sel_n);
        atomic_fetch_add(&sel_got[v], 1);
        n++;
    }
    CHECK_INT(errno, EPIPE);
    return (void *)n;
}

static void check_sel_got(const char *what)
{
    for (int v = 0; v < 2 * sel_n; v++)
        if (atomic_load(&sel_got[v]) != 1)
            FAIL("%s: value %d received %d times", what, v, atomic_load(&sel_got[v]));
}

static void *select_main(void *arg)
{
    (void)arg;
    sel_n = slow() ? 200 : SEL_MAX;
    /* Receiving: the select on worker 3, the senders on workers 1 and 2. */
    CHECK((sa = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK((sb = weft_chan_new(sizeof(int), 1)) != NULL);
    memset(sel_got, 0, sizeof sel_got);
    weft_co *r = on(3, select_receiver, NULL);
    weft_co *s1 = on(1, send_range, (void *)0), *s2 = on(2, send_range, (void *)SEL_MAX);
    join(s1);
    join(s2);
    CHECK_INT((long)join(r), 2 * sel_n);
    check_sel_got("select receiving");
    CHECK_INT(weft_chan_free(sa), 0);
    CHECK_INT(weft_chan_free(sb), 0);

    /* Sending: the select on worker 1, a receiver on each of 2 and 3. */
    CHECK((sc = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK((sd = weft_chan_new(sizeof(int), 0)) != NULL);
    memset(sel_got, 0, sizeof sel_got);
    weft_co *rc = on(2, plain_receiver, sc), *rd = on(3, plain_receiver, sd);
    weft_co *s = on(1, select_sender, NULL);
    intptr_t both = (intptr_t)join(s);
    CHECK_INT((long)join(rc) + (long)join(rd), 2 * sel_n);
    check_sel_got("select sending");
    if (!both)
        printf("select sending: one channel took every value\n");
    CHECK_INT(weft_chan_free(sc), 0);
    CHECK_INT(weft_chan_free(sd), 0);
    return OK;
}

/* ---- mutex ---------------------------------------------------------------- */

static weft_mutex mu;
static long counter; /* only under mu */
static atomic_int inside;
static int rounds;

static void *incrementer(void *arg)
{
    int k = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        CHECK_INT(weft_mutex_lock(&mu, -1), 0);
        CHECK_INT(atomic_fetch_add(&inside, 1), 0);
        long c = counter;
        if ((i + k) % 4 == 0)
            CHECK_INT(weft_pause(), 0); /* others queue on the lock meanwhile */
        counter = c + 1;
        atomic_fetch_sub(&inside, 1);
        CHECK_INT(weft_mutex_unlock(&mu), 0);
    }
    return NULL;
}

static weft_chan *release;

static void *holder(void *arg)
{
    (void)arg;
    int v;
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    CHECK_ERR(weft_mutex_lock(&mu, -1), -1, EDEADLK);
    atomic_fetch_add(&arrived, 1);
    CHECK_INT(weft_chan_recv(release, &v, -1), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

static void *taker(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_mutex_lock(&mu, weft_after(WEFT_MS(5))), -1, ETIMEDOUT);
    CHECK_ERR(weft_mutex_lock(&mu, 0), -1, EAGAIN);
    CHECK_ERR(weft_mutex_unlock(&mu), -1, EPERM); /* held by a task of another worker */
    int v = 1;
    CHECK_INT(weft_chan_send(release, &v, -1), 0);
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

static void *mutex_main(void *arg)
{
    (void)arg;
    rounds = slow() ? 200 : 5000;
    CHECK_INT(weft_mutex_init(&mu), 0);
    counter = 0;
    weft_co *t[2 * W];
    for (int i = 0; i < 2 * W; i++)
        t[i] = on(i % W, incrementer, (void *)(intptr_t)i);
    for (int i = 0; i < 2 * W; i++)
        join(t[i]);
    CHECK_INT(counter, (long)2 * W * rounds);

    CHECK((release = weft_chan_new(sizeof(int), 0)) != NULL);
    atomic_store(&arrived, 0);
    weft_co *h = on(1, holder, NULL);
    await_count(&arrived, 1);
    CHECK_ERR(weft_mutex_destroy(&mu), -1, EBUSY);
    weft_co *k = on(2, taker, NULL);
    join(k);
    join(h);
    CHECK_INT(weft_mutex_destroy(&mu), 0);
    CHECK_INT(weft_chan_free(release), 0);
    return OK;
}

/* ---- cond: ping-pong with signal, a broadcast to waiters of every worker -- */

static weft_cond cv;
static int turn, waiting, woken, go; /* under mu */

static void *ping_pong(void *arg)
{
    int me = (int)(intptr_t)arg;
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    for (int i = 0; i < rounds; i++) {
        while (turn != me)
            CHECK_INT(weft_cond_wait(&cv, &mu, -1), 0);
        turn = !me;
        CHECK_INT(weft_cond_signal(&cv), 0);
    }
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

static void *go_waiter(void *arg)
{
    (void)arg;
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    waiting++;
    while (!go)
        CHECK_INT(weft_cond_wait(&cv, &mu, -1), 0);
    woken++;
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

/* Waits until n tasks wait on cv: they count themselves under mu, which
 * cond_wait gives back only once they wait. */
static void await_waiting(int n)
{
    for (;;) {
        CHECK_INT(weft_mutex_lock(&mu, -1), 0);
        int w = waiting;
        CHECK_INT(weft_mutex_unlock(&mu), 0);
        if (w >= n)
            return;
        CHECK_INT(weft_sleep(weft_after(WEFT_US(200))), 0);
    }
}

static int read_woken(void)
{
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    int w = woken;
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return w;
}

static void *cond_main(void *arg)
{
    (void)arg;
    rounds = slow() ? 200 : 3000;
    CHECK_INT(weft_mutex_init(&mu), 0);
    CHECK_INT(weft_cond_init(&cv), 0);
    turn = 0;
    weft_co *a = on(1, ping_pong, (void *)0), *b = on(2, ping_pong, (void *)1);
    join(a);
    join(b);

    /* Broadcast: six waiters on workers 1..3 wake together. */
    enum { N = 6 };
    waiting = woken = go = 0;
    weft_co *t[N];
    for (int i = 0; i < N; i++)
        t[i] = on(1 + i % 3, go_waiter, NULL);
    await_waiting(N);
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    go = 1;
    CHECK_INT(weft_cond_broadcast(&cv), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    for (int i = 0; i < N; i++)
        join(t[i]);
    CHECK_INT(woken, N);

    /* Signal: one waiter per signal. */
    waiting = woken = go = 0;
    for (int i = 0; i < N; i++)
        t[i] = on(1 + i % 3, go_waiter, NULL);
    await_waiting(N);
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    go = 1;
    CHECK_INT(weft_cond_signal(&cv), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    for (int s = 1; s <= N; s++) {
        while (read_woken() < s)
            CHECK_INT(weft_sleep(weft_after(WEFT_US(200))), 0);
        /* A signal wakes one waiter, not more (given time to show it). */
        CHECK_INT(weft_sleep(weft_after(WEFT_MS(2))), 0);
        CHECK_INT(read_woken(), s);
        CHECK_INT(weft_cond_signal(&cv), 0);
    }
    for (int i = 0; i < N; i++)
        join(t[i]);
    CHECK_INT(weft_cond_destroy(&cv), 0);
    CHECK_INT(weft_mutex_destroy(&mu), 0);
    return OK;
}

/* ---- wait group ----------------------------------------------------------- */

static weft_wg wg;
static atomic_int wg_finished;

static void *wg_worker(void *arg)
{
    CHECK_INT(weft_sleep(weft_after(WEFT_US(100) * (intptr_t)arg)), 0);
    atomic_fetch_add(&wg_finished, 1);
    CHECK_INT(weft_wg_done(&wg), 0);
    return NULL;
}

static void *wg_waiter(void *arg)
{
    int n = (int)(intptr_t)arg;
    CHECK_INT(weft_wg_wait(&wg, -1), 0);
    CHECK_INT(atomic_load(&wg_finished), n);
    return NULL;
}

static void *wg_timed(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_wg_wait(&wg, weft_after(WEFT_MS(2))), -1, ETIMEDOUT);
    CHECK_ERR(weft_wg_wait(&wg, 0), -1, EAGAIN);
    return NULL;
}

static void *wg_main(void *arg)
{
    (void)arg;
    enum { N = 12 };
    CHECK_INT(weft_wg_init(&wg), 0);
    atomic_store(&wg_finished, 0);
    CHECK_INT(weft_wg_add(&wg, N + 1), 0);
    weft_co *t[N], *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = on(1 + i, wg_waiter, (void *)(intptr_t)N);
    join(on(2, wg_timed, NULL)); /* one is left: nothing has finished the count */
    for (int i = 0; i < N; i++)
        t[i] = on(i % W, wg_worker, (void *)(intptr_t)(i % 5));
    await_count(&wg_finished, N);
    CHECK_INT(weft_wg_done(&wg), 0);
    CHECK_INT(weft_wg_wait(&wg, -1), 0);
    for (int i = 0; i < 3; i++)
        join(w[i]);
    for (int i = 0; i < N; i++)
        join(t[i]);
    CHECK_INT(weft_wg_destroy(&wg), 0);
    return OK;
}

/* ---- semaphore ------------------------------------------------------------ */

static weft_sem sem, sig;
static atomic_int peak;

static void *sem_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        CHECK_INT(weft_sem_wait(&sem, -1), 0);
        int n = atomic_fetch_add(&inside, 1) + 1;
        CHECK(n <= 2);
        int p = atomic_load(&peak);
        while (n > p && !atomic_compare_exchange_weak(&peak, &p, n))
            ;
        if (i % 3 == 0)
            CHECK_INT(weft_pause(), 0);
        atomic_fetch_sub(&inside, 1);
        CHECK_INT(weft_sem_post(&sem), 0);
    }
    return NULL;
}

static void *sig_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++)
        CHECK_INT(weft_sem_wait(&sig, -1), 0);
    return NULL;
}

static void *sig_poster(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        CHECK_INT(weft_sem_post(&sig), 0);
        if (i % 8 == 0)
            CHECK_INT(weft_pause(), 0);
    }
    return NULL;
}

static void *sem_timed(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_sem_wait(&sig, weft_after(WEFT_MS(2))), -1, ETIMEDOUT);
    return NULL;
}

static void *sem_main(void *arg)
{
    (void)arg;
    rounds = slow() ? 200 : 3000;
    CHECK_INT(weft_sem_init(&sem, 2), 0);
    CHECK_INT(weft_sem_init(&sig, 0), 0);
    atomic_store(&inside, 0);
    atomic_store(&peak, 0);
    weft_co *t[2 * W];
    for (int i = 0; i < 2 * W; i++)
        t[i] = on(i % W, sem_user, NULL);
    for (int i = 0; i < 2 * W; i++)
        join(t[i]);
    CHECK(atomic_load(&peak) >= 1 && atomic_load(&peak) <= 2);
    /* A signal from one worker to another, unit by unit. */
    weft_co *w = on(1, sig_waiter, NULL), *p = on(2, sig_poster, NULL);
    join(p);
    join(w);
    join(on(3, sem_timed, NULL));
    CHECK_INT(weft_sem_destroy(&sem), 0);
    CHECK_INT(weft_sem_destroy(&sig), 0);
    return OK;
}

/* ---- futures -------------------------------------------------------------- */

static weft_future *fa, *fb, *fc;

static void *future_waiter(void *arg)
{
    weft_future *f = arg;
    void *v = NULL;
    atomic_fetch_add(&arrived, 1);
    CHECK_INT(weft_future_wait(f, &v, -1), 0);
    return v;
}

static void *future_completer(void *arg)
{
    (void)arg;
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(1))), 0);
    CHECK_INT(weft_future_complete(fa, (void *)0xa), 0);
    CHECK_ERR(weft_future_complete(fa, (void *)0xb), -1, EALREADY);
    return NULL;
}

static void *thread_completer(void *arg)
{
    /* A plain thread, after the waiter most likely waits. */
    struct timespec ts = {0, 3 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_INT(weft_future_complete(arg, (void *)0xc), 0);
    return NULL;
}

static void *future_select(void *arg)
{
    (void)arg;
    void *v = NULL;
    int x;
    weft_case cs[2] = {{.ch = c_recv, .op = WEFT_RECV, .elem = &x},
                       {.op = WEFT_FUTURE, .future = fc, .elem = &v}};
    CHECK_ERR(weft_future_wait(fc, NULL, weft_after(WEFT_MS(1))), -1, ETIMEDOUT);
    atomic_fetch_add(&arrived, 1);
    CHECK_INT(weft_select(cs, 2, -1), 1);
    CHECK_INT(cs[1].err, 0);
    return v;
}

static void *future_main(void *arg)
{
    (void)arg;
    CHECK((fa = weft_future_new()) && (fb = weft_future_new()) && (fc = weft_future_new()));
    CHECK((c_recv = weft_chan_new(sizeof(int), 0)) != NULL);
    atomic_store(&arrived, 0);
    weft_co *wa = on(1, future_waiter, fa), *ca = on(2, future_completer, NULL);
    weft_co *wb = on(3, future_waiter, fb), *wc = on(2, future_select, NULL);
    pthread_t pb, pc;
    CHECK_INT(pthread_create(&pb, NULL, thread_completer, fb), 0);
    await_count(&arrived, 3);
    CHECK_INT(pthread_create(&pc, NULL, thread_completer, fc), 0);
    CHECK_PTR(join(wa), (void *)0xa);
    CHECK_PTR(join(wb), (void *)0xc);
    CHECK_PTR(join(wc), (void *)0xc);
    join(ca);
    CHECK_INT(pthread_join(pb, NULL), 0);
    CHECK_INT(pthread_join(pc, NULL), 0);
    weft_future_free(fa);
    weft_future_free(fb);
    weft_future_free(fc);
    CHECK_INT(weft_chan_free(c_recv), 0);
    return OK;
}

/* ---- event channels ------------------------------------------------------- */

static weft_events *ev;
static int ev_n;

static void *event_poster(void *arg)
{
    /* A task of another worker posts the odd values. */
    (void)arg;
    for (int i = 1; i < 2 * ev_n; i += 2) {
        while (weft_events_post(ev, (void *)(intptr_t)i) != 0) {
            CHECK_INT(errno, EAGAIN); /* full: the receiver is behind */
            CHECK_INT(weft_pause(), 0);
        }
    }
    return NULL;
}

static void *thread_poster(void *arg)
{
    /* A plain thread posts the even values. */
    (void)arg;
    for (int i = 0; i < 2 * ev_n; i += 2) {
        while (weft_events_post(ev, (void *)(intptr_t)i) != 0) {
            CHECK_INT(errno, EAGAIN);
            sched_yield();
        }
    }
    return NULL;
}

static void *event_receiver(void *arg)
{
    (void)arg;
    static atomic_int seen[2 * 3000];
    int last[2] = {-2, -1};
    for (int n = 0; n < 2 * ev_n; n++) {
        void *v = NULL;
        if (n % 2) {
            CHECK_INT(weft_events_recv(ev, &v, -1), 0);
        } else {
            weft_case c = {.op = WEFT_EVENT, .ev = ev, .elem = &v};
            CHECK_INT(weft_select(&c, 1, -1), 0);
            CHECK_INT(c.err, 0);
        }
        int i = (int)(intptr_t)v;
        CHECK(i >= 0 && i < 2 * ev_n);
        CHECK_INT(i, last[i % 2] + 2); /* each poster's events in order */
        last[i % 2] = i;
        atomic_fetch_add(&seen[i], 1);
    }
    void *v;
    CHECK_ERR(weft_events_recv(ev, &v, weft_after(WEFT_MS(1))), -1, ETIMEDOUT);
    CHECK_INT(weft_events_close(ev), 0);
    CHECK_ERR(weft_events_recv(ev, &v, -1), -1, EPIPE);
    for (int i = 0; i < 2 * ev_n; i++)
        CHECK_INT(atomic_load(&seen[i]), 1);
    return NULL;
}

static void *events_main(void *arg)
{
    (void)arg;
    ev_n = slow() ? 300 : 3000;
    CHECK((ev = weft_events_new(16)) != NULL);
    weft_co *r = on(1, event_receiver, NULL), *p = on(2, event_poster, NULL);
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, thread_poster, NULL), 0);
    join(p);
    join(r);
    CHECK_INT(pthread_join(t, NULL), 0);
    weft_events_free(ev);
    return OK;
}

/* ---- each worker its own fds and timers ----------------------------------- */

static void *fd_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 200; i++) {
        unsigned char b = (unsigned char)i;
        CHECK_INT(weft_write(fd, &b, 1, -1), 1);
        if (i % 16 == 0)
            CHECK_INT(weft_sleep(weft_after(WEFT_US(100))), 0);
    }
    CHECK_INT(weft_close(fd), 0);
    return NULL;
}

static void *fd_pair(void *arg)
{
    /* A pipe made on this worker, read here by this task and written by
     * another task that is pinned here too. */
    (void)arg;
    int p[2];
    CHECK_INT(pipe(p), 0);
    weft_co *w = on(weft_worker(), fd_writer, (void *)(intptr_t)p[1]);
    int n = 0;
    for (;;) {
        unsigned char b[64];
        ssize_t r = weft_read(p[0], b, sizeof b, -1);
        CHECK(r >= 0);
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            CHECK_INT(b[i], (unsigned char)n++);
    }
    CHECK_INT(n, 200);
    join(w);
    CHECK_INT(weft_close(p[0]), 0);
    return NULL;
}

static void *fds_main(void *arg)
{
    (void)arg;
    weft_co *t[W];
    for (int k = 0; k < W; k++)
        t[k] = on(k, fd_pair, NULL);
    for (int k = 0; k < W; k++)
        join(t[k]);
    return OK;
}

/* ---- join ----------------------------------------------------------------- */

static weft_chan *gate;

static void *answer(void *arg)
{
    int v;
    if (arg)
        CHECK_INT(weft_chan_recv(gate, &v, -1), 0);
    return (void *)(intptr_t)(40 + weft_worker());
}

static void *joiner(void *arg)
{
    /* Worker 1 joins a task of worker 3. */
    void *r = NULL;
    CHECK_ERR(weft_join(arg, &r, 0), -1, EAGAIN);
    CHECK_ERR(weft_join(arg, &r, weft_after(WEFT_MS(1))), -1, ETIMEDOUT);
    atomic_fetch_add(&arrived, 1);
    CHECK_INT(weft_join(arg, &r, -1), 0);
    return r;
}

static void *join_main(void *arg)
{
    (void)arg;
    CHECK((gate = weft_chan_new(sizeof(int), 0)) != NULL);
    CHECK_PTR(join(on(2, answer, NULL)), (void *)42);
    /* A task of another worker that has finished already. */
    atomic_store(&arrived, 0);
    weft_co *done = on(3, answer, NULL);
    weft_co *target = on(3, answer, (void *)1);
    weft_co *j = on(1, joiner, target);
    settle(1);
    int v = 0;
    CHECK_INT(weft_chan_send(gate, &v, -1), 0);
    CHECK_PTR(join(j), (void *)43);
    CHECK_PTR(join(done), (void *)43);
    CHECK_INT(weft_chan_free(gate), 0);
    return OK;
}

/* ---- cancel a task blocked on another worker ------------------------------ */

enum { V_RECV, V_SLEEP, V_MUTEX, V_SEM, V_WG, V_JOIN, V_FUTURE, V_SELECT, V_COUNT };

static weft_co *forever_task;
static atomic_int cancel_cleaned;

static void on_cancel_clean(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cancel_cleaned, 1);
}

static void *forever(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_sleep(-1), -1, ECANCELED);
    return NULL;
}

static void *victim(void *arg)
{
    int kind = (int)(intptr_t)arg, v;
    CHECK_INT(weft_co_defer(on_cancel_clean, NULL), 0);
    atomic_fetch_add(&arrived, 1);
    int rc = -2;
    switch (kind) {
    case V_RECV:
        rc = weft_chan_recv(c_recv, &v, -1);
        break;
    case V_SLEEP:
        rc = weft_sleep(-1);
        break;
    case V_MUTEX:
        rc = weft_mutex_lock(&mu, -1);
        break;
    case V_SEM:
        rc = weft_sem_wait(&sig, -1);
        break;
    case V_WG:
        rc = weft_wg_wait(&wg, -1);
        break;
    case V_JOIN:
        rc = weft_join(forever_task, NULL, -1);
        break;
    case V_FUTURE:
        rc = weft_future_wait(fa, NULL, -1);
        break;
    case V_SELECT: {
        weft_case cs[2] = {{.ch = c_recv, .op = WEFT_RECV, .elem = &v},
                           {.ch = c_send, .op = WEFT_SEND, .elem = &v}};
        rc = weft_select(cs, 2, -1);
        break;
    }
    }
    CHECK_INT(rc, -1);
    int e = errno;
    /* Every later blocking call fails the same way. */
    CHECK_ERR(weft_pause(), -1, ECANCELED);
    return (void *)(intptr_t)e;
}

static weft_cond cv2;
static weft_mutex mu2;

static void *cond_victim(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_defer(on_cancel_clean, NULL), 0);
    CHECK_INT(weft_mutex_lock(&mu2, -1), 0);
    atomic_fetch_add(&arrived, 1);
    int rc = weft_cond_wait(&cv2, &mu2, -1);
    int e = errno;
    CHECK_INT(rc, -1);
    CHECK_INT(weft_mutex_unlock(&mu2), 0); /* held again, also on error */
    return (void *)(intptr_t)e;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    CHECK((c_recv = weft_chan_new(sizeof(int), 0)) && (c_send = weft_chan_new(sizeof(int), 0)));
    CHECK_INT(weft_mutex_init(&mu), 0);
    CHECK_INT(weft_mutex_init(&mu2), 0);
    CHECK_INT(weft_cond_init(&cv2), 0);
    CHECK_INT(weft_sem_init(&sig, 0), 0);
    CHECK_INT(weft_wg_init(&wg), 0);
    CHECK_INT(weft_wg_add(&wg, 1), 0);
    CHECK((fa = weft_future_new()) != NULL);
    forever_task = on(3, forever, NULL);
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    atomic_store(&arrived, 0);
    atomic_store(&cancel_cleaned, 0);
    weft_co *v[V_COUNT + 1];
    int n = 0;
    for (int k = 0; k < V_COUNT; k++)
        v[n++] = on(1 + k % 3, victim, (void *)(intptr_t)k);
    v[n++] = on(2, cond_victim, NULL);
    settle(n);
    for (int i = 0; i < n; i++)
        CHECK_INT(weft_cancel(v[i]), 0);
    for (int i = 0; i < n; i++)
        CHECK_INT((intptr_t)join(v[i]), ECANCELED);
    CHECK_INT(atomic_load(&cancel_cleaned), n);
    CHECK_INT(weft_cancel(forever_task), 0);
    join(forever_task);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    CHECK_INT(weft_wg_done(&wg), 0);
    CHECK_INT(weft_chan_free(c_recv), 0);
    CHECK_INT(weft_chan_free(c_send), 0);
    CHECK_INT(weft_mutex_destroy(&mu), 0);
    CHECK_INT(weft_mutex_destroy(&mu2), 0);
    CHECK_INT(weft_cond_destroy(&cv2), 0);
    CHECK_INT(weft_sem_destroy(&sig), 0);
    CHECK_INT(weft_wg_destroy(&wg), 0);
    weft_future_free(fa);
    return OK;
}

/* ---- deadlines against a peer on another worker that sends late ----------- */

static weft_chan *dch, *dack;
static int d_n;
static atomic_int d_got[4000];
static atomic_int d_timeouts;

/* Small random numbers, one generator per task. */
static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static void *late_sender(void *arg)
{
    unsigned s = (unsigned)(intptr_t)arg;
    for (int i = 0; i < d_n; i++) {
        int v = i;
        CHECK_INT(weft_sleep(weft_after(WEFT_US(rnd(&s) % 150))), 0);
        /* A send that times out was not delivered: it is sent again. */
        while (weft_chan_send(dch, &v, weft_after(WEFT_US(rnd(&s) % 100))) != 0) {
            CHECK_INT(errno, ETIMEDOUT);
            atomic_fetch_add(&d_timeouts, 1);
        }
    }
    CHECK_INT(weft_chan_close(dch), 0);
    return NULL;
}

static void *deadline_receiver(void *arg)
{
    unsigned s = (unsigned)(intptr_t)arg;
    int v;
    for (;;) {
        int rc = weft_chan_recv(dch, &v, weft_after(WEFT_US(rnd(&s) % 100)));
        if (rc == 0) {
            CHECK(v >= 0 && v < d_n);
            atomic_fetch_add(&d_got[v], 1);
            continue;
        }
        if (errno == EPIPE)
            break;
        CHECK_INT(errno, ETIMEDOUT);
        atomic_fetch_add(&d_timeouts, 1);
    }
    return NULL;
}

static void *waits_then_sends(void *arg)
{
    (void)arg;
    int v = 0;
    /* Only after the receiver's deadline has come. */
    CHECK_INT(weft_chan_recv(dack, &v, -1), 0);
    v = 77;
    CHECK_INT(weft_chan_send(dch, &v, -1), 0);
    return NULL;
}

static void *deadline_main(void *arg)
{
    (void)arg;
    /* The deadline comes first: ETIMEDOUT, and the later send arrives
     * once. */
    CHECK((dch = weft_chan_new(sizeof(int), 0)) && (dack = weft_chan_new(sizeof(int), 0)));
    weft_co *s = on(2, waits_then_sends, NULL);
    int v = 0;
    CHECK_ERR(weft_chan_recv(dch, &v, weft_after(WEFT_MS(2))), -1, ETIMEDOUT);
    CHECK_INT(weft_chan_send(dack, &v, -1), 0);
    CHECK_INT(weft_chan_recv(dch, &v, -1), 0);
    CHECK_INT(v, 77);
    join(s);
    CHECK_INT(weft_chan_free(dch), 0);
    CHECK_INT(weft_chan_free(dack), 0);

    /* Deadlines racing late sends, unbuffered and buffered: every value
     * arrives exactly once, whichever side times out. */
    d_n = slow() ? 200 : 3000;
    for (size_t cap = 0; cap < 2; cap++) {
        CHECK((dch = weft_chan_new(sizeof(int), cap)) != NULL);
        memset(d_got, 0, sizeof d_got);
        atomic_store(&d_timeouts, 0);
        weft_co *r1 = on(1, deadline_receiver, (void *)1);
        weft_co *r2 = on(3, deadline_receiver, (void *)3);
        weft_co *sd = on(2, late_sender, (void *)2);
        join(sd);
        join(r1);
        join(r2);
        for (int i = 0; i < d_n; i++)
            if (atomic_load(&d_got[i]) != 1)
                FAIL("capacity %zu: value %d received %d times", cap, i, atomic_load(&d_got[i]));
        printf("deadlines, capacity %zu: %d timeouts\n", cap, atomic_load(&d_timeouts));
        CHECK_INT(weft_chan_free(dch), 0);
    }
    return OK;
}

/* ---- a plain thread on a channel of the run ------------------------------- */

static weft_chan *pin, *pout;
static int p_n;

static void *thread_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < p_n; i++)
        CHECK_INT(weft_chan_send(pin, &i, -1), 0);
    CHECK_INT(weft_chan_close(pin), 0);
    return NULL;
}

static void *thread_receiver(void *arg)
{
    (void)arg;
    long n = 0, s = 0;
    int v;
    while (weft_chan_recv(pout, &v, -1) == 0) {
        CHECK_INT(v, n);
        s += v;
        n++;
    }
    CHECK_INT(errno, EPIPE);
    CHECK_INT(n, p_n);
    return (void *)s;
}

static void *task_receiver(void *arg)
{
    (void)arg;
    long n = 0;
    int v;
    while (weft_chan_recv(pin, &v, -1) == 0) {
        CHECK_INT(v, n); /* one sender: FIFO */
        n++;
    }
    CHECK_INT(errno, EPIPE);
    return (void *)n;
}

static void *task_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < p_n; i++)
        CHECK_INT(weft_chan_send(pout, &i, -1), 0);
    CHECK_INT(weft_chan_close(pout), 0);
    return NULL;
}

static atomic_int threads_done;

static void *thread_sender_done(void *arg)
{
    thread_sender(arg);
    atomic_fetch_add(&threads_done, 1);
    return NULL;
}

static void *thread_receiver_done(void *arg)
{
    void *r = thread_receiver(arg);
    atomic_fetch_add(&threads_done, 1);
    return r;
}

/* The values between tasks and plain threads; main sleeps meanwhile, so
 * that the run never looks deadlocked (see thread_alone_main). */
static void *thread_main(void *arg)
{
    (void)arg;
    p_n = slow() ? 300 : 5000;
    for (size_t cap = 0; cap < 8; cap += 7) {
        CHECK((pin = weft_chan_new(sizeof(int), cap)) && (pout = weft_chan_new(sizeof(int), cap)));
        weft_co *r = on(1, task_receiver, NULL), *s = on(2, task_sender, NULL);
        pthread_t ts, tr;
        atomic_store(&threads_done, 0);
        CHECK_INT(pthread_create(&ts, NULL, thread_sender_done, NULL), 0);
        CHECK_INT(pthread_create(&tr, NULL, thread_receiver_done, NULL), 0);
        await_count(&threads_done, 2);
        CHECK_INT((long)join(r), p_n);
        join(s);
        void *sum = NULL;
        CHECK_INT(pthread_join(ts, NULL), 0);
        CHECK_INT(pthread_join(tr, &sum), 0);
        CHECK_INT((long)sum, (long)p_n * (p_n - 1) / 2);
        CHECK_INT(weft_chan_free(pin), 0);
        CHECK_INT(weft_chan_free(pout), 0);
    }
    return OK;
}

/* Tasks blocked on channels that only plain threads serve, and nothing
 * else pending: not a deadlock, since those threads wake them. */
static void *late_thread(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    int v = 9;
    CHECK_INT(weft_chan_send(pin, &v, -1), 0);
    CHECK_INT(weft_chan_recv(pout, &v, -1), 0);
    CHECK_INT(v, 10);
    return NULL;
}

static void *alone_receiver(void *arg)
{
    (void)arg;
    int v = 0;
    CHECK_INT(weft_chan_recv(pin, &v, -1), 0);
    CHECK_INT(v, 9);
    return NULL;
}

static void *alone_sender(void *arg)
{
    (void)arg;
    int v = 10;
    CHECK_INT(weft_chan_send(pout, &v, -1), 0);
    return NULL;
}

static void *thread_alone_main(void *arg)
{
    (void)arg;
    CHECK((pin = weft_chan_new(sizeof(int), 0)) && (pout = weft_chan_new(sizeof(int), 0)));
    weft_co *r = on(1, alone_receiver, NULL), *s = on(2, alone_sender, NULL);
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, late_thread, NULL), 0);
    join(r);
    join(s);
    CHECK_INT(pthread_join(t, NULL), 0);
    CHECK_INT(weft_chan_free(pin), 0);
    CHECK_INT(weft_chan_free(pout), 0);
    return OK;
}

/* Without a weft_run_threads run, a plain thread's channel calls fail
 * with EPERM: under no run at all, and while only a weft_run is active
 * (whose channels are single-threaded). */
static weft_chan *lone;

static void *eperm_thread(void *arg)
{
    (void)arg;
    int v = 1;
    CHECK_ERR(weft_chan_send(lone, &v, -1), -1, EPERM);
    CHECK_ERR(weft_chan_recv(lone, &v, -1), -1, EPERM);
    CHECK_ERR(weft_chan_send(lone, &v, 0), -1, EPERM);
    return NULL;
}

static void eperm_check(void)
{
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, eperm_thread, NULL), 0);
    CHECK_INT(pthread_join(t, NULL), 0);
}

static void *eperm_main(void *arg)
{
    (void)arg;
    eperm_check();
    return OK;
}

static void test_thread_eperm(void)
{
    CHECK((lone = weft_chan_new(sizeof(int), 1)) != NULL);
    eperm_check();
    void *r = NULL;
    CHECK_INT(weft_run(eperm_main, NULL, &r), 0);
    CHECK_PTR(r, OK);
    CHECK_INT(weft_chan_free(lone), 0);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        weft_fn fn;
    } tests[] = {
        {"chan", chan_main},         {"close", close_main},   {"select", select_main},
        {"mutex", mutex_main},       {"cond", cond_main},     {"wg", wg_main},
        {"sem", sem_main},           {"future", future_main}, {"events", events_main},
        {"fds", fds_main},           {"join", join_main},     {"cancel", cancel_main},
        {"deadline", deadline_main}, {"thread", thread_main}, {"thread_alone", thread_alone_main}};
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 1) {
        printf("thread_eperm\n");
        test_thread_eperm();
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int want = argc == 1;
        for (int a = 1; a < argc; a++)
            want |= strcmp(argv[a], tests[i].name) == 0;
        if (!want)
            continue;
        printf("%s\n", tests[i].name);
        run(tests[i].fn);
    }
    return 0;
}
