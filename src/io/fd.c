/* The calls that wait on fds. Each first tries the system call on the
 * non-blocking fd, and only when it would block parks the task in the
 * poller until the fd is ready, the deadline comes or the task is
 * cancelled. The poller remembers, per fd, whether the last edge said
 * "readable" and nothing read it empty since (rdready): a TCP socket that
 * a read left short is not read again until the next edge, so a
 * request-response connection costs a read and a write per request, and
 * no read that fails with EAGAIN. Other fds are read until EAGAIN (see
 * drained). With
 * io_uring no edge comes while no task waits, so a call that must not
 * block (deadline passed) tries the system call whatever rdready says. */
#include "io/io.h"

#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- records ------------------------------------------------------------ */

static __thread int sigpipe_blocked;

/* Writing to a pipe whose reader is gone raises SIGPIPE in the writing
 * thread, and sockets are written with MSG_NOSIGNAL, so blocking SIGPIPE
 * in the threads that write pipes is enough that it never kills. */
static void block_sigpipe(void)
{
    if (sigpipe_blocked)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigpipe_blocked = 1;
}

/* A write failed with EPIPE: the SIGPIPE it raised is pending (blocked);
 * take it so it does not fire if the program unblocks SIGPIPE later. */
static void eat_sigpipe(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    int e = errno;
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
        ;
    errno = e;
}

static int sockopt(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, name, &v, &len) == 0 ? v : -1;
}

/* TCP proper: not SCTP or MPTCP, which are SOCK_STREAM too but read
 * otherwise. */
static int is_tcp(int fd)
{
    int dom = sockopt(fd, SO_DOMAIN);
    return (dom == AF_INET || dom == AF_INET6) && sockopt(fd, SO_TYPE) == SOCK_STREAM &&
           sockopt(fd, SO_PROTOCOL) == IPPROTO_TCP;
}

