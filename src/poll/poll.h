/* The poller: where a thread sleeps when no task is ready, until an fd is
 * ready, a deadline comes or another thread wakes it. One small interface,
 * two backends behind it (as Redis's ae.c over ae_epoll.c):
 *
 *   epoll.c  each fd registered once, edge-triggered, for
 *            EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLPRI, and kept until it is
 *            forgotten;
 *   uring.c  io_uring through liburing: one multishot IORING_OP_POLL_ADD
 *            per fd, armed on the first wait and kept (one-shot polls per
 *            wait on kernels without multishot), submitted by the same
 *            io_uring_enter that sleeps.
 *
 * Both deliver the same thing: "fd is ready for reading (or writing)", so
 * that the io layer above has one readiness model. The poller knows
 * nothing of tasks: a waiter is an opaque pointer in a per-fd slot, handed
 * back through a callback that the layer above passes to weft__poll_wait.
 * Nothing here calls upward. */
#ifndef WEFT_POLL_H
#define WEFT_POLL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/time.h"

enum { WEFT__RD = 0, WEFT__WR = 1 };

/* What the poller knows of one fd, indexed by the fd number. The table is
 * made of fixed chunks that never move, so a pointer to a record stays
 * valid while its fd is open. */
typedef struct weft__pfd {
    void *w[2];       /* the reader and writer waiting, or NULL */
    uint32_t gen[2];  /* io_uring: generation of the poll in flight */
    uint32_t life;    /* bumped when the fd is forgotten (closed): a waiter
                         that finds it changed knows its fd is gone, and
                         that the number may already be another file's */
    uint8_t reg;      /* epoll: added to the set; io_uring: multishot armed */
    uint8_t armed[2]; /* io_uring: a poll is in flight ([0]: the multishot) */
    uint8_t rdready;  /* an edge said readable and no read said empty */
    uint8_t hup;      /* an edge said hang-up, half-close or error: sticky,
                         since no edge follows it (reads must keep trying) */
    uint8_t pri;      /* an edge said urgent data (POLLPRI): sticky, since
                         a read stops at the urgent mark */
    uint8_t kind;     /* the io layer's: 0 unknown, else its own kinds */
    uint8_t nonblock; /* the io layer set O_NONBLOCK (or found it) */
} weft__pfd;

/* A wake-up posted from another thread (a worker, a callback). It lives in
 * the poster's or waiter's memory; the poller links it into a locked list
 * and hands `waiter` to the callback on its own thread. */
typedef struct weft__post {
    struct weft__post *prev, *next;
    void *waiter;
    int queued;
    int posted; /* set under the poller's lock by weft__poll_post, never cleared */
} weft__post;

typedef struct weft__poller weft__poller;

/* What a backend implements (static functions in epoll.c, uring.c). */
typedef struct weft__poll_ops {
    const char *name;
    int (*init)(weft__poller *p);
    /* Also runs in a child of fork, on the state inherited from the
     * parent: it may only drop this process's references (close, munmap,
     * free), never act on the kernel objects (no EPOLL_CTL_DEL, no
     * cancellation), which are the parent's too. */
    void (*fini)(weft__poller *p);
    /* Makes fd report readiness for dir to the poller. */
    int (*arm)(weft__poller *p, int fd, weft__pfd *r, int dir);
    /* The waiter of dir left before its fd was ready. */
    void (*disarm)(weft__poller *p, int fd, weft__pfd *r, int dir);
    /* The fd is about to be closed. */
    void (*forget)(weft__poller *p, int fd, weft__pfd *r);
    /* Sleeps until something is ready or the deadline; returns the number
     * of waiters handed to cb. */
    int (*wait)(weft__poller *p, int64_t deadline);
    /* Does arm check the fd's current state (level), so that a waiter
     * needs no check of its own before arming? */
    int level;
} weft__poll_ops;

typedef void (*weft__poll_cb)(void *ctx, void *waiter);

#define WEFT__PFD_CHUNK 1024

