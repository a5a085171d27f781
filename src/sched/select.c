/* weft_select: wait on several channel operations at once. The ready case
 * is chosen uniformly at random (reservoir sampling in one pass), so that
 * no case starves; when none is ready the task waits on every queue at
 * once and the first peer to match one of its waiters wins. */
#include "sched/chan.h"

#include <errno.h>

int weft_select(weft_case *cases, size_t n, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (n && !cases) {
        errno = EINVAL;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    size_t pick = n, seen = 0;
    for (size_t i = 0; i < n; i++) {
        weft_case *c = &cases[i];
        if (!weft__chan_ok(c->ch) || !c->elem || (c->op != WEFT_SEND && c->op != WEFT_RECV)) {
            errno = EINVAL;
            return -1;
        }
        int ready = c->op == WEFT_SEND ? weft__chan_can_send(c->ch) : weft__chan_can_recv(c->ch);
        if (ready && weft__rand(s) % ++seen == 0)
            pick = i;
    }
    if (pick < n) {
        weft_case *c = &cases[pick];
        int r = c->op == WEFT_SEND ? weft__chan_try_send(c->ch, c->elem)
                                   : weft__chan_try_recv(c->ch, c->elem);
        c->err = r < 0 ? EPIPE : 0;
        return (int)pick;
    }
    if (weft__expired(deadline)) {
        errno = weft__late(deadline);
        return -1;
    }
    weft__waiter *w = weft__waiters(t, n);
    if (!w)
        return -1;
    for (size_t i = 0; i < n; i++) {
        w[i].task = t;
        w[i].buf = cases[i].elem;
        w[i].idx = i;
        weft__wq_push(cases[i].op == WEFT_SEND ? &cases[i].ch->sendq : &cases[i].ch->recvq, &w[i]);
    }
    t->waiters = w;
    t->nwaiters = n;
    int why = weft__park(t, WR_SELECT, cases, deadline, 0);
    if (why == 0 || why == EPIPE) {
        cases[t->fired].err = why;
        return (int)t->fired;
    }
    errno = why;
    return -1;
}
