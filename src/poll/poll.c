/* The part of the poller that both backends share: choosing one, the table
 * of fds, and posts from other threads (an eventfd and a locked list). */
#include "poll/poll.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef WEFT_HAVE_URING
/* "epoll", "io_uring", or NULL: no preference. */
static const char *forced(void)
{
    const char *b = getenv("WEFT_BACKEND");
    if (b && (strcmp(b, "epoll") == 0 || strcmp(b, "io_uring") == 0))
        return b;
    return NULL;
}
#endif

static int try_backend(weft__poller *p, const weft__poll_ops *ops)
{
    p->ops = ops;
    if (ops->init(p) == 0)
        return 0;
    p->ops = NULL;
    return -1;
}

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
    int ok = -1;
#ifdef WEFT_HAVE_URING
    const char *f = forced();
    if (!f || strcmp(f, "io_uring") == 0)
        ok = try_backend(p, &weft__poll_uring);
#endif
    if (ok != 0)
        ok = try_backend(p, &weft__poll_epoll);
    if (ok != 0) {
        int e = errno;
        close(p->evfd);
        pthread_mutex_destroy(&p->mu);
        free(p);
        errno = e;
        return NULL;
    }
    return p;
}

void weft__poll_free(weft__poller *p)
{
    if (!p)
        return;
    p->ops->fini(p);
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    close(p->evfd);
    pthread_mutex_destroy(&p->mu);
    free(p);
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
    if (was_empty) {
        uint64_t one = 1;
        while (write(p->evfd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&p->mu);
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
    while (read(p->evfd, &v, sizeof v) < 0 && errno == EINTR)
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

const char *weft__poll_default(void)
{
    static _Atomic(const char *) chosen;
    const char *c = atomic_load(&chosen);
    if (c)
        return c;
    c = weft__poll_epoll.name;
#ifdef WEFT_HAVE_URING
    const char *f = forced();
    if (!f || strcmp(f, "io_uring") == 0) {
        weft__poller probe;
        memset(&probe, 0, sizeof probe);
        probe.evfd = -1;
        probe.epfd = -1;
        probe.ops = &weft__poll_uring;
        if (weft__poll_uring.init(&probe) == 0) {
            weft__poll_uring.fini(&probe);
            c = weft__poll_uring.name;
        }
    }
#endif
    atomic_store(&chosen, c);
    return c;
}
