/* Short reads of every kind of fd. A task waits to read an empty fd; two
 * chunks are written such that its first read returns less than it asked
 * for, and its second read must then complete: at once when the second
 * chunk is already there (packets, messages, ancillary data, the urgent
 * mark, credentials of another writer), after a new write when the first
 * read really drained the fd. A read that wrongly takes "short" for
 * "empty" would wait for an edge that never comes: a deadline turns that
 * into a failure. */
#include "io_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>

typedef struct kase {
    const char *name;
    int rfd, wfd;  /* read here; wfd is the other end, where there is one */
    size_t cap;    /* the reads ask for this much */
    size_t n1, n2; /* what the two reads must return */
} kase;

static char dir[64];

/* ---- the fds ------------------------------------------------------------ */

static void tcp_pair(int *r, int *w)
{
    int l = weft_tcp_listen("127.0.0.1", 0, 4);
    CHECK(l >= 0);
    *w = weft_tcp_dial("127.0.0.1", weft_local_port(l), ms_from_now(5000));
    CHECK(*w >= 0);
    *r = weft_accept(l, NULL, NULL, ms_from_now(5000));
    CHECK(*r >= 0);
    int one = 1;
    CHECK_INT(setsockopt(*w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    weft_close(l);
}

static void pair(int type, int *r, int *w)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, type, 0, sv), 0);
    *r = sv[0];
    *w = sv[1];
}

static void put(int fd, const char *s)
{
    CHECK_INT(send(fd, s, strlen(s), MSG_NOSIGNAL), (long long)strlen(s));
}

static void wr(int fd, const void *p, size_t n)
{
    CHECK_INT(write(fd, p, n), (long long)n);
}

/* ---- what is written before the first read ends (first) and after it
 * (later; NULL when the first write leaves both chunks queued) ---------- */

static void first_plain(kase *k)
{
    wr(k->wfd, "aaaa", 4);
}

static void later_plain(kase *k)
{
    wr(k->wfd, "bbbb", 4);
}

static void first_two_writes(kase *k)
{
    wr(k->wfd, "aaaa", 4);
    wr(k->wfd, "bbbb", 4);
}

static void first_urgent(kase *k)
{
    /* The read stops at the urgent byte 'c', and the next one skips it. */
    put(k->wfd, "aaaa");
    CHECK_INT(send(k->wfd, "bc", 2, MSG_OOB | MSG_NOSIGNAL), 2);
    put(k->wfd, "ddd");
}

static void first_rights(kase *k)
{
    /* recvmsg stops after data that carried fds. */
    char data[] = "aaaa";
    struct iovec v = {data, 4};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int passed = k->wfd;
    memcpy(CMSG_DATA(c), &passed, sizeof passed);
    CHECK_INT(sendmsg(k->wfd, &m, MSG_NOSIGNAL), 4);
    put(k->wfd, "bbbb");
}