static int classify(int fd, weft__pfd *r)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int kind = K_KNOWN;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
        r->kind = (uint8_t)(kind | K_FILE);
        return 0;
    }
    if (S_ISSOCK(st.st_mode)) {
        kind |= K_SOCK;
        if (is_tcp(fd))
            kind |= K_TCP;
    } else {
        if (S_ISFIFO(st.st_mode))
            kind |= K_PIPE;
        block_sigpipe();
    }
    int fl = weft__sys_fcntl(fd, F_GETFL, 0);
    if (fl < 0 || (!(fl & O_NONBLOCK) && weft__sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
        return -1;
    r->kind = (uint8_t)kind;
    r->nonblock = 1;
    r->rdready = 1;
    return 0;
}

int weft__io_enter(int fd, weft__task **t, weft__pfd **r)
{
    if (weft__enter(t) != 0)
        return -1;
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller;
    if (unlikely(!p) && !(p = weft__idle_poller(s)))
        return -1;
    weft__pfd *rec = weft__poll_fd_peek(p, fd);
    if (unlikely(!rec) && !(rec = weft__poll_fd(p, fd)))
        return -1;
    if (unlikely(!rec->kind) && classify(fd, rec) != 0)
        return -1;
    *r = rec;
    return 0;
}

void weft__io_fresh(weft__sched *s, int fd, int kind)
{
    if (!s || !s->poller)
        return;
    weft__poll_forget(s->poller, fd);
    weft__pfd *r = weft__poll_fd(s->poller, fd);
    if (!r)
        return; /* classified on first use instead */
    r->kind = (uint8_t)(kind | K_KNOWN);
    r->nonblock = 1;
    r->rdready = 1;
}

int weft__io_wait(weft__task *t, int fd, weft__pfd *r, int dir, int64_t deadline)
{
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller;
    if (weft__expired(deadline)) {
        errno = weft__late(deadline);
        return -1;
    }
    if (r->w[dir]) {
        errno = EBUSY;
        return -1;
    }
    if (weft__poll_arm(p, fd, r, dir) != 0)
        return -1;
    r->w[dir] = t;
    uint32_t life = r->life;
    int why = weft__park(t, dir == WEFT__RD ? WR_FD_READ : WR_FD_WRITE, (void *)(intptr_t)fd,
                         deadline, PARK_EXTERNAL);
    if (unlikely(r->life != life)) {
        /* weft_close handed us back: the number may be another file's
         * now, and its record another waiter's. */
        errno = why ? why : EBADF;
        return -1;
    }
    if (r->w[dir] == t) {
        /* Left before the fd was ready (deadline, cancellation). */
        r->w[dir] = NULL;
        weft__poll_disarm(p, fd, r, dir);
    }
    if (why) {
        errno = why;
        return -1;
    }
    return 0;
}

/* Does a short read of this fd mean it is empty until the next edge? For
 * TCP, yes: tcp_recvmsg copies all that is queued, and what arrives later
 * makes an edge; but not after a half-close or an error (no edge follows
 * them, and end of file must be read again and again), nor once urgent
 * data came (a read stops at its mark). Not for anything else: a pipe's
 * writer may turn on packets (O_DIRECT) at any time, which the read end
 * cannot see; a Unix stream read stops where data carried fds, or came
 * from another writer under SO_PASSCRED, or at MSG_OOB; datagrams,
 * SEQPACKET, ttys (a line per read), eventfd, timerfd and signalfd return
 * one unit per read. Those are read until EAGAIN. (TCP with a ULP such as
 * kernel TLS, set up after weft first saw the socket, reads records and
 * is not recognised.) */
static inline int drained(const weft__pfd *r)
{
    return (r->kind & K_TCP) && !r->hup && !r->pri;
}

/* ---- regular files: the worker pool ------------------------------------- */

typedef struct file_op {
    int fd, write, iovcnt;
    const struct iovec *iov;
    off_t off; /* -1: at the file's offset */
    ssize_t n;
    int err;
} file_op;

static ssize_t file_rw(const file_op *op, const struct iovec *v, int cnt, off_t off)
{
    if (op->write)
        return off < 0 ? weft__sys_writev(op->fd, v, cnt) : weft__sys_pwritev(op->fd, v, cnt, off);
    return off < 0 ? weft__sys_readv(op->fd, v, cnt) : weft__sys_preadv(op->fd, v, cnt, off);
}

static void *file_run(void *arg)
{
    file_op *op = arg;
    if (!op->write) {
        op->n = file_rw(op, op->iov, op->iovcnt, op->off);
        op->err = op->n < 0 ? errno : 0;
        return NULL;
    }
    /* Writes all: a copy of the vector advanced as it goes. */
    struct iovec v[64];
    int cnt = op->iovcnt < 64 ? op->iovcnt : 64;
    memcpy(v, op->iov, (size_t)cnt * sizeof *v);
    ssize_t total = 0;
    int i = 0;
    while (i < cnt) {
        ssize_t n = file_rw(op, v + i, cnt - i, op->off < 0 ? -1 : op->off + total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            op->n = -1;
            op->err = errno;
            return NULL;
        }
        total += n;
        while (i < cnt && (size_t)n >= v[i].iov_len)
            n -= (ssize_t)v[i++].iov_len;
        if (i < cnt) {
            v[i].iov_base = (char *)v[i].iov_base + n;
            v[i].iov_len -= (size_t)n;
        }
    }
    op->n = total;
    op->err = 0;
    return NULL;
}

static ssize_t file_io(weft__task *t, int fd, int write, const struct iovec *iov, int iovcnt,
                       off_t off)
{
    if (write && iovcnt > 64) {
        errno = EINVAL;
        return -1;
    }
    file_op op = {fd, write, iovcnt, iov, off, 0, 0};
    if (weft__offload(t, file_run, &op, NULL) != 0)
        return -1;
    if (op.n < 0)
        errno = op.err;
    return op.n;
}

/* ---- waiting for readiness ---------------------------------------------- */

int weft__fd_look(int fd, int events)
{
    struct pollfd pfd = {fd, (short)events, 0};
    int n = weft__sys_poll(&pfd, 1, 0);
    if (n <= 0)
        return n;
    if (pfd.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    int bad = pfd.revents & (POLLERR | POLLHUP);
    return (pfd.revents & events) | (bad ? bad | events : 0);
}

/* The directions of events, in order. */
static int dirs_of(int events, int dirs[2])
{
    int nd = 0;
    if (events & POLLIN)
        dirs[nd++] = WEFT__RD;
    if (events & POLLOUT)
        dirs[nd++] = WEFT__WR;
    return nd;
}

int weft__fd_arm(weft__task *t, int fd, weft__pfd *r, int events)
{
    weft__poller *p = weft__sched_cur->poller;
    int dirs[2], nd = dirs_of(events, dirs);
    for (int i = 0; i < nd; i++) {
        if (r->w[dirs[i]]) {
            errno = EBUSY;
            return -1;
        }
    }
    for (int i = 0; i < nd; i++) {
        if (weft__poll_arm(p, fd, r, dirs[i]) != 0) {
            for (int j = 0; j < i; j++)
                weft__poll_disarm(p, fd, r, dirs[j]);
            return -1;
        }
    }
    for (int i = 0; i < nd; i++)
        r->w[dirs[i]] = t;
    return 0;
}

int weft__fd_disarm(weft__task *t, int fd, weft__pfd *r, int events)
{
    weft__poller *p = weft__sched_cur->poller;
    int dirs[2], nd = dirs_of(events, dirs), got = 0;
    for (int i = 0; i < nd; i++) {
        int d = dirs[i];
        if (r->w[d] == t) {
            r->w[d] = NULL;
            weft__poll_disarm(p, fd, r, d);
        } else {
            got |= d == WEFT__RD ? POLLIN : POLLOUT;
        }
    }
    return got;
}

int weft_wait_fd(int fd, int events, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (events & ~(POLLIN | POLLOUT) || !(events & (POLLIN | POLLOUT))) {
        errno = EINVAL;
        return -1;
    }
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (r->kind & K_FILE)
        return events;
    /* Look first: with epoll an edge may have come and gone, and with
     * either a ready fd needs no wait. */
    int got = weft__fd_look(fd, events);
    if (got != 0)
        return got < 0 ? -1 : got & events;
    if (weft__expired(deadline)) {
        errno = weft__late(deadline);
        return -1;
    }
    if (weft__fd_arm(t, fd, r, events) != 0)
        return -1;
    uint32_t life = r->life;
    weft__reason why_wait = events == POLLIN ? WR_FD_READ : events == POLLOUT ? WR_FD_WRITE : WR_FD;
    int why = weft__park(t, why_wait, (void *)(intptr_t)fd, deadline, PARK_EXTERNAL);
    if (unlikely(r->life != life)) {
        errno = why ? why : EBADF; /* closed: as in weft__io_wait */
        return -1;
    }
    if ((got = weft__fd_disarm(t, fd, r, events)))
        return got;
    errno = why ? why : EINTR;
    return -1;
}

/* ---- reading ------------------------------------------------------------ */

ssize_t weft_read(int fd, void *buf, size_t len, int64_t deadline)
{
    /* One path for both: readv with one buffer costs what read does. */
    struct iovec v = {buf, len};
    return weft_readv(fd, &v, 1, deadline);
}

/* The start of readv and writev: a waiting call's checks, then the
 * vector's. Returns 0, or -1 with errno. */
static int iov_enter(int fd, const struct iovec *iov, int iovcnt, weft__task **t, weft__pfd **r)
{
    if (weft__io_enter(fd, t, r) != 0)
        return -1;
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (iov_enter(fd, iov, iovcnt, &t, &r) != 0)
        return -1;
    if (unlikely(r->kind & K_FILE))
        return file_io(t, fd, 0, iov, iovcnt, -1);
    size_t want = 0;
    for (int i = 0; i < iovcnt; i++)
        want += iov[i].iov_len;
    for (;;) {
        if (r->rdready || weft__expired(deadline)) {
            ssize_t n = weft__sys_readv(fd, iov, iovcnt);
            if (n >= 0) {
                if (n > 0 && (size_t)n < want && drained(r))
                    r->rdready = 0;
                return n;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            r->rdready = 0;
        }
        if (weft__io_wait(t, fd, r, WEFT__RD, deadline) != 0)
            return -1;
    }
}

/* recv and recvfrom: one call that may be short, as read. */
static ssize_t recv_common(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                           socklen_t *alen, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    int consumes = !(flags & (MSG_PEEK | MSG_OOB));
    for (;;) {
        if (r->rdready || weft__expired(deadline)) {
            ssize_t n = weft__sys_recvfrom(fd, buf, len, flags | MSG_DONTWAIT, addr, alen);
            if (n >= 0) {
                if (n > 0 && (size_t)n < len && consumes && drained(r))
                    r->rdready = 0;
                return n;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            r->rdready = 0;
        }
        if (weft__io_wait(t, fd, r, WEFT__RD, deadline) != 0)
            return -1;
    }
}

ssize_t weft_recv(int fd, void *buf, size_t len, int flags, int64_t deadline)
{
    return recv_common(fd, buf, len, flags, NULL, NULL, deadline);
}

ssize_t weft_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                      socklen_t *alen, int64_t deadline)
{
    return recv_common(fd, buf, len, flags, addr, alen, deadline);
}

/* ---- writing ------------------------------------------------------------ */

/* Writes all of iov (advancing the caller's copy) or fails; *done counts
 * the bytes written either way. */
static ssize_t write_all(weft__task *t, int fd, weft__pfd *r, struct iovec *v, int cnt, int flags,
                         int64_t deadline, size_t *done)
{
    size_t dummy;
    if (!done)
        done = &dummy;
    ssize_t total = 0;
    *done = 0;
    int i = 0;
    while (i < cnt && v[i].iov_len == 0)
        i++;
    while (i < cnt) {
        ssize_t n;
        if (r->kind & K_SOCK) {
            struct msghdr m;
            memset(&m, 0, sizeof m);
            m.msg_iov = v + i;
            m.msg_iovlen = (size_t)(cnt - i);
            n = cnt - i == 1 ? weft__sys_sendto(fd, v[i].iov_base, v[i].iov_len,
                                                flags | MSG_NOSIGNAL, NULL, 0)
                             : weft__sys_sendmsg(fd, &m, flags | MSG_NOSIGNAL);
        } else {
            n = cnt - i == 1 ? weft__sys_write(fd, v[i].iov_base, v[i].iov_len)
                             : weft__sys_writev(fd, v + i, cnt - i);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (weft__io_wait(t, fd, r, WEFT__WR, deadline) != 0)
                    return -1;
                continue;
            }
            if (errno == EPIPE && !(r->kind & K_SOCK))
                eat_sigpipe();
            return -1;
        }
        total += n;
        *done = (size_t)total;
        while (i < cnt && (size_t)n >= v[i].iov_len)
            n -= (ssize_t)v[i++].iov_len;
        if (i < cnt) {
            v[i].iov_base = (char *)v[i].iov_base + n;
            v[i].iov_len -= (size_t)n;
        }
    }
    return total;
}

ssize_t weft_write(int fd, const void *buf, size_t len, int64_t deadline)
{
    return weft_writen(fd, buf, len, NULL, deadline) == 0 ? (ssize_t)len : -1;
}

int weft_writen(int fd, const void *buf, size_t len, size_t *written, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (written)
        *written = 0;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (len > SSIZE_MAX || (len && !buf)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec v = {(void *)buf, len};
    if (unlikely(r->kind & K_FILE)) {
        ssize_t n = file_io(t, fd, 1, &v, 1, -1);
        if (n >= 0 && written)
            *written = (size_t)n;
        return n < 0 ? -1 : 0;
    }
    return write_all(t, fd, r, &v, 1, 0, deadline, written) < 0 ? -1 : 0;
}

ssize_t weft_send(int fd, const void *buf, size_t len, int flags, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (!(r->kind & K_SOCK)) {
        errno = ENOTSOCK;
        return -1;
    }
    if (len > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct iovec v = {(void *)buf, len};
    return write_all(t, fd, r, &v, 1, flags & ~MSG_DONTWAIT, deadline, NULL);
}

ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (iov_enter(fd, iov, iovcnt, &t, &r) != 0)
        return -1;
    if (unlikely(r->kind & K_FILE))
        return file_io(t, fd, 1, iov, iovcnt, -1);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total) {
            errno = EINVAL;
            return -1;
        }
        total += iov[i].iov_len;
    }
    struct iovec small[16], *v = small;
    if (iovcnt > 16 && !(v = malloc((size_t)iovcnt * sizeof *v))) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(v, iov, (size_t)iovcnt * sizeof *v);
    ssize_t n = write_all(t, fd, r, v, iovcnt, 0, deadline, NULL);
    if (v != small) {
        int e = errno;
        free(v);
        errno = e;
    }
    return n;
}

ssize_t weft_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                    socklen_t alen, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    for (;;) {
        ssize_t n = weft__sys_sendto(fd, buf, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL, addr, alen);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (weft__io_wait(t, fd, r, WEFT__WR, deadline) != 0)
            return -1;
    }
}

