/* Misuse that would corrupt memory aborts with one "weft: " line naming the
 * coroutine: freeing the running coroutine, a normal one (on the resume
 * chain), one already freed, or a task (its scheduler frees it). Each case
 * runs in a forked child. */
#include <weft.h>

#include "check.h"

static void *free_self(void *arg)
{
    (void)arg;
    weft_co_free(weft_co_self());
    return NULL;
}

static void case_free_running(void *arg)
{
    (void)arg;
    weft_opts o = {.name = "runner"};
    weft_co *co = weft_co_new(free_self, NULL, &o);
    weft_co_send(co, NULL, NULL);
    _exit(3); /* not reached */
}

static void *free_resumer(void *arg)
{
    weft_co_free(arg);
    return NULL;
}

static void *drive_child(void *arg)
{
    (void)arg;
    weft_opts o = {.name = "child"};
    weft_co *c = weft_co_new(free_resumer, weft_co_self(), &o);
    weft_co_send(c, NULL, NULL);
    return NULL;
}

static void case_free_normal(void *arg)
{
    (void)arg;
    weft_opts o = {.name = "middle"};
    weft_co *co = weft_co_new(drive_child, NULL, &o);
    weft_co_send(co, NULL, NULL);
    _exit(3);
}

static void *yielder(void *arg)
{
    weft_co_yield(arg);
    return NULL;
}

static void case_free_twice(void *arg)
{
    int started = (int)(intptr_t)arg;
    /* Private: its name lives in its mapping and outlives the free, where
     * a shared one's is freed with it. A second one keeps the first's
     * stack from being reused. */
    weft_opts o = {.name = "twice", .stack_kind = WEFT_STACK_PRIVATE};
    weft_co *co = weft_co_new(yielder, NULL, &o);
    if (started)
        weft_co_send(co, NULL, NULL);
    weft_co_free(co);
    weft_co_free(co);
    _exit(3);
}

/* ---- weft_co_free of a task handle ------------------------------------- */

enum { TASK_NEW, TASK_DONE, TASK_WAITING, TASK_IN_GROUP };

static void *quick(void *arg)
{
    return arg;
}

static void *sleeper(void *arg)
{
    (void)arg;
    weft_sleep(-1);
    return NULL;
}

static void *free_a_task(void *arg)
{
    int how = (int)(intptr_t)arg;
    weft_opts o = {.name = "task"};
    weft_co *t;
    if (how == TASK_IN_GROUP) {
        weft_group *g = weft_group_new();
        t = weft_group_spawn(g, sleeper, NULL, &o);
    } else {
        t = weft_spawn(how == TASK_WAITING ? sleeper : quick, NULL, &o);
    }
    if (t == NULL)
        _exit(4);
    if (how != TASK_NEW)
        weft_pause(); /* it runs: finishes, or waits */
    weft_co_free(t);
    _exit(3); /* not reached */
    return NULL;
}

static void case_free_task(void *arg)
{
    weft_run(free_a_task, arg, NULL);
    _exit(3);
}

static void expect_abort(void (*fn)(void *), void *arg, const char *name, const char *what)
{
    char out[8192], line[512];
    test_expect_weft_abort(fn, arg, out, sizeof out, line, sizeof line);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", name);
    if (strstr(line, quoted) == NULL)
        FAIL("the line does not name coroutine %s: %s", quoted, line);
    if (strstr(line, what) == NULL)
        FAIL("the line does not say \"%s\": %s", what, line);
}

int main(void)
{
    expect_abort(case_free_running, NULL, "runner", "running");
    expect_abort(case_free_normal, NULL, "middle", "normal");
    expect_abort(case_free_twice, (void *)(intptr_t)0, "twice", "freed");
    expect_abort(case_free_twice, (void *)(intptr_t)1, "twice", "freed");
    for (int how = TASK_NEW; how <= TASK_IN_GROUP; how++) {
        fprintf(stderr, "weft_co_free of a task, case %d\n", how);
        expect_abort(case_free_task, (void *)(intptr_t)how, "task", "of a task");
    }
    return 0;
}
