/* The scheduler of one thread: tasks, the ready queue, wait queues and
 * timers. Everything the sched files share lives here; nothing here is
 * public. The current scheduler is reached through one thread-local
 * pointer, so that a scheduler per thread needs no global state. */
#ifndef WEFT_SCHED_H
#define WEFT_SCHED_H

#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "co/co.h"
#include "poll/poll.h"
#include "weft.h"

#include "base/compiler.h"
#include "base/spin.h"
#include "base/time.h"

typedef struct weft__task weft__task;
typedef struct weft__sched weft__sched;

/* Task states. */
enum { T_READY, T_RUNNING, T_WAITING, T_DONE };

/* One entry in a wait queue. It belongs to the waiting task's record,
 * never to its stack: a shared-stack task's frames move while it waits.
 * `q` is the queue it is linked into (NULL once unlinked), so that a
 * timeout or a cancellation can unlink it without knowing what the queue
 * belongs to. */
typedef struct weft__waiter {
    union {
        struct {
            struct weft__waiter *prev, *next; /* while in a queue */
        };
        uint64_t aux; /* select: what a case kind above keeps for its
                         wait, in a waiter of no queue (q == NULL) */
    };
    weft_waitq *q;
    int *lk; /* the lock of q's object, in a run of several workers */
    weft__task *task;
    void *buf;  /* channels: the element to send, or where to receive; in
                   the waiting task's memory (see weft__task_copy) */
    size_t idx; /* select: the case it stands for */
} weft__waiter;

/* Why a task waits: the one argument of the parking seam besides its
 * deadline and flags, shown by the dump. */
typedef enum weft__reason {
    WR_SLEEP,
    WR_JOIN,
    WR_CHAN_SEND,
    WR_CHAN_RECV,
    WR_SELECT,
    WR_MUTEX,
    WR_COND,
    WR_COND_RELOCK,
    WR_WG,
    WR_SEM,
    WR_GROUP,
    WR_GROUP_CLOSE,
    WR_FD_READ,
    WR_FD_WRITE,
    WR_FD,
    WR_OFFLOAD,
    WR_FUTURE,
    WR_EVENTS,
    WR__COUNT
} weft__reason;

/* Flags of a wait. */
enum {
    PARK_EXTERNAL = 1, /* woken from outside the task world (poller, another
                          thread): the loop sleeps in the poller for it, and
                          no deadlock is declared while it waits */
    PARK_NOCANCEL = 2, /* cancellation does not end it */
    PARK_PIN = 4       /* another thread uses the task's memory while it
                          waits: its frames stay in place (shared stacks) */
};

/* The claim word of a parked task (weft__task.park) in a run of several
 * workers: whoever moves it from a parked value to P_CLAIMED is the one
 * waker of that wait. Cancellation claims only P_OPEN, a deadlock also
 * P_SHIELDED. */
enum { P_NONE, P_OPEN, P_SHIELDED, P_NOCANCEL, P_CLAIMED };

/* weft__task.joiner besides a joining task, in a run of several workers. */
#define JOIN_DONE ((weft__task *)1)     /* finished: a join takes it at once */
#define JOIN_DETACHED ((weft__task *)2) /* freed when it finishes */
#define JOIN_WAKING ((weft__task *)3)   /* the finisher is waking the joiner */