static void first_creds(kase *k)
{
    /* With SO_PASSCRED, data of different writers is never glued: the
     * second chunk comes from a child process. */
    put(k->wfd, "aaaa");
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        ssize_t n = send(k->wfd, "bbbb", 4, MSG_NOSIGNAL);
        _exit(n == 4 ? 0 : 1);
    }
    int st;
    CHECK_INT(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void first_unix_oob(kase *k)
{
    put(k->wfd, "aaaa");
    CHECK_INT(send(k->wfd, "b", 1, MSG_OOB | MSG_NOSIGNAL), 1);
    put(k->wfd, "ccc");
}

static void first_pty(kase *k)
{
    /* The slave in canonical mode reads a line at a time. */
    wr(k->wfd, "aaa\nbbb\n", 8);
}

static void first_eventfd_sem(kase *k)
{
    uint64_t two = 2; /* a semaphore: each read takes one */
    wr(k->wfd, &two, sizeof two);
}

static void first_eventfd(kase *k)
{
    uint64_t v = 5;
    wr(k->wfd, &v, sizeof v);
}

static void later_eventfd(kase *k)
{
    uint64_t v = 1;
    wr(k->wfd, &v, sizeof v);
}

static void expire(int fd)
{
    /* An absolute time in the past: expires at once. */
    struct itimerspec its = {{0, 0}, {0, 1}};
    CHECK_INT(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
}

static void first_timerfd(kase *k)
{
    expire(k->rfd);
}

static void later_timerfd(kase *k)
{
    expire(k->rfd);
}

static void first_signalfd(kase *k)
{
    (void)k;
    CHECK_INT(raise(SIGUSR1), 0);
    CHECK_INT(raise(SIGUSR2), 0);
}

/* ---- one case ----------------------------------------------------------- */

typedef struct run {
    kase *k;
    weft_chan *done1;
    ssize_t n1, n2;
    int e1, e2;
} run;

static void *reader(void *arg)
{
    run *r = arg;
    char buf[512];
    errno = 0;
    r->n1 = weft_read(r->k->rfd, buf, r->k->cap, ms_from_now(5000));
    r->e1 = errno;
    int one = 1;
    CHECK_INT(weft_chan_send(r->done1, &one, -1), 0);
    errno = 0;
    r->n2 = weft_read(r->k->rfd, buf, r->k->cap, ms_from_now(5000));
    r->e2 = errno;
    return NULL;
}

static void run_case(kase *k, void (*first)(kase *), void (*later)(kase *))
{
    printf("%s\n", k->name);
    fflush(stdout);
    /* Static, as is main_task's kase: the reader uses both while this task
     * waits, and a shared stack saves this task's frames away meanwhile. */
    static run r;
    r = (run){k, weft_chan_new(sizeof(int), 0), 0, 0, 0, 0};
    CHECK(r.done1);
    weft_co *c = weft_spawn(reader, &r, NULL);
    CHECK(c);
    CHECK_INT(weft_pause(), 0); /* it waits on the empty fd */
    first(k);
    int v;
    CHECK_INT(weft_chan_recv(r.done1, &v, -1), 0);
    if (later)
        later(k);
    CHECK_INT(weft_join(c, NULL, -1), 0);
    weft_chan_free(r.done1);
    if (r.n1 != (ssize_t)k->n1 || r.n2 != (ssize_t)k->n2)
        FAIL("%s: reads returned %zd (%s) and %zd (%s), expected %zu and %zu", k->name, r.n1,
             r.n1 < 0 ? strerror(r.e1) : "ok", r.n2, r.n2 < 0 ? strerror(r.e2) : "ok", k->n1,
             k->n2);
    weft_close(k->rfd);
    if (k->wfd >= 0 && k->wfd != k->rfd)
        weft_close(k->wfd);
}

static void *main_task(void *arg)
{
    (void)arg;
    static kase k;
    int a[2];

    CHECK_INT(pipe(a), 0);
    k = (kase){"pipe", a[0], a[1], 64, 4, 4};
    run_case(&k, first_plain, later_plain);

    if (pipe2(a, O_DIRECT) == 0) {
        k = (kase){"pipe O_DIRECT", a[0], a[1], 64, 4, 4};
        run_case(&k, first_two_writes, NULL);
    } else {
        printf("pipe O_DIRECT: not here (%s)\n", strerror(errno));
    }

    /* A pipe whose writer turns on packets after weft saw the reader. */
    CHECK_INT(pipe(a), 0);
    char c;
    CHECK_ERR(weft_read(a[0], &c, 1, 0), -1, EAGAIN);
    if (fcntl(a[1], F_SETFL, fcntl(a[1], F_GETFL) | O_DIRECT) == 0) {
        k = (kase){"pipe, O_DIRECT set later", a[0], a[1], 64, 4, 4};
        run_case(&k, first_two_writes, NULL);
    } else {
        weft_close(a[0]);
        weft_close(a[1]);
    }

    char fifo[96];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    int fr = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(fr >= 0);
    int fw = open(fifo, O_WRONLY);
    CHECK(fw >= 0);
    unlink(fifo);
    k = (kase){"fifo", fr, fw, 64, 4, 4};
    run_case(&k, first_plain, later_plain);

    tcp_pair(&a[0], &a[1]);
    k = (kase){"tcp", a[0], a[1], 64, 4, 4};
    run_case(&k, first_plain, later_plain);

    tcp_pair(&a[0], &a[1]);
    k = (kase){"tcp urgent", a[0], a[1], 64, 5, 3};
    run_case(&k, first_urgent, NULL);

    pair(SOCK_STREAM, &a[0], &a[1]);
    k = (kase){"unix stream", a[0], a[1], 64, 4, 4};
    run_case(&k, first_plain, later_plain);

    pair(SOCK_STREAM, &a[0], &a[1]);
    k = (kase){"unix stream SCM_RIGHTS", a[0], a[1], 64, 4, 4};
    run_case(&k, first_rights, NULL);

    pair(SOCK_STREAM, &a[0], &a[1]);
    int one = 1;
    CHECK_INT(setsockopt(a[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    k = (kase){"unix stream SO_PASSCRED", a[0], a[1], 64, 4, 4};
    run_case(&k, first_creds, NULL);

    pair(SOCK_STREAM, &a[0], &a[1]);
    int oob = send(a[1], "x", 1, MSG_OOB) == 1; /* since 5.15, where configured */
    weft_close(a[0]);
    weft_close(a[1]);
    if (oob) {
        pair(SOCK_STREAM, &a[0], &a[1]);
        k = (kase){"unix stream MSG_OOB", a[0], a[1], 64, 4, 3};
        run_case(&k, first_unix_oob, NULL);
    } else {
        printf("unix stream MSG_OOB: not here\n");
    }

    pair(SOCK_SEQPACKET, &a[0], &a[1]);
    k = (kase){"unix seqpacket", a[0], a[1], 64, 4, 4};
    run_case(&k, first_two_writes, NULL);

    pair(SOCK_DGRAM, &a[0], &a[1]);
    k = (kase){"unix dgram", a[0], a[1], 64, 4, 4};
    run_case(&k, first_two_writes, NULL);

    int u1 = weft_udp_bind("127.0.0.1", 0), u2 = weft_udp_bind("127.0.0.1", 0);
    CHECK(u1 >= 0 && u2 >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)weft_local_port(u1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(connect(u2, (struct sockaddr *)&sa, sizeof sa), 0);
    k = (kase){"udp", u1, u2, 64, 4, 4};
    run_case(&k, first_two_writes, NULL);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0) {
        int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
        CHECK(sl >= 0);
        k = (kase){"pty", sl, m, 64, 4, 4};
        run_case(&k, first_pty, NULL);
    } else {
        printf("pty: not here\n");
    }

    int e = eventfd(0, EFD_SEMAPHORE);
    CHECK(e >= 0);
    k = (kase){"eventfd semaphore", e, e, 16, 8, 8};
    run_case(&k, first_eventfd_sem, NULL);

    e = eventfd(0, 0);
    CHECK(e >= 0);
    k = (kase){"eventfd", e, e, 16, 8, 8};
    run_case(&k, first_eventfd, later_eventfd);

    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(t >= 0);
    k = (kase){"timerfd", t, -1, 16, 8, 8};
    run_case(&k, first_timerfd, later_timerfd);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    int sf = signalfd(-1, &set, 0);
    CHECK(sf >= 0);
    size_t one_info = sizeof(struct signalfd_siginfo);
    k = (kase){"signalfd", sf, -1, 2 * one_info - 1, one_info, one_info};
    run_case(&k, first_signalfd, NULL);
    return NULL;
}

int main(void)
{
    io_test_init();
    snprintf(dir, sizeof dir, "/tmp/weft-kinds-XXXXXX");
    CHECK(mkdtemp(dir));
    /* For the signalfd: the signals stay pending until it reads them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    CHECK_INT(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    int rc = weft_run(main_task, NULL, NULL);
    rmdir(dir);
    CHECK_INT(rc, 0);
    puts("ok");
    return 0;
}
