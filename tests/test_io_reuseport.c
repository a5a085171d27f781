/* weft_tcp_listen_reuseport: two sockets listen on one port and the
 * kernel spreads connections across them; a plain listener cannot join
 * them, nor they it; port 0 gives each call its own port; the errnos,
 * ENOPROTOOPT played by a setsockopt that refuses SO_REUSEPORT (wrapped at
 * link time, see tests/io.cmake); and one listener per worker of
 * weft_run_threads, each serving its connections on its own worker. */
#include "io_util.h"

#include <fcntl.h>
#include <sys/socket.h>

int __real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);

static int no_reuseport; /* set: SO_REUSEPORT fails as on a kernel without it */

int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (no_reuseport && level == SOL_SOCKET && name == SO_REUSEPORT) {
        errno = ENOPROTOOPT;
        return -1;
    }
    return __real_setsockopt(fd, level, name, val, len);
}

static int sockopt(int fd, int name)
{
    int v = 0;
    socklen_t len = sizeof v;
    CHECK_INT(getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    return v;
}

/* Does the system let a socket bind an address it does not have? */
static int nonlocal_bind(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* Accepts and closes what is queued on lfd; returns the count. */
static int drain(int lfd)
{
    int n = 0, s;
    while ((s = weft_accept(lfd, NULL, NULL, ms_from_now(100))) >= 0) {
        n++;
        CHECK_INT(weft_close(s), 0);
    }
    CHECK_INT(errno, ETIMEDOUT);
    return n;
}

#define CONNS 32 /* all on one of two sockets: a chance of 2^-31 */

static void dial_n(int *fds, int n, int port)
{
    for (int i = 0; i < n; i++) {
        fds[i] = weft_tcp_dial("127.0.0.1", port, ms_from_now(5000));
        if (fds[i] < 0)
            FAIL("dial %d: %s", i, strerror(errno));
    }
}

static void close_n(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_INT(weft_close(fds[i]), 0);
}

static void *spread(void *arg)
{
    (void)arg;
    int a = weft_tcp_listen_reuseport("127.0.0.1", 0, 0);
    CHECK(a >= 0);
    int port = weft_local_port(a);
    int b = weft_tcp_listen_reuseport("127.0.0.1", port, 0);
    CHECK(b >= 0);
    int c[CONNS];
    dial_n(c, CONNS, port);
    int na = drain(a), nb = drain(b);
    CHECK_INT(na + nb, CONNS);
    if (na == 0 || nb == 0)
        FAIL("all %d connections went to one socket (%d, %d)", CONNS, na, nb);
    close_n(c, CONNS);
    /* Once b is closed, a takes every new connection. */
    CHECK_INT(weft_close(b), 0);
    dial_n(c, 8, port);
    CHECK_INT(drain(a), 8);
    close_n(c, 8);
    CHECK_INT(weft_close(a), 0);
    /* A name resolves as for weft_tcp_listen, on the worker pool. */
    a = weft_tcp_listen_reuseport("localhost", 0, 0);
    CHECK(a >= 0);
    CHECK_INT(weft_close(a), 0);
    CHECK_ERR(weft_tcp_listen_reuseport("no-such-host.invalid", 0, 0), -1, EADDRNOTAVAIL);
    return NULL;
}

/* ---- one listener per worker ---- */

static weft_chan *ready;
static int accepted[2]; /* by the server spawned on worker i; read after the join */

/* Answers each connection with the index of the worker that accepted it,
 * until cancelled; returns that index. */
static void *accept_loop(int lfd, int i)
{
    int c;
    while ((c = weft_accept(lfd, NULL, NULL, -1)) >= 0) {
        char w = (char)weft_worker();
        accepted[i]++;
        CHECK_INT(weft_write(c, &w, 1, ms_from_now(5000)), 1);
        CHECK_INT(weft_close(c), 0);
    }
    CHECK_INT(errno, ECANCELED);
    CHECK_INT(weft_close(lfd), 0);
    return (void *)(intptr_t)weft_worker();
}

static void *serve_fd(void *arg)
{
    return accept_loop((int)(intptr_t)arg, 0);
}

/* The others pass the port that the first listener took. */
static void *serve_port(void *arg)
{
    int lfd = weft_tcp_listen_reuseport("127.0.0.1", (int)(intptr_t)arg, 0);
    CHECK(lfd >= 0);
    int one = 1;
    CHECK_INT(weft_chan_send(ready, &one, -1), 0);
    return accept_loop(lfd, 1);
}

static void *per_worker(void *arg)
{
    (void)arg;
    CHECK_INT(weft_workers(), 2);
    CHECK(ready = weft_chan_new(sizeof(int), 1));
    int a = weft_tcp_listen_reuseport("127.0.0.1", 0, 0), port = weft_local_port(a);
    CHECK(a >= 0 && port > 0);
    weft_co *s0 = weft_spawn_on(0, serve_fd, (void *)(intptr_t)a, NULL);
    weft_co *s1 = weft_spawn_on(1, serve_port, (void *)(intptr_t)port, NULL);
    CHECK(s0 && s1);
    int one;
    CHECK_INT(weft_chan_recv(ready, &one, ms_from_now(5000)), 0);
    int count[2] = {0, 0};
    for (int i = 0; i < CONNS; i++) {
        int fd = weft_tcp_dial("127.0.0.1", port, ms_from_now(5000));
        CHECK(fd >= 0);
        char w = -1;
        CHECK_INT(weft_read(fd, &w, 1, ms_from_now(5000)), 1);
        CHECK(w == 0 || w == 1);
        count[(int)w]++;
        CHECK_INT(weft_close(fd), 0);
    }
    void *w0, *w1;
    CHECK_INT(weft_cancel(s0), 0);
    CHECK_INT(weft_cancel(s1), 0);
    CHECK_INT(weft_join(s0, &w0, -1), 0);
    CHECK_INT(weft_join(s1, &w1, -1), 0);
    CHECK_INT((intptr_t)w0, 0);
    CHECK_INT((intptr_t)w1, 1);
    CHECK_INT(accepted[0], count[0]);
    CHECK_INT(accepted[1], count[1]);
    if (count[0] == 0 || count[1] == 0)
        FAIL("all %d connections went to one worker (%d, %d)", CONNS, count[0], count[1]);
    weft_chan_free(ready);
    return NULL;
}

int main(void)
{
    io_test_init();
    /* Two sockets on one port, both listening; no task needed for a
     * numeric host. */
    int a = weft_tcp_listen_reuseport("127.0.0.1", 0, 0);
    CHECK(a >= 0);
    int port = weft_local_port(a);
    CHECK(port > 0);
    int b = weft_tcp_listen_reuseport("127.0.0.1", port, 4);
    CHECK(b >= 0);
    CHECK_INT(weft_local_port(b), port);
    CHECK(sockopt(a, SO_ACCEPTCONN) && sockopt(b, SO_ACCEPTCONN));
    CHECK(sockopt(a, SO_REUSEPORT) && sockopt(b, SO_REUSEPORT));
    CHECK((fcntl(b, F_GETFL) & O_NONBLOCK) && (fcntl(b, F_GETFD) & FD_CLOEXEC));
    /* A plain listener cannot join them, on that address or on all. */
    CHECK_ERR(weft_tcp_listen("127.0.0.1", port, 0), -1, EADDRINUSE);
    CHECK_ERR(weft_tcp_listen(NULL, port, 0), -1, EADDRINUSE);
    CHECK_INT(weft_close(a), 0);
    CHECK_INT(weft_close(b), 0);
    /* Nor they a plain one. */
    int p = weft_tcp_listen("127.0.0.1", 0, 0);
    CHECK(p >= 0);
    CHECK_INT(sockopt(p, SO_REUSEPORT), 0);
    CHECK_ERR(weft_tcp_listen_reuseport("127.0.0.1", weft_local_port(p), 0), -1, EADDRINUSE);
    CHECK_INT(weft_close(p), 0);
    /* Port 0: each call gets a port of its own. */
    a = weft_tcp_listen_reuseport("127.0.0.1", 0, 0);
    b = weft_tcp_listen_reuseport("127.0.0.1", 0, 0);
    CHECK(a >= 0 && b >= 0);
    CHECK(weft_local_port(a) != weft_local_port(b));
    CHECK_INT(weft_close(a), 0);
    CHECK_INT(weft_close(b), 0);
    /* Every address, IPv6 with IPv4 where the system has it. */
    a = weft_tcp_listen_reuseport(NULL, 0, 0);
    CHECK(a >= 0);
    b = weft_tcp_listen_reuseport(NULL, weft_local_port(a), 0);
    CHECK(b >= 0);
    CHECK_INT(weft_close(a), 0);
    CHECK_INT(weft_close(b), 0);
    /* errnos */
    CHECK_ERR(weft_tcp_listen_reuseport("127.0.0.1", 70000, 0), -1, EINVAL);
    CHECK_ERR(weft_tcp_listen_reuseport("127.0.0.1", -1, 0), -1, EINVAL);
    if (!nonlocal_bind()) /* an address that is not this host's */
        CHECK_ERR(weft_tcp_listen_reuseport("192.0.2.1", 0, 0), -1, EADDRNOTAVAIL);
    int fds = io_count_fds();
    no_reuseport = 1;
    CHECK_ERR(weft_tcp_listen_reuseport("127.0.0.1", 0, 0), -1, ENOPROTOOPT);
    CHECK_INT(io_count_fds(), fds);         /* the socket was closed */
    p = weft_tcp_listen("127.0.0.1", 0, 0); /* which never asks for it */
    CHECK(p >= 0);
    CHECK_INT(weft_close(p), 0);
    no_reuseport = 0;

    CHECK_INT(weft_run(spread, NULL, NULL), 0);
    CHECK_INT(weft_run_threads(2, per_worker, NULL, NULL), 0);
    puts("ok");
    return 0;
}