struct weft__task {
    weft_co *co;     /* the task itself */
    weft_co *resume; /* where to jump to resume it: the task, or the
                        innermost generator it drives when that one waits */
    weft__task *next_ready;
    weft__task *prev_all, *next_all; /* every task of the scheduler */
    weft__task *next_free;           /* in the pool of records */
    weft_group *group;               /* owner group, or NULL */
    weft__sched *home;               /* the scheduler it runs on */
    /* What spawn does not set, zeroed when a record is taken, up to w1. */
    uint8_t state; /* T_* */
    uint8_t cancelled;
    uint8_t flags;         /* PARK_* of the current wait */
    uint8_t owned;         /* weft_run's main task: nobody else joins it */
    uint8_t detached;      /* freed as soon as it finishes */
    uint8_t plain;         /* waits in place: private, driving no generator */
    uint8_t reason;        /* weft__reason of the current wait */
    uint8_t stay;          /* never stolen (shared stack, group, spawn_on) */
    int wake;              /* why the wait ended: 0, ETIMEDOUT, ECANCELED, EPIPE */
    uint32_t park;         /* P_*: the claim word (several workers); a whole
                              word, since not every ISA has a byte CAS */
    size_t fired;          /* which waiter woke it (select) */
    weft__waiter *waiters; /* of the current wait, linked into queues */
    size_t nwaiters;
    size_t heap_idx; /* 1-based index in the timer heap; 0: none */
    void *result;    /* fn's return value, once done */
    weft__task *joiner;
    weft__task *prev_grp, *next_grp;
    const void *obj; /* what the current wait is on, for the dump */
    int64_t since;
    weft_shield *shield; /* innermost open shield (in the task's own frames,
                            touched only while it runs), or NULL */
    int64_t shield_dl;   /* the deadline every wait gets while shielded */
    size_t grp_idx;      /* its place in its group's spawn order */
    int grp_err;         /* failure reported with weft_group_fail */
    weft__waiter w1;     /* the waiter of every wait but select's */
    weft__waiter *wv;    /* select's, grown on demand, freed with the record */
    size_t capwv;
    char *parcel; /* several workers: where a task whose frames may move
                     keeps the elements of its channel waits */
    size_t capparcel;
};

typedef struct weft__timer {
    int64_t when;
    uint64_t seq; /* ties fire in the order they were set */
    weft__task *task;
} weft__timer;

/* What the watchdog keeps of a scheduler (watchdog.c). */
struct weft__wd {
    weft__sched *prev, *next; /* every running scheduler */
    pthread_t thread;
    uint64_t runs; /* the progress marks last seen */
    unsigned budget;
    const void *current;
    int64_t since; /* when they last changed */
    int reported;  /* this occurrence was reported */
    int64_t ran;   /* for the report: how long the task has run */
};

struct weft__sched {
    weft_co *loop; /* the context that runs the loop (weft_run's caller) */
    weft__task *current;
    /* Two ready queues. "hot" holds the tasks that the running task made
     * ready (spawned, or woke through a channel, lock or join), in the
     * order it made them ready, ahead of those made ready earlier: a task
     * tree runs depth first and a hand-off runs next, so few tasks are
     * alive at once (Go's runnext, Cilk's work-first order). "ready" is
     * FIFO: paused tasks and those the loop woke (timers, I/O); the
     * loop's picks take from it first (weft__ready_pop). */
    weft__task *ready_head, *ready_tail;
    weft__task *hot_head, *hot_tail;
    weft__task *hot_at;    /* the last made hot by the running task: the next
                              goes behind it; NULL: at the head */
    size_t nready;         /* in both */
    weft__task *all;       /* live and finished-but-unjoined tasks */
    size_t live;           /* tasks not finished */
    size_t npool, records; /* records in the pool; made and not freed */
    size_t records_peak;
    size_t external;   /* waiters that something outside can wake (I/O,
                          other threads); 0 until the I/O layer exists */
    weft__task *pool;  /* free task records */
    weft__timer *heap; /* 1-based binary min-heap */
    size_t nheap, capheap;
    uint64_t seq;
    uint64_t rng;
    int deadlocked;
    unsigned budget;       /* direct switches left before the loop runs */
    weft__poller *poller;  /* made by the io layer on first use (idle.c) */
    weft__task *stalled;   /* ready, but their shared stack is pinned by a
                              task whose memory another thread uses */
    size_t pins;           /* tasks parked with PARK_PIN */
    unsigned long starved; /* tasks in a row that could not be resumed for
                              want of memory */
    uint64_t starve_mark;  /* `runs` when that streak began */
    /* Progress, as the watchdog (watchdog.c) sees it from its thread:
     * `runs` counts resumes from the loop, `budget` falls at each direct
     * switch and `current` is NULL on the loop. Their owner stores them
     * with relaxed atomics (plain moves on x86-64 and AArch64), so the
     * switch path costs what it did before, watchdog or not. */
    uint64_t runs;
    struct weft__wd wd; /* the watchdog's own, under its lock */
    /* The list of live schedulers that debuggers walk (debugger.c), and
     * the thread (its kernel id) that runs this one. */
    weft__sched *dbg_prev, *dbg_next;
    int tid;
    /* A run of several workers (workers.c); all zero under weft_run. */
    int mt;
    int index;
    struct weft__world *world;
    weft__task *inbox;  /* made ready by other threads: a lock-free stack */
    int sleeping;       /* in its poller: a waker writes the eventfd */
    int kicked;         /* woken to look for work (a spinner) */
    int fresh_lk;       /* guards fresh and the counts below */
    weft__task **fresh; /* spawned, not started, stealable: a ring */
    size_t fresh_cap, fresh_top, fresh_n;
    int all_lk;          /* guards `all`: other workers free, spawn and steal */
    weft__task **stolen; /* room for one steal */
    int spinner;         /* woken to look for work, still looking */
    int idle;            /* in weft__mt_idle (under the world's lock) */
    int idle_outside;    /* ...with a deadline or a wait on the world outside */
    unsigned dump_seen;  /* the last weft_dump request it answered */
};

