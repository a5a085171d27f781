/* Faults: a peer that resets mid-request, one that half-closes, one that
 * sends a byte at a time (a per-request deadline drops it); writes to a
 * reset peer (SIGPIPE never kills); the process out of fds (EMFILE: the
 * server backs off and keeps serving the connections it has); no fd leaks
 * after many connections; 10,000 idle connections. */
#include "io_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define REQ_DEADLINE_MS 200

static int port;
static long served, dropped, resets;
static weft_group *conns;

/* One connection: requests are lines; each must arrive within
 * REQ_DEADLINE_MS of its first byte; the answer is "ok <line>". */
static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[512];
    size_t have = 0;
    for (;;) {
        /* Idle between requests as long as it likes; a request, once
         * begun, must be complete within the deadline. */
        int64_t deadline = have ? ms_from_now(REQ_DEADLINE_MS) : -1;
        char *nl;
        while (!(nl = memchr(buf, '\n', have))) {
            if (have && deadline < 0)
                deadline = ms_from_now(REQ_DEADLINE_MS);
            ssize_t n = weft_read(fd, buf + have, sizeof buf - have, deadline);
            if (n <= 0) {
                if (n < 0 && errno == ETIMEDOUT)
                    dropped++;
                if (n < 0 && errno == ECONNRESET)
                    resets++;
                goto out;
            }
            have += (size_t)n;
            if (have == sizeof buf)
                goto out;
        }
        size_t len = (size_t)(nl - buf) + 1;
        char resp[600];
        memcpy(resp, "ok ", 3);
        memcpy(resp + 3, buf, len);
        if (weft_write(fd, resp, len + 3, ms_from_now(1000)) < 0)
            goto out;
        served++;
        memmove(buf, buf + len, have - len);
        have -= len;
    }
out:
    weft_close(fd);
    return NULL;
}

static int emfiles;

/* Takes the listening fd by value, not a pointer to the spawner's local:
 * a shared-stack spawner's frames are copied away while it waits. */
static void *acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                emfiles++;
                weft_sleep(ms_from_now(5)); /* back off */
                continue;
            }
            CHECK_INT(errno, ECANCELED);
            return NULL;
        }
        if (!weft_group_spawn(conns, serve, (void *)(intptr_t)fd, NULL))
            weft_close(fd);
    }
}

static int dial(void)
{
    int fd = weft_tcp_dial("127.0.0.1", port, ms_from_now(5000));
    if (fd < 0)
        FAIL("dial: %s", strerror(errno));
    return fd;
}

static void ask(int fd, const char *line)
{
    char want[64], buf[64];
    snprintf(want, sizeof want, "ok %s\n", line);
    snprintf(buf, sizeof buf, "%s\n", line);
    CHECK_INT(weft_write(fd, buf, strlen(buf), -1), (long long)strlen(buf));
    size_t got = 0;
    while (got < strlen(want)) {
        ssize_t n = weft_read(fd, buf + got, sizeof buf - got, ms_from_now(5000));
        if (n <= 0)
            FAIL("read: %zd %s", n, strerror(errno));
        got += (size_t)n;
    }
    CHECK(memcmp(buf, want, got) == 0);
}

