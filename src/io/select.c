/* weft_select over every kind: the sched layer's core (channel cases and
 * the choice among ready cases) with this layer's kinds plugged in, and
 * the fd kind itself. An fd case waits in the poller's slots of its fd as
 * weft_wait_fd does; its waiter keeps the fd's record and its life, so
 * that a weft_close during the wait is told from readiness. */
#include "io/io.h"

#include <errno.h>
#include <poll.h>

/* In aux, above the record's life (32 bits): the fd was closed during
 * the wait, or the events the poller found ready (as weft_wait_fd takes
 * them, without asking poll(2) again). */
#define FD_CLOSED ((uint64_t)1 << 32)
#define FD_FIRED_SHIFT 33

static int fd_ready(weft_case *c, weft__waiter *w)
{
    if (w && (w->aux & FD_CLOSED)) {
        c->revents = 0;
        c->err = EBADF;
        return 1;
    }
    int fired = w ? (int)(w->aux >> FD_FIRED_SHIFT) : 0;
    if (fired) {
        c->revents = (short)fired;
        c->err = 0;
        return 1;
    }
    if (c->events & ~(POLLIN | POLLOUT) || !(c->events & (POLLIN | POLLOUT))) {
        errno = EINVAL;
        return -1;
    }
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(c->fd, &t, &r) != 0)
        return -1;
    int got = r->kind & K_FILE ? c->events : weft__fd_look(c->fd, c->events);
    if (got <= 0)
        return got;
    c->revents = (short)got;
    c->err = 0;
    return 1;
}

static int fd_take(weft_case *c, weft__waiter *w)
{
    (void)c, (void)w; /* fd_ready filled revents and err */
    return 1;
}

static int fd_arm(weft__task *t, weft_case *c, weft__waiter *w)
{
    weft__pfd *r = weft__poll_fd_peek(weft__sched_cur->poller, c->fd); /* made by fd_ready */
    if (weft__fd_arm(t, c->fd, r, c->events) != 0)
        return -1;
    w->buf = r;
    w->aux = r->life;
    return 0;
}

static void fd_disarm(weft__task *t, weft_case *c, weft__waiter *w)
{
    weft__pfd *r = w->buf;
    if (r->life != (uint32_t)w->aux)
        w->aux |= FD_CLOSED; /* handed back by weft_close: not ours now */
    else
        w->aux |= (uint64_t)weft__fd_disarm(t, c->fd, r, c->events) << FD_FIRED_SHIFT;
}

const weft__case_kind weft__fd_case = {fd_ready, fd_take, fd_arm, fd_disarm};

static const weft__case_kind *const kinds[] = {
    [WEFT_FD] = &weft__fd_case,
    [WEFT_FUTURE] = &weft__future_case,
    [WEFT_EVENT] = &weft__event_case,
};

int weft_select(weft_case *cases, size_t n, int64_t deadline)
{
    return weft__select(cases, n, deadline, kinds, sizeof kinds / sizeof kinds[0]);
}
