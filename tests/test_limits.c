/* Running out: weft_co_new returns NULL with ENOMEM, never crashes, when
 * the address space (RLIMIT_AS) or the memory maps (vm.max_map_count) are
 * exhausted, and the process goes on: it frees what it has and creates
 * again. Each case runs in a forked child. */
#include <sys/resource.h>
#include <weft.h>

#include "check.h"

/* The limits of private stacks, whatever the process default (the suite
 * also runs with WEFT_STACK=shared). */
static const weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};

static void *yield_once(void *arg)
{
    char buf[1024];
    memset(buf, 7, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    weft_co_yield(arg);
    return (void *)(intptr_t)buf[100];
}

/* Runs, then frees, the n coroutines. */
static void run_and_free(weft_co **cos, int n)
{
    for (int i = 0; i < n; i++) {
        void *out = NULL;
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 1);
        CHECK_PTR(out, &cos[i]);
    }
    for (int i = 0; i < n; i++) {
        void *out = NULL;
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 0);
        CHECK_INT((intptr_t)out, 7);
        weft_co_free(cos[i]);
    }
}

#define BIG ((size_t)16 << 20)
#define MAX_BIG 64

static int fill_big(weft_co **cos)
{
    weft_opts o = {.stack_size = BIG, .stack_kind = WEFT_STACK_PRIVATE, .name = "big"};
    int n = 0;
    for (;;) {
        if (n == MAX_BIG)
            FAIL("%d coroutines of 16 MiB under a 64 MiB RLIMIT_AS", n);
        errno = 0;
        weft_co *co = weft_co_new(yield_once, &cos[n], &o);
        if (co == NULL) {
            CHECK_INT(errno, ENOMEM);
            return n;
        }
        cos[n++] = co;
    }
}

static void rlimit_child(void *arg)
{
    (void)arg;
    long vm = test_status_kb("VmSize") * 1024;
    CHECK(vm > 0);
    /* 64 MiB above what the process uses already. */
    struct rlimit rl = {.rlim_cur = (rlim_t)vm + ((rlim_t)64 << 20),
                        .rlim_max = (rlim_t)vm + ((rlim_t)64 << 20)};
    CHECK_INT(setrlimit(RLIMIT_AS, &rl), 0);

    weft_co *cos[MAX_BIG];
    int n = fill_big(cos);
    CHECK(n >= 1 && n <= 4);
    /* The process goes on: malloc works, the coroutines run. */
    void *p = malloc(1000);
    CHECK(p != NULL);
    free(p);
    run_and_free(cos, n);

    /* And again, as many as before. */
    int again = fill_big(cos);
    CHECK_INT(again, n);
    run_and_free(cos, again);

    /* A small one still fits after all that. */
    weft_co *one = weft_co_new(yield_once, &cos[0], &priv);
    CHECK(one != NULL);
    cos[0] = one;
    run_and_free(cos, 1);
}

/* ---- memory maps --------------------------------------------------------- */

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Creates minimum-stack coroutines until weft_co_new fails or `cap` exist;
 * returns how many. */
static int fill_small(weft_co **cos, int cap)
{
    weft_opts o = {.stack_size = WEFT_STACK_MIN, .stack_kind = WEFT_STACK_PRIVATE};
    int n = 0;
    while (n < cap) {
        errno = 0;
        weft_co *co = weft_co_new(yield_once, &cos[n], &o);
        if (co == NULL) {
            CHECK_INT(errno, ENOMEM);
            break;
        }
        cos[n++] = co;
    }
    return n;
}

static void free_all(weft_co **cos, int n)
{
    for (int i = 0; i < n; i++)
        weft_co_free(cos[i]);
}

static void after_exhaustion(weft_co **cos)
{
    /* Creating works again, and the new coroutine runs. */
    weft_co *co = weft_co_new(yield_once, &cos[0], &priv);
    CHECK(co != NULL);
    cos[0] = co;
    run_and_free(cos, 1);
    weft_opts o = {.stack_size = WEFT_STACK_MIN, .stack_kind = WEFT_STACK_PRIVATE};
    co = weft_co_new(yield_once, &cos[0], &o);
    CHECK(co != NULL);
    cos[0] = co;
    run_and_free(cos, 1);
}

/* With mprotect guard pages each stack costs two maps: creation must stop
 * with ENOMEM near max_map_count / 2. */
static void maps_mprotect_child(void *arg)
{
    long max = (long)(intptr_t)arg;
    CHECK_INT(setenv("WEFT_GUARD", "mprotect", 1), 0);
    weft_co **cos = calloc((size_t)max, sizeof *cos);
    CHECK(cos != NULL);
    int n = fill_small(cos, (int)max);
    if (n == (int)max)
        FAIL("%d private stacks with mprotect guards and max_map_count %ld", n, max);
    if (n < max / 2 - 5000 || n > max / 2)
        FAIL("ENOMEM after %d stacks; expected near %ld", n, max / 2);
    /* The last few still run. */
    run_and_free(cos + n - 10, 10);
    free_all(cos, n - 10);
    after_exhaustion(cos);
    free(cos);
}

/* Whatever guard the library chooses, past max_map_count / 2 stacks either
 * all are created (guard regions that do not split the mapping) or
 * creation fails with ENOMEM. */
static void maps_default_child(void *arg)
{
    long max = (long)(intptr_t)arg;
    int cap = (int)(max / 2 + 2000);
    weft_co **cos = calloc((size_t)cap, sizeof *cos);
    CHECK(cos != NULL);
    int n = fill_small(cos, cap);
    printf("default guard: %d of %d stacks created, %d maps\n", n, cap, test_count_maps());
    CHECK(n > 1000);
    run_and_free(cos + n - 10, 10);
    free_all(cos, n - 10);
    after_exhaustion(cos);
    free(cos);
}

int main(void)
{
    char out[16384];
    int status;
    /* The tools reserve address space of their own (TSan: its shadow). */
    if (test_under_is("asan") || test_under_is("tsan") || test_under_is("valgrind") ||
        test_under_is("qemu")) {
        printf("RLIMIT_AS case skipped under %s\n", test_under());
    } else {
        status = test_fork(rlimit_child, NULL, out, sizeof out);
        CHECK_EXITED(status, 0, out);
    }

    long max = max_map_count();
    /* TSan needs mappings of its own to run at all once they run out. */
    if (test_under_is("valgrind") || test_under_is("qemu") || test_under_is("tsan") || max <= 0 ||
        max > 200000) {
        printf("max_map_count cases skipped (under '%s', max_map_count %ld)\n", test_under(), max);
        return 0;
    }
    status = test_fork(maps_mprotect_child, (void *)(intptr_t)max, out, sizeof out);
    CHECK_EXITED(status, 0, out);
    status = test_fork(maps_default_child, (void *)(intptr_t)max, out, sizeof out);
    CHECK_EXITED(status, 0, out);
    return 0;
}
