/* Channels: a ring buffer of copied elements and two wait queues. A sender
 * that finds a waiting receiver copies straight into the receiver's
 * buffer (and the other way round), so an unbuffered hand-off is one copy
 * and one wake. */
#include "sched/chan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline char *slot(weft_chan *ch, size_t i)
{
    if (i >= ch->cap)
        i -= ch->cap;
    return ch->buf + i * ch->elem;
}

weft_chan *weft_chan_new(size_t elem_size, size_t capacity)
{
    if (elem_size == 0 || (capacity && elem_size > (SIZE_MAX - sizeof(weft_chan)) / capacity)) {
        errno = EINVAL;
        return NULL;
    }
    weft_chan *ch = malloc(sizeof *ch + elem_size * capacity);
    if (!ch) {
        errno = ENOMEM;
        return NULL;
    }
    memset(ch, 0, sizeof *ch);
    ch->magic = CHAN_MAGIC;
    ch->elem = elem_size;
    ch->cap = capacity;
    ch->buf = (char *)(ch + 1);
    return ch;
}

int weft_chan_free(weft_chan *ch)
{
    if (!weft__chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    int mt = weft__mt_here();
    weft__lock(&ch->lk, mt);
    int e = ch->sendq.head || ch->recvq.head ? EBUSY : ch->len ? ENOTEMPTY : 0;
    weft__unlock(&ch->lk, mt);
    if (e) { /* ENOTEMPTY: it would drop them, see weft_chan_drain */
        errno = e;
        return -1;
    }
    ch->magic = 0;
    free(ch);
    return 0;
}

/* Takes the head element off the buffer; the first blocked sender's
 * element takes the freed slot. */
static void pop(weft_chan *ch, int mt)
{
    ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
    ch->len--;
    weft__waiter *w = weft__wq_take(&ch->sendq, mt);
    if (w) {
        weft__hand(w, slot(ch, ch->head + ch->len), ch->elem, 0, mt);
        ch->len++;
        weft__wake_taken(w, 0, mt);
    }
}

long weft_chan_drain(weft_chan *ch, void (*fn)(void *elem, void *arg), void *arg)
{
    if (!weft__chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    long n = 0;
    int mt = weft__mt_here();
    weft__lock(&ch->lk, mt);
    while (ch->len) {
        /* Handed out in place, then its slot is taken by a blocked sender
         * (as a receive does), which may make another element to drain. */
        if (fn)
            fn(slot(ch, ch->head), arg);
        pop(ch, mt);
        n++;
    }
    weft__unlock(&ch->lk, mt);
    return n;
}

int weft__chan_try_send(weft_chan *ch, const void *elem, int mt)
{
    if (ch->closed)
        return -1;
    weft__waiter *w = weft__wq_take(&ch->recvq, mt);
    if (w) {
        weft__hand(w, (void *)elem, ch->elem, 1, mt);
        weft__wake_taken(w, 0, mt);
        return 1;
    }
    if (ch->len < ch->cap) {
        memcpy(slot(ch, ch->head + ch->len), elem, ch->elem);
        ch->len++;
        return 1;
    }
    return 0;
}

int weft__chan_try_recv(weft_chan *ch, void *elem, int mt)
{
    if (ch->len) {
        memcpy(elem, slot(ch, ch->head), ch->elem);
        pop(ch, mt);
        return 1;
    }
    weft__waiter *w = weft__wq_take(&ch->sendq, mt);
    if (w) {
        weft__hand(w, elem, ch->elem, 0, mt);
        weft__wake_taken(w, 0, mt);
        return 1;
    }
    return ch->closed ? -1 : 0;
}

/* Send and receive have one shape: done at once when the channel allows,
 * else wait in the channel's queue. Inlined with a constant `send`. */
/* A thread that runs no scheduler, in a process with a run of several
 * workers: it takes the lock like a worker, and where it would wait it
 * retries after a short sleep (it has no task to park). */
static int plain_thread_op(weft_chan *ch, void *elem, int64_t deadline, int send)
{
    if (!__atomic_load_n(&weft__mt_runs, __ATOMIC_SEQ_CST))
        return EPERM;
    if (!weft__chan_ok(ch) || !elem)
        return EINVAL;
    long pause_ns = 20000;
    weft__spin_lock(&ch->lk);
    ch->foreign = 1;
    weft__spin_unlock(&ch->lk);
    for (;;) {
        weft__spin_lock(&ch->lk);
        int r = send ? weft__chan_try_send(ch, elem, 1) : weft__chan_try_recv(ch, elem, 1);
        weft__spin_unlock(&ch->lk);
        if (r)
            return r > 0 ? 0 : EPIPE;
        if (weft__expired(deadline))
            return weft__late(deadline);
        struct timespec ts = {0, pause_ns};
        nanosleep(&ts, NULL);
        if (pause_ns < 1000000)
            pause_ns *= 2;
    }
}

/* chan_op with several workers: under the channel's lock, and through
 * t's parcel when its frames may move (another worker copies into the
 * waiter's buffer while this worker runs other tasks). */
static int chan_op_mt(weft__task *t, weft_chan *ch, void *elem, int64_t deadline, int send,
                      int stopped)
{
    char *parcel = NULL;
    if (weft__frames_move(t) && !(parcel = weft__parcel(t, ch->elem)))
        return ENOMEM;
    weft__spin_lock(&ch->lk);
    int r = send ? weft__chan_try_send(ch, elem, 1) : weft__chan_try_recv(ch, elem, 1);
    int why = r > 0 ? -1 : r < 0 ? EPIPE : stopped ? ECANCELED : 0;
    if (!why && weft__expired(deadline))
        why = weft__late(deadline);
    if (why) {
        weft__spin_unlock(&ch->lk);
        return why < 0 ? 0 : why;
    }
    void *buf = elem;
    if (parcel) {
        if (send)
            memcpy(parcel, elem, ch->elem);
        buf = parcel;
    }
    why = weft__wait1_lk(t, send ? &ch->sendq : &ch->recvq, &ch->lk, buf,
                         send ? WR_CHAN_SEND : WR_CHAN_RECV, ch, deadline,
                         ch->foreign ? PARK_EXTERNAL : 0, 1);
    if (!why && parcel && !send)
        memcpy(elem, parcel, ch->elem);
    return why;
}

static inline int chan_op(weft_chan *ch, void *elem, int64_t deadline, int send)
{
    weft__sched *s = weft__sched_cur;
    if (unlikely(!s || !s->current)) {
        int e = s ? EPERM : plain_thread_op(ch, elem, deadline, send);
        if (!e)
            return 0;
        errno = e;
        return -1;
    }
    weft__task *t = s->current;
    if (unlikely(!weft__chan_ok(ch) || !elem)) {
        errno = EINVAL;
        return -1;
    }
    /* A cancelled task may still take or give what needs no wait, with
     * deadline 0, so that its cleanup can drain a channel. */
    int stopped = WEFT__LOAD(t->cancelled) && !t->shield;
    if (unlikely(stopped) && deadline != 0) {
        errno = ECANCELED;
        return -1;
    }
    if (unlikely(s->mt)) {
        int why = chan_op_mt(t, ch, elem, deadline, send, stopped);
        if (!why)
            return 0;
        errno = why;
        return -1;
    }
    int r = send ? weft__chan_try_send(ch, elem, 0) : weft__chan_try_recv(ch, elem, 0);
    if (likely(r > 0))
        return 0;
    int why;
    if (r < 0)
        why = EPIPE;
    else if (unlikely(stopped))
        why = ECANCELED;
    else if (weft__expired(deadline))
        why = weft__late(deadline);
    else
        why = weft__wait1(t, send ? &ch->sendq : &ch->recvq, elem,
                          send ? WR_CHAN_SEND : WR_CHAN_RECV, ch, deadline, 0);
    if (likely(why == 0))
        return 0;
    errno = why;
    return -1;
}

int weft_chan_send(weft_chan *ch, const void *elem, int64_t deadline)
{
    return chan_op(ch, (void *)elem, deadline, 1);
}

int weft_chan_recv(weft_chan *ch, void *elem, int64_t deadline)
{
    return chan_op(ch, elem, deadline, 0);
}

int weft_chan_close(weft_chan *ch)
{
    if (!weft__chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    int mt = weft__mt_here();
    weft__lock(&ch->lk, mt);
    if (ch->closed) {
        weft__unlock(&ch->lk, mt);
        errno = EPIPE;
        return -1;
    }
    ch->closed = 1;
    /* Receivers only wait on an empty buffer, so none misses an element. */
    weft__waiter *w;
    while ((w = weft__wq_take(&ch->recvq, mt)))
        weft__wake_taken(w, EPIPE, mt);
    while ((w = weft__wq_take(&ch->sendq, mt)))
        weft__wake_taken(w, EPIPE, mt);
    weft__unlock(&ch->lk, mt);
    return 0;
}
