/* The hook's read, write, readv, writev, pread and pwrite: in a task they
 * park and let the others run; outside a task they are libc's; the
 * user's O_NONBLOCK stays the user's; bad fds fail as in libc. */
#include "hook_util.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sys/uio.h>

typedef struct pipe_call {
    int fds[2];
    ssize_t got;
    char buf[16];
} pipe_call;

static void *late_writer(void *arg)
{
    pipe_call *c = arg;
    weft_sleep(weft_now() + (int64_t)HOOK_MS * 1000000);
    CHECK_INT(write(c->fds[1], "hello", 5), 5);
    return NULL;
}

/* Reads a pipe that a task fills HOOK_MS later. */
static void *read_late(void *arg)
{
    pipe_call *c = arg;
    CHECK_INT(pipe(c->fds), 0);
    weft_co *w = weft_spawn(late_writer, c, NULL);
    c->got = read(c->fds[0], c->buf, sizeof c->buf);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK_INT(c->got, 5);
    CHECK(memcmp(c->buf, "hello", 5) == 0);
    CHECK_INT(close(c->fds[0]), 0);
    CHECK_INT(close(c->fds[1]), 0);
    return NULL;
}

static void test_concurrent_reads(void)
{
    static pipe_call c[HOOK_N];
    long ticks;
    int64_t el = hook_together(HOOK_N, read_late, c, sizeof c[0], &ticks);
    printf("%d reads of %d ms: %.1f ms, %ld ticks beside\n", HOOK_N, HOOK_MS, el / 1e6, ticks);
    CHECK_TOGETHER(el, ticks);
}

/* A writer that fills a socket parks until a reader drains it. */
typedef struct pair {
    int sv[2];
    volatile int reading;
} pair;

static char big[1 << 20];

static void *drain(void *arg)
{
    pair *p = arg;
    static char sink[1 << 16];
    size_t total = 0;
    p->reading = 1;
    while (total < sizeof big) {
        ssize_t n = read(p->sv[1], sink, sizeof sink);
        CHECK(n > 0);
        total += (size_t)n;
    }
    return NULL;
}

static void *write_big(void *arg)
{
    pair *p = arg;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv), 0);
    p->reading = 0;
    weft_co *r = weft_spawn(drain, p, NULL);
    /* All of it, in one call, as a blocking write does. */
    CHECK_INT(write(p->sv[0], big, sizeof big), (long)sizeof big);
    CHECK(p->reading);
    CHECK_INT(weft_join(r, NULL, -1), 0);
    /* writev and readv, two buffers each way. */
    struct iovec out[2] = {{"ab", 2}, {"cde", 3}};
    CHECK_INT(writev(p->sv[0], out, 2), 5);
    char x[2], y[8];
    struct iovec in[2] = {{x, 2}, {y, 8}};
    CHECK_INT(readv(p->sv[1], in, 2), 5);
    CHECK(memcmp(x, "ab", 2) == 0 && memcmp(y, "cde", 3) == 0);
    close(p->sv[0]);
    close(p->sv[1]);
    return NULL;
}

