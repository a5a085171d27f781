/* What the io files share: the fd record kinds, the wait on one fd, and
 * the worker pool. Nothing here is public. */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "poll/poll.h"
#include "sched/sched.h"

/* weft__pfd.kind bits, found once per fd (fstat, SO_TYPE) or set by the
 * call that made the fd. */
enum {
    K_KNOWN = 1,
    K_TCP = 2,  /* TCP over IPv4/IPv6: a short read means the fd was drained */
    K_SOCK = 4, /* send with MSG_NOSIGNAL */
    K_FILE = 8, /* never "not ready": goes to the worker pool */
    K_PIPE = 16,
};

/* The calling task, its scheduler's poller and the record of fd, made
 * non-blocking on first use. -1 with errno (EPERM, ECANCELED, EBADF,
 * ENOMEM). */
int weft__io_enter(int fd, weft__task **t, weft__pfd **r);

/* A fresh fd (accept, socket): forgets any stale record of its number and
 * sets its kind. s may have no poller yet (then nothing is recorded). */
void weft__io_fresh(weft__sched *s, int fd, int kind);

/* Parks t until fd is ready for dir (WEFT__RD, WEFT__WR) or the deadline.
 * 0, or -1 with errno (ETIMEDOUT, ECANCELED, EBUSY, ENOMEM, and the
 * backend's errors). */
int weft__io_wait(weft__task *t, int fd, weft__pfd *r, int dir, int64_t deadline);

/* poll(2) of fd for events (POLLIN, POLLOUT) without waiting: the events
 * ready (POLLERR and POLLHUP added, with every event asked for), 0 when
 * none, -1 with errno (EBADF for an fd that is not open). */
int weft__fd_look(int fd, int events);

/* Makes t the waiter of fd's record r for events: 0, or -1 with errno
 * (EBUSY: another waits; the backend's errors). */
int weft__fd_arm(weft__task *t, int fd, weft__pfd *r, int events);
/* The wait ended (r's fd not closed meanwhile): t leaves the slots still
 * its own; returns the events whose slots the poller emptied (ready). */
int weft__fd_disarm(weft__task *t, int fd, weft__pfd *r, int events);

/* One task waiting for what another thread does (futures, event
 * channels): the waiter and the post that wakes it, guarded by the
 * object's own lock, under which every call below is made. */
typedef struct weft__xwait {
    weft__task *task;
    weft__poller *p;
    weft__post post;
    int woken; /* posted since armed: the post's own `queued` is the
                  poller's, under the poller's lock */
} weft__xwait;

/* t becomes the waiter: 0, or -1 with errno (EBUSY: another task waits;
 * the poller could not be made). */
int weft__xwait_arm(weft__xwait *x, weft__task *t);
/* t, if it is the waiter, is no longer (its post taken back). */
void weft__xwait_disarm(weft__xwait *x, weft__task *t);
/* Wakes the waiter, if any (from any thread). */
static inline void weft__xwait_wake(weft__xwait *x)
{
    if (x->task && !x->woken) {
        x->woken = 1;
        weft__poll_post(x->p, &x->post);
    }
}
/* Waits once with the lock mu released: 0 when woken (look again), else
 * the errno that ends the wait (ETIMEDOUT, ECANCELED, ENOMEM, EBUSY, the
 * poller's). */
int weft__xwait_block(weft__xwait *x, pthread_mutex_t *mu, weft__task *t, weft__reason reason,
                      const void *obj, int64_t deadline);

/* The kinds of select case of the io layer (select.c, future.c,
 * events.c). */
extern const weft__case_kind weft__fd_case, weft__future_case, weft__event_case;

/* Runs fn(arg) on the worker pool while t waits (not cancellable once
 * started). 0, or -1 with errno EAGAIN (no worker could start) or ENOMEM. */
int weft__offload(weft__task *t, weft_fn fn, void *arg, void **result);

#endif
