/* Sockets: TCP listen and dial by number and by name over IPv4 and IPv6,
 * Unix-domain and UDP sockets, accept and connect with their deadlines and
 * errors, send/recv, and the helpers' errnos. */
#include "io_util.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

static int has_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The task bodies here take their fd by value: a pointer to the spawner's
 * local would not do on a shared stack, whose frames are copied away while
 * the spawner waits. */

/* Accepts one connection and echoes it until end of file. */
static void *echo_once(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int c = weft_accept(lfd, (struct sockaddr *)&ss, &len, ms_from_now(5000));
    CHECK(c >= 0);
    CHECK(len > 0);
    int fl = fcntl(c, F_GETFL), fdfl = fcntl(c, F_GETFD);
    CHECK((fl & O_NONBLOCK) && (fdfl & FD_CLOEXEC));
    char buf[256];
    ssize_t n;
    while ((n = weft_recv(c, buf, sizeof buf, 0, ms_from_now(5000))) > 0)
        CHECK_INT(weft_send(c, buf, (size_t)n, 0, -1), n);
    CHECK_INT(n, 0);
    CHECK_INT(weft_close(c), 0);
    return NULL;
}

static void roundtrip(int lfd, const char *host, int port)
{
    weft_co *srv = weft_spawn(echo_once, (void *)(intptr_t)lfd, NULL);
    CHECK(srv);
    int fd = weft_tcp_dial(host, port, ms_from_now(5000));
    if (fd < 0)
        FAIL("dial %s:%d: %s", host, port, strerror(errno));
    CHECK_INT(weft_write(fd, "ping", 4, -1), 4);
    char buf[8];
    CHECK_INT(weft_read(fd, buf, sizeof buf, ms_from_now(5000)), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_INT(weft_close(fd), 0);
    CHECK_INT(weft_join(srv, NULL, -1), 0);
}

/* 3 MiB through TCP in three buffers, read back in two. */
#define BIG (1 << 20)

static void *big_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *d = malloc(3 * BIG);
    for (size_t i = 0; i < 3 * BIG; i++)
        d[i] = (char)(i % 251);
    struct iovec v[3] = {{d, BIG}, {d + BIG, BIG}, {d + 2 * BIG, BIG}};
    CHECK_INT(weft_writev(fd, v, 3, ms_from_now(10000)), 3 * BIG);
    free(d);
    CHECK_INT(shutdown(fd, SHUT_WR), 0);
    return NULL;
}

static void big_transfer(void)
{
    int lfd = weft_tcp_listen("127.0.0.1", 0, 0);
    int c = weft_tcp_dial("127.0.0.1", weft_local_port(lfd), ms_from_now(5000));
    int s = weft_accept(lfd, NULL, NULL, ms_from_now(5000));
    CHECK(c >= 0 && s >= 0);
    weft_co *w = weft_spawn(big_writer, (void *)(intptr_t)c, NULL);
    char *back = malloc(3 * BIG);
    size_t got = 0;
    ssize_t n;
    do {
        size_t left = 3 * BIG - got, half = left / 2;
        struct iovec v[2] = {{back + got, half}, {back + got + half, left - half}};
        n = left ? weft_readv(s, v, 2, ms_from_now(10000)) : weft_read(s, back, 1, -1);
        CHECK(n >= 0);
        got += (size_t)n;
    } while (n > 0);
    CHECK_INT(got, 3 * BIG);
    for (size_t i = 0; i < 3 * BIG; i++)
        if (back[i] != (char)(i % 251))
            FAIL("byte %zu differs", i);
    free(back);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    weft_close(c);
    weft_close(s);
    weft_close(lfd);
}

/* Data and the peer's FIN in one edge: after the short read of the data,
 * end of file is still read (no edge follows a half-close), and again. */
static void *fin_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[64];
    CHECK_INT(weft_read(fd, buf, sizeof buf, ms_from_now(5000)), 3);
    CHECK_INT(weft_read(fd, buf, sizeof buf, ms_from_now(1000)), 0);
    CHECK_INT(weft_read(fd, buf, sizeof buf, ms_from_now(1000)), 0);
    CHECK_INT(weft_recv(fd, buf, sizeof buf, 0, ms_from_now(1000)), 0);
    return NULL;
}