struct weft__poller {
    const weft__poll_ops *ops;
    weft__pfd **chunks; /* chunks[fd / CHUNK][fd % CHUNK] */
    size_t nchunks;
    int evfd; /* eventfd that other threads write to wake this one */
    weft__poll_cb cb;
    void *ctx;
    /* Posts from other threads. */
    pthread_mutex_t mu;
    weft__post *head, *tail;
    int sleeping; /* the owner may be asleep: posting writes evfd */
    /* The backend's own state. */
    void *be;
    int epfd;
    /* In a child of fork that has not yet made its own kernel objects
     * (poll.c, fork): the backend's state is gone, evfd is -1. */
    int stale;
    struct weft__poller *next_mine; /* the pollers of this thread */
    const char *why;                /* weft_backend_reason (choose.c) */
};

/* Creates the poller of the calling thread: epoll, or io_uring when
 * WEFT_BACKEND=io_uring asks for it, weft was built with liburing and the
 * kernel allows it (choose.c). NULL with errno on failure. In a child of fork, the forking
 * thread's pollers get kernel objects of their own (poll.c). */
weft__poller *weft__poll_new(weft__poll_cb cb, void *ctx);
/* On the thread that made p. */
void weft__poll_free(weft__poller *p);

/* The record of fd (grown on demand), or NULL with errno (EBADF for a
 * negative fd, ENOMEM). */
weft__pfd *weft__poll_fd(weft__poller *p, int fd);

/* The record of fd if the table already has one, else NULL. */
static inline weft__pfd *weft__poll_fd_peek(weft__poller *p, int fd)
{
    size_t c = (size_t)fd / WEFT__PFD_CHUNK;
    if (fd < 0 || c >= p->nchunks || !p->chunks[c])
        return NULL;
    return &p->chunks[c][(size_t)fd % WEFT__PFD_CHUNK];
}

/* A stale poller makes its kernel objects anew; -1 with errno if it
 * cannot (yet). */
int weft__poll_renew(weft__poller *p);

static inline int weft__poll_arm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    if (__builtin_expect(p->stale, 0) && weft__poll_renew(p) != 0)
        return -1;
    return p->ops->arm(p, fd, r, dir);
}

static inline void weft__poll_disarm(weft__poller *p, int fd, weft__pfd *r, int dir)
{
    if (!p->stale) /* else nothing is armed */
        p->ops->disarm(p, fd, r, dir);
}

/* Drops what the poller knows of fd (before it is closed, or when it is
 * a new fd that reuses the number) and bumps its life; waiters still in
 * its slots are handed back through the callback first. */
void weft__poll_forget(weft__poller *p, int fd);

/* Sleeps until an fd is ready, a post arrives or the deadline (-1: no
 * deadline, 0: just look). Hands each woken waiter to the callback. */
int weft__poll_wait(weft__poller *p, int64_t deadline);

/* From any thread: queues post (whose waiter is set) and wakes the owner. */
void weft__poll_post(weft__poller *p, weft__post *post);
/* From any thread: wakes the owner if it sleeps in weft__poll_wait (or
 * makes its next wait return at once): one write to its eventfd. */
void weft__poll_kick(weft__poller *p);
/* On the owner's thread: takes post back if it is still queued. */
void weft__poll_unpost(weft__poller *p, weft__post *post);

/* choose.c: sets p's backend (p->ops, initialised) and p->why; -1 with
 * errno when not even epoll can start. */
int weft__poll_pick(weft__poller *p);
/* Which backend a new poller of this process would use (probed once),
 * and why: a static string "BACKEND: reason" (weft_backend_reason). */
const char *weft__poll_default(void);
const char *weft__poll_default_why(void);
/* The reason for epoll when io_uring_queue_init failed with errno e. */
const char *weft__poll_refused(int e);

/* For the backends: ready fd for dir, hands its waiter to the callback. */
static inline int weft__poll_ready(weft__poller *p, weft__pfd *r, int dir)
{
    void *w = r->w[dir];
    if (dir == WEFT__RD)
        r->rdready = 1;
    if (!w)
        return 0;
    r->w[dir] = NULL;
    p->cb(p->ctx, w);
    return 1;
}

/* For the backends: the eventfd fired; drains it and the posts. */
int weft__poll_drain(weft__poller *p);

extern const weft__poll_ops weft__poll_epoll;
#ifdef WEFT_HAVE_URING
extern const weft__poll_ops weft__poll_uring;
#endif

#endif
