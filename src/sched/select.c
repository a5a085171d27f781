/* The core of weft_select: wait on several cases at once. Channel cases
 * are this layer's; other kinds (fds, futures, event channels) come from
 * the io layer as weft__case_kind hooks. The ready case is chosen
 * uniformly at random among all the ready ones, whatever their kind
 * (reservoir sampling in one pass), so that no case starves; when none is
 * ready the task waits on every queue and every hook at once. A channel
 * peer that matches one of its waiters completes that case and wins; a
 * wake-up from outside (WEFT__FIRED_EXT) only says "look again", so the
 * choice among what is ready then is as fair as the first one. */
#include "sched/chan.h"

#include <errno.h>

static const weft__case_kind *kind_of(const weft__case_kind *const *kinds, size_t nkinds, int op)
{
    return op >= 0 && (size_t)op < nkinds ? kinds[op] : NULL;
}

/* Takes back what an unfinished arming set up: waiters [0, upto). */
static void unarm(weft__task *t, weft_case *cases, weft__waiter *w, size_t upto,
                  const weft__case_kind *const *kinds, size_t nkinds)
{
    for (size_t i = 0; i < upto; i++) {
        const weft__case_kind *k = kind_of(kinds, nkinds, cases[i].op);
        if (k)
            k->disarm(t, &cases[i], &w[i]);
        else
            weft__wq_unlink(&w[i]);
    }
}

/* Links t's waiters into every case; 0, 1 (a case became ready: look
 * again), -1 with errno. *ext is set when a hook can wake t. */
static int arm(weft__task *t, weft_case *cases, size_t n, weft__waiter *w,
               const weft__case_kind *const *kinds, size_t nkinds, int *ext)
{
    for (size_t i = 0; i < n; i++) {
        weft_case *c = &cases[i];
        w[i].task = t;
        w[i].buf = c->elem;
        w[i].idx = i;
        w[i].q = NULL;
        w[i].aux = 0;
        const weft__case_kind *k = kind_of(kinds, nkinds, c->op);
        if (!k) {
            weft__wq_push(c->op == WEFT_SEND ? &c->ch->sendq : &c->ch->recvq, &w[i]);
            continue;
        }
        int r = k->arm(t, c, &w[i]);
        if (r != 0) {
            unarm(t, cases, w, i, kinds, nkinds);
            return r;
        }
        *ext = 1;
    }
    return 0;
}

int weft__select(weft_case *cases, size_t n, int64_t deadline, const weft__case_kind *const *kinds,
                 size_t nkinds)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (n && !cases) {
        errno = EINVAL;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    weft__waiter *w = NULL; /* the waiters of the wait that just ended */
    for (;;) {
        size_t pick = n, seen = 0;
        for (size_t i = 0; i < n; i++) {
            weft_case *c = &cases[i];
            const weft__case_kind *k = kind_of(kinds, nkinds, c->op);
            int ready;
            if (k) {
                if ((ready = k->ready(c, w ? &w[i] : NULL)) < 0)
                    return -1;
            } else if (!weft__chan_ok(c->ch) || !c->elem ||
                       (c->op != WEFT_SEND && c->op != WEFT_RECV)) {
                errno = EINVAL;
                return -1;
            } else {
                ready =
                    c->op == WEFT_SEND ? weft__chan_can_send(c->ch) : weft__chan_can_recv(c->ch);
            }
            if (ready && weft__rand(s) % ++seen == 0)
                pick = i;
        }
        if (pick < n) {
            weft_case *c = &cases[pick];
            const weft__case_kind *k = kind_of(kinds, nkinds, c->op);
            if (!k) {
                int r = c->op == WEFT_SEND ? weft__chan_try_send(c->ch, c->elem)
                                           : weft__chan_try_recv(c->ch, c->elem);
                c->err = r < 0 ? EPIPE : 0;
            } else if (!k->take(c, w ? &w[pick] : NULL)) {
                continue;
            }
            return (int)pick;
        }
        if (weft__expired(deadline)) {
            errno = weft__late(deadline);
            return -1;
        }
        if (!(w = weft__waiters(t, n)))
            return -1;
        int ext = 0, r = arm(t, cases, n, w, kinds, nkinds, &ext);
        if (r < 0)
            return -1;
        if (r > 0) {
            w = NULL;
            continue;
        }
        t->waiters = w;
        t->nwaiters = n;
        int why = weft__park(t, WR_SELECT, cases, deadline, ext ? PARK_EXTERNAL : 0);
        size_t fired = t->fired;
        for (size_t i = 0; ext && i < n; i++) {
            const weft__case_kind *k = kind_of(kinds, nkinds, cases[i].op);
            if (k)
                k->disarm(t, &cases[i], &w[i]);
        }
        if (why != 0 && why != EPIPE) {
            errno = why;
            return -1;
        }
        if (fired != WEFT__FIRED_EXT) {
            cases[fired].err = why;
            return (int)fired;
        }
    }
}
