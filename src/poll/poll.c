/* The part of the poller that both backends share: the table of fds,
 * posts from other threads (an eventfd and a locked list), and fork
 * (choosing a backend is choose.c's).
 *
 * fork: the child is a copy of the forking thread only, and shares the
 * parent's epoll set or io_uring ring and eventfd, which would hand each
 * process the other's events. So the child drops its references to them
 * (closing and unmapping only: nothing is removed from the parent's set
 * or ring) and makes its own: a new eventfd and backend, where the fds
 * that tasks wait on are armed again. Posts queued before fork stay, for
 * the child's copies of their waiters. If the new objects cannot be had
 * (no fds or memory), the poller stays stale and tries again at the next
 * arm or wait. The pollers of other threads are not the child's: their
 * threads do not exist there. */
#include "poll/poll.h"

#include "base/sys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* The pollers made on this thread, for fork. */
static __thread weft__poller *mine;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void fork_register(void);

weft__poller *weft__poll_new(weft__poll_cb cb, void *ctx)
{
    weft__poller *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cb = cb;
    p->ctx = ctx;
    p->epfd = -1;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    if (weft__poll_pick(p) != 0) {
        int e = errno;
        weft__sys_close(p->evfd);
        pthread_mutex_destroy(&p->mu);
        free(p);
        errno = e;
        return NULL;
    }
    pthread_once(&fork_once, fork_register);
    p->next_mine = mine;
    mine = p;
    return p;
}

