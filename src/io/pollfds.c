/* weft_poll: poll(2) for a task. The fds are looked at once with a
 * non-blocking poll; if none is ready, the task takes the reader's or
 * writer's slot of every fd in the poller and parks once, until the first
 * of them is ready (or the deadline), then looks again. No fd is added to
 * or removed from the kernel's set per call: the poller keeps each fd
 * registered from its first wait until it is closed. */
#include "io/io.h"

#include "base/sys.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#define RD_EVENTS (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP)
#define WR_EVENTS (POLLOUT | POLLWRNORM | POLLWRBAND)

/* Another task holds a slot of one of the fds: it is looked at again this
 * often, since the poller has room for one waiter per direction. */
#define BUSY_RECHECK 1000000 /* ns */

/* Takes the slots of fds[i] that its events ask for (a hang-up or an
 * error wakes a reader, so an fd that asks for neither direction takes
 * the reader's). Returns 0, 1 when a slot was another task's, or -1 with
 * errno. */
static int take(weft__poller *p, weft__task *t, const struct pollfd *f)
{
    weft__pfd *r = weft__poll_fd(p, f->fd);
    if (!r)
        return -1;
    int busy = 0;
    int dirs[2], nd = 0;
    if (f->events & RD_EVENTS || !(f->events & WR_EVENTS))
        dirs[nd++] = WEFT__RD;
    if (f->events & WR_EVENTS)
        dirs[nd++] = WEFT__WR;
    for (int i = 0; i < nd; i++) {
        int d = dirs[i];
        if (r->w[d] == t)
            continue; /* the same fd twice */
        if (r->w[d]) {
            busy = 1;
            continue;
        }
        if (weft__poll_arm(p, f->fd, r, d) != 0)
            return -1;
        r->w[d] = t;
    }
    return busy;
}

/* Gives back every slot that t still holds. */
static void give_back(weft__poller *p, weft__task *t, const struct pollfd *fds, nfds_t n)
{
    for (nfds_t i = 0; i < n; i++) {
        weft__pfd *r = weft__poll_fd_peek(p, fds[i].fd);
        for (int d = WEFT__RD; r && d <= WEFT__WR; d++) {
            if (r->w[d] == t) {
                r->w[d] = NULL;
                weft__poll_disarm(p, fds[i].fd, r, d);
            }
        }
    }
}

/* The fds whose record's life changed while t waited were closed or
 * replaced (weft_close, weft_fd_forget, dup2 over them): they report
 * POLLNVAL, as the waiters of weft_read get EBADF, even when the number
 * is already another file's. Returns how many. */
static int gone(weft__poller *p, struct pollfd *fds, nfds_t n, const uint32_t *life)
{
    int k = 0;
    for (nfds_t i = 0; i < n; i++) {
        fds[i].revents = 0;
        weft__pfd *r = fds[i].fd < 0 ? NULL : weft__poll_fd_peek(p, fds[i].fd);
        if (r && r->life != life[i]) {
            fds[i].revents = POLLNVAL;
            k++;
        }
    }
    return k;
}

int weft_poll(struct pollfd *fds, nfds_t n, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (n && !fds) {
        errno = EFAULT;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller;
    if (!p && !(p = weft__idle_poller(s)))
        return -1;
    int k = weft__sys_poll(fds, n, 0);
    if (k != 0 || weft__expired(deadline))
        return k; /* EINVAL (n above RLIMIT_NOFILE), EFAULT, ENOMEM */
    /* The lives of the records, on the task's own stack or heap: only this
     * task reads them. */
    uint32_t small[32], *life = small;
    if (n > 32 && !(life = malloc(n * sizeof *life))) {
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        int64_t until = deadline;
        nfds_t i;
        for (i = 0; i < n; i++) {
            if (fds[i].fd < 0)
                continue;
            int rc = take(p, t, &fds[i]);
            if (rc < 0)
                break;
            life[i] = weft__poll_fd_peek(p, fds[i].fd)->life;
            if (rc > 0) {
                int64_t soon = weft_now() + BUSY_RECHECK;
                if (until < 0 || soon < until)
                    until = soon;
            }
        }
        int why = i < n ? errno : 0;
        if (!why)
            why =
                weft__park(t, WR_FD, (void *)(intptr_t)(n ? fds[0].fd : -1), until, PARK_EXTERNAL);
        give_back(p, t, fds, i < n ? i + 1 : n); /* with the one that failed */
        if (!why || why == ETIMEDOUT) {
            if (i == n && (k = gone(p, fds, n, life)) != 0)
                break;
            k = weft__sys_poll(fds, n, 0);
            if (k != 0 || weft__expired(deadline))
                break;
            continue;
        }
        errno = why;
        k = -1;
        break;
    }
    if (life != small) {
        int e = errno;
        free(life);
        errno = e;
    }
    return k;
}
