/* The poller under load: thousands of fds, each with a reader and a writer
 * waiting at once, all made readable together, then all writable. With
 * io_uring the completion ring is made small (WEFT_URING_ENTRIES), so that
 * it overflows and the kernel ends multishot polls: every waiter must
 * still wake, the writer of a poll that ended for its reader too.
 *
 * Then far deadlines, in epoll's millisecond fallback (this program's
 * epoll_pwait2 says ENOSYS, as kernels before 5.11 do): a sleep until
 * INT64_MAX or some 50 days away, which a wake from another thread ends,
 * must sleep in the kernel, not poll with a timeout that overflowed to
 * zero or a few milliseconds. */
#include "io_util.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static atomic_int recording, short_waits;

int epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *ts,
                 const sigset_t *mask)
{
    (void)epfd, (void)evs, (void)max, (void)ts, (void)mask;
    errno = ENOSYS;
    return -1;
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int ms)
{
    /* Only far deadlines are waited for while recording: any timeout
     * under a day is one that overflowed. */
    if (atomic_load(&recording) && ms >= 0 && ms < 86400000)
        atomic_fetch_add(&short_waits, 1);
    return (int)syscall(SYS_epoll_pwait, epfd, evs, max, ms, NULL, (size_t)8);
}

#define NPAIRS 2100

static int a[NPAIRS], b[NPAIRS];
static int woke_rd, woke_wr;

static void *reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    if (weft_read(a[i], &c, 1, ms_from_now(10000)) == 1)
        woke_rd++;
    return NULL;
}

static void *writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (weft_write(a[i], "w", 1, ms_from_now(10000)) == 1)
        woke_wr++;
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    static weft_co *rd[NPAIRS], *wr[NPAIRS];
    char fill[4096];
    memset(fill, 'f', sizeof fill);
    for (int i = 0; i < NPAIRS; i++) {
        int sv[2];
        CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        a[i] = sv[0];
        b[i] = sv[1];
        int small = 4096;
        setsockopt(a[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        while (write(a[i], fill, sizeof fill) > 0)
            ;
    }
    weft_opts o = {.stack_size = 16384};
    for (int i = 0; i < NPAIRS; i++) {
        CHECK((wr[i] = weft_spawn(writer, (void *)(intptr_t)i, &o)));
        CHECK((rd[i] = weft_spawn(reader, (void *)(intptr_t)i, &o)));
    }
    CHECK_INT(weft_pause(), 0); /* all of them wait now */
    CHECK_INT(woke_rd + woke_wr, 0);
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(write(b[i], "r", 1), 1);
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(weft_join(rd[i], NULL, -1), 0);
    CHECK_INT(woke_rd, NPAIRS);
    CHECK_INT(woke_wr, 0);
    for (int i = 0; i < NPAIRS; i++)
        while (read(b[i], fill, sizeof fill) > 0)
            ;
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(weft_join(wr[i], NULL, -1), 0);
    CHECK_INT(woke_wr, NPAIRS);
    for (int i = 0; i < NPAIRS; i++) {
        weft_close(a[i]);
        weft_close(b[i]);
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    CHECK_ERR(weft_sleep((int64_t)(intptr_t)arg), -1, ECANCELED);
    return NULL;
}

static void *complete_later(void *arg)
{
    usleep(20000);
    CHECK_INT(weft_future_complete(arg, NULL), 0);
    return NULL;
}

static void *far_task(void *arg)
{
    (void)arg;
    /* 2^32 ms (some 50 days) and a little: what a 32-bit truncation of
     * the milliseconds would turn into a short timeout. */
    int64_t day50 = ((int64_t)1 << 32) * 1000000;
    int64_t far[] = {INT64_MAX, INT64_MAX - 1, day50 + 100000000, day50 + 1000000000};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        int64_t deadline = far[i] > day50 * 2 ? far[i] : weft_now() + far[i];
        /* By value: the sleeper starts once this task pauses, and this
         * task's frames may be saved away by then (a shared stack). */
        weft_co *s = weft_spawn(sleeper, (void *)(intptr_t)deadline, NULL);
        CHECK(s);
        CHECK_INT(weft_pause(), 0); /* it sleeps */
        weft_future *f = weft_future_new();
        CHECK(f);
        pthread_t th;
        atomic_store(&recording, 1);
        CHECK_INT(pthread_create(&th, NULL, complete_later, f), 0);
        CHECK_INT(weft_future_wait(f, NULL, -1), 0);
        atomic_store(&recording, 0);
        pthread_join(th, NULL);
        weft_future_free(f);
        CHECK_INT(weft_cancel(s), 0);
        CHECK_INT(weft_join(s, NULL, -1), 0);
        if (atomic_load(&short_waits))
            FAIL("deadline %zu: %d waits with a short timeout", i, atomic_load(&short_waits));
    }
    return NULL;
}

int main(void)
{
    setenv("WEFT_URING_ENTRIES", "16", 0);
    io_test_init();
    if (io_raise_nofile() < 2 * NPAIRS + 64)
        test_skip("RLIMIT_NOFILE cannot be raised enough");
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    CHECK_INT(weft_run(far_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
