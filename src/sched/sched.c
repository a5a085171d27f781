/* The scheduler loop and the life of tasks: run, spawn, join, pause,
 * sleep, cancel, and the park/wake pair that every waiting primitive is
 * built on. A task parks by jumping from wherever it runs (itself, or a
 * generator it drives) to the loop's context; the loop resumes it by
 * jumping back to that same place. */
#include "sched/sched.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

__thread weft__sched *weft__sched_cur __attribute__((tls_model("initial-exec")));

int64_t weft_now(void)
{
    return weft__clock(CLOCK_MONOTONIC);
}

int64_t weft_after(int64_t ns)
{
    int64_t now = weft_now();
    if (ns > INT64_MAX - now)
        return INT64_MAX;
    /* A moment ago stays a deadline that has passed: not 0 (EAGAIN), nor
     * negative (no deadline). */
    return now + ns >= 1 ? now + ns : 1;
}

/* For "since when" in dumps: cheap, a few ms coarse. */
static int64_t coarse_now(void)
{
    return weft__clock(CLOCK_MONOTONIC_COARSE);
}

int weft__expired_slow(int64_t deadline)
{
    return deadline <= weft_now();
}

int weft_expired(int64_t deadline)
{
    return weft__expired(deadline);
}

uint64_t weft__rand(weft__sched *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A task that parks with PARK_PIN keeps the frames of its chain's shared
 * stacks in place until it runs again: another thread uses that memory.
 * Tasks whose own frames are on such a stack wait in s->stalled. */
static void pin(weft__task *t, int delta)
{
    for (weft_co *c = t->resume;; c = c->resumer) {
        weft__co_pin(c, delta);
        if (c == t->co)
            break;
    }
}

static int pinned_out(const weft__task *t)
{
    for (const weft_co *c = t->resume;; c = c->resumer) {
        if (weft__co_pinned_out(c))
            return 1;
        if (c == t->co)
            return 0;
    }
}

static void unpin(weft__sched *s, weft__task *t)
{
    pin(t, -1);
    if (--s->pins == 0) {
        while (s->stalled) {
            weft__task *n = s->stalled;
            s->stalled = n->next_ready;
            weft__ready_push(s, n);
        }
    }
}

/* A wait that could not start: no room for its timer, or to save shared
 * frames. Undoes what the wait set up. */
static int unpark(weft__sched *s, weft__task *t)
{
    t->state = T_RUNNING;
    if (t->heap_idx)
        weft__timer_del(s, t);
    for (size_t i = 0; i < t->nwaiters; i++)
        weft__wq_unlink(&t->waiters[i]);
    t->nwaiters = 0;
    return ENOMEM;
}

/* Several workers: the wait's end, on the task's own worker. Its other
 * waiters are unlinked under their objects' locks (its waker unlinked the
 * one it took; a timer or a cancellation none). */
static void unlink_all_mt(weft__task *t)
{
    for (size_t i = 0; i < t->nwaiters; i++) {
        weft__waiter *w = &t->waiters[i];
        if (!__atomic_load_n(&w->q, __ATOMIC_ACQUIRE))
            continue;
        weft__lock(w->lk, w->lk != NULL);
        if (w->q)
            weft__wq_unlink_mt(w);
        weft__unlock(w->lk, w->lk != NULL);
    }
    t->nwaiters = 0;
}

/* weft__park with several workers. The wait is open (weft__park_open)
 * from before its waiters were linked, so a waker on another worker may
 * claim it at any time from then on; whoever claims it delivers it to
 * this worker, which resumes it only after it has left. A wait that ends
 * before it starts (no room for its timer, a shield's time up, a
 * cancellation that came meanwhile) is claimed by the task itself, unless
 * a waker was first: then it leaves and takes that wake-up. */
static int park_mt(weft__sched *s, weft__task *t, weft__reason reason, const void *obj,
                   int64_t deadline, unsigned flags)
{
    weft_co *cur = weft__th.cur;
    t->plain = cur == t->co && cur->kind == WEFT_STACK_PRIVATE;
    if (__atomic_load_n(&t->park, __ATOMIC_RELAXED) == P_NONE)
        weft__park_open(t, flags);
    int early = 0;
    if (unlikely(t->shield) && !(flags & PARK_NOCANCEL)) {
        int64_t cap = t->shield_dl;
        if (cap >= 0 && (deadline < 0 || cap < deadline)) {
            if (cap <= weft_now())
                early = ETIMEDOUT;
            deadline = cap;
        }
    }
    if (!early && deadline > 0 && weft__timer_add(s, t, deadline) != 0)
        early = ENOMEM;
    /* Seen after the wait opened (both sequentially consistent), so that
     * weft_cancel on another worker either sees the open wait or is seen
     * here. */
    if (!early && __atomic_load_n(&t->cancelled, __ATOMIC_SEQ_CST) && !t->shield &&
        !(flags & PARK_NOCANCEL))
        early = ECANCELED;
    if (early && weft__claim(t, 0)) {
        t->wake = early;
    } else {
        t->reason = (uint8_t)reason;
        t->obj = obj;
        t->since = coarse_now();
        t->state = T_WAITING;
        t->resume = cur;
        t->flags = (uint8_t)flags;
        if (flags & PARK_EXTERNAL)
            s->external++;
        if (flags & PARK_PIN) {
            s->pins++;
            pin(t, 1);
        }
        if (weft__switch_out(s, t) != 0)
            weft__co_die(t->co, "no memory to save a shared stack for a wait that another "
                                "worker may end");
        if (flags & PARK_EXTERNAL)
            s->external--;
        if (flags & PARK_PIN)
            unpin(s, t);
        t->flags = 0;
    }
    t->state = T_RUNNING;
    if (t->heap_idx)
        weft__timer_del(s, t);
    unlink_all_mt(t);
    __atomic_store_n(&t->park, P_NONE, __ATOMIC_RELAXED);
    return t->wake;
}

int weft__park(weft__task *t, weft__reason reason, const void *obj, int64_t deadline,
               unsigned flags)
{
    weft__sched *s = weft__sched_cur;
    if (unlikely(s->mt))
        return park_mt(s, t, reason, obj, deadline, flags);
    weft_co *cur = weft__th.cur;
    /* Is the task's memory where its pointers say (a private task driving
     * no generator)? One byte for wakers to test. */
    t->plain = cur == t->co && cur->kind == WEFT_STACK_PRIVATE;
    if (unlikely(t->shield) && !(flags & PARK_NOCANCEL)) {
        int64_t cap = t->shield_dl;
        if (cap >= 0 && (deadline < 0 || cap < deadline)) {
            if (cap <= weft_now()) { /* the shield's time is up */
                unpark(s, t);
                return ETIMEDOUT;
            }
            deadline = cap;
        }
    }
    if (deadline > 0 && weft__timer_add(s, t, deadline) != 0)
        return unpark(s, t);
    t->reason = (uint8_t)reason;
    t->obj = obj;
    t->since = coarse_now();
    t->state = T_WAITING;
    /* The innermost running coroutine: the task or a generator it drives. */
    t->resume = cur;
    if (likely(!flags))
        return likely(weft__switch_out(s, t) == 0) ? t->wake : unpark(s, t);
    t->flags = (uint8_t)flags;
    if (flags & PARK_EXTERNAL)
        s->external++;
    if (flags & PARK_PIN) {
        s->pins++;
        pin(t, 1);
    }
    int rc = weft__switch_out(s, t);
    if (flags & PARK_EXTERNAL)
        s->external--;
    if (flags & PARK_PIN)
        unpin(s, t);
    t->flags = 0;
    return rc == 0 ? t->wake : unpark(s, t);
}

void weft__deliver(weft__task *t, int why, size_t fired)
{
    t->wake = why;
    t->fired = fired;
    weft__sched *h = t->home;
    if (h != weft__sched_cur) {
        weft__inbox_push(h, t);
        return;
    }
    if (t->heap_idx)
        weft__timer_del(h, t);
    weft__ready_next(h, t);
}

weft__waiter *weft__wq_take_mt(weft_waitq *q)
{
    weft__waiter *w;
    while ((w = q->head)) {
        /* Claimed before it is unlinked: a task woken another way leaves
         * its wait (and may reuse w) only once it sees w unlinked. */
        int claimed = weft__claim(w->task, 0);
        weft__wq_unlink_mt(w);
        if (claimed)
            return w;
    }
    return NULL;
}

char *weft__parcel(weft__task *t, size_t n)
{
    if (n > t->capparcel) {
        char *p = realloc(t->parcel, n);
        if (!p) {
            errno = ENOMEM;
            return NULL;
        }
        t->parcel = p;
        t->capparcel = n;
    }
    return t->parcel;
}

void weft__wake(weft__task *t, int why, size_t fired)
{
    weft__sched *s = weft__sched_cur;
    if (unlikely(s->mt)) {
        if (weft__claim(t, 0))
            weft__deliver(t, why, fired);
        return;
    }
    if (unlikely(t->state != T_WAITING))
        return; /* already woken (e.g. cancelled) and not run yet */
    for (size_t i = 0; i < t->nwaiters; i++)
        weft__wq_unlink(&t->waiters[i]);
    t->nwaiters = 0;
    if (t->heap_idx)
        weft__timer_del(s, t);
    t->wake = why;
    t->fired = fired;
    weft__ready_next(s, t);
}

void weft__task_copy_slow(weft__task *t, void *at, void *buf, size_t n, int dir)
{
    for (weft_co *c = t->resume;; c = c->resumer) {
        if (weft__co_copy(c, at, buf, n, dir))
            return;
        if (c == t->co)
            break;
    }
    if (dir)
        memcpy(at, buf, n);
    else
        memcpy(buf, at, n);
}

void weft__wq_unlink_away(weft__waiter *w)
{
    weft__task *t = w->task;
    weft_waitq q;
    weft__task_copy(t, w->q, &q, sizeof q, 0);
    weft__wq_splice(&q, w);
    weft__task_copy(t, w->q, &q, sizeof q, 1);
    w->q = NULL;
}

weft__waiter *weft__waiters(weft__task *t, size_t n)
{
    if (n <= 1)
        return &t->w1;
    if (n > t->capwv) {
        weft__waiter *w = realloc(t->wv, n * sizeof *w);
        if (!w) {
            errno = ENOMEM;
            return NULL;
        }
        t->wv = w;
        t->capwv = n;
    }
    return t->wv;
}

/* ---- task records ------------------------------------------------------- */

/* Free task records kept for the next spawns; beyond that they go back to
 * malloc, so that a burst of a million tasks does not hold its records
 * until weft_run returns. */
#define RECORD_POOL_MAX 4096

static weft__task *rec_get(weft__sched *s)
{
    weft__task *t = s->pool;
    if (t) {
        s->pool = t->next_free;
        s->npool--;
    } else if (!(t = calloc(1, sizeof *t))) {
        return NULL;
    } else if (++s->records > s->records_peak) {
        s->records_peak = s->records;
    }
    /* What spawn sets comes first; the waiters are set by each wait, and
     * select's stay with the record. */
    memset(&t->state, 0, offsetof(weft__task, w1) - offsetof(weft__task, state));
    return t;
}

static void rec_put(weft__sched *s, weft__task *t)
{
    if (s->npool >= RECORD_POOL_MAX) { /* a burst is over: give it back */
        free(t->wv);
        free(t->parcel);
        free(t);
        if (s->records) /* one made by another worker */
            s->records--;
        return;
    }
    t->next_free = s->pool;
    s->pool = t;
    s->npool++;
}

static void all_link(weft__sched *s, weft__task *t)
{
    weft__lock(&s->all_lk, s->mt);
    t->prev_all = NULL;
    t->next_all = s->all;
    if (s->all)
        s->all->prev_all = t;
    s->all = t;
    weft__unlock(&s->all_lk, s->mt);
}

static void all_unlink(weft__sched *s, weft__task *t)
{
    weft__lock(&s->all_lk, s->mt);
    if (t->prev_all)
        t->prev_all->next_all = t->next_all;
    else
        s->all = t->next_all;
    if (t->next_all)
        t->next_all->prev_all = t->prev_all;
    weft__unlock(&s->all_lk, s->mt);
}

void weft__all_link(weft__sched *s, weft__task *t)
{
    all_link(s, t);
}

void weft__all_unlink(weft__sched *s, weft__task *t)
{
    all_unlink(s, t);
}

/* Makes a task that runs on worker to (s itself under weft_run), counted
 * by s, and not yet placed. NULL with errno. */
static inline __attribute__((always_inline)) weft__task *
task_make(weft__sched *s, weft__sched *to, weft_fn fn, void *arg, const weft_opts *opts,
          weft_group *g)
{
    weft__task *t = rec_get(s);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    weft_co *co = weft_co_new(fn, arg, opts);
    if (!co) {
        rec_put(s, t);
        return NULL;
    }
    co->task = 1;
    co->task_data = t;
    co->resumer = to->loop; /* where co.c's exit path returns to */
    /* What can fail of a shared task's first run fails here instead. One
     * for another worker is placed on that worker's stacks when it first
     * runs there. */
    if (to == s && co->kind == WEFT_STACK_SHARED && weft__co_settle(co, weft__th.cur) != 0) {
        weft__co_free(co);
        rec_put(s, t);
        errno = ENOMEM;
        return NULL;
    }
    t->co = co;
    t->resume = co;
    t->group = g;
    t->home = to;
    all_link(to, t);
    s->live++; /* with several workers, the sum is what counts (workers.c) */
    return t;
}

/* Inlined into weft_spawn, the hot path, and weft__spawn. */
static inline __attribute__((always_inline)) weft_co *
spawn(weft__sched *s, weft_fn fn, void *arg, const weft_opts *opts, weft_group *g, int stay)
{
    weft__task *t = task_make(s, s, fn, arg, opts, g);
    if (!t)
        return NULL;
    if (unlikely(s->mt)) {
        t->stay = stay || t->co->kind == WEFT_STACK_SHARED || g;
        if (!t->stay) {
            weft__fresh_push(s, t);
            return t->co;
        }
    }
    weft__ready_next(s, t);
    return t->co;
}

weft_co *weft__spawn(weft__sched *s, weft_fn fn, void *arg, const weft_opts *opts, weft_group *g)
{
    return spawn(s, fn, arg, opts, g, 0);
}

weft_co *weft__spawn_at(weft__sched *s, weft__sched *to, weft_fn fn, void *arg,
                        const weft_opts *opts)
{
    if (to == s)
        return spawn(s, fn, arg, opts, NULL, 1);
    weft__task *t = task_make(s, to, fn, arg, opts, NULL);
    if (!t)
        return NULL;
    t->stay = 1;
    weft__inbox_push(to, t);
    return t->co;
}

/* Frees a finished task: its coroutine goes back to the stack pool. */
void weft__task_free(weft__sched *s, weft__task *t)
{
    all_unlink(t->home, t);
    weft__co_free(t->co);
    rec_put(s, t);
}

weft_co *weft_spawn(weft_fn fn, void *arg, const weft_opts *opts)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    return spawn(s, fn, arg, opts, NULL, 0);
}

