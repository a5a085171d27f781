/* Channels: a ring buffer of copied elements and two wait queues. A sender
 * that finds a waiting receiver copies straight into the receiver's
 * buffer (and the other way round), so an unbuffered hand-off is one copy
 * and one wake. */
#include "sched/chan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (ch->sendq.head || ch->recvq.head) {
        errno = EBUSY;
        return -1;
    }
    if (ch->len) { /* would drop them: see weft_chan_drain */
        errno = ENOTEMPTY;
        return -1;
    }
    ch->magic = 0;
    free(ch);
    return 0;
}

/* Takes the head element off the buffer; the first blocked sender's
 * element takes the freed slot. */
static void pop(weft_chan *ch)
{
    ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
    ch->len--;
    weft__waiter *w = weft__wq_first(&ch->sendq);
    if (w) {
        weft__task_copy(w->task, w->buf, slot(ch, ch->head + ch->len), ch->elem, 0);
        ch->len++;
        weft__wake(w->task, 0, w->idx);
    }
}

long weft_chan_drain(weft_chan *ch, void (*fn)(void *elem, void *arg), void *arg)
{
    if (!weft__chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    long n = 0;
    while (ch->len) {
        /* Handed out in place, then its slot is taken by a blocked sender
         * (as a receive does), which may make another element to drain. */
        if (fn)
            fn(slot(ch, ch->head), arg);
        pop(ch);
        n++;
    }
    return n;
}

int weft__chan_try_send(weft_chan *ch, const void *elem)
{
    if (ch->closed)
        return -1;
    weft__waiter *w = weft__wq_first(&ch->recvq);
    if (w) {
        weft__task_copy(w->task, w->buf, (void *)elem, ch->elem, 1);
        weft__wake(w->task, 0, w->idx);
        return 1;
    }
    if (ch->len < ch->cap) {
        memcpy(slot(ch, ch->head + ch->len), elem, ch->elem);
        ch->len++;
        return 1;
    }
    return 0;
}

int weft__chan_try_recv(weft_chan *ch, void *elem)
{
    if (ch->len) {
        memcpy(elem, slot(ch, ch->head), ch->elem);
        pop(ch);
        return 1;
    }
    weft__waiter *w = weft__wq_first(&ch->sendq);
    if (w) {
        weft__task_copy(w->task, w->buf, elem, ch->elem, 0);
        weft__wake(w->task, 0, w->idx);
        return 1;
    }
    return ch->closed ? -1 : 0;
}

/* Send and receive have one shape: done at once when the channel allows,
 * else wait in the channel's queue. Inlined with a constant `send`. */
static inline int chan_op(weft_chan *ch, void *elem, int64_t deadline, int send)
{
    weft__task *t = weft__self();
    if (unlikely(!t))
        return -1;
    if (unlikely(!weft__chan_ok(ch) || !elem)) {
        errno = EINVAL;
        return -1;
    }
    /* A cancelled task may still take or give what needs no wait, with
     * deadline 0, so that its cleanup can drain a channel. */
    int stopped = t->cancelled && !t->shield;
    if (unlikely(stopped) && deadline != 0) {
        errno = ECANCELED;
        return -1;
    }
    int r = send ? weft__chan_try_send(ch, elem) : weft__chan_try_recv(ch, elem);
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
    if (ch->closed) {
        errno = EPIPE;
        return -1;
    }
    ch->closed = 1;
    /* Receivers only wait on an empty buffer, so none misses an element. */
    weft__waiter *w;
    while ((w = weft__wq_first(&ch->recvq)))
        weft__wake(w->task, EPIPE, w->idx);
    while ((w = weft__wq_first(&ch->sendq)))
        weft__wake(w->task, EPIPE, w->idx);
    return 0;
}
