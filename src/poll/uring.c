/* The io_uring backend, through liburing. A task that waits on an fd adds
 * one one-shot IORING_OP_POLL_ADD; it goes to the kernel with the next
 * io_uring_enter, the same system call that sleeps, so that arming a wait
 * costs no system call of its own. One-shot rather than multishot because
 * a poll in flight holds a reference to the file: a poll left armed on an
 * idle connection would keep the socket open after close(). A waiter that
 * leaves early (deadline, cancellation) removes its poll at once.
 *
 * user_data: generation << 32 | fd << 1 | direction. Each arm and each
 * removal bumps the generation of its fd and direction, so a completion of
 * an older poll (already removed, or of a closed fd whose number came
 * back) is recognised and dropped. */
#include "poll/poll.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#define ENTRIES 1024
#define EVFD_TAG UINT64_MAX
#define REMOVE_TAG (UINT64_MAX - 1)

typedef struct uring_state {
    struct io_uring ring;
    int evfd_armed;
} uring_state;

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
    int rc = io_uring_queue_init(ENTRIES, &u->ring, 0);
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

static inline uint64_t ud_of(int fd, weft__pfd *r, int dir)
{
    return (uint64_t)r->gen[dir] << 32 | (uint64_t)(uint32_t)fd << 1 | (uint64_t)dir;
}

static int ur_arm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    if (r->armed[dir])
        return 0; /* the poll of an earlier wait is still in flight */
    uring_state *u = p->be;
    struct io_uring_sqe *sqe = get_sqe(&u->ring);
    if (!sqe)
        return -1;
    r->gen[dir]++;
    io_uring_prep_poll_add(sqe, fd, dir == WEFT__RD ? POLLIN | POLLRDHUP : POLLOUT);
    io_uring_sqe_set_data64(sqe, ud_of(fd, r, dir));
    r->armed[dir] = 1;
    return 0;
}

static void ur_disarm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    if (!r->armed[dir])
        return;
    uring_state *u = p->be;
    struct io_uring_sqe *sqe = get_sqe(&u->ring);
    if (sqe) {
        io_uring_prep_poll_remove(sqe, ud_of(fd, r, dir));
        io_uring_sqe_set_data64(sqe, REMOVE_TAG);
        /* Now, so that a close() that follows really closes the file. */
        io_uring_submit(&u->ring);
    }
    r->armed[dir] = 0;
    r->gen[dir]++;
}

static void ur_forget(weft__poller *p, int fd, weft__pfd *r)
{
    ur_disarm(p, fd, r, WEFT__RD);
    ur_disarm(p, fd, r, WEFT__WR);
}

static int handle(weft__poller *p, uring_state *u, struct io_uring_cqe *cqe)
{
    uint64_t d = io_uring_cqe_get_data64(cqe);
    if (d == REMOVE_TAG)
        return 0;
    if (d == EVFD_TAG) {
        u->evfd_armed = 0;
        int n = weft__poll_drain(p);
        arm_evfd(p, u);
        return n;
    }
    int fd = (int)((d & 0xffffffffu) >> 1);
    int dir = (int)(d & 1);
    weft__pfd *r = weft__poll_fd_peek(p, fd);
    if (!r || !r->armed[dir] || r->gen[dir] != (uint32_t)(d >> 32))
        return 0; /* stale */
    r->armed[dir] = 0;
    return weft__poll_ready(p, r, dir);
}

static int ur_wait(weft__poller *p, int64_t deadline)
{
    uring_state *u = p->be;
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (deadline == 0) {
        rc = io_uring_submit(&u->ring);
    } else if (deadline < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t rel = deadline - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
        if (rel < 0)
            rel = 0;
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