void weft__poll_free(weft__poller *p)
{
    if (!p)
        return;
    for (weft__poller **q = &mine; *q; q = &(*q)->next_mine)
        if (*q == p) {
            *q = p->next_mine;
            break;
        }
    if (!p->stale)
        p->ops->fini(p);
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    if (p->evfd >= 0)
        weft__sys_close(p->evfd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- fork ---------------------------------------------------------------- */

/* Makes the wake-up eventfd and the backend of a stale poller (the same
 * backend, else epoll) and arms the fds that have waiters again. */
int weft__poll_renew(weft__poller *p)
{
    int evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd < 0)
        return -1;
    /* The backends arm the eventfd in init. Set under the lock: posters
     * (workers of the child) read it under it. */
    pthread_mutex_lock(&p->mu);
    p->evfd = evfd;
    pthread_mutex_unlock(&p->mu);
    const weft__poll_ops *ops = p->ops;
    int ok = ops->init(p);
    if (ok != 0 && ops != &weft__poll_epoll) {
        int e = errno;
        if (weft__poll_epoll.init(p) == 0) {
            ops = &weft__poll_epoll;
            ok = 0;
            p->why = weft__poll_refused(e);
        }
    }
    if (ok != 0) {
        int e = errno;
        pthread_mutex_lock(&p->mu);
        p->evfd = -1;
        pthread_mutex_unlock(&p->mu);
        weft__sys_close(evfd);
        errno = e;
        return -1;
    }
    p->ops = ops;
    p->stale = 0;
    for (size_t c = 0; c < p->nchunks; c++) {
        weft__pfd *t = p->chunks[c];
        for (size_t i = 0; t && i < WEFT__PFD_CHUNK; i++) {
            int fd = (int)(c * WEFT__PFD_CHUNK + i);
            for (int dir = WEFT__RD; dir <= WEFT__WR; dir++)
                if (t[i].w[dir] && ops->arm(p, fd, &t[i], dir) != 0)
                    weft__poll_ready(p, &t[i], dir); /* its wait arms again, and fails */
        }
    }
    /* Posts that came while the poller was stale (or before fork) wrote no
     * eventfd. Under the lock: posters read evfd under it. */
    pthread_mutex_lock(&p->mu);
    if (p->head) {
        uint64_t one = 1;
        while (weft__sys_write(p->evfd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* Held across fork, so that the child's copies of the post lists are
 * whole: a worker may be posting to this thread's poller. */
static void fork_prepare(void)
{
    for (weft__poller *p = mine; p; p = p->next_mine)
        pthread_mutex_lock(&p->mu);
}

static void fork_parent(void)
{
    for (weft__poller *p = mine; p; p = p->next_mine)
        pthread_mutex_unlock(&p->mu);
}

static void fork_child(void)
{
    for (weft__poller *p = mine; p; p = p->next_mine) {
        pthread_mutex_init(&p->mu, NULL);
        if (!p->stale) {
            /* Only this process's references go (fini closes the epoll fd
             * or unmaps and closes the ring): the registrations and polls
             * in them are the parent's. */
            p->ops->fini(p);
            p->be = NULL;
            p->epfd = -1;
            weft__sys_close(p->evfd);
            p->evfd = -1;
            p->stale = 1;
        }
        for (size_t c = 0; c < p->nchunks; c++) {
            weft__pfd *t = p->chunks[c];
            for (size_t i = 0; t && i < WEFT__PFD_CHUNK; i++) {
                t[i].reg = 0;
                t[i].armed[0] = t[i].armed[1] = 0;
            }
        }
        weft__poll_renew(p); /* else at the next arm or wait */
    }
}

static void fork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

weft__pfd *weft__poll_fd(weft__poller *p, int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    size_t c = (size_t)fd / WEFT__PFD_CHUNK;
    if (c >= p->nchunks) {
        size_t n = p->nchunks ? p->nchunks : 4;
        while (n <= c)
            n *= 2;
        weft__pfd **t = realloc(p->chunks, n * sizeof *t);
        if (!t) {
            errno = ENOMEM;
            return NULL;
        }
        memset(t + p->nchunks, 0, (n - p->nchunks) * sizeof *t);
        p->chunks = t;
        p->nchunks = n;
    }
    if (!p->chunks[c] && !(p->chunks[c] = calloc(WEFT__PFD_CHUNK, sizeof(weft__pfd)))) {
        errno = ENOMEM;
        return NULL;
    }
    return &p->chunks[c][(size_t)fd % WEFT__PFD_CHUNK];
}

void weft__poll_forget(weft__poller *p, int fd)
{
    weft__pfd *r = weft__poll_fd_peek(p, fd);
    if (!r)
        return;
    if (!p->stale)
        p->ops->forget(p, fd, r);
    weft__poll_ready(p, r, WEFT__RD);
    weft__poll_ready(p, r, WEFT__WR);
    uint32_t g0 = r->gen[0], g1 = r->gen[1], life = r->life;
    memset(r, 0, sizeof *r);
    /* Generations only grow, so that late io_uring completions for the old
     * fd are recognised as stale, and so does life, for its waiters. */
    r->gen[0] = g0;
    r->gen[1] = g1;
    r->life = life + 1;
}

int weft__poll_wait(weft__poller *p, int64_t deadline)
{
    if (__builtin_expect(p->stale, 0) && weft__poll_renew(p) != 0) {
        /* Nothing can wake this thread: look again soon. */
        int n = weft__poll_drain(p);
        int64_t until = weft__clock(CLOCK_MONOTONIC) + 10000000;
        if (deadline >= 0 && deadline < until)
            until = deadline;
        struct timespec ts = weft__timespec(until);
        if (n == 0 && deadline != 0)
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        return n;
    }
    return p->ops->wait(p, deadline);
}

void weft__poll_post(weft__poller *p, weft__post *post)
{
    pthread_mutex_lock(&p->mu);
    int was_empty = p->head == NULL;
    post->next = NULL;
    post->prev = p->tail;
    if (p->tail)
        p->tail->next = post;
    else
        p->head = post;
    p->tail = post;
    post->queued = 1;
    post->posted = 1;
    /* Written under the lock: the owner delivers only under it, so the
     * waiter cannot wake, leave and free the poller while this runs. */
    if (was_empty && p->evfd >= 0) { /* else renew writes it */
        uint64_t one = 1;
        while (weft__sys_write(p->evfd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&p->mu);
}

void weft__poll_kick(weft__poller *p)
{
    uint64_t one = 1;
    int fd = __atomic_load_n(&p->evfd, __ATOMIC_RELAXED);
    while (fd >= 0 && weft__sys_write(fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void unlink_post(weft__poller *p, weft__post *post)
{
    if (post->prev)
        post->prev->next = post->next;
    else
        p->head = post->next;
    if (post->next)
        post->next->prev = post->prev;
    else
        p->tail = post->prev;
    post->queued = 0;
}

void weft__poll_unpost(weft__poller *p, weft__post *post)
{
    pthread_mutex_lock(&p->mu);
    if (post->queued)
        unlink_post(p, post);
    pthread_mutex_unlock(&p->mu);
}

int weft__poll_drain(weft__poller *p)
{
    uint64_t v;
    while (p->evfd >= 0 && weft__sys_read(p->evfd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    int n = 0;
    pthread_mutex_lock(&p->mu);
    /* Delivered under the lock so that a waiter that takes its post back
     * (weft__poll_unpost) never races a delivery; the callback only moves
     * tasks to the ready queue. */
    while (p->head) {
        weft__post *post = p->head;
        unlink_post(p, post);
        p->cb(p->ctx, post->waiter);
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}
