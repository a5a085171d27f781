/* The epoll backend. Each fd is added once, edge-triggered, for reading,
 * writing, the peer's half-close and urgent data, the first time a task
 * waits on it, and stays in the set until it is closed (the kernel drops a
 * closed fd from the set by itself, so closing costs no epoll_ctl). An
 * edge marks the fd ready and hands its waiters back. */
#include "poll/poll.h"

#include "base/sys.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#ifdef WEFT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define EVFD_TAG UINT64_MAX
#define MAX_EVENTS 512 /* per epoll_wait; in the poller, not on the stack */

static atomic_int have_pwait2 = 1;

static int ep_init(weft__poller *p)
{
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        atomic_store_explicit(&have_pwait2, 0, memory_order_relaxed); /* unknown to it */
#endif
    p->be = malloc(MAX_EVENTS * sizeof(struct epoll_event));
    if (!p->be)
        return -1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        free(p->be);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EVFD_TAG};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
        int e = errno;
        weft__sys_close(p->epfd);
        free(p->be);
        errno = e;
        return -1;
    }
    return 0;
}

static void ep_fini(weft__poller *p)
{
    weft__sys_close(p->epfd);
    free(p->be);
}

static int ep_arm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    (void)dir;
    if (r->reg)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = (uint64_t)(uint32_t)fd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
        return -1;
    r->reg = 1;
    return 0;
}

static void ep_disarm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    (void)p, (void)fd, (void)r, (void)dir; /* the registration stays */
}

static void ep_forget(weft__poller *p, int fd, weft__pfd *r)
{
    (void)p, (void)fd, (void)r; /* close() removes it from the set */
}

/* epoll_pwait2 (have_pwait2) takes nanoseconds; kernels before 5.11 (and
 * some tools) lack it, and then milliseconds rounded up serve, at most
 * INT_MAX of them (some 24 days; the loop then sleeps again): a far
 * deadline must not wrap to a short or no timeout. */
static int ms_of(int64_t rel)
{
    if (rel > (int64_t)INT_MAX * 1000000)
        return INT_MAX;
    return (int)((rel + 999999) / 1000000);
}

static int ep_wait(weft__poller *p, int64_t deadline)
{
    struct epoll_event *evs = p->be;
    int n;
    for (;;) {
        int64_t rel = deadline > 0 ? weft__until(deadline) : 0;
        if (atomic_load_explicit(&have_pwait2, memory_order_relaxed)) {
            struct timespec ts = weft__timespec(rel);
            n = epoll_pwait2(p->epfd, evs, MAX_EVENTS, deadline < 0 ? NULL : &ts, NULL);
            if (n < 0 && errno == ENOSYS) {
                atomic_store_explicit(&have_pwait2, 0, memory_order_relaxed);
                continue;
            }
        } else {
            int ms = deadline < 0 ? -1 : ms_of(rel);
            n = epoll_wait(p->epfd, evs, MAX_EVENTS, ms);
        }
        if (n >= 0)
            break;
        if (errno != EINTR)
            return 0;
        if (deadline == 0)
            return 0;
    }
    int woken = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data.u64;
        if (d == EVFD_TAG) {
            woken += weft__poll_drain(p);
            continue;
        }
        weft__pfd *r = weft__poll_fd_peek(p, (int)d);
        if (!r)
            continue;
        uint32_t e = evs[i].events;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            r->hup = 1;
        if (e & EPOLLPRI)
            r->pri = 1;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            woken += weft__poll_ready(p, r, WEFT__RD);
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            woken += weft__poll_ready(p, r, WEFT__WR);
    }
    return woken;
}

const weft__poll_ops weft__poll_epoll = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .arm = ep_arm,
    .disarm = ep_disarm,
    .forget = ep_forget,
    .wait = ep_wait,
    .level = 0,
};
