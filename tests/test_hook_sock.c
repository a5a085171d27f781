/* The hook's socket calls: accept, accept4, connect, recv, recvfrom,
 * recvmsg, send, sendto, sendmsg, socket, socketpair and setsockopt's
 * SO_RCVTIMEO/SO_SNDTIMEO, which become deadlines (EAGAIN at expiry, as
 * the kernel reports it). */
#include "hook_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

static int listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int one = 1;
    CHECK_INT(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    CHECK_INT(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    CHECK_INT(listen(fd, 128), 0);
    return fd;
}

/* ---- a server of HOOK_N connections, each answered HOOK_MS late -------- */

static struct sockaddr_in srv_addr;
static int srv_fd;

static void *serve_one(void *arg)
{
    int c = (int)(intptr_t)arg;
    char b[64];
    ssize_t n = recv(c, b, sizeof b, 0);
    CHECK(n > 0);
    usleep(HOOK_MS * 1000);
    CHECK_INT(send(c, b, (size_t)n, 0), n);
    CHECK_INT(close(c), 0);
    return NULL;
}

static void *server(void *arg)
{
    (void)arg;
    weft_co *t[HOOK_N];
    for (int i = 0; i < HOOK_N; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int c = i % 2 ? accept(srv_fd, (struct sockaddr *)&peer, &len)
                      : accept4(srv_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        CHECK(c >= 0);
        CHECK_INT(len, sizeof peer);
        /* The user asked for a blocking socket: so it says. */
        CHECK(!(fcntl(c, F_GETFL) & O_NONBLOCK));
        CHECK_INT(!!(fcntl(c, F_GETFD) & FD_CLOEXEC), i % 2 == 0);
        t[i] = weft_spawn(serve_one, (void *)(intptr_t)c, NULL);
    }
    for (int i = 0; i < HOOK_N; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    return NULL;
}

typedef struct client {
    int i;
} client;

static void *client_body(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    CHECK_INT(connect(fd, (struct sockaddr *)&srv_addr, sizeof srv_addr), 0);
    char msg[32], b[32];
    int len = snprintf(msg, sizeof msg, "client %d", c->i);
    ssize_t n;
    switch (c->i % 3) {
    case 0:
        CHECK_INT(send(fd, msg, (size_t)len, 0), len);
        n = recv(fd, b, sizeof b, MSG_WAITALL);
        break;
    case 1:
        CHECK_INT(sendto(fd, msg, (size_t)len, 0, NULL, 0), len);
        n = recvfrom(fd, b, sizeof b, 0, NULL, NULL);
        break;
    default: {
        struct iovec v = {msg, (size_t)len};
        struct msghdr m = {0};
        m.msg_iov = &v;
        m.msg_iovlen = 1;
        CHECK_INT(sendmsg(fd, &m, 0), len);
        struct iovec w = {b, sizeof b};
        m.msg_iov = &w;
        n = recvmsg(fd, &m, 0);
    }
    }
    CHECK_INT(n, len); /* MSG_WAITALL: until the server closed */
    CHECK(memcmp(b, msg, (size_t)len) == 0);
    CHECK_INT(recv(fd, b, sizeof b, 0), 0);
    CHECK_INT(close(fd), 0);
    return NULL;
}

static void test_server(void)
{
    srv_fd = listener(&srv_addr);
    weft_co *s = weft_spawn(server, NULL, NULL);
    static client c[HOOK_N];
    for (int i = 0; i < HOOK_N; i++)
        c[i].i = i;
    long ticks;
    int64_t el = hook_together(HOOK_N, client_body, c, sizeof c[0], &ticks);
    printf("%d TCP round trips of %d ms: %.1f ms, %ld ticks beside\n", HOOK_N, HOOK_MS, el / 1e6,
           ticks);
    CHECK_TOGETHER(el, ticks);
    CHECK_INT(weft_join(s, NULL, -1), 0);
    CHECK_INT(close(srv_fd), 0);
}

/* ---- timeouts ----------------------------------------------------------- */

static void *timeouts(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct timeval tv = {0, HOOK_MS * 1000}, got;
    socklen_t len = sizeof got;
    CHECK_INT(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    CHECK_INT(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
    CHECK_INT(got.tv_sec, 0);
    CHECK_INT(got.tv_usec, HOOK_MS * 1000);
    char b[16];
    ticker_start();
    int64_t t0 = weft_now();
    CHECK_ERR(read(sv[0], b, sizeof b), -1, EAGAIN);
    CHECK_ERR(recv(sv[0], b, sizeof b, 0), -1, EAGAIN);
    struct iovec v = {b, sizeof b};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    CHECK_ERR(recvmsg(sv[0], &m, 0), -1, EAGAIN);
    int64_t el = weft_now() - t0;
    CHECK(el >= (int64_t)3 * HOOK_MS * 1000000 * 9 / 10);
    CHECK(ticker_stop() > 0);
    /* Data before the timeout: returned. */
    CHECK_INT(write(sv[1], "x", 1), 1);
    CHECK_INT(read(sv[0], b, sizeof b), 1);
    /* SO_SNDTIMEO: a full socket. */
    CHECK_INT(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    static char big[1 << 16];
    ssize_t n;
    while ((n = send(sv[1], big, sizeof big, 0)) > 0)
        ;
    CHECK_INT(n, -1);
    CHECK_INT(errno, EAGAIN);
    /* write returns the part it wrote before the timeout, as the kernel
     * does: the socket takes some once the reader drains a little. */
    static char huge[1 << 22];
    for (int i = 0; i < 4; i++)
        CHECK(read(sv[0], big, sizeof big) > 0);
    n = write(sv[1], huge, sizeof huge);
    CHECK(n > 0 && n < (ssize_t)sizeof huge);
    CHECK_ERR(write(sv[1], huge, sizeof huge), -1, EAGAIN);
    /* Zero: no timeout any more (the read waits for data). */
    struct timeval zero = {0, 0};
    CHECK_INT(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero), 0);
    CHECK(read(sv[0], b, sizeof b) > 0);
    close(sv[0]);
    close(sv[1]);
    /* accept under SO_RCVTIMEO. */
    struct sockaddr_in a;
    int l = listener(&a);
    CHECK_INT(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    CHECK_ERR(accept(l, NULL, NULL), -1, EAGAIN);
    close(l);
    return NULL;
}

static void test_timeouts(void)
{
    weft_co *t = weft_spawn(timeouts, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* ---- the user's non-blocking sockets, and errors ------------------------ */

static void *user_nonblock(void *arg)
{
    (void)arg;
    int sv[2];
    char b[4];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    CHECK_ERR(recv(sv[0], b, sizeof b, 0), -1, EAGAIN);
    CHECK_ERR(read(sv[0], b, sizeof b), -1, EAGAIN);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    close(sv[0]);
    close(sv[1]);
    /* MSG_DONTWAIT on a blocking socket: EAGAIN. */
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_ERR(recv(sv[0], b, sizeof b, MSG_DONTWAIT), -1, EAGAIN);
    /* ioctl(FIONBIO) sets it, and unsets it. */
    int on = 1;
    CHECK_INT(ioctl(sv[0], FIONBIO, &on), 0);
    CHECK_ERR(recv(sv[0], b, sizeof b, 0), -1, EAGAIN);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    on = 0;
    CHECK_INT(ioctl(sv[0], FIONBIO, &on), 0);
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    CHECK(!fd_nonblock(sv[0])); /* weft has not used it yet */
    struct timeval tv = {0, 20000};
    CHECK_INT(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    CHECK_ERR(recv(sv[0], b, sizeof b, 0), -1, EAGAIN);
    CHECK(fd_nonblock(sv[0])); /* weft's, underneath */
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    /* FIONBIO again: the user's, while weft's stays. */
    on = 1;
    CHECK_INT(ioctl(sv[0], FIONBIO, &on), 0);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    on = 0;
    CHECK_INT(ioctl(sv[0], FIONBIO, &on), 0);
    CHECK(fd_nonblock(sv[0]));
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    close(sv[0]);
    close(sv[1]);
    /* A non-blocking connect: EINPROGRESS, then poll says when. */
    struct sockaddr_in a;
    int l = listener(&a);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(c, (struct sockaddr *)&a, sizeof a);
    CHECK(rc == 0 || errno == EINPROGRESS);
    struct pollfd p = {c, POLLOUT, 0};
    CHECK_INT(poll(&p, 1, 5000), 1);
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    CHECK(s >= 0);
    CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
    CHECK_ERR(recv(s, b, 1, 0), -1, EAGAIN);
    close(s);
    close(c);
    close(l);
    return NULL;
}

static void test_user_nonblock(void)
{
    weft_co *t = weft_spawn(user_nonblock, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *errors(void *arg)
{
    (void)arg;
    char b[4] = {0};
    CHECK_ERR(recv(-1, b, 1, 0), -1, EBADF);
    CHECK_ERR(send(999, b, 1, 0), -1, EBADF);
    CHECK_ERR(accept(999, NULL, NULL), -1, EBADF);
    struct sockaddr_in nowhere = {.sin_family = AF_INET};
    /* A valid address, so that qemu-user's check of it does not answer
     * EFAULT before the kernel's EBADF. */
    CHECK_ERR(connect(999, (struct sockaddr *)&nowhere, sizeof nowhere), -1, EBADF);
    /* A port nobody listens on. */
    struct sockaddr_in a;
    int l = listener(&a);
    close(l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERR(connect(c, (struct sockaddr *)&a, sizeof a), -1, ECONNREFUSED);
    close(c);
    /* Not a socket. */
    int p[2];
    CHECK_INT(pipe(p), 0);
    CHECK_ERR(send(p[1], b, 1, 0), -1, ENOTSOCK);
    CHECK_ERR(accept4(p[0], NULL, NULL, 0), -1, ENOTSOCK);
    close(p[0]);
    close(p[1]);
    /* accept4 with unknown flags. */
    l = listener(&a);
    CHECK_ERR(accept4(l, NULL, NULL, 0x40000000), -1, EINVAL);
    close(l);
    return NULL;
}

static void test_errors(void)
{
    weft_co *t = weft_spawn(errors, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

/* UDP: sendto with an address, recvfrom with one. */
static void *udp(void *arg)
{
    (void)arg;
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(b, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    CHECK_INT(getsockname(b, (struct sockaddr *)&sa, &len), 0);
    CHECK_INT(sendto(a, "dgram", 5, 0, (struct sockaddr *)&sa, sizeof sa), 5);
    char buf[16];
    struct sockaddr_in from;
    len = sizeof from;
    CHECK_INT(recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len), 5);
    CHECK_INT(from.sin_family, AF_INET);
    close(a);
    close(b);
    return NULL;
}

static void test_udp(void)
{
    weft_co *t = weft_spawn(udp, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_server();
    test_timeouts();
    test_user_nonblock();
    test_errors();
    test_udp();
    return NULL;
}

/* Outside a task: libc's calls, the socket stays blocking. */
static void test_outside(void)
{
    int sv[2];
    char b[8];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_INT(send(sv[0], "abc", 3, 0), 3);
    CHECK_INT(recv(sv[1], b, sizeof b, 0), 3);
    CHECK(!fd_nonblock(sv[0]) && !fd_nonblock(sv[1]));
    struct timeval tv = {0, 30000};
    CHECK_INT(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    /* The kernel's timeout. (A first try may end with EINTR: a timed
     * socket wait reports the task work of a closed io_uring ring so.) */
    ssize_t n;
    while ((n = recv(sv[1], b, sizeof b, 0)) < 0 && errno == EINTR)
        ;
    CHECK_INT(n, -1);
    CHECK_INT(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
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
