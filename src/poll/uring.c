/* The io_uring backend, through liburing. The first wait on an fd adds
 * one multishot IORING_OP_POLL_ADD for POLLIN|POLLOUT|POLLRDHUP|POLLPRI,
 * which stays armed, like epoll's registration, and posts a completion per
 * wake-up of the fd: the same edges as epoll, with no system call of its
 * own (it goes to the kernel with the next io_uring_enter, the one that
 * sleeps). A poll in flight holds a reference to the file, so weft_close
 * (weft__poll_forget) removes it, at once, before the fd is closed.
 *
 * Kernels before 5.13 have no multishot poll: the first one fails with
 * EINVAL and the backend falls back to one one-shot poll per wait, which a
 * waiter that leaves early (deadline, cancellation) cancels at once.
 *
 * user_data: generation << 32 | fd << 2 | kind (0 one-shot read, 1
 * one-shot write, 2 multishot). Each arm and each removal bumps the
 * generation, so a completion of an older poll (removed, or of a closed
 * fd whose number came back) is recognised and dropped. */
#include "poll/poll.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define ENTRIES 1024
/* Completions of no fd's poll end in kind 3, which ud_of never makes:
 * the eventfd's poll, cancellations, and liburing's own timeouts
 * (LIBURING_UDATA_TIMEOUT: kernels before 5.11 have no timeout argument
 * to io_uring_enter, and liburing queues a timeout request), which are
 * ignored. */
#define TAG_KIND 3
#define EVFD_TAG ((uint64_t)0 << 2 | TAG_KIND)
#define REMOVE_TAG ((uint64_t)1 << 2 | TAG_KIND)
_Static_assert((LIBURING_UDATA_TIMEOUT & 3) == TAG_KIND && LIBURING_UDATA_TIMEOUT != EVFD_TAG &&
                   LIBURING_UDATA_TIMEOUT != REMOVE_TAG,
               "liburing's timeout tag is none of ours");

typedef struct uring_state {
    struct io_uring ring;
    int evfd_armed;
} uring_state;

/* Multishot polls work on this kernel (cleared on the first EINVAL). */
static atomic_int multishot = 1;

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    while (!sqe) {
        /* The submission queue is full: hand it to the kernel. */
        if (io_uring_submit(ring) < 0)
            return NULL;
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

static int arm_evfd(weft__poller *p, uring_state *u)
{
    if (p->evfd < 0 || u->evfd_armed)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(&u->ring);
    if (!sqe)
        return -1;
    io_uring_prep_poll_add(sqe, p->evfd, POLLIN);
    io_uring_sqe_set_data64(sqe, EVFD_TAG);
    u->evfd_armed = 1;
    return 0;
}

static int ur_init(weft__poller *p)
{
    uring_state *u = calloc(1, sizeof *u);
    if (!u)
        return -1;
    /* For tests of the fallback: WEFT_URING_ONESHOT=1 acts as a kernel
     * without multishot polls. */
    const char *os = getenv("WEFT_URING_ONESHOT");
    if (os && *os == '1')
        atomic_store_explicit(&multishot, 0, memory_order_relaxed);
    /* Completions are reaped only in io_uring_enter, by this thread:
     * deferred task work (6.1) runs the poll wake-ups there, in a batch,
     * instead of interrupting the thread at each one; older kernels get
     * cooperative task work (5.19), or none. */
    static const unsigned flags[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    /* For tests of a full completion ring: WEFT_URING_ENTRIES=n makes a
     * smaller ring. */
    unsigned entries = ENTRIES;
    const char *en = getenv("WEFT_URING_ENTRIES");
    if (en && atoi(en) >= 2 && atoi(en) <= ENTRIES)
        entries = (unsigned)atoi(en);
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && rc == -EINVAL; i++)
        rc = io_uring_queue_init(entries, &u->ring, flags[i]);
    if (rc < 0) {
        free(u);
        errno = -rc;
        return -1;
    }
    p->be = u;
    if (arm_evfd(p, u) != 0) {
        io_uring_queue_exit(&u->ring);
        free(u);
        p->be = NULL;
        return -1;
    }
    return 0;
}

static void ur_fini(weft__poller *p)
{
    uring_state *u = p->be;
    io_uring_queue_exit(&u->ring);
    free(u);
}

enum { MULTI = 2 };

static inline uint64_t ud_of(int fd, weft__pfd *r, int kind)
{
    uint32_t gen = r->gen[kind == MULTI ? 0 : kind];
    return (uint64_t)gen << 32 | (uint64_t)(uint32_t)fd << 2 | (uint64_t)kind;
}

static int ur_arm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    uring_state *u = p->be;
    int multi = atomic_load_explicit(&multishot, memory_order_relaxed);
    int slot = multi ? 0 : dir;
    if (r->armed[slot])
        return 0; /* the multishot poll, or the one-shot of an earlier wait */
    struct io_uring_sqe *sqe = get_sqe(&u->ring);
    if (!sqe)
        return -1;
    r->gen[slot]++;
    if (multi) {
        io_uring_prep_poll_multishot(sqe, fd, POLLIN | POLLOUT | POLLRDHUP | POLLPRI);
        io_uring_sqe_set_data64(sqe, ud_of(fd, r, MULTI));
        r->reg = 1;
    } else {
        io_uring_prep_poll_add(sqe, fd, dir == WEFT__RD ? POLLIN | POLLRDHUP | POLLPRI : POLLOUT);
        io_uring_sqe_set_data64(sqe, ud_of(fd, r, dir));
    }
    r->armed[slot] = 1;
    return 0;
}

