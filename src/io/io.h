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

/* Runs fn(arg) on the worker pool while t waits (not cancellable once
 * started). 0, or -1 with errno EAGAIN (no worker could start) or ENOMEM. */
int weft__offload(weft__task *t, weft_fn fn, void *arg, void **result);

#endif