static void data_then_fin(void)
{
    int lfd = weft_tcp_listen("127.0.0.1", 0, 0);
    int c = weft_tcp_dial("127.0.0.1", weft_local_port(lfd), ms_from_now(5000));
    int s = weft_accept(lfd, NULL, NULL, ms_from_now(5000));
    CHECK(c >= 0 && s >= 0);
    char buf[8];
    CHECK_ERR(weft_read(s, buf, sizeof buf, 0), -1, EAGAIN); /* now registered */
    weft_co *r = weft_spawn(fin_reader, (void *)(intptr_t)s, NULL);
    CHECK_INT(weft_pause(), 0); /* the reader parks */
    CHECK_INT(write(c, "abc", 3), 3);
    CHECK_INT(shutdown(c, SHUT_WR), 0);
    CHECK_INT(weft_join(r, NULL, -1), 0);
    weft_close(c);
    weft_close(s);
    weft_close(lfd);
}

static void *tcp(void *arg)
{
    (void)arg;
    int lfd = weft_tcp_listen("127.0.0.1", 0, 16);
    CHECK(lfd >= 0);
    int port = weft_local_port(lfd);
    CHECK(port > 0);
    roundtrip(lfd, "127.0.0.1", port);
    roundtrip(lfd, "localhost", port); /* by name: getaddrinfo on the pool */
    big_transfer();
    data_then_fin();
    /* Taken port; refused connection. */
    CHECK_ERR(weft_tcp_listen("127.0.0.1", port, 0), -1, EADDRINUSE);
    CHECK_INT(weft_close(lfd), 0);
    CHECK_ERR(weft_tcp_dial("127.0.0.1", port, ms_from_now(5000)), -1, ECONNREFUSED);
    CHECK_ERR(weft_tcp_listen("127.0.0.1", 70000, 0), -1, EINVAL);
    CHECK_ERR(weft_tcp_dial("127.0.0.1", -1, 0), -1, EINVAL);
    CHECK_ERR(weft_tcp_dial(NULL, 80, 0), -1, EINVAL);
    CHECK_ERR(weft_tcp_dial("no-such-host.invalid", 80, ms_from_now(5000)), -1, EADDRNOTAVAIL);

    if (has_ipv6()) {
        lfd = weft_tcp_listen("::1", 0, 0);
        CHECK(lfd >= 0);
        roundtrip(lfd, "::1", weft_local_port(lfd));
        CHECK_INT(weft_close(lfd), 0);
        /* Every address: IPv4 and IPv6 on one socket. */
        lfd = weft_tcp_listen(NULL, 0, 0);
        CHECK(lfd >= 0);
        port = weft_local_port(lfd);
        roundtrip(lfd, "127.0.0.1", port);
        roundtrip(lfd, "::1", port);
        CHECK_INT(weft_close(lfd), 0);
    } else {
        puts("no IPv6 here: IPv6 cases skipped");
    }

    /* accept: deadline, not listening, not a socket. */
    lfd = weft_tcp_listen("127.0.0.1", 0, 1);
    CHECK_ERR(weft_accept(lfd, NULL, NULL, 0), -1, EAGAIN);
    CHECK_ERR(weft_accept(lfd, NULL, NULL, ms_from_now(20)), -1, ETIMEDOUT);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERR(weft_accept(s, NULL, NULL, 0), -1, EINVAL);
    int p[2];
    CHECK_INT(pipe(p), 0);
    CHECK_ERR(weft_accept(p[0], NULL, NULL, 0), -1, ENOTSOCK);
    CHECK_ERR(weft_connect(p[0], NULL, 0, 0), -1, ENOTSOCK);
    CHECK_ERR(weft_send(p[1], "x", 1, 0, 0), -1, ENOTSOCK);
    weft_close(p[0]);
    weft_close(p[1]);

    /* connect: a listener whose queue is full drops SYNs, so a connect
     * waits until its deadline. */
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)weft_local_port(lfd))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fds[16], nf = 0, timed_out = 0;
    while (nf < 16 && !timed_out) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        fds[nf++] = c;
        if (weft_connect(c, (struct sockaddr *)&sa, sizeof sa, ms_from_now(100)) != 0) {
            CHECK_INT(errno, ETIMEDOUT);
            timed_out = 1;
        }
    }
    CHECK(timed_out);
    for (int i = 0; i < nf; i++)
        weft_close(fds[i]);
    weft_close(lfd);
    weft_close(s);
    return NULL;
}

