/* Futures: the bridge from callbacks on any thread. A future holds one
 * value and at most one waiting task; the completer posts the waiter's
 * wake-up to the waiter's poller, as a worker of the pool does. */
#include "io/io.h"

#include <errno.h>
#include <stdlib.h>

struct weft_future {
    pthread_mutex_t mu;
    int done;
    void *value;
    weft__task *waiter;
    weft__poller *p;
    weft__post post;
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
    /* Posted under the future's lock: the waiter cannot leave (and its
     * poller cannot go) before the post is in. */
    if (f->waiter && !f->post.queued)
        weft__poll_post(f->p, &f->post);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int weft_future_wait(weft_future *f, void **value, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller ? s->poller : weft__idle_poller(s);
    if (!p)
        return -1;
    pthread_mutex_lock(&f->mu);
    if (f->waiter) {
        pthread_mutex_unlock(&f->mu);
        errno = EBUSY;
        return -1;
    }
    int why = 0;
    while (!f->done) {
        if (weft__expired(deadline)) {
            why = weft__late(deadline);
            break;
        }
        f->waiter = t;
        f->p = p;
        f->post.waiter = t;
        pthread_mutex_unlock(&f->mu);
        why = weft__park(t, WR_FUTURE, f, deadline, PARK_EXTERNAL);
        pthread_mutex_lock(&f->mu);
        f->waiter = NULL;
        if (f->post.queued)
            weft__poll_unpost(p, &f->post);
        if (why)
            break;
    }
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
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    int d = f->done;
    pthread_mutex_unlock(&f->mu);
    return d;
}

void weft_future_free(weft_future *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    pthread_mutex_unlock(&f->mu);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