static void reset_close(int fd)
{
    struct linger lg = {1, 0};
    CHECK_INT(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    weft_close(fd);
}

static void *faults(void *arg)
{
    (void)arg;
    conns = weft_group_new();
    int lfd = weft_tcp_listen("127.0.0.1", 0, 0);
    CHECK(lfd >= 0);
    port = weft_local_port(lfd);
    weft_co *acc = weft_spawn(acceptor, (void *)(intptr_t)lfd, NULL);
    int fd = dial();
    ask(fd, "hello");

    /* Reset in the middle of a request. */
    int r = dial();
    CHECK_INT(weft_write(r, "half a req", 10, -1), 10);
    weft_sleep(ms_from_now(20));
    reset_close(r);
    weft_sleep(ms_from_now(20));
    CHECK_INT(resets, 1);
    ask(fd, "still here");

    /* Half-close: the request, then end of file; the answer still comes. */
    int h = dial();
    CHECK_INT(weft_write(h, "last\n", 5, -1), 5);
    CHECK_INT(shutdown(h, SHUT_WR), 0);
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = weft_read(h, buf + got, sizeof buf - got, ms_from_now(5000))) > 0)
        got += (size_t)n;
    CHECK_INT(n, 0);
    CHECK_INT(got, 8);
    CHECK(memcmp(buf, "ok last\n", 8) == 0);
    weft_close(h);

    /* A byte at a time, slower than the request deadline: dropped. */
    int s = dial();
    long before = dropped;
    int64_t t0 = weft_now();
    for (int i = 0; i < 20; i++) {
        if (weft_write(s, "x", 1, -1) < 0)
            break;
        n = weft_read(s, buf, sizeof buf, ms_from_now(50));
        if (n == 0 || (n < 0 && errno != ETIMEDOUT))
            break; /* the server closed the connection */
    }
    CHECK_INT(dropped, before + 1);
    CHECK(weft_now() - t0 < 20 * 50 * 1000000LL);
    weft_close(s);
    ask(fd, "and here");

    /* Writing to a peer that reset: EPIPE or ECONNRESET, never SIGPIPE. */
    int a = weft_tcp_listen("127.0.0.1", 0, 0);
    int c = weft_tcp_dial("127.0.0.1", weft_local_port(a), -1);
    int sc = weft_accept(a, NULL, NULL, -1);
    reset_close(c);
    weft_sleep(ms_from_now(10));
    int err = 0;
    for (int i = 0; i < 10 && !err; i++)
        if (weft_write(sc, "data", 4, ms_from_now(1000)) < 0)
            err = errno;
    if (err != EPIPE && err != ECONNRESET)
        FAIL("write to a reset peer: %s", strerror(err));
    err = 0;
    for (int i = 0; i < 10 && !err; i++)
        if (weft_send(sc, "data", 4, 0, ms_from_now(1000)) < 0)
            err = errno;
    CHECK_INT(err, EPIPE);
    weft_close(sc);
    weft_close(a);

    if (test_under_is("valgrind")) {
        puts("EMFILE case skipped: valgrind keeps RLIMIT_NOFILE to itself");
    } else {
        /* Out of fds: the acceptor backs off, the connection we have goes on,
         * and new ones are served once fds are free again. */
        struct rlimit old, rl;
        getrlimit(RLIMIT_NOFILE, &old);
        int nfds = io_count_fds();
        rl = old;
        rl.rlim_cur = (rlim_t)nfds + 6;
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
        int many[8], nm = 0;
        for (int i = 0; i < 8; i++) {
            int x = socket(AF_INET, SOCK_STREAM, 0);
            if (x < 0)
                break;
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (weft_connect(x, (struct sockaddr *)&sa, sizeof sa, ms_from_now(1000)) != 0) {
                weft_close(x);
                break;
            }
            many[nm++] = x;
        }
        weft_sleep(ms_from_now(30));
        CHECK(emfiles > 0);
        ask(fd, "out of fds");
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
        weft_sleep(ms_from_now(30));
        for (int i = 0; i < nm; i++) {
            char line[16];
            snprintf(line, sizeof line, "m%d", i);
            ask(many[i], line);
            weft_close(many[i]);
        }
        printf("emfile back-offs: %d, connections made at the limit: %d\n", emfiles, nm);
    }

    weft_close(fd);
    weft_cancel(acc);
    weft_join(acc, NULL, -1);
    weft_group_close(conns);
    weft_close(lfd);
    return NULL;
}

/* Many connections, each with one request, then no fd more than before. */
static int nconn;

static void *churn_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < nconn; i++) {
        int fd = dial();
        ask(fd, "q");
        weft_close(fd);
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    conns = weft_group_new();
    int lfd = weft_tcp_listen("127.0.0.1", 0, 0);
    port = weft_local_port(lfd);
    weft_co *acc = weft_spawn(acceptor, (void *)(intptr_t)lfd, NULL);
    weft_co *cl[4];
    for (int i = 0; i < 4; i++)
        cl[i] = weft_spawn(churn_client, NULL, NULL);
    for (int i = 0; i < 4; i++)
        CHECK_INT(weft_join(cl[i], NULL, -1), 0);
    weft_cancel(acc);
    weft_join(acc, NULL, -1);
    weft_group_close(conns);
    weft_close(lfd);
    return NULL;
}

int main(void)
{
    io_test_init();
    signal(SIGPIPE, SIG_DFL);
    int fds0 = io_count_fds();
    CHECK_INT(weft_run(faults, NULL, NULL), 0);

    /* 4 clients, 100,000 connections in all (fewer under the slow tools);
     * WEFT_TEST_CONNS sets another total. */
    nconn = io_slow_tool() ? 250 : 25000;
    if (getenv("WEFT_TEST_CONNS"))
        nconn = atoi(getenv("WEFT_TEST_CONNS")) / 4;
    served = 0;
    int64_t t0 = weft_now();
    CHECK_INT(weft_run(churn, NULL, NULL), 0);
    CHECK_INT(served, 4L * nconn);
    printf("%d connections in %.2f s\n", 4 * nconn, (double)(weft_now() - t0) / 1e9);
    CHECK_INT(io_count_fds(), fds0);
    puts("ok");
    return 0;
}
