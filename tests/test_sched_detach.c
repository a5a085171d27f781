/* weft_detach: a detached task is freed as soon as it finishes, so that
 * memory stays flat however many run; and its errors. */
#include <stdio.h>

#include "check.h"
#include "weft.h"

/* Under ASan a freed block waits in its quarantine (256 MiB by default)
 * before it is reused, and a shared task's object is a heap block: RSS
 * would grow by what the quarantine holds, not by what weft keeps. A
 * small quarantine still catches a use soon after the free. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=1";
}
#endif

static long ran;

static void *count(void *arg)
{
    (void)arg;
    ran++;
    return NULL;
}

/* Runs n detached tasks, at most `live` alive at once. */
static void detached_tasks(long n, int live, const weft_opts *o)
{
    for (long done = 0; done < n; done += live) {
        for (int i = 0; i < live; i++) {
            weft_co *t = weft_spawn(count, NULL, o);
            CHECK(t != NULL);
            CHECK_INT(weft_detach(t), 0);
        }
        CHECK_INT(weft_pause(), 0); /* they all run, and are freed */
    }
}

static void flat_memory(const weft_opts *o, long n)
{
    ran = 0;
    detached_tasks(10000, 1000, o); /* warm: pools and heap at their size */
    long before = test_status_kb("VmRSS");
    int maps = test_count_maps();
    detached_tasks(n, 1000, o);
    long after = test_status_kb("VmRSS");
    /* Counted before printing: the first printf allocates stdout's buffer,
     * for which ASan's allocator maps a region of a new size class. */
    int maps_after = test_count_maps();
    printf("%ld detached tasks (%s stacks): RSS %ld kB before, %ld kB after; maps %d -> %d\n", n,
           o->stack_kind == WEFT_STACK_SHARED ? "shared" : "private", before, after, maps,
           maps_after);
    CHECK_INT(ran, 10000 + n);
    /* A finished task that stayed would cost a page or more. Not under
     * qemu, whose RSS is the emulator's (its translation caches grow), nor
     * TSan, which maps shadow for every new stack address it sees, nor
     * valgrind, which holds freed blocks back. */
    if (!test_under_is("qemu") && !test_under_is("tsan") && !test_under_is("valgrind")) {
        CHECK(after - before < 4096);
        CHECK(maps_after <= maps + 2);
    }
}

static void *sleeper(void *arg)
{
    weft_sleep(weft_now() + (intptr_t)arg);
    return NULL;
}

static void *grouped(void *arg)
{
    return arg;
}

static void *joiner(void *arg)
{
    return (void *)(intptr_t)weft_join(arg, NULL, -1);
}

static void *main_task(void *arg)
{
    (void)arg;
    long n = test_under_is("valgrind") || test_under_is("qemu") ? 20000
             : test_under_is("")                                ? 10000000
                                                                : 200000;
    weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};
    weft_opts shar = {.stack_kind = WEFT_STACK_SHARED};
    flat_memory(&priv, n);
    flat_memory(&shar, n);

    /* Detached after it finished: freed at once. */
    ran = 0;
    weft_co *t = weft_spawn(count, NULL, NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(ran, 1);
    CHECK_INT(weft_detach(t), 0);

    /* A waiting task, detached, is freed when it wakes and returns. */
    t = weft_spawn(sleeper, (void *)(intptr_t)1000000, NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_detach(t), 0);
    CHECK_ERR(weft_detach(t), -1, EDEADLK);        /* twice */
    CHECK_ERR(weft_join(t, NULL, 0), -1, EDEADLK); /* detached: nobody joins it */

    /* Errors. */
    CHECK_ERR(weft_detach(NULL), -1, EINVAL);
    weft_co *co = weft_co_new(count, NULL, NULL);
    CHECK(co != NULL);
    CHECK_ERR(weft_detach(co), -1, EINVAL); /* not a task */
    weft_co_free(co);
    CHECK_ERR(weft_detach(weft_co_self()), -1, EDEADLK); /* weft_run's own */
    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    t = weft_group_spawn(g, grouped, NULL, NULL);
    CHECK(t != NULL);
    CHECK_ERR(weft_detach(t), -1, EINVAL);
    CHECK_INT(weft_group_close(g), 0);
    /* Being joined. */
    t = weft_spawn(sleeper, (void *)(intptr_t)1000000, NULL);
    weft_co *j = weft_spawn(joiner, t, NULL);
    CHECK(t && j);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_detach(t), -1, EDEADLK);
    void *r = (void *)1;
    CHECK_INT(weft_join(j, &r, -1), 0);
    CHECK_PTR(r, NULL);
    return NULL;
}

int main(void)
{
    CHECK_ERR(weft_detach(NULL), -1, EPERM); /* no weft_run */
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    return 0;
}
