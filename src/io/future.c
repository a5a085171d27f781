/* Futures: the bridge from callbacks on any thread. A future holds one
 * value and at most one waiting task; the completer posts the waiter's
 * wake-up to the waiter's poller, as a worker of the pool does.
 *
 * Abandoning hands the future to whichever side comes last, decided under
 * its lock: abandoned before completion, the completer frees it (after
 * its unlock, touching nothing after); completed before, the abandoner
 * frees it. */
#include "io/io.h"

#include <errno.h>
#include <stdlib.h>

struct weft_future {
    pthread_mutex_t mu;
    int done;
    int abandoned;
    void *value;
    weft__xwait x;
};

weft_future *weft_future_new(void)
{
    weft_future *f = calloc(1, sizeof *f);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

static void destroy(weft_future *f)
{
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int weft_future_complete(weft_future *f, void *value)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    if (f->done) {
        pthread_mutex_unlock(&f->mu);
        errno = EALREADY;
        return -1;
    }
    f->done = 1;
    f->value = value;
    int last = f->abandoned;
    weft__xwait_wake(&f->x);
    pthread_mutex_unlock(&f->mu);
    if (last)
        destroy(f);
    return 0;
}

/* Locks f, a future nobody abandoned: 0, or -1 with errno EINVAL. */
static int lock_live(weft_future *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    if (f->abandoned) {
        pthread_mutex_unlock(&f->mu);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int weft_future_wait(weft_future *f, void **value, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0 || lock_live(f) != 0)
        return -1;
    int why = 0;
    while (!f->done && !(why = weft__xwait_block(&f->x, &f->mu, t, WR_FUTURE, f, deadline)))
        ;
    if (f->done) {
        if (value)
            *value = f->value;
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    pthread_mutex_unlock(&f->mu);
    errno = why;
    return -1;
}

int weft_future_done(weft_future *f)
{
    if (lock_live(f) != 0)
        return -1;
    int d = f->done;
    pthread_mutex_unlock(&f->mu);
    return d;
}

int weft_future_abandon(weft_future *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    int e = f->abandoned ? EALREADY : f->x.task ? EBUSY : 0;
    if (e) {
        pthread_mutex_unlock(&f->mu);
        errno = e;
        return -1;
    }
    f->abandoned = 1;
    int last = f->done;
    pthread_mutex_unlock(&f->mu);
    if (last)
        destroy(f);
    return 0;
}

void weft_future_free(weft_future *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    pthread_mutex_unlock(&f->mu);
    destroy(f);
}

/* ---- the WEFT_FUTURE case of weft_select -------------------------------- */

static int case_ready(weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_future *f = c->future;
    if (lock_live(f) != 0)
        return -1;
    int d = f->done;
    pthread_mutex_unlock(&f->mu);
    return d;
}

static int case_take(weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_future *f = c->future;
    pthread_mutex_lock(&f->mu);
    if (c->elem)
        *(void **)c->elem = f->value; /* done is for ever */
    pthread_mutex_unlock(&f->mu);
    c->err = 0;
    return 1;
}

static int case_arm(weft__task *t, weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_future *f = c->future;
    pthread_mutex_lock(&f->mu);
    int r = f->done ? 1 : weft__xwait_arm(&f->x, t);
    pthread_mutex_unlock(&f->mu);
    return r;
}

static void case_disarm(weft__task *t, weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_future *f = c->future;
    pthread_mutex_lock(&f->mu);
    weft__xwait_disarm(&f->x, t);
    pthread_mutex_unlock(&f->mu);
}

const weft__case_kind weft__future_case = {case_ready, case_take, case_arm, case_disarm};
