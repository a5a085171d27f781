/* A run of several workers (weft_run_threads): one scheduler per thread,
 * each with its own ready queues, timers and poller, and what joins them:
 *
 *   - the inbox of each worker, a lock-free stack where other threads put
 *     the tasks they wake (claimed through the parking seam, sched.h) and
 *     the tasks they spawn there; the eventfd is written only when the
 *     worker sleeps in its poller;
 *   - the ring of each worker: the tasks it spawned that have not started,
 *     under a spinlock. Its owner takes the newest (depth first, as one
 *     worker runs a tree); an idle worker steals the older half, the
 *     larger subtrees;
 *   - the world's lock, taken only on the way to and from sleep: it
 *     counts idle workers, so that the last one to go idle can tell the
 *     end of the run (every task finished) from a deadlock.
 *
 * A spawn wakes a sleeping worker only when none is already looking for
 * work (a "spinner"); a spinner that finds work wakes the next. */
#include "sched/sched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int weft__mt_runs;

/* Most tasks taken by one steal. */
#define STEAL_MAX 1024

typedef struct weft__world {
    unsigned n;
    weft__sched **w;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* start-up: the workers are ready, or go */
    unsigned ready, started;
    int go;         /* 1: run, -1: give up (a worker did not start) */
    unsigned nidle; /* under mu */
    int deadlocks;  /* under mu */
    int nsleep;     /* workers on their way to sleep or asleep */
    int spinning;   /* workers woken to look for work */
    int over;       /* the run is over */
    pthread_t *threads;
    unsigned dump_gen;       /* weft_dump asks every worker for its list */
    int dump_left;           /* workers that have not written it yet */
    pthread_mutex_t dump_mu; /* one worker's list at a time */
    int64_t spin_ns;         /* WEFT_SPIN_US: how long an idle worker looks before it sleeps */
} weft__world;

/* ---- the inbox ------------------------------------------------------------ */

static void kick(weft__sched *h)
{
    if (__atomic_load_n(&h->sleeping, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&h->sleeping, 0, __ATOMIC_SEQ_CST))
        weft__poll_kick(h->poller);
}

