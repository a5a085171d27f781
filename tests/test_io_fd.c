/* weft_wait_fd, weft_read, weft_write, readv/writev on pipes: readiness,
 * deadlines, cancellation, EBUSY, EBADF, EINVAL, EPERM, end of file, EPIPE
 * without SIGPIPE, regular files through the worker pool, and the deadlock
 * check counting fd waiters as wakeable. */
#include "io_util.h"

#include <pthread.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/uio.h>

static int p[2];

static void *writer_later(void *arg)
{
    (void)arg;
    CHECK_INT(weft_sleep(ms_from_now(20)), 0);
    CHECK_INT(weft_write(p[1], "hello", 5, -1), 5);
    return NULL;
}

/* These two take the fd by value: a pointer to the spawning task's local
 * would not do on a shared stack, whose frames are copied away while the
 * spawner waits. */
static void *reader_blocked(void *arg)
{
    char c;
    errno = 0;
    long r = weft_read((int)(intptr_t)arg, &c, 1, -1);
    return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void *wait_blocked(void *arg)
{
    errno = 0;
    int r = weft_wait_fd((int)(intptr_t)arg, POLLIN, -1);
    return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    CHECK_INT(pipe(p), 0);
    char buf[64];

    /* Nothing to read: 0 never blocks, a passed deadline fails at once. */
    CHECK_ERR(weft_read(p[0], buf, sizeof buf, 0), -1, EAGAIN);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_read(p[0], buf, sizeof buf, ms_from_now(30)), -1, ETIMEDOUT);
    CHECK(weft_now() - t0 >= 25 * 1000000LL);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK); /* made non-blocking */

    /* Another task writes later; the reader waits. */
    weft_co *w = weft_spawn(writer_later, NULL, NULL);
    CHECK(w);
    CHECK_INT(weft_read(p[0], buf, sizeof buf, ms_from_now(5000)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);

    /* weft_wait_fd: writable at once, readable after a write. */
    CHECK_INT(weft_wait_fd(p[1], POLLOUT, 0), POLLOUT);
    CHECK_ERR(weft_wait_fd(p[0], POLLIN, 0), -1, EAGAIN);
    CHECK_ERR(weft_wait_fd(p[0], POLLIN, ms_from_now(10)), -1, ETIMEDOUT);
    w = weft_spawn(writer_later, NULL, NULL);
    CHECK_INT(weft_wait_fd(p[0], POLLIN, ms_from_now(5000)), POLLIN);
    CHECK_INT(weft_read(p[0], buf, sizeof buf, 0), 5);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK_ERR(weft_wait_fd(p[0], 0, 0), -1, EINVAL);
    CHECK_ERR(weft_wait_fd(p[0], POLLPRI, 0), -1, EINVAL);
    CHECK_ERR(weft_wait_fd(-1, POLLIN, 0), -1, EBADF);
    CHECK_ERR(weft_read(-1, buf, 1, 0), -1, EBADF);
    CHECK_ERR(weft_write(-1, buf, 1, 0), -1, EBADF);

    /* Two readers: the second gets EBUSY; cancelling the first gives
     * ECANCELED. */
    weft_co *r1 = weft_spawn(reader_blocked, (void *)(intptr_t)p[0], NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_read(p[0], buf, 1, 0), -1, EAGAIN);
    CHECK_ERR(weft_read(p[0], buf, 1, ms_from_now(10)), -1, EBUSY);
    CHECK_ERR(weft_wait_fd(p[0], POLLIN, ms_from_now(10)), -1, EBUSY);
    CHECK_INT(weft_cancel(r1), 0);
    void *res;
    CHECK_INT(weft_join(r1, &res, -1), 0);
    CHECK_INT((intptr_t)res, ECANCELED);
    /* The slot is free again. */
    CHECK_ERR(weft_read(p[0], buf, 1, 0), -1, EAGAIN);

    /* Closing an fd that a task waits on hands that task back: EBADF. */
    int z[2];
    CHECK_INT(pipe(z), 0);
    weft_co *zr = weft_spawn(reader_blocked, (void *)(intptr_t)z[0], NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_close(z[0]), 0);
    CHECK_INT(weft_join(zr, &res, -1), 0);
    CHECK_INT((intptr_t)res, EBADF);
    weft_close(z[1]);

    /* readv / writev. */
    struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    CHECK_INT(weft_writev(p[1], out, 3, -1), 5);
    char x[2], y[8];
    struct iovec in[2] = {{x, 2}, {y, 8}};
    CHECK_INT(weft_readv(p[0], in, 2, -1), 5);
    CHECK(memcmp(x, "ab", 2) == 0 && memcmp(y, "cde", 3) == 0);
    CHECK_ERR(weft_readv(p[0], in, -1, 0), -1, EINVAL);
    CHECK_ERR(weft_writev(p[1], out, -1, 0), -1, EINVAL);
    CHECK_ERR(weft_writev(p[1], out, 100000, 0), -1, EINVAL);

    CHECK_ERR(weft_write(p[1], buf, (size_t)SSIZE_MAX + 1, 0), -1, EINVAL);

    /* Cancelled while waiting for readiness. */
    weft_co *wc = weft_spawn(wait_blocked, (void *)(intptr_t)p[0], NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_cancel(wc), 0);
    CHECK_INT(weft_join(wc, &res, -1), 0);
    CHECK_INT((intptr_t)res, ECANCELED);

    /* A big write fills the pipe; a reader drains it concurrently. */
    size_t big = 1 << 20;
    char *data = malloc(big);
    CHECK(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    CHECK_ERR(weft_write(p[1], data, big, ms_from_now(20)), -1, ETIMEDOUT);
    while (weft_read(p[0], buf, sizeof buf, 0) > 0)
        ;

    /* End of file, then EPIPE without SIGPIPE. */
    CHECK_INT(weft_close(p[1]), 0);
    CHECK_INT(weft_read(p[0], buf, sizeof buf, -1), 0);
    CHECK_INT(pipe(p), 0);
    CHECK_INT(weft_close(p[0]), 0);
    CHECK_ERR(weft_write(p[1], "x", 1, -1), -1, EPIPE);
    sigset_t pend;
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGPIPE));
    CHECK_INT(weft_close(p[1]), 0);

    /* A regular file goes through the worker pool. */
    char path[] = "/tmp/weft-io-fd-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    CHECK_INT(weft_write(f, data, big, -1), (long long)big);
    CHECK_INT(lseek(f, 0, SEEK_SET), 0);
    char *back = malloc(big);
    size_t got = 0;
    while (got < big) {
        ssize_t n = weft_read(f, back + got, big - got, -1);
        CHECK(n > 0);
        got += (size_t)n;
    }
    CHECK(memcmp(back, data, big) == 0);
    CHECK_INT(weft_wait_fd(f, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
    struct iovec many[65];
    for (int i = 0; i < 65; i++)
        many[i] = (struct iovec){data, 1};
    CHECK_ERR(weft_writev(f, many, 65, -1), -1, EINVAL);
    CHECK_INT(weft_writev(f, many, 64, -1), 64);
    CHECK_INT(weft_close(f), 0);
    free(back);
    free(data);
    return NULL;
}

/* A task reading a pipe that no one will write, while another sleeps:
 * not a deadlock (the fd can wake it); once the pipe's writer task ends,
 * the reader still waits on the fd and weft_run keeps running until the
 * deadline in the reader ends it. */
static void *fd_waiter(void *arg)
{
    (void)arg;
    int q[2];
    CHECK_INT(pipe(q), 0);
    char c;
    CHECK_ERR(weft_read(q[0], &c, 1, ms_from_now(50)), -1, ETIMEDOUT);
    /* With no deadline and nothing else: the fd could still be written
     * from outside (here another thread), so no deadlock is reported. */
    weft_close(q[0]);
    weft_close(q[1]);
    return NULL;
}

static int outside[2];

static void *outside_writer(void *arg)
{
    (void)arg;
    usleep(50000);
    CHECK_INT(write(outside[1], "z", 1), 1);
    return NULL;
}

static void *wait_outside(void *arg)
{
    (void)arg;
    char c;
    CHECK_INT(weft_read(outside[0], &c, 1, -1), 1);
    CHECK_INT(c, 'z');
    return NULL;
}

/* With the poller made and no task waiting on an fd, a real deadlock is
 * still reported. */
static void *stuck(void *arg)
{
    (void)arg;
    int q[2];
    CHECK_INT(pipe(q), 0);
    CHECK_INT(weft_write(q[1], "x", 1, -1), 1); /* the poller exists now */
    weft_close(q[0]);
    weft_close(q[1]);
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    int v;
    CHECK_ERR(weft_chan_recv(ch, &v, -1), -1, ECANCELED);
    weft_chan_free(ch);
    return NULL;
}

static void run_stuck(void *arg)
{
    (void)arg;
    errno = 0;
    int rc = weft_run(stuck, NULL, NULL);
    _exit(rc == -1 && errno == EDEADLK ? 0 : 1);
}

int main(void)
{
    io_test_init();
    signal(SIGPIPE, SIG_DFL); /* must not kill: weft blocks it for pipes */
    char buf[8];
    CHECK_ERR(weft_close(-1), -1, EBADF);
    /* Outside a task. */
    CHECK_ERR(weft_read(0, buf, 1, 0), -1, EPERM);
    CHECK_ERR(weft_wait_fd(0, POLLIN, 0), -1, EPERM);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    CHECK_INT(weft_run(fd_waiter, NULL, NULL), 0);
    /* A task whose only waker is another thread writing the pipe: the
     * deadlock check counts it as wakeable. */
    CHECK_INT(pipe(outside), 0);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, outside_writer, NULL), 0);
    CHECK_INT(weft_run(wait_outside, NULL, NULL), 0);
    pthread_join(th, NULL);
    close(outside[0]);
    close(outside[1]);
    char out[4096];
    int status = test_fork(run_stuck, NULL, out, sizeof out);
    CHECK_EXITED(status, 0, out);
    CHECK(strstr(out, "deadlock"));
    puts("ok");
    return 0;
}
