/* Channels, shared by chan.c and select.c. */
#ifndef WEFT_CHAN_H
#define WEFT_CHAN_H

#include "sched/sched.h"

#define CHAN_MAGIC 0x6368616eu /* "chan" */

struct weft_chan {
    unsigned magic;
    int closed;
    int lk;                      /* several workers: guards all of the channel */
    int foreign;                 /* a plain thread has used it: its waiters wait on the
                                    world outside (no deadlock is declared for them) */
    size_t elem, cap, len, head; /* ring buffer of cap elements */
    weft_waitq sendq, recvq;
    char *buf;
};

static inline int weft__chan_ok(const weft_chan *ch)
{
    return ch && ch->magic == CHAN_MAGIC;
}

/* Try to complete without waiting: 1 done, 0 would wait, -1 closed. */
int weft__chan_try_send(weft_chan *ch, const void *elem, int mt);
int weft__chan_try_recv(weft_chan *ch, void *elem, int mt);

static inline int weft__chan_can_send(const weft_chan *ch)
{
    return ch->closed || ch->recvq.head || ch->len < ch->cap;
}

static inline int weft__chan_can_recv(const weft_chan *ch)
{
    return ch->len || ch->sendq.head || ch->closed;
}

#endif