/* Stores of the fields the watchdog reads from its thread. */
#define WEFT__PUBLISH(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* Does a cancellation end t's wait now? Not while it is shielded, nor in
 * a PARK_NOCANCEL wait. */
static inline int weft__cancel_wakes(const weft__task *t)
{
    return t->state == T_WAITING && !(t->flags & PARK_NOCANCEL) && !t->shield;
}

extern __thread weft__sched *weft__sched_cur __attribute__((tls_model("initial-exec")));

/* ---- the ready queue ---------------------------------------------------- */

static inline void weft__ready_push(weft__sched *s, weft__task *t)
{
    t->state = T_READY;
    t->next_ready = NULL;
    if (s->ready_tail)
        s->ready_tail->next_ready = t;
    else
        s->ready_head = t;
    s->ready_tail = t;
    s->nready++;
}

/* Makes t ready on behalf of the running task (hot), or at the FIFO's tail
 * when the loop does it. */
static inline void weft__ready_next(weft__sched *s, weft__task *t)
{
    if (!s->current) {
        weft__ready_push(s, t);
        return;
    }
    t->state = T_READY;
    weft__task *at = s->hot_at;
    if (at) {
        t->next_ready = at->next_ready;
        at->next_ready = t;
        if (s->hot_tail == at)
            s->hot_tail = t;
    } else {
        t->next_ready = s->hot_head;
        s->hot_head = t;
        if (!s->hot_tail)
            s->hot_tail = t;
    }
    s->hot_at = t;
    s->nready++;
}

/* Puts t behind every ready task: the hot ones go ahead of the FIFO's, in
 * their order, and t at its tail (weft_pause). */
static inline void weft__ready_behind(weft__sched *s, weft__task *t)
{
    if (s->hot_head) {
        s->hot_tail->next_ready = s->ready_head;
        if (!s->ready_head)
            s->ready_tail = s->hot_tail;
        s->ready_head = s->hot_head;
        s->hot_head = s->hot_tail = s->hot_at = NULL;
    }
    weft__ready_push(s, t);
}

/* Puts back a task just taken, at the head. */
static inline void weft__ready_unpop(weft__sched *s, weft__task *t)
{
    t->state = T_READY;
    t->next_ready = s->hot_head;
    s->hot_head = t;
    if (!s->hot_tail)
        s->hot_tail = t;
    s->nready++;
}

/* Takes the task to run next (nready must be nonzero): a hot one first
 * when switching from task to task, a FIFO one first when the loop picks
 * (`fifo`), so that the FIFO's get a turn at least once per
 * DIRECT_BUDGET switches however long a chain of hand-offs is. A new run
 * slice starts, so the next hot task goes to the head. */
static inline weft__task *weft__ready_pop(weft__sched *s, int fifo)
{
    weft__task *t = s->hot_head;
    s->hot_at = NULL;
    s->nready--;
    if (t && !(fifo && s->ready_head)) {
        if (!(s->hot_head = t->next_ready))
            s->hot_tail = NULL;
        return t;
    }
    t = s->ready_head;
    if (!(s->ready_head = t->next_ready))
        s->ready_tail = NULL;
    return t;
}

/* ---- park and wake ------------------------------------------------------ */

/* ---- several workers ---------------------------------------------------- */