static void remove_poll(weft__poller *p, int fd, weft__pfd *r, int slot, int kind)
{
    if (!r->armed[slot])
        return;
    uring_state *u = p->be;
    struct io_uring_sqe *sqe = get_sqe(&u->ring);
    if (sqe) {
        /* A cancellation, not IORING_OP_POLL_REMOVE: with deferred task
         * work a poll whose wake-up is pending refuses removal (EALREADY)
         * and stays armed, while a cancellation always takes. */
        io_uring_prep_cancel64(sqe, ud_of(fd, r, kind), 0);
        io_uring_sqe_set_data64(sqe, REMOVE_TAG);
        /* Now, and with the task work that drops the poll's reference
         * to the file, so that a close() that follows really closes it. */
        io_uring_submit_and_get_events(&u->ring);
    }
    r->armed[slot] = 0;
    r->gen[slot]++;
}

static void ur_disarm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    if (!r->reg) /* a multishot poll stays; a one-shot one goes */
        remove_poll(p, fd, r, dir, dir);
}

static void ur_forget(weft__poller *p, int fd, weft__pfd *r)
{
    if (r->reg) {
        remove_poll(p, fd, r, 0, MULTI);
    } else {
        remove_poll(p, fd, r, WEFT__RD, WEFT__RD);
        remove_poll(p, fd, r, WEFT__WR, WEFT__WR);
    }
}

static int handle(weft__poller *p, uring_state *u, struct io_uring_cqe *cqe)
{
    uint64_t d = io_uring_cqe_get_data64(cqe);
    if ((d & 3) == TAG_KIND) {
        if (d != EVFD_TAG)
            return 0; /* a cancellation or liburing's timeout */
        u->evfd_armed = 0;
        int n = weft__poll_drain(p);
        arm_evfd(p, u);
        return n;
    }
    int fd = (int)((d & 0xffffffffu) >> 2);
    int kind = (int)(d & 3);
    int slot = kind == MULTI ? 0 : kind;
    weft__pfd *r = weft__poll_fd_peek(p, fd);
    if (!r || !r->armed[slot] || r->gen[slot] != (uint32_t)(d >> 32))
        return 0; /* stale */
    if (kind != MULTI) {
        r->armed[slot] = 0;
        if (cqe->res < 0 || (cqe->res & (POLLRDHUP | POLLHUP | POLLERR)))
            r->hup = 1;
        if (cqe->res > 0 && (cqe->res & POLLPRI))
            r->pri = 1;
        return weft__poll_ready(p, r, kind);
    }
    int ended = !(cqe->flags & IORING_CQE_F_MORE);
    if (ended) {
        /* The multishot poll ended: an error, no multishot here, or a full
         * completion ring (the kernel then ends multishot requests). The
         * next wait arms again, and a waiter these events do not hand
         * back is armed for below. */
        r->armed[0] = 0;
        r->reg = 0;
        r->gen[0]++;
        if (cqe->res == -EINVAL)
            atomic_store_explicit(&multishot, 0, memory_order_relaxed);
    }
    int ev = cqe->res < 0 ? POLLERR : cqe->res;
    if (ev & (POLLRDHUP | POLLHUP | POLLERR))
        r->hup = 1;
    if (ev & POLLPRI)
        r->pri = 1;
    int n = 0;
    if (ev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
        n += weft__poll_ready(p, r, WEFT__RD);
    if (ev & (POLLOUT | POLLHUP | POLLERR))
        n += weft__poll_ready(p, r, WEFT__WR);
    for (int dir = 0; ended && dir < 2; dir++) {
        /* A new poll looks at the fd's state when it starts, so nothing
         * that happened since the old one ended is missed. If none can be
         * armed, the waiter goes back to try (and to fail) itself. */
        if (r->w[dir] && ur_arm(p, fd, r, dir) != 0)
            n += weft__poll_ready(p, r, dir);
    }
    return n;
}

static int ur_wait(weft__poller *p, int64_t deadline)
{
    uring_state *u = p->be;
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (deadline == 0) {
        /* Enters the kernel even with nothing to submit, so that deferred
         * task work runs. */
        rc = io_uring_submit_and_get_events(&u->ring);
    } else if (deadline < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        int64_t rel = weft__until(deadline);
        struct __kernel_timespec ts = {rel / 1000000000, rel % 1000000000};
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    (void)rc; /* -ETIME, -EINTR: look at what completed anyway */
    int woken = 0;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        woken += handle(p, u, cqe);
        seen++;
    }
    io_uring_cq_advance(&u->ring, seen);
    return woken;
}

const weft__poll_ops weft__poll_uring = {
    .name = "io_uring",
    .init = ur_init,
    .fini = ur_fini,
    .arm = ur_arm,
    .disarm = ur_disarm,
    .forget = ur_forget,
    .wait = ur_wait,
    .level = 1,
};