void weft__inbox_push(weft__sched *h, weft__task *t)
{
    weft__task *head = __atomic_load_n(&h->inbox, __ATOMIC_RELAXED);
    do
        t->next_ready = head;
    while (
        !__atomic_compare_exchange_n(&h->inbox, &head, t, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    kick(h);
}

void weft__inbox_drain(weft__sched *s)
{
    if (!__atomic_load_n(&s->inbox, __ATOMIC_RELAXED))
        return;
    weft__task *t = __atomic_exchange_n(&s->inbox, NULL, __ATOMIC_ACQUIRE), *rev = NULL;
    while (t) { /* a stack: the oldest last */
        weft__task *next = t->next_ready;
        t->next_ready = rev;
        rev = t;
        t = next;
    }
    while (rev) {
        t = rev;
        rev = t->next_ready;
        if (t->heap_idx)
            weft__timer_del(s, t);
        weft__ready_push(s, t);
    }
}

/* ---- the ring of unstarted tasks ------------------------------------------ */

static weft__task **ring_at(weft__sched *s, size_t i)
{
    return &s->fresh[(s->fresh_top + i) & (s->fresh_cap - 1)];
}

/* Wakes one sleeping worker to look for work, unless one already looks. */
static void wake_spinner(weft__world *w, const weft__sched *from)
{
    int zero = 0;
    if (!__atomic_compare_exchange_n(&w->spinning, &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return;
    for (unsigned k = 1; k <= w->n; k++) {
        weft__sched *v = w->w[(from->index + k) % w->n];
        if (v != from && __atomic_load_n(&v->sleeping, __ATOMIC_SEQ_CST) &&
            __atomic_exchange_n(&v->sleeping, 0, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&v->kicked, 1, __ATOMIC_SEQ_CST);
            weft__poll_kick(v->poller);
            return;
        }
    }
    __atomic_store_n(&w->spinning, 0, __ATOMIC_SEQ_CST);
}

static int ring_grow(weft__sched *s)
{
    size_t cap = s->fresh_cap ? 2 * s->fresh_cap : 256;
    weft__task **r = malloc(cap * sizeof *r);
    if (!r)
        return -1;
    for (size_t i = 0; i < s->fresh_n; i++)
        r[i] = *ring_at(s, i);
    free(s->fresh);
    s->fresh = r;
    s->fresh_cap = cap;
    s->fresh_top = 0;
    return 0;
}

void weft__fresh_push(weft__sched *s, weft__task *t)
{
    weft__spin_lock(&s->fresh_lk);
    if (unlikely(s->fresh_n == s->fresh_cap) && ring_grow(s) != 0) {
        /* No memory for a larger ring: it runs here, unstealable. */
        weft__spin_unlock(&s->fresh_lk);
        t->stay = 1;
        weft__ready_next(s, t);
        return;
    }
    t->state = T_READY;
    *ring_at(s, s->fresh_n) = t;
    /* No fence between this store and the load of nsleep below: a worker
     * going to sleep may miss this task, and a sleeper may be missed, but
     * then this worker runs it itself; the next spawn wakes the sleeper. */
    __atomic_store_n(&s->fresh_n, s->fresh_n + 1, __ATOMIC_RELAXED);
    weft__spin_unlock(&s->fresh_lk);
    weft__world *w = s->world;
    if (__atomic_load_n(&w->nsleep, __ATOMIC_RELAXED) &&
        !__atomic_load_n(&w->spinning, __ATOMIC_RELAXED))
        wake_spinner(w, s);
}

weft__task *weft__fresh_pop(weft__sched *s)
{
    if (!__atomic_load_n(&s->fresh_n, __ATOMIC_RELAXED))
        return NULL;
    weft__task *t = NULL;
    weft__spin_lock(&s->fresh_lk);
    if (s->fresh_n) {
        t = *ring_at(s, s->fresh_n - 1);
        __atomic_store_n(&s->fresh_n, s->fresh_n - 1, __ATOMIC_RELAXED);
    }
    weft__spin_unlock(&s->fresh_lk);
    return t;
}

/* A spinner stops looking; if it found work, the next may start. */
static void spin_end(weft__sched *s, int found)
{
    if (!s->spinner)
        return;
    s->spinner = 0;
    weft__world *w = s->world;
    __atomic_fetch_sub(&w->spinning, 1, __ATOMIC_SEQ_CST);
    if (found && __atomic_load_n(&w->nsleep, __ATOMIC_SEQ_CST))
        wake_spinner(w, s);
}

int weft__steal(weft__sched *s)
{
    weft__world *w = s->world;
    unsigned start = (unsigned)(weft__rand(s) % w->n);
    for (unsigned k = 0; k < w->n; k++) {
        weft__sched *v = w->w[(start + k) % w->n];
        if (v == s || !__atomic_load_n(&v->fresh_n, __ATOMIC_SEQ_CST))
            continue;
        size_t got = 0;
        weft__spin_lock(&v->fresh_lk);
        size_t take = (v->fresh_n + 1) / 2;
        if (take > STEAL_MAX)
            take = STEAL_MAX;
        for (; got < take; got++)
            s->stolen[got] = *ring_at(v, got);
        v->fresh_top = (v->fresh_top + got) & (v->fresh_cap - 1);
        __atomic_store_n(&v->fresh_n, v->fresh_n - got, __ATOMIC_RELAXED);
        weft__spin_unlock(&v->fresh_lk);
        if (!got)
            continue;
        /* Not started: they may still change threads. Their exit goes to
         * this worker's loop. */
        for (size_t i = 0; i < got; i++) {
            weft__task *t = s->stolen[i];
            weft__all_unlink(v, t);
            t->home = s;
            t->co->resumer = s->loop;
            weft__all_link(s, t);
            weft__fresh_push(s, t);
        }
        spin_end(s, 1);
        return 1;
    }
    spin_end(s, 0);
    return 0;
}

/* A worker's tasks are its own to read: each worker writes its list when
 * it next passes through its loop. */
static void dump_one(weft__world *w, weft__sched *s)
{
    pthread_mutex_lock(&w->dump_mu);
    fprintf(stderr, "weft: worker %d of %u:\n", s->index, w->n);
    fflush(stderr);
    weft__dump_fd(s, 2);
    pthread_mutex_unlock(&w->dump_mu);
}

/* ---- sleep, the end, deadlocks ------------------------------------------- */

static void kick_all(weft__world *w)
{
    for (unsigned i = 0; i < w->n; i++)
        kick(w->w[i]);
}

/* Under the world's lock, every worker idle: is the run over, or stuck? */
static void all_idle(weft__world *w)
{
    size_t live = 0;
    int outside = 0;
    for (unsigned i = 0; i < w->n; i++) {
        weft__sched *v = w->w[i];
        if (__atomic_load_n(&v->inbox, __ATOMIC_SEQ_CST) ||
            __atomic_load_n(&v->fresh_n, __ATOMIC_SEQ_CST))
            return;      /* its owner has been kicked and will see it */
        live += v->live; /* wraps: a task finishes where it was not spawned */
        outside |= v->idle_outside;
    }
    if (live == 0) {
        __atomic_store_n(&w->over, 1, __ATOMIC_SEQ_CST);
        kick_all(w);
        return;
    }
    if (outside)
        return;
    if (w->deadlocks++ == 0) {
        fflush(stderr);
        fputs("weft: all tasks are asleep - deadlock!\n", stderr);
        for (unsigned i = 0; i < w->n; i++)
            dump_one(w, w->w[i]);
        fflush(stderr);
        /* Every blocked call returns ECANCELED so that the tasks unwind. */
        for (unsigned i = 0; i < w->n; i++)
            weft__cancel_all(w->w[i]);
        return;
    }
    fprintf(stderr, "weft: %zu tasks still asleep after cancellation; abandoned\n", live);
    __atomic_store_n(&w->over, 1, __ATOMIC_SEQ_CST);
    kick_all(w);
}

/* Is there work that s would miss if it slept now? */
static int work_seen(weft__world *w, weft__sched *s)
{
    if (s->nready || __atomic_load_n(&s->inbox, __ATOMIC_SEQ_CST) ||
        __atomic_load_n(&w->over, __ATOMIC_SEQ_CST))
        return 1;
    for (unsigned i = 0; i < w->n; i++)
        if (__atomic_load_n(&w->w[i]->fresh_n, __ATOMIC_SEQ_CST))
            return 1;
    return 0;
}

/* Opt-in (WEFT_SPIN_US): an idle worker with no fd to watch looks for work
 * for a while before it sleeps, trading CPU for the latency of a wake-up
 * from another worker (a write to its eventfd and the kernel's wake). */
static int spin_for_work(weft__world *w, weft__sched *s)
{
    if (!w->spin_ns || s->external)
        return 0;
    int64_t until = weft_now() + w->spin_ns;
    if (s->nheap && s->heap[1].when < until)
        until = s->heap[1].when;
    for (unsigned i = 0;; i++) {
        if (work_seen(w, s))
            return 1;
        if ((i & 63) == 63 && weft_now() >= until)
            return 0;
        weft__cpu_relax();
    }
}

int weft__mt_idle(weft__sched *s)
{
    weft__world *w = s->world;
    if (spin_for_work(w, s))
        return 0;
    pthread_mutex_lock(&w->mu);
    s->idle = 1;
    s->idle_outside = s->nheap || s->external;
    if (++w->nidle == w->n && !__atomic_load_n(&w->over, __ATOMIC_SEQ_CST))
        all_idle(w);
    pthread_mutex_unlock(&w->mu);
    /* Sleeping is announced before the last look for work, and a waker
     * publishes its work before it looks for sleepers: one of the two
     * sees the other. */
    __atomic_store_n(&s->sleeping, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&w->nsleep, 1, __ATOMIC_SEQ_CST);
    if (!work_seen(w, s))
        weft__idle(s, s->nheap ? s->heap[1].when : -1);
    __atomic_fetch_sub(&w->nsleep, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->sleeping, 0, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&s->kicked, 0, __ATOMIC_SEQ_CST))
        s->spinner = 1;
    pthread_mutex_lock(&w->mu);
    s->idle = 0;
    w->nidle--;
    pthread_mutex_unlock(&w->mu);
    return __atomic_load_n(&w->over, __ATOMIC_SEQ_CST);
}

/* ---- weft_dump ------------------------------------------------------------ */

void weft__dump_poll(weft__sched *s)
{
    weft__world *w = s->world;
    unsigned gen = __atomic_load_n(&w->dump_gen, __ATOMIC_ACQUIRE);
    if (gen == s->dump_seen)
        return;
    s->dump_seen = gen;
    dump_one(w, s);
    __atomic_fetch_sub(&w->dump_left, 1, __ATOMIC_RELEASE);
}

int weft__dump_all(weft__sched *s)
{
    weft__world *w = s->world;
    fflush(stderr);
    if (!s->current) { /* no task to wait in: this worker's alone */
        dump_one(w, s);
        return 0;
    }
    pthread_mutex_lock(&w->mu);
    while (__atomic_load_n(&w->dump_left, __ATOMIC_ACQUIRE)) { /* another dump */
        pthread_mutex_unlock(&w->mu);
        weft_sleep(weft_after(WEFT_MS(1)));
        pthread_mutex_lock(&w->mu);
    }
    __atomic_store_n(&w->dump_left, (int)w->n - 1, __ATOMIC_RELAXED);
    s->dump_seen = __atomic_add_fetch(&w->dump_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->mu);
    dump_one(w, s);
    kick_all(w);
    /* Sleeps rather than parks: a worker busy in a long task answers late,
     * and this must not count as waiting on anything. */
    while (__atomic_load_n(&w->dump_left, __ATOMIC_ACQUIRE) > 0)
        weft_sleep(weft_after(WEFT_MS(1)));
    return 0;
}

/* ---- weft_run_threads ------------------------------------------------------ */

/* Makes the calling thread's scheduler for worker i; NULL with errno. */
static weft__sched *worker_new(weft__world *w, unsigned i)
{
    weft__sched *s = weft__sched_new();
    if (!s)
        return NULL;
    s->world = w;
    s->index = (int)i;
    if (!(s->stolen = malloc(STEAL_MAX * sizeof *s->stolen)) || ring_grow(s) != 0 ||
        !weft__idle_poller(s)) {
        int e = errno ? errno : ENOMEM;
        weft__sched_end(s);
        errno = e;
        return NULL;
    }
    return s;
}

static void *worker_main(void *arg)
{
    weft__world *w = arg;
    pthread_mutex_lock(&w->mu);
    unsigned i = ++w->started;
    pthread_mutex_unlock(&w->mu);
    weft__sched *s = worker_new(w, i);
    pthread_mutex_lock(&w->mu);
    w->w[i] = s;
    w->ready++;
    pthread_cond_broadcast(&w->cv);
    while (!w->go)
        pthread_cond_wait(&w->cv, &w->mu);
    int go = w->go > 0;
    pthread_mutex_unlock(&w->mu);
    if (!s)
        return NULL;
    if (go) {
        s->mt = 1;
        weft__loop_mt(s);
    }
    weft__sched_end(s);
    return NULL;
}

static unsigned cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    return 1;
}

/* Starts workers 1 .. n-1 and waits until each has its scheduler; 0, or
 * -1 with errno when one could not start (the others are told to stop). */
static int start_workers(weft__world *w)
{
    int err = 0;
    unsigned made = 1;
    for (; made < w->n; made++) {
        int e = pthread_create(&w->threads[made], NULL, worker_main, w);
        if (e) {
            err = EAGAIN;
            break;
        }
    }
    pthread_mutex_lock(&w->mu);
    while (w->ready < made - 1)
        pthread_cond_wait(&w->cv, &w->mu);
    for (unsigned i = 1; i < made && !err; i++)
        if (!w->w[i])
            err = ENOMEM;
    w->go = err ? -1 : 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (err) {
        for (unsigned i = 1; i < made; i++)
            pthread_join(w->threads[i], NULL);
        errno = err;
        return -1;
    }
    return 0;
}

int weft_run_threads(unsigned n, weft_fn main, void *arg, void **result)
{
    if (!main || n > WEFT_WORKERS_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (weft__sched_cur) {
        errno = EBUSY;
        return -1;
    }
    if (n == 0)
        n = cpus();
    weft__world *w = calloc(1, sizeof *w);
    if (w) {
        w->n = n;
        w->w = calloc(n, sizeof *w->w);
        w->threads = calloc(n, sizeof *w->threads);
    }
    if (!w || !w->w || !w->threads) {
        if (w) {
            free(w->w);
            free(w->threads);
        }
        free(w);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->dump_mu, NULL);
    const char *spin = getenv("WEFT_SPIN_US");
    if (spin && *spin)
        w->spin_ns = WEFT_US(strtol(spin, NULL, 10) > 0 ? strtol(spin, NULL, 10) : 0);
    pthread_cond_init(&w->cv, NULL);
    __atomic_fetch_add(&weft__mt_runs, 1, __ATOMIC_SEQ_CST);
    int rc = -1, e = 0;
    weft__sched *s = worker_new(w, 0);
    if (!s) {
        e = errno;
    } else {
        w->w[0] = s;
        if (start_workers(w) != 0) {
            e = errno;
        } else {
            /* main starts here, on worker 0: spawned before the worker
             * joins the others, so it is never stolen. */
            weft_co *m = weft__spawn(s, main, arg, NULL, NULL);
            s->mt = 1;
            weft__task *mt = m ? m->task_data : NULL;
            if (mt)
                mt->owned = mt->stay = 1;
            else
                e = errno;
            if (!mt)
                __atomic_store_n(&w->over, 1, __ATOMIC_SEQ_CST);
            if (mt)
                weft__loop_mt(s);
            else
                kick_all(w);
            for (unsigned i = 1; i < n; i++)
                pthread_join(w->threads[i], NULL);
            if (mt) {
                if (result && mt->state == T_DONE)
                    *result = mt->result;
                rc = w->deadlocks ? -1 : 0;
                e = EDEADLK;
            }
        }
        weft__sched_end(s);
    }
    __atomic_fetch_sub(&weft__mt_runs, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->dump_mu);
    pthread_cond_destroy(&w->cv);
    free(w->w);
    free(w->threads);
    free(w);
    if (rc)
        errno = e;
    return rc;
}

/* ---- placement ------------------------------------------------------------ */

weft_co *weft_spawn_on(int worker, weft_fn fn, void *arg, const weft_opts *opts)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return NULL;
    }
    unsigned n = s->world ? s->world->n : 1;
    if (worker < 0 || (unsigned)worker >= n || !fn) {
        errno = EINVAL;
        return NULL;
    }
    return weft__spawn_at(s, s->world ? s->world->w[worker] : s, fn, arg, opts);
}

int weft_worker(void)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return -1;
    }
    return s->index;
}

int weft_workers(void)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return 0;
    }
    return s->world ? (int)s->world->n : 1;
}
