/* Mutex, condition variable, wait group and semaphore. Each is a few
 * words the user embeds (no allocation) with a wait queue. Wake-ups hand
 * the resource straight to the first waiter (the mutex's ownership, the
 * semaphore's unit), so waiters are served in FIFO order and a task that
 * arrives later cannot barge in. */
#include "sched/sched.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define MUTEX_MAGIC 0x6d757478u
#define COND_MAGIC 0x636f6e64u
#define WG_MAGIC 0x77677270u
#define SEM_MAGIC 0x73656d61u

static int einval(void)
{
    errno = EINVAL;
    return -1;
}

static weft__task *current(void)
{
    weft__sched *s = weft__sched_cur;
    return s ? s->current : NULL;
}

/* Blocks on q unless the deadline has passed; 0 or -1 with errno. With
 * several workers (mt) the caller holds the object's lock lk, which this
 * releases. */
static int block(weft__task *t, weft_waitq *q, int *lk, int mt, int64_t deadline, weft__reason what,
                 const void *obj)
{
    if (weft__expired(deadline)) {
        weft__unlock(lk, mt);
        errno = weft__late(deadline);
        return -1;
    }
    int why = weft__wait1_lk(t, q, lk, NULL, what, obj, deadline, 0, mt);
    if (why) {
        errno = why;
        return -1;
    }
    return 0;
}

/* ---- mutex -------------------------------------------------------------- */

int weft_mutex_init(weft_mutex *m)
{
    if (!m)
        return einval();
    memset(m, 0, sizeof *m);
    m->magic = MUTEX_MAGIC;
    return 0;
}

int weft_mutex_lock(weft_mutex *m, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!m || m->magic != MUTEX_MAGIC)
        return einval();
    int mt = weft__sched_cur->mt;
    weft__lock(&m->lk, mt);
    if (!m->owner) {
        m->owner = t;
        weft__unlock(&m->lk, mt);
        return 0;
    }
    if (m->owner == t) {
        weft__unlock(&m->lk, mt);
        errno = EDEADLK;
        return -1;
    }
    /* On success the unlocker has made us the owner. */
    return block(t, &m->q, &m->lk, mt, deadline, WR_MUTEX, m);
}

/* Under m's lock (mt). */
static void release(weft_mutex *m, int mt)
{
    weft__waiter *w = weft__wq_take(&m->q, mt);
    m->owner = w ? w->task : NULL;
    if (w)
        weft__wake_taken(w, 0, mt);
}

int weft_mutex_unlock(weft_mutex *m)
{
    if (!m || m->magic != MUTEX_MAGIC)
        return einval();
    weft__task *t = current();
    int mt = t && weft__sched_cur->mt;
    weft__lock(&m->lk, mt);
    if (!t || m->owner != t) {
        weft__unlock(&m->lk, mt);
        errno = EPERM;
        return -1;
    }
    release(m, mt);
    weft__unlock(&m->lk, mt);
    return 0;
}

int weft_mutex_destroy(weft_mutex *m)
{
    if (!m || m->magic != MUTEX_MAGIC)
        return einval();
    int mt = weft__mt_here();
    weft__lock(&m->lk, mt);
    int busy = m->owner || m->q.head;
    weft__unlock(&m->lk, mt);
    if (busy) {
        errno = EBUSY;
        return -1;
    }
    m->magic = 0;
    return 0;
}

/* ---- condition variable ------------------------------------------------- */

int weft_cond_init(weft_cond *c)
{
    if (!c)
        return einval();
    memset(c, 0, sizeof *c);
    c->magic = COND_MAGIC;
    return 0;
}

int weft_cond_wait(weft_cond *c, weft_mutex *m, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!c || c->magic != COND_MAGIC || !m || m->magic != MUTEX_MAGIC)
        return einval();
    int mt = weft__sched_cur->mt;
    if (WEFT__LOAD(m->owner) != t) {
        errno = EPERM;
        return -1;
    }
    if (weft__expired(deadline)) {
        errno = weft__late(deadline);
        return -1;
    }
    /* Queued on c before m is released, so that a signal sent once m is
     * free finds this waiter. */
    weft__lock(&c->lk, mt);
    if (mt)
        weft__park_open(t, 0);
    weft__waiter *w = &t->w1;
    w->task = t;
    w->buf = NULL;
    w->idx = 0;
    weft__wq_push_lk(&c->q, w, &c->lk);
    t->waiters = w;
    t->nwaiters = 1;
    weft__unlock(&c->lk, mt);
    weft__lock(&m->lk, mt);
    release(m, mt);
    weft__unlock(&m->lk, mt);
    int why = weft__park(t, WR_COND, c, deadline, 0);
    /* Whatever ended the wait, return holding the mutex, as pthreads do;
     * this wait cannot be cancelled, or the caller could not unlock. */
    weft__lock(&m->lk, mt);
    if (m->owner) {
        weft__wait1_lk(t, &m->q, &m->lk, NULL, WR_COND_RELOCK, m, -1, PARK_NOCANCEL, mt);
    } else {
        m->owner = t;
        weft__unlock(&m->lk, mt);
    }
    if (why) {
        errno = why;
        return -1;
    }
    return 0;
}