/* ---- connections -------------------------------------------------------- */

int weft_accept(int fd, struct sockaddr *addr, socklen_t *alen, int64_t deadline)
{
    return weft_accept4(fd, addr, alen, SOCK_CLOEXEC, deadline);
}

int weft_accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        if (r->rdready || weft__expired(deadline)) {
            int c = weft__sys_accept4(fd, addr, alen, (flags & SOCK_CLOEXEC) | SOCK_NONBLOCK);
            if (c >= 0) {
                weft__io_fresh(weft__sched_cur, c, r->kind & (K_SOCK | K_TCP));
                return c;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                return -1; /* EMFILE, ENFILE, ...: rdready stays, the next call tries */
            r->rdready = 0;
        }
        if (weft__io_wait(t, fd, r, WEFT__RD, deadline) != 0)
            return -1;
    }
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t alen, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (!(r->kind & K_SOCK)) {
        errno = ENOTSOCK;
        return -1;
    }
    if (weft__sys_connect(fd, addr, alen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    for (;;) {
        if (weft__io_wait(t, fd, r, WEFT__WR, deadline) != 0)
            return -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return -1;
        if (err) {
            errno = err;
            return -1;
        }
        /* Writable and no error: connected, unless the edge was stale. */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
            return 0;
        if (errno != ENOTCONN)
            return -1;
    }
}

int weft_fd_forget(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    if (s && s->poller)
        weft__poll_forget(s->poller, fd);
    return 0;
}

int weft_close(int fd)
{
    if (fd >= 0)
        weft_fd_forget(fd);
    return weft__sys_close(fd);
}

/* ---- at an offset, and messages ------------------------------------------ */

/* pread and pwrite on what is not a regular file: the system call on the
 * non-blocking fd (ESPIPE for pipes and sockets), waiting as needed. */
static ssize_t at_offset(weft__task *t, int fd, weft__pfd *r, int write, const struct iovec *v,
                         off_t off, int64_t deadline)
{
    for (;;) {
        ssize_t n = write ? weft__sys_pwritev(fd, v, 1, off) : weft__sys_preadv(fd, v, 1, off);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (weft__io_wait(t, fd, r, write ? WEFT__WR : WEFT__RD, deadline) != 0)
            return -1;
    }
}

ssize_t weft_pread(int fd, void *buf, size_t len, off_t off, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    struct iovec v = {buf, len};
    if (r->kind & K_FILE)
        return file_io(t, fd, 0, &v, 1, off);
    return at_offset(t, fd, r, 0, &v, off, deadline);
}

ssize_t weft_pwrite(int fd, const void *buf, size_t len, off_t off, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (off < 0 || len > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct iovec v = {(void *)buf, len};
    if (r->kind & K_FILE)
        return file_io(t, fd, 1, &v, 1, off);
    return at_offset(t, fd, r, 1, &v, off, deadline);
}

static size_t iov_total(const struct iovec *iov, size_t cnt)
{
    size_t total = 0;
    for (size_t i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    return total;
}

ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (!msg) {
        errno = EFAULT;
        return -1;
    }
    int consumes = !(flags & (MSG_PEEK | MSG_OOB));
    for (;;) {
        if (r->rdready || weft__expired(deadline)) {
            ssize_t n = weft__sys_recvmsg(fd, msg, flags | MSG_DONTWAIT);
            if (n >= 0) {
                if (n > 0 && consumes && drained(r) &&
                    (size_t)n < iov_total(msg->msg_iov, msg->msg_iovlen))
                    r->rdready = 0;
                return n;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            r->rdready = 0;
        }
        if (weft__io_wait(t, fd, r, WEFT__RD, deadline) != 0)
            return -1;
    }
}

ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags, int64_t deadline)
{
    weft__task *t;
    weft__pfd *r;
    if (weft__io_enter(fd, &t, &r) != 0)
        return -1;
    if (!(r->kind & K_SOCK)) {
        errno = ENOTSOCK;
        return -1;
    }
    if (!msg || msg->msg_iovlen > IOV_MAX) {
        errno = msg ? EMSGSIZE : EFAULT;
        return -1;
    }
    flags &= ~MSG_DONTWAIT;
    ssize_t n;
    for (;;) {
        n = weft__sys_sendmsg(fd, msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (weft__io_wait(t, fd, r, WEFT__WR, deadline) != 0)
            return -1;
    }
    /* A stream socket took part: the rest goes without the ancillary
     * data, which went with the first part. */
    int cnt = (int)msg->msg_iovlen;
    if ((size_t)n >= iov_total(msg->msg_iov, (size_t)cnt))
        return n;
    struct iovec small[16], *v = small;
    if (cnt > 16 && !(v = malloc((size_t)cnt * sizeof *v))) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(v, msg->msg_iov, (size_t)cnt * sizeof *v);
    int i = 0;
    size_t skip = (size_t)n;
    while (skip >= v[i].iov_len)
        skip -= v[i++].iov_len;
    v[i].iov_base = (char *)v[i].iov_base + skip;
    v[i].iov_len -= skip;
    ssize_t rest = write_all(t, fd, r, v + i, cnt - i, flags, deadline, NULL);
    if (v != small) {
        int e = errno;
        free(v);
        errno = e;
    }
    return rest < 0 ? -1 : n + rest;
}

const char *weft_backend(void)
{
    weft__sched *s = weft__sched_cur;
    if (s && s->poller)
        return s->poller->ops->name;
    return weft__poll_default();
}

const char *weft_backend_reason(void)
{
    weft__sched *s = weft__sched_cur;
    if (s && s->poller)
        return s->poller->why;
    return weft__poll_default_why();
}
