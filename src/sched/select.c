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
#include <stdint.h>
#include <string.h>

static const weft__case_kind *kind_of(const weft__case_kind *const *kinds, size_t nkinds, int op)
{
    return op >= 0 && (size_t)op < nkinds ? kinds[op] : NULL;
}

/* Takes back what an unfinished arming set up: waiters [0, upto). */
static void unarm(weft__task *t, weft_case *cases, weft__waiter *w, size_t upto,
                  const weft__case_kind *const *kinds, size_t nkinds, int mt)
{
    for (size_t i = 0; i < upto; i++) {
        const weft__case_kind *k = kind_of(kinds, nkinds, cases[i].op);
        if (k)
            k->disarm(t, &cases[i], &w[i]);
        else if (mt)
            weft__wq_unlink_mt(&w[i]);
        else
            weft__wq_unlink(&w[i]);
    }
}

/* ---- several workers ------------------------------------------------------ */

/* What a select keeps in its task's parcel: the distinct channels of its
 * cases, locked together in address order (so two selects cannot each
 * hold what the other wants), then, for a task whose frames move, a copy
 * of each channel case's element. */
typedef struct sel_mt {
    weft_chan **ch;
    size_t nch;
    char *elems; /* NULL: the cases' own buffers serve */
    size_t *at;  /* offset of case i's element in elems */
} sel_mt;

static int sel_mt_init(sel_mt *m, weft__task *t, weft_case *cases, size_t n,
                       const weft__case_kind *const *kinds, size_t nkinds)
{
    int moving = weft__frames_move(t);
    size_t bytes = n * (sizeof(weft_chan *) + sizeof(size_t)), total = 0;
    for (size_t i = 0; moving && i < n; i++)
        if (!kind_of(kinds, nkinds, cases[i].op) && weft__chan_ok(cases[i].ch))
            total += (cases[i].ch->elem + 15) & ~(size_t)15;
    char *p = weft__parcel(t, bytes + total + 16);
    if (!p)
        return -1;
    m->ch = (weft_chan **)p;
    m->at = (size_t *)(p + n * sizeof(weft_chan *));
    m->elems = moving ? p + bytes + (16 - (uintptr_t)(p + bytes) % 16) % 16 : NULL;
    m->nch = 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        weft_case *c = &cases[i];
        m->at[i] = off;
        if (kind_of(kinds, nkinds, c->op) || !weft__chan_ok(c->ch))
            continue;
        if (moving)
            off += (c->ch->elem + 15) & ~(size_t)15;
        size_t j = m->nch;
        while (j > 0 && m->ch[j - 1] > c->ch)
            j--;
        if (j > 0 && m->ch[j - 1] == c->ch)
            continue;
        memmove(&m->ch[j + 1], &m->ch[j], (m->nch - j) * sizeof *m->ch);
        m->ch[j] = c->ch;
        m->nch++;
    }
    return 0;
}

static void sel_lock(const sel_mt *m, int mt, int on)
{
    for (size_t i = 0; mt && i < m->nch; i++) {
        if (on)
            weft__spin_lock(&m->ch[i]->lk);
        else
            weft__spin_unlock(&m->ch[i]->lk);
    }
}

/* Links t's waiters into every case; 0, 1 (a case became ready: look
 * again), -1 with errno. *ext is set when a hook can wake t. */
static int arm(weft__task *t, weft_case *cases, size_t n, weft__waiter *w,
               const weft__case_kind *const *kinds, size_t nkinds, int *ext, const sel_mt *m,
               int mt)
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
            if (mt && m->elems) {
                w[i].buf = m->elems + m->at[i];
                if (c->op == WEFT_SEND)
                    memcpy(w[i].buf, c->elem, c->ch->elem);
            }
            weft__wq_push_lk(c->op == WEFT_SEND ? &c->ch->sendq : &c->ch->recvq, &w[i], &c->ch->lk);
            continue;
        }
        int r = k->arm(t, c, &w[i]);
        if (r != 0) {
            unarm(t, cases, w, i, kinds, nkinds, mt);
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
    int mt = s->mt;
    sel_mt m = {0};
    if (mt && sel_mt_init(&m, t, cases, n, kinds, nkinds) != 0)
        return -1;
    weft__waiter *w = NULL; /* the waiters of the wait that just ended */
    for (;;) {
        size_t pick = n, seen = 0;
        sel_lock(&m, mt, 1);
        for (size_t i = 0; i < n; i++) {
            weft_case *c = &cases[i];
            const weft__case_kind *k = kind_of(kinds, nkinds, c->op);
            int ready;
            if (k) {
                if ((ready = k->ready(c, w ? &w[i] : NULL)) < 0) {
                    sel_lock(&m, mt, 0);
                    return -1;
                }
            } else if (!weft__chan_ok(c->ch) || !c->elem ||
                       (c->op != WEFT_SEND && c->op != WEFT_RECV)) {
                sel_lock(&m, mt, 0);
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
                int r = c->op == WEFT_SEND ? weft__chan_try_send(c->ch, c->elem, mt)
                                           : weft__chan_try_recv(c->ch, c->elem, mt);
                c->err = r < 0 ? EPIPE : 0;
            } else if (!k->take(c, w ? &w[pick] : NULL)) {
                sel_lock(&m, mt, 0);
                continue;
            }
            sel_lock(&m, mt, 0);
            return (int)pick;
        }
        if (weft__expired(deadline)) {
            sel_lock(&m, mt, 0);
            errno = weft__late(deadline);
            return -1;
        }
        if (!(w = weft__waiters(t, n))) {
            sel_lock(&m, mt, 0);
            return -1;
        }
        if (mt)
            weft__park_open(t, 0);
        int ext = 0, r = arm(t, cases, n, w, kinds, nkinds, &ext, &m, mt);
        if (r != 0 && mt) /* nothing of it is seen any more: close it */
            __atomic_store_n(&t->park, P_NONE, __ATOMIC_RELAXED);
        if (r != 0)
            sel_lock(&m, mt, 0);
        if (r < 0)
            return -1;
        if (r > 0) {
            w = NULL;
            continue;
        }
        t->waiters = w;
        t->nwaiters = n;
        for (size_t i = 0; i < m.nch; i++)
            ext |= m.ch[i]->foreign;
        sel_lock(&m, mt, 0);
        int why = weft__park(t, WR_SELECT, cases, deadline, ext ? PARK_EXTERNAL : 0);
        size_t fired = t->fired;
        if (mt && m.elems && fired != WEFT__FIRED_EXT && why == 0 && cases[fired].op == WEFT_RECV)
            memcpy(cases[fired].elem, m.elems + m.at[fired], cases[fired].ch->elem);
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