/* Direct task-to-task switches allowed between two visits of the loop,
 * which checks the timers. */
#define DIRECT_BUDGET 128

/* ---- the loop ----------------------------------------------------------- */

/* On the loop's context, after the task's last switch: a group task is
 * freed here, its stack no longer in use. */
static void finish(weft__sched *s, weft__task *t, void *ret)
{
    if (unlikely(t->shield)) /* it points into the frames just left */
        weft__co_die(t->co, "a task returned with a shield open (weft_shield_begin without "
                            "weft_shield_end)");
    t->state = T_DONE;
    t->result = ret;
    s->live--;
    if (unlikely(s->mt) && !t->group) {
        /* The joiner word tells a join or a detach on another worker that
         * the task is done (and publishes its result). */
        weft__co_retire(t->co);
        for (;;) {
            weft__task *j = __atomic_load_n(&t->joiner, __ATOMIC_ACQUIRE);
            if (!j || j == JOIN_DETACHED) {
                if (!__atomic_compare_exchange_n(&t->joiner, &j, JOIN_DONE, 0, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
                    continue;
                if (j == JOIN_DETACHED)
                    weft__task_free(s, t);
                return;
            }
            /* JOIN_WAKING holds the joiner, whose wait may be ending by
             * itself, until its claim has been tried. */
            if (__atomic_compare_exchange_n(&t->joiner, &j, JOIN_WAKING, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                /* t may be freed as soon as the joiner runs: done with
                 * it before the joiner is woken. */
                int claimed = weft__claim(j, 0);
                __atomic_store_n(&t->joiner, JOIN_DONE, __ATOMIC_RELEASE);
                if (claimed)
                    weft__deliver(j, 0, 0);
                return;
            }
        }
    }
    if (t->detached)
        weft__task_free(s, t); /* on the loop's stack: its own is done */
    else if (t->group)
        weft__group_task_done(t->group, t);
    else if (t->joiner)
        weft__wake(t->joiner, 0, 0);
}

static inline void run_one(weft__sched *s, weft__task *t)
{
    if (unlikely(s->pins) && pinned_out(t)) {
        t->next_ready = s->stalled;
        s->stalled = t;
        return;
    }
    WEFT__PUBLISH(s->current, t);
    t->state = T_RUNNING;
    if (unlikely(t->resume->slow) && weft__co_prepare(t->resume) != 0) {
        /* No memory to save the frames t displaces: it waits its turn
         * again, the memory may be back by then. */
        WEFT__PUBLISH(s->current, NULL);
        if (s->starve_mark != s->runs) {
            s->starve_mark = s->runs;
            s->starved = 0;
        }
        if (++s->starved > 1000000)
            weft__co_die(t->co, "out of memory to save a shared stack, for a million tries");
        weft__ready_push(s, t);
        return;
    }
    /* Progress for the watchdog, and the end of a starvation streak. */
    WEFT__PUBLISH(s->runs, s->runs + 1);
    void *ret = weft__co_jump(t->resume, NULL);
    /* Tasks may have switched to each other directly: the one that came
     * back here is the current one. */
    t = s->current;
    WEFT__PUBLISH(s->current, NULL);
    weft_co *co = t->co;
    if (unlikely(co->state != ST_ACTIVE)) {
        if (co->state == ST_DEAD) {
            finish(s, t, ret);
        } else {
            /* The task itself called weft_co_yield: its resumer is the
             * loop. Treated as weft_pause; the yield returns NULL. */
            co->state = ST_ACTIVE;
            t->resume = co;
            weft__ready_behind(s, t);
        }
    }
}

void weft__cancel_all(weft__sched *s)
{
    if (s->mt) {
        /* From the worker that found the deadlock, every other one asleep. */
        for (weft__task *t = s->all; t; t = t->next_all) {
            __atomic_store_n(&t->cancelled, 1, __ATOMIC_SEQ_CST);
            if (weft__claim(t, 2))
                weft__deliver(t, ECANCELED, 0);
        }
        return;
    }
    for (weft__task *t = s->all; t; t = t->next_all) {
        if (t->state == T_DONE)
            continue;
        t->cancelled = 1;
        /* A deadlock overrides shields: nothing else would wake them. */
        if (t->state == T_WAITING && !(t->flags & PARK_NOCANCEL))
            weft__wake(t, ECANCELED, 0);
    }
}

/* Returns 0 to go on, -1 to give up on the tasks that are left. */
static int deadlock(weft__sched *s)
{
    if (s->deadlocked++ == 0) {
        static const char msg[] = "weft: all tasks are asleep - deadlock!\n";
        fflush(stderr);
        fputs(msg, stderr);
        fflush(stderr);
        weft__dump_fd(s, 2);
        /* Every blocked call returns ECANCELED so that the tasks unwind. */
        weft__cancel_all(s);
        return s->nready ? 0 : -1;
    }
    fprintf(stderr, "weft: %zu tasks still asleep after cancellation; abandoned\n", s->live);
    return -1;
}

static void loop(weft__sched *s)
{
    for (;;) {
        /* One round: the tasks ready now, then the timers, so that tasks
         * that keep pausing cannot starve timers. */
        WEFT__PUBLISH(s->budget, DIRECT_BUDGET);
        for (size_t n = s->nready; n && s->nready; n--)
            run_one(s, weft__ready_pop(s, !s->budget));
        if (s->nheap)
            weft__timer_fire(s, weft_now());
        if (s->nready) {
            /* Busy tasks must not starve the ones waiting on fds. */
            if (s->external)
                weft__idle(s, 0);
            continue;
        }
        if (s->live == 0)
            return;
        if (s->nheap || s->external) {
            int64_t next = s->nheap ? s->heap[1].when : -1;
            weft__idle(s, next);
            continue;
        }
        if (deadlock(s) != 0)
            return;
    }
}

void weft__loop_mt(weft__sched *s)
{
    for (;;) {
        WEFT__PUBLISH(s->budget, DIRECT_BUDGET);
        for (size_t n = s->nready; n && s->nready; n--)
            run_one(s, weft__ready_pop(s, !s->budget));
        weft__inbox_drain(s);
        weft__dump_poll(s);
        if (s->nheap)
            weft__timer_fire(s, weft_now());
        /* One unstarted task a round, so that a pair of tasks that keep
         * waking each other does not starve them. */
        weft__task *f = weft__fresh_pop(s);
        if (f)
            run_one(s, f);
        if (s->nready || f) {
            if (s->external)
                weft__idle(s, 0);
            continue;
        }
        if (weft__steal(s))
            continue;
        if (weft__mt_idle(s))
            return;
    }
}

weft__sched *weft__sched_new(void)
{
    if (!weft__th.cur)
        weft__thread_init();
    /* On the heap: the caller may be a coroutine on a shared stack, whose
     * frames move while its tasks run. */
    weft__sched *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->loop = weft__th.cur;
    s->rng = (uint64_t)weft_now() | (uint64_t)(uintptr_t)s | 1;
    weft__sched_cur = s;
    weft__debugger_add(s);
    weft__wd_enter(s);
    return s;
}

void weft__sched_end(weft__sched *s)
{
    weft__idle_fini(s);
    /* Finished tasks nobody joined; abandoned ones (a deadlock that
     * cancellation did not undo) stay allocated. */
    for (weft__task *t = s->all, *next; t; t = next) {
        next = t->next_all;
        if (t->state == T_DONE)
            weft__task_free(s, t);
    }
    while (s->pool) {
        weft__task *t = s->pool;
        s->pool = t->next_free;
        free(t->wv);
        free(t->parcel);
        free(t);
    }
#ifdef __GLIBC__
    /* Millions of small blocks freed leave holes that malloc keeps. */
    if (s->records_peak >= 65536)
        malloc_trim(0);
#endif
    weft__timer_free(s);
    weft__debugger_remove(s);
    weft__wd_leave(s);
    free(s->fresh);
    free(s->stolen);
    weft__sched_cur = NULL;
    free(s);
}

int weft_run(weft_fn main, void *arg, void **result)
{
    if (!main) {
        errno = EINVAL;
        return -1;
    }
    if (weft__sched_cur) {
        errno = EBUSY;
        return -1;
    }
    weft__sched *s = weft__sched_new();
    if (!s)
        return -1;
    int rc = 0;
    weft_co *m = weft__spawn(s, main, arg, NULL, NULL);
    if (!m) {
        rc = -1;
    } else {
        weft__task *mt = m->task_data;
        mt->owned = 1;
        loop(s);
        if (result && mt->state == T_DONE)
            *result = mt->result;
        if (s->deadlocked)
            rc = -1;
    }
    int e = errno;
    weft__sched_end(s);
    if (rc)
        errno = m ? EDEADLK : e;
    return rc;
}

/* ---- join, pause, sleep, cancel ----------------------------------------- */

/* The task record behind a handle, or NULL with errno. */
weft__task *weft__task_of(weft_co *co)
{
    if (!co) {
        errno = EINVAL;
        return NULL;
    }
    /* With several workers the task may be running elsewhere: its state
     * is its worker's to read. */
    weft__sched *s = weft__sched_cur;
    if ((!s || !s->mt) && co->state == ST_FREED) {
        /* A freed task was joined (its memory not yet reused). */
        errno = co->task ? EDEADLK : EINVAL;
        return NULL;
    }
    if (!co->task || !co->task_data) {
        errno = EINVAL;
        return NULL;
    }
    return co->task_data;
}

/* The record of a task that the caller `self` may join or detach: not in
 * a group (EINVAL), not self, nor weft_run's first, nor joined or detached
 * by anyone else (EDEADLK). NULL with errno otherwise. */
static weft__task *unclaimed(weft_co *task, const weft__task *self)
{
    weft__task *t = weft__task_of(task);
    if (!t)
        return NULL;
    if (t->group) {
        errno = EINVAL;
        return NULL;
    }
    weft__task *j = __atomic_load_n(&t->joiner, __ATOMIC_ACQUIRE);
    if (t == self || (j && j != JOIN_DONE) || t->owned || t->detached) {
        errno = EDEADLK;
        return NULL;
    }
    return t;
}

/* Several workers: ends a wait that self opened and did not start, unless
 * a waker claimed it first; then takes that wake-up. Returns its reason. */
static int park_close(weft__task *self)
{
    if (weft__claim(self, 0)) {
        __atomic_store_n(&self->park, P_NONE, __ATOMIC_RELAXED);
        return 0;
    }
    return weft__park(self, WR_JOIN, NULL, -1, 0);
}

/* weft_join with several workers: the joiner word (JOIN_*) is the one
 * place the joiner and the finishing worker meet. */
static int join_mt(weft__task *self, weft__task *t, weft_co *task, int64_t deadline)
{
    if (__atomic_load_n(&t->joiner, __ATOMIC_ACQUIRE) == JOIN_DONE)
        return 0;
    if (weft__expired(deadline))
        return weft__late(deadline);
    weft__park_open(self, 0);
    weft__task *seen = NULL;
    if (!__atomic_compare_exchange_n(&t->joiner, &seen, self, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        int why = park_close(self);
        return seen != JOIN_DONE ? EDEADLK : why;
    }
    int why = weft__park(self, WR_JOIN, task, deadline, 0);
    seen = self;
    /* Not woken by the finish: take the join back; if the finisher holds
     * it, wait the few instructions until it lets go of this record. */
    if (why && !__atomic_compare_exchange_n(&t->joiner, &seen, NULL, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&t->joiner, __ATOMIC_ACQUIRE) != JOIN_DONE)
            sched_yield();
    return why;
}

int weft_join(weft_co *task, void **result, int64_t deadline)
{
    weft__task *self;
    if (weft__enter(&self) != 0)
        return -1;
    weft__task *t = unclaimed(task, self);
    if (!t)
        return -1;
    if (weft__sched_cur->mt) {
        int why = join_mt(self, t, task, deadline);
        if (why) {
            errno = why;
            return -1;
        }
    } else if (t->state != T_DONE) {
        if (weft__expired(deadline)) {
            errno = weft__late(deadline);
            return -1;
        }
        t->joiner = self;
        int why = weft__park(self, WR_JOIN, task, deadline, 0);
        t->joiner = NULL;
        if (why) {
            errno = why;
            return -1;
        }
    }
    if (result)
        *result = t->result;
    weft__task_free(weft__sched_cur, t);
    return 0;
}

int weft_detach(weft_co *task)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return -1;
    }
    weft__task *t = unclaimed(task, NULL);
    if (!t)
        return -1;
    if (s->mt) {
        weft__task *seen = NULL;
        if (__atomic_compare_exchange_n(&t->joiner, &seen, JOIN_DETACHED, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 0;
        if (seen != JOIN_DONE) {
            errno = EDEADLK;
            return -1;
        }
        weft__task_free(s, t);
        return 0;
    }
    if (t->state == T_DONE)
        weft__task_free(s, t);
    else
        t->detached = 1;
    return 0;
}

int weft_pause(void)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    weft__sched *s = weft__sched_cur;
    weft_co *cur = weft__th.cur;
    t->plain = cur == t->co && cur->kind == WEFT_STACK_PRIVATE;
    t->resume = cur;
    /* Several workers: the unstarted tasks of the ring are ready too; they
     * go ahead of the caller (and are no longer stolen). */
    for (weft__task *f; unlikely(s->mt) && (f = weft__fresh_pop(s));)
        weft__ready_push(s, f);
    weft__ready_behind(s, t);
    if (likely(weft__switch_out(s, t) == 0))
        return 0;
    /* No room to save its frames: out of the queue again, at its tail. */
    weft__task **p = &s->ready_head, *prev = NULL;
    while (*p != t) {
        prev = *p;
        p = &(*p)->next_ready;
    }
    *p = NULL;
    s->ready_tail = prev;
    s->nready--;
    t->state = T_RUNNING;
    errno = ENOMEM;
    return -1;
}

weft_co *weft_task_self(void)
{
    weft__sched *s = weft__sched_cur;
    return s && s->current ? s->current->co : NULL;
}

int weft_sleep(int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (weft__expired(deadline))
        return 0;
    int why = weft__park(t, WR_SLEEP, NULL, deadline, 0);
    if (why == ETIMEDOUT && weft__expired(deadline))
        return 0; /* its own deadline, not a shield's */
    errno = why;
    return -1;
}

int weft_cancel(weft_co *task)
{
    if (!weft__sched_cur) {
        errno = EPERM;
        return -1;
    }
    weft__task *t = weft__task_of(task);
    if (!t) {
        errno = EINVAL;
        return -1;
    }
    if (weft__sched_cur->mt) {
        /* Seen by the task's next wait, or its wait is claimed here (see
         * park_mt). A finished task's claim word stays P_NONE. */
        __atomic_store_n(&t->cancelled, 1, __ATOMIC_SEQ_CST);
        if (weft__claim(t, 1))
            weft__deliver(t, ECANCELED, 0);
        return 0;
    }
    if (t->state == T_DONE)
        return 0;
    t->cancelled = 1;
    if (weft__cancel_wakes(t))
        weft__wake(t, ECANCELED, 0);
    return 0;
}
