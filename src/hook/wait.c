/* poll, ppoll, select, pselect, epoll_wait, epoll_pwait: one park on all
 * the fds through weft's poller (weft_poll), no busy polling; a user's
 * epoll fd is waited on as one readable fd, then read with timeout 0. A
 * call that does not block (timeout 0) is libc's. The signal mask of
 * ppoll, pselect and epoll_pwait is not applied in a task (the thread runs
 * other tasks while it waits; see weft_hook.h). */
#include "hook/hook.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

NEXT_DECL(poll);
NEXT_DECL(ppoll);
NEXT_DECL(select);
NEXT_DECL(pselect);
NEXT_DECL(epoll_wait);
NEXT_DECL(epoll_pwait);

/* A relative timeout as a deadline; -1 for none; EINVAL for a bad one. */
static int ts_deadline(const struct timespec *ts, int64_t *dl)
{
    if (!ts) {
        *dl = -1;
        return 0;
    }
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
        HERRNO = EINVAL;
        return -1;
    }
    *dl = weft_now() + (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    return 0;
}

static int64_t ms_deadline(int ms)
{
    return ms < 0 ? -1 : weft_now() + (int64_t)ms * 1000000;
}

WEFT_API int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (timeout == 0 || !weft_task_self())
        return NEXT(poll)(fds, n, timeout);
    return weft_poll(fds, n, ms_deadline(timeout));
}

WEFT_API int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    if ((ts && ts->tv_sec == 0 && ts->tv_nsec == 0) || !weft_task_self())
        return NEXT(ppoll)(fds, n, ts, mask);
    int64_t dl;
    if (ts_deadline(ts, &dl) != 0)
        return -1;
    return weft_poll(fds, n, dl);
}

/* select and pselect over weft_poll: the sets become pollfds and back,
 * with the kernel's mapping (a hang-up or error is readable, an error is
 * writable, urgent data is the exception). */
#define SEL_IN (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)

/* fd_set's bits by hand: a program may pass sets larger than
 * FD_SETSIZE (the kernel takes any nfds), which FD_ISSET may refuse. */
#define SET_BITS (8 * sizeof(unsigned long))

static int in_set(const fd_set *set, int fd)
{
    return set &&
           (((const unsigned long *)(const void *)set)[fd / SET_BITS] >> (fd % SET_BITS) & 1);
}

/* 1 if fd is in set and had its events, else clears it. */
static int keep(fd_set *set, int fd, int had)
{
    if (!in_set(set, fd))
        return 0;
    if (had)
        return 1;
    ((unsigned long *)(void *)set)[fd / SET_BITS] &= ~(1UL << (fd % SET_BITS));
    return 0;
}

static int select_weft(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int64_t dl)
{
    if (nfds < 0) {
        HERRNO = EINVAL;
        return -1;
    }
    struct pollfd small[64], *p = small;
    int n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        if (in_set(rd, fd) || in_set(wr, fd) || in_set(ex, fd))
            n++;
    }
    if (n > 64 && !(p = malloc((size_t)n * sizeof *p))) {
        HERRNO = ENOMEM;
        return -1;
    }
    int k = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (in_set(rd, fd))
            ev |= POLLIN;
        if (in_set(wr, fd))
            ev |= POLLOUT;
        if (in_set(ex, fd))
            ev |= POLLPRI;
        if (ev)
            p[k++] = (struct pollfd){fd, ev, 0};
    }
    int rc = weft_poll(p, (nfds_t)n, dl);
    if (rc > 0) {
        for (int i = 0; i < n; i++) {
            if (p[i].revents & POLLNVAL) {
                HERRNO = EBADF;
                rc = -1;
                break;
            }
        }
    }
    if (rc >= 0) {
        /* Only the fds with events stay in the sets. */
        int count = 0;
        for (int i = 0; i < n; i++) {
            int fd = p[i].fd;
            short re = p[i].revents;
            count +=
                keep(rd, fd, re & SEL_IN) + keep(wr, fd, re & SEL_OUT) + keep(ex, fd, re & POLLPRI);
        }
        rc = count;
    }
    if (p != small) {
        int e = HERRNO;
        free(p);
        HERRNO = e;
    }
    return rc;
}

WEFT_API int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || !weft_task_self())
        return NEXT(select)(nfds, rd, wr, ex, tv);
    int64_t dl = -1;
    if (tv) {
        if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000) {
            HERRNO = EINVAL;
            return -1;
        }
        dl = weft_now() + (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
    }
    int rc = select_weft(nfds, rd, wr, ex, dl);
    if (tv) {
        /* Linux leaves the time not slept in tv. */
        int64_t left = dl - weft_now();
        if (left < 0)
            left = 0;
        tv->tv_sec = (time_t)(left / 1000000000);
        tv->tv_usec = (suseconds_t)(left % 1000000000 / 1000);
    }
    return rc;
}

WEFT_API int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
                     const sigset_t *mask)
{
    if ((ts && ts->tv_sec == 0 && ts->tv_nsec == 0) || !weft_task_self())
        return NEXT(pselect)(nfds, rd, wr, ex, ts, mask);
    int64_t dl;
    if (ts_deadline(ts, &dl) != 0)
        return -1;
    return select_weft(nfds, rd, wr, ex, dl);
}

/* The user's epoll fd is one more fd to weft's poller: readable when
 * its set has events. */
static int epoll_weft(int epfd, struct epoll_event *ev, int max, int64_t dl)
{
    for (;;) {
        int n = NEXT(epoll_wait)(epfd, ev, max, 0);
        if (n != 0)
            return n; /* events, or EBADF, EINVAL, EFAULT */
        struct pollfd p = {epfd, POLLIN, 0};
        int k = weft_poll(&p, 1, dl);
        if (k <= 0)
            return k;
    }
}

WEFT_API int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (timeout == 0 || !weft_task_self())
        return NEXT(epoll_wait)(epfd, ev, max, timeout);
    return epoll_weft(epfd, ev, max, ms_deadline(timeout));
}

WEFT_API int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                         const sigset_t *mask)
{
    if (timeout == 0 || !weft_task_self())
        return NEXT(epoll_pwait)(epfd, ev, max, timeout, mask);
    return epoll_weft(epfd, ev, max, ms_deadline(timeout));
}