int weft_cond_signal(weft_cond *c)
{
    if (!c || c->magic != COND_MAGIC)
        return einval();
    int mt = weft__mt_here();
    weft__lock(&c->lk, mt);
    weft__waiter *w = weft__wq_take(&c->q, mt);
    if (w)
        weft__wake_taken(w, 0, mt);
    weft__unlock(&c->lk, mt);
    return 0;
}

int weft_cond_broadcast(weft_cond *c)
{
    if (!c || c->magic != COND_MAGIC)
        return einval();
    int mt = weft__mt_here();
    weft__lock(&c->lk, mt);
    weft__waiter *w;
    while ((w = weft__wq_take(&c->q, mt)))
        weft__wake_taken(w, 0, mt);
    weft__unlock(&c->lk, mt);
    return 0;
}

int weft_cond_destroy(weft_cond *c)
{
    if (!c || c->magic != COND_MAGIC)
        return einval();
    if (WEFT__LOAD(c->q.head)) {
        errno = EBUSY;
        return -1;
    }
    c->magic = 0;
    return 0;
}

/* ---- wait group --------------------------------------------------------- */

int weft_wg_init(weft_wg *wg)
{
    if (!wg)
        return einval();
    memset(wg, 0, sizeof *wg);
    wg->magic = WG_MAGIC;
    return 0;
}

int weft_wg_add(weft_wg *wg, long n)
{
    if (!wg || wg->magic != WG_MAGIC)
        return einval();
    int mt = weft__mt_here();
    weft__lock(&wg->lk, mt);
    /* count >= 0, so count + n cannot overflow for n < 0 (-n can: LONG_MIN). */
    if ((n < 0 && wg->count + n < 0) || (n > 0 && wg->count > LONG_MAX - n)) {
        weft__unlock(&wg->lk, mt);
        return einval();
    }
    wg->count += n;
    if (wg->count == 0) {
        weft__waiter *w;
        while ((w = weft__wq_take(&wg->q, mt)))
            weft__wake_taken(w, 0, mt);
    }
    weft__unlock(&wg->lk, mt);
    return 0;
}

int weft_wg_done(weft_wg *wg)
{
    return weft_wg_add(wg, -1);
}

int weft_wg_wait(weft_wg *wg, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!wg || wg->magic != WG_MAGIC)
        return einval();
    int mt = weft__sched_cur->mt;
    weft__lock(&wg->lk, mt);
    if (wg->count == 0) {
        weft__unlock(&wg->lk, mt);
        return 0;
    }
    return block(t, &wg->q, &wg->lk, mt, deadline, WR_WG, wg);
}

int weft_wg_destroy(weft_wg *wg)
{
    if (!wg || wg->magic != WG_MAGIC)
        return einval();
    if (WEFT__LOAD(wg->q.head)) {
        errno = EBUSY;
        return -1;
    }
    wg->magic = 0;
    return 0;
}

/* ---- semaphore ---------------------------------------------------------- */

int weft_sem_init(weft_sem *sem, unsigned value)
{
    if (!sem)
        return einval();
    memset(sem, 0, sizeof *sem);
    sem->magic = SEM_MAGIC;
    sem->value = value;
    return 0;
}

int weft_sem_wait(weft_sem *sem, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!sem || sem->magic != SEM_MAGIC)
        return einval();
    int mt = weft__sched_cur->mt;
    weft__lock(&sem->lk, mt);
    if (sem->value) { /* no task waits while value > 0 */
        sem->value--;
        weft__unlock(&sem->lk, mt);
        return 0;
    }
    /* On success the poster has handed its unit to us. */
    return block(t, &sem->q, &sem->lk, mt, deadline, WR_SEM, sem);
}

int weft_sem_post(weft_sem *sem)
{
    if (!sem || sem->magic != SEM_MAGIC)
        return einval();
    int mt = weft__mt_here();
    weft__lock(&sem->lk, mt);
    weft__waiter *w = weft__wq_take(&sem->q, mt);
    int e = 0;
    if (w)
        weft__wake_taken(w, 0, mt);
    else if (sem->value == UINT_MAX)
        e = EOVERFLOW;
    else
        sem->value++;
    weft__unlock(&sem->lk, mt);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

int weft_sem_destroy(weft_sem *sem)
{
    if (!sem || sem->magic != SEM_MAGIC)
        return einval();
    if (WEFT__LOAD(sem->q.head)) {
        errno = EBUSY;
        return -1;
    }
    sem->magic = 0;
    return 0;
}
