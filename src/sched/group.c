/* Task groups (Trio's nursery, libdill's bundle): tasks spawned in a group
 * belong to it and are freed by it as they finish; closing the group
 * cancels the ones left and waits for them, so that none outlives the
 * code that started it. */
#include "sched/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAGIC 0x67727075u

struct weft_group {
    unsigned magic;
    int closing;
    unsigned closers; /* tasks in weft_group_close: the last one out frees */
    size_t n;         /* tasks not finished */
    weft__task *tasks;
    weft_waitq q; /* tasks in weft_group_wait or weft_group_close */
};

static int ok(const weft_group *g)
{
    return g && g->magic == GROUP_MAGIC;
}

weft_group *weft_group_new(void)
{
    weft_group *g = malloc(sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    memset(g, 0, sizeof *g);
    g->magic = GROUP_MAGIC;
    return g;
}

weft_co *weft_group_spawn(weft_group *g, weft_fn fn, void *arg, const weft_opts *opts)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return NULL;
    }
    if (!ok(g) || !fn) {
        errno = EINVAL;
        return NULL;
    }
    weft_co *co = weft__spawn(s, fn, arg, opts, g);
    if (!co)
        return NULL;
    weft__task *t = co->task_data;
    t->prev_grp = NULL;
    t->next_grp = g->tasks;
    if (g->tasks)
        g->tasks->prev_grp = t;
    g->tasks = t;
    g->n++;
    if (g->closing) /* spawned by a task that the close is waiting for */
        t->cancelled = 1;
    return co;
}

void weft__group_task_done(weft_group *g, weft__task *t)
{
    if (t->prev_grp)
        t->prev_grp->next_grp = t->next_grp;
    else
        g->tasks = t->next_grp;
    if (t->next_grp)
        t->next_grp->prev_grp = t->prev_grp;
    /* Now, not when the loop next idles: a loop that never idles would
     * keep every finished stack. */
    weft__task_free(weft__sched_cur, t);
    if (--g->n == 0) {
        weft__waiter *w;
        while ((w = weft__wq_first(&g->q)))
            weft__wake(w->task, 0, 0);
    }
}

int weft_group_wait(weft_group *g, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!ok(g)) {
        errno = EINVAL;
        return -1;
    }
    if (t->group == g) {
        errno = EDEADLK;
        return -1;
    }
    if (g->n == 0)
        return 0;
    if (weft__expired(deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    int why = weft__wait1(t, &g->q, NULL, WR_GROUP, g, deadline, 0);
    if (why) {
        errno = why;
        return -1;
    }
    return 0;
}

int weft_group_close(weft_group *g)
{
    if (!ok(g)) {
        errno = EINVAL;
        return -1;
    }
    if (g->n) {
        weft__task *self = weft__self();
        if (!self)
            return -1;
        if (self->group == g) {
            errno = EDEADLK;
            return -1;
        }
        g->closing = 1;
        for (weft__task *t = g->tasks; t; t = t->next_grp)
            weft_cancel(t->co);
        /* Not cancellable: the close must not leave tasks behind. */
        g->closers++;
        while (g->n)
            weft__wait1(self, &g->q, NULL, WR_GROUP_CLOSE, g, -1, PARK_NOCANCEL);
        g->closers--;
    }
    /* Other closers, woken with us, have yet to look at g. */
    if (g->closers)
        return 0;
    g->magic = 0;
    free(g);
    return 0;
}
