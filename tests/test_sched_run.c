/* weft_run, weft_spawn, weft_join, weft_pause, weft_sleep, weft_now. */
#include "check.h"
#include "weft.h"

#define MS 1000000LL

static char order[64];
static int norder;

static void *child(void *arg)
{
    order[norder++] = (char)(intptr_t)arg;
    return (void *)((intptr_t)arg + 1000);
}

static void *pauser(void *arg)
{
    for (int i = 0; i < 3; i++) {
        order[norder++] = (char)(intptr_t)arg;
        CHECK_INT(weft_pause(), 0);
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    int64_t d = weft_now() + (intptr_t)arg * MS;
    CHECK_INT(weft_sleep(d), 0);
    CHECK(weft_now() >= d);
    order[norder++] = (char)('0' + (intptr_t)arg / 10);
    return NULL;
}

static volatile int spin_done;

static void *wake_flag(void *arg)
{
    (void)arg;
    CHECK_INT(weft_sleep(weft_now() + 2 * MS), 0);
    spin_done = 1;
    return NULL;
}

static void *spin_pauser(void *arg)
{
    (void)arg;
    while (!spin_done)
        CHECK_INT(weft_pause(), 0);
    return NULL;
}

static void *main_task(void *arg)
{
    CHECK_PTR(arg, &order);
    CHECK(weft_co_self() != NULL);
    /* Spawned tasks start when the spawner blocks, in spawn order. */
    weft_co *a = weft_spawn(child, (void *)'a', NULL);
    weft_co *b = weft_spawn(child, (void *)'b', NULL);
    CHECK(a && b);
    CHECK_INT(norder, 0);
    void *r = NULL;
    CHECK_INT(weft_join(b, &r, -1), 0);
    CHECK_PTR(r, (void *)('b' + 1000));
    CHECK_INT(norder, 2);
    CHECK(memcmp(order, "ab", 2) == 0);
    CHECK_INT(weft_join(a, NULL, 0), 0); /* finished: 0 does not block */

    /* Pause is FIFO: round robin among the ready tasks. */
    norder = 0;
    weft_co *p1 = weft_spawn(pauser, (void *)'x', NULL);
    weft_co *p2 = weft_spawn(pauser, (void *)'y', NULL);
    CHECK_INT(weft_join(p1, NULL, -1), 0);
    CHECK_INT(weft_join(p2, NULL, -1), 0);
    order[norder] = 0;
    CHECK_STR(order, "xyxyxy");

    /* Sleepers wake in deadline order. */
    norder = 0;
    weft_co *s[3];
    s[0] = weft_spawn(sleeper, (void *)30, NULL);
    s[1] = weft_spawn(sleeper, (void *)10, NULL);
    s[2] = weft_spawn(sleeper, (void *)20, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_join(s[i], NULL, -1), 0);
    order[norder] = 0;
    CHECK_STR(order, "123");

    /* A task that pauses alone, in a loop, lets the timers fire: the
     * sleeper wakes and ends the loop. */
    spin_done = 0;
    weft_co *sl = weft_spawn(wake_flag, NULL, NULL);
    weft_co *sp = weft_spawn(spin_pauser, NULL, NULL);
    CHECK(sl && sp);
    CHECK_INT(weft_join(sl, NULL, -1), 0);
    CHECK_INT(weft_join(sp, NULL, -1), 0);
    return (void *)42;
}

int main(void)
{
    int64_t t0 = weft_now(), t1 = weft_now();
    CHECK(t0 > 0 && t1 >= t0);
    void *r = NULL;
    CHECK_INT(weft_run(main_task, &order, &r), 0);
    CHECK_PTR(r, (void *)42);
    return 0;
}
