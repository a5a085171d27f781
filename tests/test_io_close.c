/* weft_close of an fd that another task waits on: the waiter fails with
 * EBADF and never touches the fd number again, even when a new fd gets
 * that number at once and is ready (its data, or its connection, stays
 * for whoever opened it). Readers on a pipe and a socket, weft_wait_fd,
 * weft_accept, and a writer waiting for room. */
#include "io_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

typedef struct waiter {
    int fd;
    int what; /* 'r' read, 'w' write, 'p' wait_fd, 'a' accept */
    long r;
    int err;
} waiter;

static void *wait_body(void *arg)
{
    waiter *w = arg;
    char buf[64];
    static char big[1 << 16];
    int64_t guard = ms_from_now(5000); /* a regression fails, not hangs */
    errno = 0;
    switch (w->what) {
    case 'r':
        w->r = weft_read(w->fd, buf, sizeof buf, guard);
        break;
    case 'w':
        w->r = weft_write(w->fd, big, sizeof big, guard);
        break;
    case 'p':
        w->r = weft_wait_fd(w->fd, POLLIN, guard);
        break;
    default:
        w->r = weft_accept(w->fd, NULL, NULL, guard);
        break;
    }
    w->err = errno;
    return NULL;
}

/* Starts a task that waits on fd and lets it reach its wait. */
static weft_co *start(waiter *w, int fd, int what)
{
    w->fd = fd;
    w->what = what;
    weft_co *c = weft_spawn(wait_body, w, NULL);
    CHECK(c);
    CHECK_INT(weft_pause(), 0);
    return c;
}

static void check_ebadf(weft_co *c, waiter *w)
{
    CHECK_INT(weft_join(c, NULL, -1), 0);
    if (w->r >= 0 && w->what == 'a')
        close((int)w->r);
    CHECK_INT(w->r, -1);
    CHECK_INT(w->err, EBADF);
}

/* A reader on one end of a pipe or socket pair; the pair is closed and a
 * new one made whose read end has the same number and data in it. */
static void reader_case(int sock)
{
    int a[2], b[2];
    CHECK_INT(sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, a) : pipe(a), 0);
    static waiter w; /* not on this task's stack: the waiter writes it */
    weft_co *c = start(&w, a[0], 'r');
    CHECK_INT(weft_close(a[0]), 0);
    CHECK_INT(weft_close(a[1]), 0);
    CHECK_INT(sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, b) : pipe(b), 0);
    CHECK_INT(b[0], a[0]);
    CHECK_INT(weft_write(b[1], "new", 3, -1), 3);
    check_ebadf(c, &w);
    char buf[8];
    CHECK_INT(weft_read(b[0], buf, sizeof buf, 0), 3);
    CHECK(memcmp(buf, "new", 3) == 0);
    weft_close(b[0]);
    weft_close(b[1]);
}

static void wait_fd_case(void)
{
    int a[2], b[2];
    CHECK_INT(pipe(a), 0);
    static waiter w; /* not on this task's stack: the waiter writes it */
    weft_co *c = start(&w, a[0], 'p');
    CHECK_INT(weft_close(a[0]), 0);
    CHECK_INT(weft_close(a[1]), 0);
    CHECK_INT(pipe(b), 0);
    CHECK_INT(b[0], a[0]);
    CHECK_INT(weft_write(b[1], "x", 1, -1), 1);
    check_ebadf(c, &w);
    weft_close(b[0]);
    weft_close(b[1]);
}

/* A writer waiting for room in a full pipe; the new pipe's write end gets
 * the number and must receive nothing. */
static void writer_case(void)
{
    int a[2], b[2];
    CHECK_INT(pipe(a), 0);
    char fill[4096];
    memset(fill, 'f', sizeof fill);
    CHECK_INT(fcntl(a[1], F_SETFL, fcntl(a[1], F_GETFL) | O_NONBLOCK), 0);
    while (write(a[1], fill, sizeof fill) > 0)
        ;
    static waiter w; /* not on this task's stack: the waiter writes it */
    weft_co *c = start(&w, a[1], 'w');
    CHECK_INT(weft_close(a[1]), 0);
    CHECK_INT(weft_close(a[0]), 0);
    CHECK_INT(pipe(b), 0);
    CHECK_INT(b[1], a[1]);
    check_ebadf(c, &w);
    char buf[8];
    CHECK_ERR(weft_read(b[0], buf, sizeof buf, 0), -1, EAGAIN);
    weft_close(b[0]);
    weft_close(b[1]);
}

/* A task in weft_accept; the listener is closed and a new one that gets
 * its number has a client waiting. */
static void accept_case(void)
{
    int l = weft_tcp_listen("127.0.0.1", 0, 16);
    CHECK(l >= 0);
    static waiter w; /* not on this task's stack: the waiter writes it */
    weft_co *c = start(&w, l, 'a');
    CHECK_INT(weft_close(l), 0);
    int l2 = weft_tcp_listen("127.0.0.1", 0, 16);
    CHECK_INT(l2, l);
    int cl = weft_tcp_dial("127.0.0.1", weft_local_port(l2), ms_from_now(5000));
    CHECK(cl >= 0);
    check_ebadf(c, &w);
    int s = weft_accept(l2, NULL, NULL, ms_from_now(5000));
    CHECK(s >= 0);
    weft_close(s);
    weft_close(cl);
    weft_close(l2);
}

static void *main_task(void *arg)
{
    (void)arg;
    reader_case(0);
    reader_case(1);
    wait_fd_case();
    writer_case();
    accept_case();
    return NULL;
}

int main(void)
{
    io_test_init();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
