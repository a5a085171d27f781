/* Task groups (Trio's nursery, libdill's bundle): tasks spawned in a group
 * belong to it and are freed by it as they finish; closing the group
 * cancels the ones left and waits for them, so that none outlives the
 * code that started it. */
#include "sched/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAGIC 0x67727075u

/* What the group keeps of a finished task, with WEFT_GROUP_RESULTS. */
typedef struct slot {
    void *result;
    int err;  /* its failure code, 0: none */
    int done; /* it has finished */
} slot;

struct weft_group {
    unsigned magic;
    int closing;
    unsigned closers; /* tasks in weft_group_close: the last one out frees */
    size_t n;         /* tasks not finished */
    weft__task *tasks;
    weft_waitq q; /* tasks in weft_group_wait or weft_group_close */
    weft_group_opts o;
    int err;        /* the first failure's code, 0: none yet */
    size_t first;   /* and the spawn index of the task that failed */
    size_t spawned; /* tasks spawned so far: the next index */
    slot *slots;    /* with WEFT_GROUP_RESULTS, one per spawned task */
    size_t cap;
};

static int ok(const weft_group *g)
{
    return g && g->magic == GROUP_MAGIC;
}

weft_group *weft_group_new_opts(const weft_group_opts *o)
{
    if (o && (o->flags & ~(unsigned)(WEFT_GROUP_FAILFAST | WEFT_GROUP_RESULTS))) {
        errno = EINVAL;
        return NULL;
    }
    weft_group *g = malloc(sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    memset(g, 0, sizeof *g);
    g->magic = GROUP_MAGIC;
    if (o)
        g->o = *o;
    return g;
}

weft_group *weft_group_new(void)
{
    return weft_group_new_opts(NULL);
}

/* Records the failure err of the task at index idx (t, NULL when it has
 * finished): the first one is the group's, and under WEFT_GROUP_FAILFAST
 * it cancels the others and every task spawned later. */
static void failed(weft_group *g, size_t idx, const weft__task *t, int err)
{
    if (g->err)
        return;
    g->err = err;
    g->first = idx;
    if (!(g->o.flags & WEFT_GROUP_FAILFAST))
        return;
    g->closing = 1;
    for (weft__task *o = g->tasks; o; o = o->next_grp)
        if (o != t)
            weft_cancel(o->co);
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
    if ((g->o.flags & WEFT_GROUP_RESULTS) && g->spawned == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        slot *n = realloc(g->slots, cap * sizeof *n);
        if (!n) {
            errno = ENOMEM;
            return NULL;
        }
        g->slots = n;
        g->cap = cap;
    }
    weft_co *co = weft__spawn(s, fn, arg, opts, g);
    if (!co)
        return NULL;
    weft__task *t = co->task_data;
    t->grp_idx = g->spawned++;
    if (g->slots)
        g->slots[t->grp_idx] = (slot){NULL, 0, 0};
    t->prev_grp = NULL;
    t->next_grp = g->tasks;
    if (g->tasks)
        g->tasks->prev_grp = t;
    g->tasks = t;
    g->n++;
    if (g->closing) /* spawned by a task that the close (or a failure)
                       is waiting for */
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
    int err = t->grp_err;
    if (!err && g->o.check)
        err = g->o.check(t->result, g->o.check_arg);
    if (err > 0)
        failed(g, t->grp_idx, NULL, err);
    else
        err = 0;
    if (g->slots)
        g->slots[t->grp_idx] = (slot){t->result, err, 1};
    /* Now, not when the loop next idles: a loop that never idles would
     * keep every finished stack. */
    weft__task_free(weft__sched_cur, t);
    if (--g->n == 0) {
        /* A group is its worker's: no lock, but the same hand-off. */
        int mt = weft__sched_cur->mt;
        weft__waiter *w;
        while ((w = weft__wq_take(&g->q, mt)))
            weft__wake_taken(w, 0, mt);
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
        return g->err;
    if (weft__expired(deadline)) {
        errno = weft__late(deadline);
        return -1;
    }
    int why = weft__wait1(t, &g->q, NULL, WR_GROUP, g, deadline, 0);
    if (why) {
        errno = why;
        return -1;
    }
    return g->err;
}

int weft_group_fail(int err)
{
    weft__task *t = weft__self();
    if (!t)
        return -1;
    if (!t->group) {
        errno = EPERM;
        return -1;
    }
    if (err <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (!t->grp_err)
        t->grp_err = err;
    failed(t->group, t->grp_idx, t, err);
    return 0;
}

int weft_group_failure(const weft_group *g, size_t *index)
{
    if (!ok(g)) {
        errno = EINVAL;
        return -1;
    }
    if (g->err && index)
        *index = g->first;
    return g->err;
}

int weft_group_result(const weft_group *g, size_t index, void **result)
{
    if (!ok(g) || !g->slots || index >= g->spawned) {
        errno = EINVAL;
        return -1;
    }
    const slot *sl = &g->slots[index];
    if (!sl->done) {
        errno = EAGAIN;
        return -1;
    }
    if (result)
        *result = sl->result;
    return sl->err;
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
    free(g->slots);
    free(g);
    return 0;
}