static void test_write_all(void)
{
    static pair p;
    weft_co *t = weft_spawn(write_big, &p, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* readv parks too. */
static void *readv_late(void *arg)
{
    pipe_call *c = arg;
    CHECK_INT(pipe(c->fds), 0);
    weft_co *w = weft_spawn(late_writer, c, NULL);
    struct iovec v[2] = {{c->buf, 2}, {c->buf + 2, 8}};
    CHECK_INT(readv(c->fds[0], v, 2), 5);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK(memcmp(c->buf, "hello", 5) == 0);
    close(c->fds[0]);
    close(c->fds[1]);
    return NULL;
}

static void test_concurrent_readv(void)
{
    static pipe_call c[HOOK_N];
    long ticks;
    int64_t el = hook_together(HOOK_N, readv_late, c, sizeof c[0], &ticks);
    CHECK_TOGETHER(el, ticks);
}

/* Regular files: pread/pwrite at offsets, read/write at the file's, on
 * the worker pool (a worker thread appears). */
static void *files(void *arg)
{
    (void)arg;
    char path[] = "/tmp/weft-hook-fdio-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_INT(pwrite(fd, "0123456789", 10, 0), 10);
    CHECK_INT(pwrite64(fd, "AB", 2, 4), 2);
    char b[16] = {0};
    CHECK_INT(pread(fd, b, 10, 0), 10);
    CHECK(memcmp(b, "0123AB6789", 10) == 0);
    CHECK_INT(pread64(fd, b, 3, 8), 2);
    CHECK(memcmp(b, "89", 2) == 0);
    CHECK_INT(write(fd, "xyz", 3), 3); /* at offset 0: pread/pwrite moved nothing */
    CHECK_INT(lseek(fd, 0, SEEK_SET), 0);
    CHECK_INT(read(fd, b, 4), 4);
    CHECK(memcmp(b, "xyz3", 4) == 0);
    CHECK_ERR(pread(fd, b, 1, -1), -1, EINVAL);
    CHECK(thread_count() > 1);
    /* sendfile into a socket that a task drains. */
    static pair sp;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp.sv), 0);
    CHECK_INT(ftruncate(fd, sizeof big), 0);
    weft_co *r = weft_spawn(drain, &sp, NULL);
    off_t off = 0;
    size_t sent = 0;
    while (sent < sizeof big) {
        ssize_t n = sendfile(sp.sv[0], fd, &off, sizeof big - sent);
        CHECK(n > 0);
        sent += (size_t)n;
    }
    CHECK(sp.reading);
    CHECK_INT(weft_join(r, NULL, -1), 0);
    close(sp.sv[0]);
    close(sp.sv[1]);
    close(fd);
    /* pread on a pipe: ESPIPE, as in libc. */
    int p[2];
    CHECK_INT(pipe(p), 0);
    CHECK_ERR(pread(p[0], b, 1, 0), -1, ESPIPE);
    CHECK_ERR(pwrite(p[1], b, 1, 0), -1, ESPIPE);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void test_files(void)
{
    weft_co *t = weft_spawn(files, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* The user's O_NONBLOCK: EAGAIN stays, F_GETFL says so; and an fd the
 * user left blocking reports no O_NONBLOCK though weft set it underneath. */
static void *user_nonblock(void *arg)
{
    (void)arg;
    int p[2];
    char b[4];
    CHECK_INT(pipe(p), 0);
    CHECK_INT(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK), 0);
    CHECK_ERR(read(p[0], b, 1), -1, EAGAIN);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    struct iovec v = {b, 1};
    CHECK_ERR(readv(p[0], &v, 1), -1, EAGAIN);
    /* The write end is the user's blocking fd, non-blocking underneath. */
    CHECK_INT(write(p[1], "a", 1), 1);
    CHECK(fd_nonblock(p[1]));
    CHECK(!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
    CHECK_INT(read(p[0], b, 1), 1);
    /* Back to blocking: the read parks again, and F_GETFL follows. */
    CHECK_INT(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK), 0);
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    static pipe_call c;
    c.fds[0] = p[0];
    c.fds[1] = p[1];
    weft_co *w = weft_spawn(late_writer, &c, NULL);
    CHECK_INT(read(p[0], b, 4), 4);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    CHECK(fd_nonblock(p[0]));
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void test_user_nonblock(void)
{
    weft_co *t = weft_spawn(user_nonblock, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *bad_fds(void *arg)
{
    (void)arg;
    char b[1] = {0};
    struct iovec v = {b, 1};
    CHECK_ERR(read(-1, b, 1), -1, EBADF);
    CHECK_ERR(write(-1, b, 1), -1, EBADF);
    CHECK_ERR(read(1000000, b, 1), -1, EBADF);
    CHECK_ERR(write(987654, b, 1), -1, EBADF);
    CHECK_ERR(readv(999, &v, 1), -1, EBADF);
    CHECK_ERR(writev(999, &v, 1), -1, EBADF);
    CHECK_ERR(pread(999, b, 1, 0), -1, EBADF);
    CHECK_ERR(pwrite(999, b, 1, 0), -1, EBADF);
    int p[2];
    CHECK_INT(pipe(p), 0);
    int bad = -1;
    __asm__ volatile("" : "+r"(bad)); /* a count the compiler cannot see */
    CHECK_ERR(readv(p[0], &v, bad), -1, EINVAL);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void test_bad_fds(void)
{
    weft_co *t = weft_spawn(bad_fds, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_concurrent_reads();
    test_concurrent_readv();
    test_write_all();
    test_files();
    test_user_nonblock();
    test_bad_fds();
    return NULL;
}

/* Outside any task the calls are libc's: a blocking pipe stays blocking
 * (no O_NONBLOCK appears), reads and writes do what they always do. */
static void test_outside(void)
{
    int p[2];
    char b[8];
    CHECK_INT(pipe(p), 0);
    CHECK_INT(write(p[1], "abc", 3), 3);
    CHECK_INT(read(p[0], b, sizeof b), 3);
    CHECK(!fd_nonblock(p[0]) && !fd_nonblock(p[1]));
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    CHECK_ERR(read(-1, b, 1), -1, EBADF);
    CHECK_INT(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    CHECK(fd_nonblock(p[0]));
    CHECK_ERR(read(p[0], b, 1), -1, EAGAIN);
    close(p[0]);
    close(p[1]);
}

/* An fd that a task used (non-blocking underneath) is still blocking for
 * the program outside the tasks: a read waits for data. */
static int shared_pipe[2];

static void *task_uses(void *arg)
{
    (void)arg;
    char b[1];
    CHECK_INT(write(shared_pipe[1], "x", 1), 1);
    CHECK_INT(read(shared_pipe[0], b, 1), 1);
    return NULL;
}

static void *slow_writer(void *arg)
{
    (void)arg;
    usleep(100000); /* a thread of its own: libc's */
    CHECK_INT(write(shared_pipe[1], "late", 4), 4);
    return NULL;
}

static void test_after_tasks(void)
{
    CHECK_INT(pipe(shared_pipe), 0);
    CHECK_INT(weft_run(task_uses, NULL, NULL), 0);
    CHECK(fd_nonblock(shared_pipe[0]));
    CHECK(!(fcntl(shared_pipe[0], F_GETFL) & O_NONBLOCK));
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, slow_writer, NULL), 0);
    char b[8];
    CHECK_INT(read(shared_pipe[0], b, sizeof b), 4);
    CHECK_INT(pthread_join(th, NULL), 0);
    close(shared_pipe[0]);
    close(shared_pipe[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    memset(big, 'b', sizeof big);
    test_outside();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    test_after_tasks();
    test_outside();
    printf("ok\n");
    return 0;
}
