/* Helpers of the hook tests. Each tests/test_hook_*.c is built twice:
 * test_hook_X_linked, linked with -lweft-hook, and test_hook_X_preload,
 * linked with -lweft only, which runs itself again with
 * LD_PRELOAD=libweft-hook.so (not under a sanitizer or valgrind, where the
 * linked twin runs: a preloaded library would come before the sanitizer's
 * runtime, and valgrind would not follow the exec). Either way the test
 * first checks that libc's read resolves into the hook. */
#ifndef WEFT_TEST_HOOK_UTIL_H
#define WEFT_TEST_HOOK_UTIL_H

#include "io_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>

static inline void hook_test_init(char **argv)
{
#ifdef WEFT_HOOK_PRELOAD
    if (test_under_is("asan") || test_under_is("tsan") || test_under_is("valgrind"))
        test_skip("LD_PRELOAD is not run under sanitizers or valgrind; the _linked twin of this "
                  "test covers it");
    /* The re-exec below needs a native binary (or binfmt_misc). */
    if (test_under_is("qemu"))
        test_skip("LD_PRELOAD is not run under qemu-user; the _linked twin of this test covers it");
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, WEFT_HOOK_PRELOAD)) {
        setenv("LD_PRELOAD", WEFT_HOOK_PRELOAD, 1);
        execv("/proc/self/exe", argv);
        FAIL("execv: %s", strerror(errno));
    }
    printf("mode: preloaded\n");
#else
    (void)argv;
    printf("mode: linked in\n");
#endif
    /* libc's read resolves into the hook, or into a sanitizer's
     * interceptor that calls the next definition: the hook's. */
    Dl_info info;
    CHECK(dladdr((void *)&read, &info) != 0);
    if (!info.dli_fname || !strstr(info.dli_fname, "libweft-hook")) {
        CHECK(strstr(info.dli_fname, "san") != NULL);
        void *h = dlopen("libweft-hook.so.0", RTLD_NOW | RTLD_NOLOAD);
        CHECK(h != NULL);
        dlclose(h);
    }
    io_test_init();
}

/* ---- proof that a call parked ------------------------------------------- */

/* A task that counts ticks of 5 ms (with weft_sleep, not a hooked call)
 * until stopped: ticks during a blocking call prove that the call parked
 * and the thread ran other tasks. One at a time, in static memory (what
 * tasks share must not be on a shared stack; the tests' arguments to
 * tasks are static too). */
static struct ticker {
    volatile int stop;
    volatile long ticks;
    weft_co *task;
} hook_ticker;

static inline void *ticker_body(void *arg)
{
    (void)arg;
    while (!hook_ticker.stop) {
        weft_sleep(weft_now() + 5000000);
        hook_ticker.ticks++;
    }
    return NULL;
}

static inline void ticker_start(void)
{
    hook_ticker.stop = 0;
    hook_ticker.ticks = 0;
    hook_ticker.task = weft_spawn(ticker_body, NULL, NULL);
    CHECK(hook_ticker.task != NULL);
}

static inline long ticker_stop(void)
{
    hook_ticker.stop = 1;
    CHECK_INT(weft_join(hook_ticker.task, NULL, -1), 0);
    return hook_ticker.ticks;
}

/* Runs fn(&args[i]) in n tasks at once and returns the elapsed ns, while a
 * ticker runs beside them; *ticks gets its count. */
static inline int64_t hook_together(int n, weft_fn fn, void *args, size_t size, long *ticks)
{
    weft_co *t[256];
    CHECK(n <= 256);
    ticker_start();
    int64_t t0 = weft_now();
    for (int i = 0; i < n; i++) {
        t[i] = weft_spawn(fn, (char *)args + (size_t)i * size, NULL);
        CHECK(t[i] != NULL);
    }
    for (int i = 0; i < n; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    int64_t el = weft_now() - t0;
    long k = ticker_stop();
    if (ticks)
        *ticks = k;
    return el;
}

/* N calls of 100 ms each, at once: all in less than N/2 intervals (the
 * bound is generous, for slow tools). */
#define HOOK_N 10
#define HOOK_MS 100
#define CHECK_TOGETHER(elapsed, ticks)                                                             \
    do {                                                                                           \
        CHECK((elapsed) >= (int64_t)HOOK_MS * 1000000 * 9 / 10);                                   \
        CHECK((elapsed) < (int64_t)HOOK_MS * 1000000 * HOOK_N / 2);                                \
        CHECK((ticks) > 0);                                                                        \
    } while (0)

static inline int fd_nonblock(int fd)
{
    /* The kernel's flags, under the hook's fcntl. */
    return (int)(syscall(SYS_fcntl, fd, F_GETFL, 0) & O_NONBLOCK);
}

static inline int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

#endif