static void *unix_sock(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-io-sock-%d", (int)getpid());
    unlink(path);
    int lfd = weft_unix_listen(path, 0);
    CHECK(lfd >= 0);
    CHECK_ERR(weft_unix_listen(path, 0), -1, EADDRINUSE);
    weft_co *srv = weft_spawn(echo_once, (void *)(intptr_t)lfd, NULL);
    int fd = weft_unix_dial(path, ms_from_now(5000));
    CHECK(fd >= 0);
    CHECK_INT(weft_send(fd, "unix", 4, 0, -1), 4);
    char buf[8];
    CHECK_INT(weft_recv(fd, buf, sizeof buf, 0, ms_from_now(5000)), 4);
    CHECK(memcmp(buf, "unix", 4) == 0);
    weft_close(fd);
    CHECK_INT(weft_join(srv, NULL, -1), 0);
    weft_close(lfd);
    unlink(path);
    CHECK_ERR(weft_unix_dial(path, ms_from_now(1000)), -1, ENOENT);
    /* A Unix listener whose backlog is full: EAGAIN, at once. */
    lfd = weft_unix_listen(path, 1);
    CHECK(lfd >= 0);
    int q[64], nq = 0, again = 0;
    while (nq < 64 && !again) {
        int x = weft_unix_dial(path, ms_from_now(1000));
        if (x < 0) {
            CHECK_INT(errno, EAGAIN);
            again = 1;
        } else {
            q[nq++] = x;
        }
    }
    CHECK(again);
    while (nq)
        weft_close(q[--nq]);
    weft_close(lfd);
    unlink(path);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    CHECK_ERR(weft_unix_listen(longp, 0), -1, ENAMETOOLONG);
    CHECK_ERR(weft_unix_dial(longp, 0), -1, ENAMETOOLONG);
    CHECK_ERR(weft_unix_listen(NULL, 0), -1, EINVAL);
    return NULL;
}

static void *cancelled_gai(void *arg)
{
    (void)arg;
    weft_cancel(weft_co_self());
    struct addrinfo *res;
    CHECK_INT(weft_getaddrinfo("localhost", "80", NULL, &res), EAI_SYSTEM);
    CHECK_INT(errno, ECANCELED);
    CHECK_ERR(weft_tcp_dial("localhost", 80, -1), -1, ECANCELED);
    return NULL;
}

static void *udp(void *arg)
{
    (void)arg;
    int a = weft_udp_bind("127.0.0.1", 0), b = weft_udp_bind("127.0.0.1", 0);
    CHECK(a >= 0 && b >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)weft_local_port(b))};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[16];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    CHECK_ERR(
        weft_recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen, ms_from_now(10)), -1,
        ETIMEDOUT);
    /* Two datagrams, read one by one (a short read says nothing about the
     * next datagram). */
    CHECK_INT(weft_sendto(a, "one", 3, 0, (struct sockaddr *)&to, sizeof to, -1), 3);
    CHECK_INT(weft_sendto(a, "two", 3, 0, (struct sockaddr *)&to, sizeof to, -1), 3);
    flen = sizeof from;
    CHECK_INT(weft_recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen, -1), 3);
    CHECK(memcmp(buf, "one", 3) == 0);
    CHECK_INT(weft_local_port(a), ntohs(((struct sockaddr_in *)&from)->sin_port));
    CHECK_INT(weft_recvfrom(b, buf, sizeof buf, 0, NULL, NULL, ms_from_now(1000)), 3);
    CHECK(memcmp(buf, "two", 3) == 0);
    CHECK_ERR(weft_udp_bind("127.0.0.1", 65536), -1, EINVAL);
    int p[2];
    CHECK_INT(pipe(p), 0);
    CHECK_ERR(weft_local_port(p[0]), -1, ENOTSOCK);
    int u = weft_unix_listen("/tmp/weft-io-sock-port", 0);
    if (u >= 0) {
        CHECK_ERR(weft_local_port(u), -1, EAFNOSUPPORT);
        weft_close(u);
        unlink("/tmp/weft-io-sock-port");
    }
    close(p[0]);
    close(p[1]);
    weft_close(a);
    weft_close(b);
    return NULL;
}

int main(void)
{
    io_test_init();
    /* Listening needs no task for a numeric host. */
    int lfd = weft_tcp_listen("127.0.0.1", 0, 0);
    CHECK(lfd >= 0);
    CHECK_ERR(weft_tcp_dial("127.0.0.1", weft_local_port(lfd), 0), -1, EPERM);
    CHECK_INT(weft_close(lfd), 0);
    /* getaddrinfo outside a task runs inline. */
    struct addrinfo *res;
    CHECK_INT(weft_getaddrinfo("127.0.0.1", "80", NULL, &res), 0);
    freeaddrinfo(res);
    CHECK_INT(weft_run(tcp, NULL, NULL), 0);
    CHECK_INT(weft_run(unix_sock, NULL, NULL), 0);
    CHECK_INT(weft_run(udp, NULL, NULL), 0);
    CHECK_INT(weft_run(cancelled_gai, NULL, NULL), 0);
    puts("ok");
    return 0;
}
