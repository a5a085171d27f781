/* The hook's fd life cycle: close, dup2 and dup3 over an fd that a task
 * waits on hand the waiter back with EBADF (the poller forgets the fd);
 * dup, dup2, dup3 and F_DUPFD carry the user's O_NONBLOCK; pipe2 and the
 * fcntl/ioctl flags stay the user's. */
#include "hook_util.h"

#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef struct waiter {
    int fd;
    int how; /* 'r' read, 'p' poll, 'a' accept */
    long r;
    int err;
    volatile int started;
} waiter;

static void *wait_body(void *arg)
{
    waiter *w = arg;
    char b[8];
    w->started = 1;
    errno = 0;
    if (w->how == 'r') {
        w->r = read(w->fd, b, sizeof b);
    } else if (w->how == 'a') {
        w->r = accept(w->fd, NULL, NULL);
    } else {
        struct pollfd p = {w->fd, POLLIN, 0};
        w->r = poll(&p, 1, 5000);
        if (w->r == 1 && (p.revents & POLLNVAL)) {
            w->r = -1;
            errno = EBADF;
        }
    }
    w->err = errno;
    return NULL;
}

/* Starts a waiter on fd, lets it park, runs `end` on fd, and checks that
 * the waiter got EBADF at once. */
static void check_handed_back(int fd, int how, int (*end)(int fd, int other), int other)
{
    static waiter w;
    w = (waiter){fd, how, 0, 0, 0};
    weft_co *t = weft_spawn(wait_body, &w, NULL);
    CHECK_INT(weft_sleep(weft_now() + 20000000), 0);
    CHECK(w.started);
    int64_t t0 = weft_now();
    CHECK_INT(end(fd, other), fd);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    if (weft_now() - t0 >= 2000000000)
        FAIL("how %c: %.1f ms, r %ld err %d", how, (weft_now() - t0) / 1e6, w.r, w.err);
    CHECK_INT(w.r, -1);
    CHECK_INT(w.err, EBADF);
}

static int end_close(int fd, int other)
{
    (void)other;
    return close(fd) == 0 ? fd : -1;
}

static int end_dup2(int fd, int other)
{
    return dup2(other, fd);
}

static int end_dup3(int fd, int other)
{
    return dup3(other, fd, O_CLOEXEC);
}

static void *handed_back(void *arg)
{
    (void)arg;
    int p[2], q[2];
    for (int how = 0; how < 3; how++) {
        int kind = "rpa"[how];
        int (*ends[])(int, int) = {end_close, end_dup2, end_dup3};
        for (int e = 0; e < 3; e++) {
            CHECK_INT(pipe(q), 0);
            int fd;
            if (kind == 'a') {
                fd = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in a = {0};
                a.sin_family = AF_INET;
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
                CHECK_INT(listen(fd, 4), 0);
                p[0] = fd;
                p[1] = -1;
            } else {
                CHECK_INT(pipe(p), 0);
                fd = p[0];
            }
            check_handed_back(fd, kind, ends[e], q[0]);
            if (e)
                close(fd); /* the duplicate of q[0] */
            if (p[1] >= 0)
                close(p[1]);
            close(q[0]);
            close(q[1]);
        }
    }
    return NULL;
}

static void test_handed_back(void)
{
    weft_co *t = weft_spawn(handed_back, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* After dup2 over a watched fd, the number is the new file's: a read
 * sees its data. */
static void *dup2_new_file(void *arg)
{
    (void)arg;
    int p[2], q[2];
    CHECK_INT(pipe(p), 0);
    CHECK_INT(pipe(q), 0);
    char b[8];
    CHECK_INT(write(p[1], "old", 3), 3);
    CHECK_INT(read(p[0], b, sizeof b), 3); /* weft knows p[0] now */
    CHECK_INT(write(q[1], "new", 3), 3);
    CHECK_INT(dup2(q[0], p[0]), p[0]);
    CHECK_INT(read(p[0], b, sizeof b), 3);
    CHECK(memcmp(b, "new", 3) == 0);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    return NULL;
}

static void *flags(void *arg)
{
    (void)arg;
    int p[2];
    char b[4];
    /* pipe2's O_NONBLOCK is the user's. */
    CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_ERR(read(p[0], b, 1), -1, EAGAIN);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    /* Duplicates carry it: the same open file. */
    int d = dup(p[0]);
    CHECK(d >= 0);
    CHECK_ERR(read(d, b, 1), -1, EAGAIN);
    int d2 = fcntl(p[0], F_DUPFD_CLOEXEC, 100);
    CHECK(d2 >= 100);
    CHECK_ERR(read(d2, b, 1), -1, EAGAIN);
    CHECK(fcntl(d2, F_GETFD) & FD_CLOEXEC);
    close(d);
    close(d2);
    close(p[0]);
    close(p[1]);
    /* A blocking pipe: its duplicate is blocking for the user too. */
    CHECK_INT(pipe(p), 0);
    CHECK_INT(write(p[1], "ab", 2), 2);
    CHECK_INT(read(p[0], b, 1), 1); /* now non-blocking underneath */
    d = dup(p[0]);
    CHECK(!(fcntl(d, F_GETFL) & O_NONBLOCK));
    CHECK(fd_nonblock(d));
    CHECK_INT(read(d, b, 1), 1);
    /* Other F_SETFL bits pass through, O_NONBLOCK stays underneath. */
    CHECK_INT(fcntl(p[1], F_SETFL, O_APPEND), 0);
    CHECK(fd_nonblock(p[1]));
    CHECK(!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
    close(d);
    close(p[0]);
    close(p[1]);
    /* Bad fds. */
    CHECK_ERR(fcntl(999, F_GETFL), -1, EBADF);
    CHECK_ERR(fcntl(999, F_SETFL, O_NONBLOCK), -1, EBADF);
    int on = 1;
    CHECK_ERR(ioctl(999, FIONBIO, &on), -1, EBADF);
    CHECK_ERR(close(999), -1, EBADF);
    CHECK_ERR(dup(999), -1, EBADF);
    CHECK_ERR(dup2(999, 5), -1, EBADF);
    CHECK_ERR(dup3(0, 0, 0), -1, EINVAL);
    CHECK_ERR(dup3(0, 5, 12345), -1, EINVAL);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    test_handed_back();
    weft_co *t = weft_spawn(dup2_new_file, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    t = weft_spawn(flags, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    return NULL;
}

static void test_outside(void)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    int d = dup(p[0]);
    CHECK(d >= 0);
    CHECK_INT(dup2(p[1], d), d);
    CHECK(!(fcntl(d, F_GETFL) & O_NONBLOCK));
    CHECK_INT(fcntl(d, F_SETFL, O_NONBLOCK), 0);
    CHECK(fd_nonblock(d));
    CHECK(fcntl(d, F_GETFL) & O_NONBLOCK);
    CHECK_INT(close(d), 0);
    CHECK_ERR(close(d), -1, EBADF);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    test_outside();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    test_outside();
    printf("ok\n");
    return 0;
}
