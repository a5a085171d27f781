/* A task waiting for another thread: what futures and event channels
 * share. The waker posts the waiter's wake-up to the waiter's poller under
 * the object's lock, so the waiter cannot leave (and its poller cannot
 * go) before the post is in; the waiter takes a post still queued back
 * under the same lock when its wait ends. */
#include "io/io.h"

#include <errno.h>

int weft__xwait_arm(weft__xwait *x, weft__task *t)
{
    if (x->task) {
        errno = EBUSY;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller ? s->poller : weft__idle_poller(s);
    if (!p)
        return -1;
    x->task = t;
    x->p = p;
    x->post.waiter = t;
    x->woken = 0;
    return 0;
}

void weft__xwait_disarm(weft__xwait *x, weft__task *t)
{
    if (x->task != t)
        return;
    x->task = NULL;
    if (x->woken)
        weft__poll_unpost(x->p, &x->post); /* if still queued */
}

int weft__xwait_block(weft__xwait *x, pthread_mutex_t *mu, weft__task *t, weft__reason reason,
                      const void *obj, int64_t deadline)
{
    if (weft__expired(deadline))
        return weft__late(deadline);
    if (weft__xwait_arm(x, t) != 0)
        return errno;
    pthread_mutex_unlock(mu);
    int why = weft__park(t, reason, obj, deadline, PARK_EXTERNAL);
    pthread_mutex_lock(mu);
    weft__xwait_disarm(x, t);
    return why;
}
