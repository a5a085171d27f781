/* The hook's sleep, usleep, nanosleep and clock_nanosleep: in a task they
 * park (N sleepers take one interval), bad arguments fail as in libc, and
 * a cancelled sleep ends with ECANCELED. */
#include "hook_util.h"

#include <time.h>

static void *sleeper(void *arg)
{
    int kind = *(int *)arg;
    struct timespec ts = {0, HOOK_MS * 1000000}, rem = {9, 9};
    switch (kind % 5) {
    case 0:
        CHECK_INT(usleep(HOOK_MS * 1000), 0);
        break;
    case 1:
        CHECK_INT(nanosleep(&ts, &rem), 0);
        break;
    case 2:
        CHECK_INT(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem), 0);
        break;
    case 3: {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += HOOK_MS * 1000000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        CHECK_INT(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL), 0);
        break;
    }
    default: {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += HOOK_MS * 1000000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        CHECK_INT(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL), 0);
        break;
    }
    }
    return NULL;
}

static void test_together(void)
{
    static int k[HOOK_N];
    for (int i = 0; i < HOOK_N; i++)
        k[i] = i;
    long ticks;
    int64_t el = hook_together(HOOK_N, sleeper, k, sizeof k[0], &ticks);
    printf("%d sleeps of %d ms: %.1f ms, %ld ticks beside\n", HOOK_N, HOOK_MS, el / 1e6, ticks);
    CHECK_TOGETHER(el, ticks);
}

static void *one_second(void *arg)
{
    (void)arg;
    CHECK_INT(sleep(1), 0);
    return NULL;
}

static void test_sleep(void)
{
    static int k[3];
    long ticks;
    int64_t el = hook_together(3, one_second, k, sizeof k[0], &ticks);
    CHECK(el >= 900000000 && el < 2000000000);
    CHECK(ticks > 0);
}

static void *zero(void *arg)
{
    (void)arg;
    struct timespec z = {0, 0};
    CHECK_INT(usleep(0), 0);
    CHECK_INT(sleep(0), 0);
    CHECK_INT(nanosleep(&z, NULL), 0);
    return NULL;
}

static volatile int zero_ran;
static void *mark(void *arg)
{
    (void)arg;
    zero_ran = 1;
    return NULL;
}

/* A sleep of zero lets the other ready tasks run. */
static void test_zero(void)
{
    zero_ran = 0;
    weft_co *m = weft_spawn(mark, NULL, NULL);
    CHECK_INT(usleep(0), 0);
    CHECK(zero_ran);
    CHECK_INT(weft_join(m, NULL, -1), 0);
    weft_co *t = weft_spawn(zero, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *bad(void *arg)
{
    (void)arg;
    struct timespec neg = {0, -1}, big = {0, 1000000000}, rem;
    CHECK_ERR(nanosleep(&neg, &rem), -1, EINVAL);
    CHECK_ERR(nanosleep(&big, &rem), -1, EINVAL);
    CHECK_INT(clock_nanosleep(CLOCK_MONOTONIC, 0, &big, NULL), EINVAL);
    CHECK_INT(clock_nanosleep((clockid_t)12345, 0, &neg, NULL), EINVAL);
    return NULL;
}

static void test_bad(void)
{
    weft_co *t = weft_spawn(bad, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* weft_cancel ends a hooked sleep: ECANCELED, and nanosleep's rem says
 * what was left. */
static struct timespec cancel_rem;
static void *long_sleep(void *arg)
{
    (void)arg;
    struct timespec ts = {30, 0};
    CHECK_ERR(nanosleep(&ts, &cancel_rem), -1, ECANCELED);
    CHECK(cancel_rem.tv_sec > 20);
    CHECK(sleep(30) > 20); /* still cancelled: at once, with the seconds left */
    return NULL;
}

static void test_cancel(void)
{
    weft_co *t = weft_spawn(long_sleep, NULL, NULL);
    CHECK_INT(weft_sleep(weft_now() + 20000000), 0);
    CHECK_INT(weft_cancel(t), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_together();
    test_sleep();
    test_zero();
    test_bad();
    test_cancel();
    return NULL;
}

/* Outside a task: libc's, the thread sleeps. */
static void test_outside(void)
{
    int64_t t0 = weft_now();
    CHECK_INT(usleep(20000), 0);
    struct timespec ts = {0, 20000000};
    CHECK_INT(nanosleep(&ts, NULL), 0);
    CHECK_INT(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    CHECK(weft_now() - t0 >= 55000000);
    struct timespec neg = {0, -1};
    CHECK_ERR(nanosleep(&neg, NULL), -1, EINVAL);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    test_outside();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    printf("ok\n");
    return 0;
}