/* Does the calling thread take the locks of shared objects? In a run of
 * several workers, and on a thread with no scheduler (a plain thread
 * sending on a channel); never under weft_run. */
static inline int weft__mt_here(void)
{
    weft__sched *s = weft__sched_cur;
    return !s || s->mt;
}

static inline void weft__lock(int *lk, int mt)
{
    if (mt)
        weft__spin_lock(lk);
}

static inline void weft__unlock(int *lk, int mt)
{
    if (mt)
        weft__spin_unlock(lk);
}

/* Runs of several workers active in the process (a plain thread may use a
 * channel only then). */
extern int weft__mt_runs;

#define WEFT__LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Claims a parked task: 1 if the caller is its one waker. `cancel`: only
 * a wait that cancellation ends (2: or a shielded one, for a deadlock). */
static inline int weft__claim(weft__task *t, int cancel)
{
    uint32_t v = __atomic_load_n(&t->park, __ATOMIC_SEQ_CST);
    for (;;) {
        if (v == P_NONE || v == P_CLAIMED || (cancel == 1 && v != P_OPEN) ||
            (cancel == 2 && v == P_NOCANCEL))
            return 0;
        if (__atomic_compare_exchange_n(&t->park, &v, P_CLAIMED, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
    }
}

/* Opens a wait of t before its waiters are linked where other workers see
 * them (several workers): from now on a waker may claim it. */
static inline void weft__park_open(weft__task *t, unsigned flags)
{
    t->wake = 0;
    t->fired = 0;
    uint32_t v = (flags & PARK_NOCANCEL) ? P_NOCANCEL : t->shield ? P_SHIELDED : P_OPEN;
    __atomic_store_n(&t->park, v, __ATOMIC_SEQ_CST);
}

/* Do the frames of t's chain move while it waits (a shared stack in it)?
 * Then what other workers copy for it goes through t->parcel. */
static inline int weft__frames_move(const weft__task *t)
{
    for (const weft_co *c = weft__th.cur;; c = c->resumer) {
        if (c->kind == WEFT_STACK_SHARED)
            return 1;
        if (c == t->co)
            return 0;
    }
}

/* Room for n bytes in t->parcel; NULL with errno ENOMEM. */
char *weft__parcel(weft__task *t, size_t n);

static inline weft__task *weft__self(void)
{
    weft__sched *s = weft__sched_cur;
    if (unlikely(!s || !s->current)) {
        errno = EPERM;
        return NULL;
    }
    return s->current;
}

static inline int weft__enter(weft__task **self)
{
    weft__task *t = weft__self();
    if (unlikely(!t))
        return -1;
    if (unlikely(WEFT__LOAD(t->cancelled)) && !t->shield) {
        errno = ECANCELED;
        return -1;
    }
    *self = t;
    return 0;
}

/* The errno of a wait that cannot start because its deadline has come:
 * EAGAIN for deadline 0 (the call would block), ETIMEDOUT for a deadline
 * that has passed. */
static inline int weft__late(int64_t deadline)
{
    return deadline == 0 ? EAGAIN : ETIMEDOUT;
}

/* Leaves the calling task t (already queued or parked): switches straight
 * to the next ready task while the budget lasts, else to the loop. A
 * shared task's frames are saved only when another coroutine needs its
 * stack, in a switch that can fail for want of memory: then the task that
 * needed it waits its turn again (run_one), so nothing that is saved
 * needs room kept for it. Returns 0 once t runs again, or -1 with errno
 * ENOMEM when t could not leave (no memory to save t's own frames for the
 * next task, nor to reach the loop). */
weft__task *weft__fresh_pop(weft__sched *s);

static inline int weft__switch_out(weft__sched *s, weft__task *t)
{
    weft__task *n = NULL;
    if (s->budget && !s->pins &&
        (s->nready || (unlikely(s->mt) && WEFT__LOAD(s->fresh_n) && (n = weft__fresh_pop(s))))) {
        WEFT__PUBLISH(s->budget, s->budget - 1);
        if (s->nready)
            n = weft__ready_pop(s, 0);
        WEFT__PUBLISH(s->current, n);
        n->state = T_RUNNING;
        if (n == t) /* a task that paused alone just goes on */
            return 0;
        if (likely(!n->resume->slow || weft__co_prepare(n->resume) == 0)) {
            weft__co_jump(n->resume, NULL);
            return 0;
        }
        /* Put back; the loop may still be reachable. */
        weft__ready_unpop(s, n);
        WEFT__PUBLISH(s->current, t);
    }
    if (unlikely(s->loop->slow) && weft__co_prepare(s->loop) != 0)
        return -1;
    weft__co_jump(s->loop, NULL);
    return 0;
}

/* ---- sched.c ------------------------------------------------------------ */

/* The parking seam: every wait of every primitive goes through it.
 * Parks the calling task t (its waiters, if any, set with weft__waiters
 * and linked into their queues) until woken or until the deadline (-1:
 * none), for `reason` on `obj` (shown by the dump), with PARK_* flags.
 * Returns the reason the wait ended: 0, ETIMEDOUT, ECANCELED, ENOMEM (no
 * room for the timer) or what the waker passed. */
int weft__park(weft__task *t, weft__reason reason, const void *obj, int64_t deadline,
               unsigned flags);

/* `fired` of a wake-up from outside (the poller, a post): no waiter of
 * the task's own queues matched; a select looks at its cases again. */
#define WEFT__FIRED_EXT SIZE_MAX

/* Makes a parked task ready with the given reason, unlinking all its
 * waiters and its timer. */
void weft__wake(weft__task *t, int why, size_t fired);

/* Copies n bytes to (dir 1) or from (dir 0) the memory at `at` of the
 * waiting task t, wherever its frames are: in place, or in the saved
 * image of a shared-stack coroutine of its chain. */
void weft__task_copy_slow(weft__task *t, void *at, void *buf, size_t n, int dir);
static inline void weft__task_copy(weft__task *t, void *at, void *buf, size_t n, int dir)
{
    if (likely(t->plain)) {
        if (dir)
            memcpy(at, buf, n);
        else
            memcpy(buf, at, n);
        return;
    }
    weft__task_copy_slow(t, at, buf, n, dir);
}

/* Room for n waiters in t's record; NULL with errno ENOMEM. */
weft__waiter *weft__waiters(weft__task *t, size_t n);

/* Is the deadline already reached? (0 is; -1 never is.) */
int weft__expired_slow(int64_t deadline);
static inline int weft__expired(int64_t deadline)
{
    return deadline == 0 || (deadline > 0 && weft__expired_slow(deadline));
}

uint64_t weft__rand(weft__sched *s);

weft_co *weft__spawn(weft__sched *s, weft_fn fn, void *arg, const weft_opts *opts, weft_group *g);
/* Spawns on scheduler `to` (s's own or another worker's), never stolen. */
weft_co *weft__spawn_at(weft__sched *s, weft__sched *to, weft_fn fn, void *arg,
                        const weft_opts *opts);
void weft__task_free(weft__sched *s, weft__task *t);
/* The record behind a task handle, or NULL with errno EINVAL (EDEADLK for
 * a task already joined and freed). */
weft__task *weft__task_of(weft_co *co);

/* ---- wait queues -------------------------------------------------------- */

static inline void weft__wq_push(weft_waitq *q, weft__waiter *w)
{
    w->q = q;
    w->next = NULL;
    w->prev = (weft__waiter *)q->tail;
    if (q->tail)
        ((weft__waiter *)q->tail)->next = w;
    else
        q->head = w;
    q->tail = w;
}

void weft__wq_unlink_away(weft__waiter *w);

/* Takes w out of q's list; w->q stays for the caller to clear. */
static inline void weft__wq_splice(weft_waitq *q, weft__waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
}

static inline void weft__wq_unlink(weft__waiter *w)
{
    weft_waitq *q = w->q;
    if (!q)
        return;
    /* The queue may be in the waiting task's own frames (a lock or
     * semaphore of its own, timed out or cancelled while it is away). */
    if (unlikely(!w->task->plain)) {
        weft__wq_unlink_away(w);
        return;
    }
    weft__wq_splice(q, w);
    w->q = NULL;
}

static inline weft__waiter *weft__wq_first(const weft_waitq *q)
{
    return (weft__waiter *)q->head;
}

/* ---- wake-ups across workers (sched.c, workers.c) ----------------------- */

/* Unlinks w from its queue, whose object's lock the caller holds (several
 * workers: the waiting task may be looking at w->q from its worker). */
static inline void weft__wq_unlink_mt(weft__waiter *w)
{
    weft__wq_splice(w->q, w);
    __atomic_store_n(&w->q, NULL, __ATOMIC_RELEASE);
}

static inline void weft__wq_push_lk(weft_waitq *q, weft__waiter *w, int *lk)
{
    w->lk = lk;
    weft__wq_push(q, w);
}

/* Several workers: the first waiter of q whose task the caller claims,
 * unlinked (waiters of tasks already woken another way are dropped). */
weft__waiter *weft__wq_take_mt(weft_waitq *q);

/* A claimed task: wakes it, on its worker (the ready queue) or from
 * another (its worker's inbox, and the eventfd if that worker sleeps). */
void weft__deliver(weft__task *t, int why, size_t fired);

/* The waiter a waker serves next: the first of q. Under weft_run it stays
 * linked until weft__wake_taken; with several workers (mt) its task is
 * claimed and it is unlinked. NULL when none. */
static inline weft__waiter *weft__wq_take(weft_waitq *q, int mt)
{
    if (likely(!mt))
        return (weft__waiter *)q->head;
    return weft__wq_take_mt(q);
}

static inline void weft__wake_taken(weft__waiter *w, int why, int mt)
{
    if (likely(!mt))
        weft__wake(w->task, why, w->idx);
    else
        weft__deliver(w->task, why, w->idx);
}

/* Copies n bytes between buf and the waiter's buffer (dir 1: into it):
 * with several workers that memory stays in place (a private stack, or
 * the task's parcel), under weft_run it may be a saved shared image. */
static inline void weft__hand(weft__waiter *w, void *buf, size_t n, int dir, int mt)
{
    if (mt) {
        if (dir)
            memcpy(w->buf, buf, n);
        else
            memcpy(buf, w->buf, n);
        return;
    }
    weft__task_copy(w->task, w->buf, buf, n, dir);
}

/* Waits on one queue: the common case of every primitive but select. */
static inline int weft__wait1(weft__task *t, weft_waitq *q, void *buf, weft__reason reason,
                              const void *obj, int64_t deadline, unsigned flags)
{
    weft__waiter *w = &t->w1;
    w->task = t;
    w->buf = buf;
    w->idx = 0;
    w->lk = NULL;
    weft__wq_push(q, w);
    t->waiters = w;
    t->nwaiters = 1;
    return weft__park(t, reason, obj, deadline, flags);
}

/* weft__wait1 on the queue of an object whose lock lk the caller holds
 * when mt (several workers): the wait opens before the waiter is seen,
 * and lk is released before the task parks. */
static inline int weft__wait1_lk(weft__task *t, weft_waitq *q, int *lk, void *buf,
                                 weft__reason reason, const void *obj, int64_t deadline,
                                 unsigned flags, int mt)
{
    if (likely(!mt))
        return weft__wait1(t, q, buf, reason, obj, deadline, flags);
    weft__park_open(t, flags);
    weft__waiter *w = &t->w1;
    w->task = t;
    w->buf = buf;
    w->idx = 0;
    weft__wq_push_lk(q, w, lk);
    t->waiters = w;
    t->nwaiters = 1;
    weft__spin_unlock(lk);
    return weft__park(t, reason, obj, deadline, flags);
}

/* ---- timer.c ------------------------------------------------------------ */

int weft__timer_add(weft__sched *s, weft__task *t, int64_t when);
void weft__timer_del(weft__sched *s, weft__task *t);
/* Wakes every task whose deadline is <= now; returns how many. */
size_t weft__timer_fire(weft__sched *s, int64_t now);
void weft__timer_free(weft__sched *s);

/* ---- idle.c ------------------------------------------------------------- */

/* Nothing is ready: sleeps until `deadline` (-1: until something outside
 * wakes the thread), in the poller once the io layer has made one; 0 only
 * looks for ready fds. */
void weft__idle(weft__sched *s, int64_t deadline);
/* The poller of s, made on first use; NULL with errno. */
weft__poller *weft__idle_poller(weft__sched *s);
/* weft_run ends: the poller goes. */
void weft__idle_fini(weft__sched *s);

/* ---- select.c ----------------------------------------------------------- */

/* A kind of select case other than a channel operation, implemented by a
 * layer above (io: fds, futures, event channels) and handed to
 * weft__select with each call, so that the sched layer never calls up.
 * w is the case's waiter: NULL before the first wait, else the one of the
 * wait that just ended (its `aux` is the kind's). */
typedef struct weft__case_kind {
    /* Is c ready? Looks only, taking nothing. 1 ready, 0 not, -1 with
     * errno: the whole select fails. */
    int (*ready)(weft_case *c, weft__waiter *w);
    /* c was chosen: performs it and fills its out fields (err too). 1
     * done, 0 when it is no longer ready (taken by another thread: look
     * again). */
    int (*take)(weft_case *c, weft__waiter *w);
    /* Makes t c's waiter, woken with WEFT__FIRED_EXT. 0, 1 when c became
     * ready meanwhile (nothing armed), or -1 with errno. */
    int (*arm)(weft__task *t, weft_case *c, weft__waiter *w);
    /* The wait ended, however: t is no longer c's waiter. */
    void (*disarm)(weft__task *t, weft_case *c, weft__waiter *w);
} weft__case_kind;

/* weft_select over channel cases and the kinds[op] (op < nkinds) that are
 * not NULL; the same choice among ready cases for all. */
int weft__select(weft_case *cases, size_t n, int64_t deadline, const weft__case_kind *const *kinds,
                 size_t nkinds);

/* ---- dump.c ------------------------------------------------------------- */

void weft__dump_fd(weft__sched *s, int fd);
/* The name of each weft__reason, also read by debuggers. */
extern const char *const weft__reason_names[WR__COUNT];

/* ---- debugger.c --------------------------------------------------------- */

/* weft_run's scheduler joins (add) and leaves (remove) the list of live
 * schedulers that a debugger walks. */
void weft__debugger_add(weft__sched *s);
void weft__debugger_remove(weft__sched *s);

/* ---- watchdog.c --------------------------------------------------------- */

/* weft_run starts and ends: s joins and leaves the watchdog's list (and
 * the first weft_run reads WEFT_DEBUG). */
void weft__wd_enter(weft__sched *s);
void weft__wd_leave(weft__sched *s);

/* ---- workers.c ---------------------------------------------------------- */

/* From any thread: makes t (claimed, or new) ready on its worker h. */
void weft__inbox_push(weft__sched *h, weft__task *t);
/* The owner takes what other threads made ready. */
void weft__inbox_drain(weft__sched *s);
/* A task spawned on s (by its own worker): into the stealable ring; a
 * sleeping worker is woken if none is looking for work. */
void weft__fresh_push(weft__sched *s, weft__task *t);
/* The newest task of s's ring, or NULL. */
weft__task *weft__fresh_pop(weft__sched *s);
/* Takes half of another worker's ring; 1 if it got any. */
int weft__steal(weft__sched *s);
/* Nothing to do: sleeps until work, a deadline or the end; returns 1 when
 * the run is over (every task of every worker finished, or abandoned). */
int weft__mt_idle(weft__sched *s);
/* weft_dump with several workers: each writes its own list; the caller
 * waits (sleeping) until all have. 0. */
int weft__dump_all(weft__sched *s);
/* A worker's loop answers a weft_dump request, if one is new. */
void weft__dump_poll(weft__sched *s);
/* sched.c's, for workers.c: links t into (and out of) s's list of tasks;
 * runs a worker's loop; sets up and tears down a scheduler. */
void weft__all_link(weft__sched *s, weft__task *t);
void weft__all_unlink(weft__sched *s, weft__task *t);
void weft__loop_mt(weft__sched *s);
/* Cancels every task of s, shielded ones too (a deadlock). */
void weft__cancel_all(weft__sched *s);
weft__sched *weft__sched_new(void);
/* Frees what s still holds (finished tasks nobody joined, the pool, the
 * timers, the poller); `main_task` gets its result first. */
void weft__sched_end(weft__sched *s);

/* ---- group.c ------------------------------------------------------------ */

/* A task of group g finished (called on the loop's context): frees it. */
void weft__group_task_done(weft_group *g, weft__task *t);

#endif
