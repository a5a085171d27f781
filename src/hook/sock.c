/* Sockets: recv*, send*, accept*, connect, and the calls that make
 * sockets (socket, socketpair) or set their timeouts (setsockopt). */
#include "hook/hook.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

NEXT_DECL(recv);
NEXT_DECL(recvfrom);
NEXT_DECL(recvmsg);
NEXT_DECL(send);
NEXT_DECL(sendto);
NEXT_DECL(sendmsg);
NEXT_DECL(accept);
NEXT_DECL(accept4);
NEXT_DECL(connect);
NEXT_DECL(socket);
NEXT_DECL(socketpair);
NEXT_DECL(setsockopt);

/* A call with MSG_DONTWAIT is non-blocking whatever the fd says. */
static int route(int fd, int flags, weft__hfd **h)
{
    if (flags & MSG_DONTWAIT)
        return GO_LIBC;
    return weft__hook_route(fd, h);
}

/* recv with MSG_WAITALL in a task: weft's receives until len bytes, end
 * of file or an error (what came before an error is returned). */
static ssize_t recv_all(int fd, char *buf, size_t len, int flags, int64_t dl)
{
    size_t got = 0;
    flags &= ~MSG_WAITALL;
    while (got < len) {
        ssize_t n = weft_recv(fd, buf + got, len - got, flags, dl);
        if (n < 0 && weft__hook_again(dl))
            continue;
        if (n <= 0)
            return got ? (ssize_t)got : n;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

WEFT_API ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        if (flags & MSG_WAITALL)
            return recv_all(fd, buf, n, flags, weft__hook_deadline(h, H_RCV));
        HOOK_WEFT(ssize_t, h, H_RCV, weft_recv(fd, buf, n, flags, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(recv)(fd, buf, n, flags));
    default:
        return NEXT(recv)(fd, buf, n, flags);
    }
}

WEFT_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                          socklen_t *alen)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        if ((flags & MSG_WAITALL) && !addr)
            return recv_all(fd, buf, n, flags, weft__hook_deadline(h, H_RCV));
        HOOK_WEFT(ssize_t, h, H_RCV, weft_recvfrom(fd, buf, n, flags, addr, alen, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(recvfrom)(fd, buf, n, flags, addr, alen));
    default:
        return NEXT(recvfrom)(fd, buf, n, flags, addr, alen);
    }
}

WEFT_API ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_RCV, weft_recvmsg(fd, msg, flags, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(recvmsg)(fd, msg, flags));
    default:
        return NEXT(recvmsg)(fd, msg, flags);
    }
}

WEFT_API ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_SND, weft_send(fd, buf, n, flags, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(send)(fd, buf, n, flags));
    default:
        return NEXT(send)(fd, buf, n, flags);
    }
}

WEFT_API ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                        socklen_t alen)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        /* No address: a connected socket, sent whole as send(2) does. */
        if (!addr)
            HOOK_WEFT(ssize_t, h, H_SND, weft_send(fd, buf, n, flags, dl));
        HOOK_WEFT(ssize_t, h, H_SND, weft_sendto(fd, buf, n, flags, addr, alen, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(sendto)(fd, buf, n, flags, addr, alen));
    default:
        return NEXT(sendto)(fd, buf, n, flags, addr, alen);
    }
}

WEFT_API ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    weft__hfd *h;
    switch (route(fd, flags, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_SND, weft_sendmsg(fd, msg, flags, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(sendmsg)(fd, msg, flags));
    default:
        return NEXT(sendmsg)(fd, msg, flags);
    }
}

/* A connection that libc's accept gave. */
static int accepted(int c, int flags)
{
    if (c >= 0)
        weft__hook_fd_new(c, flags & SOCK_NONBLOCK);
    return c;
}

WEFT_API int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    weft__hfd *h;
    int c;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT: {
        /* weft's accepted fds are non-blocking underneath. */
        int64_t dl = weft__hook_deadline(h, H_RCV);
        while ((c = weft_accept4(fd, addr, alen, flags, dl)) < 0 && weft__hook_again(dl))
            ;
        if (c >= 0)
            weft__hook_fd_reset(c, H_KNOWN | (flags & SOCK_NONBLOCK ? H_USER_NB : H_FORCED));
        return c;
    }
    case GO_BLOCK:
        while ((c = NEXT(accept4)(fd, addr, alen, flags)) < 0 &&
               weft__hook_block(fd, h, POLLIN, H_RCV))
            ;
        return accepted(c, flags);
    default:
        return accepted(NEXT(accept4)(fd, addr, alen, flags), flags);
    }
}

WEFT_API int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    if (weft_task_self() || weft__hook_fd(fd, 0))
        return accept4(fd, addr, alen, 0);
    return accepted(NEXT(accept)(fd, addr, alen), 0);
}

/* GO_BLOCK: a connect that would block on an fd the hook made
 * non-blocking waits for the outcome, as a blocking connect does. */
static int connect_block(int fd, const weft__hfd *h, const struct sockaddr *addr, socklen_t alen)
{
    if (NEXT(connect)(fd, addr, alen) == 0)
        return 0;
    if (HERRNO != EINPROGRESS)
        return -1;
    HERRNO = EAGAIN;
    if (!weft__hook_block(fd, h, POLLOUT, H_SND)) {
        HERRNO = EINPROGRESS; /* the timeout passed, as the kernel says it */
        return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err) {
        HERRNO = err;
        return -1;
    }
    return 0;
}

WEFT_API int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT: {
        int64_t dl = weft__hook_deadline(h, H_SND);
        int rc;
        while ((rc = weft_connect(fd, addr, alen, dl)) < 0 && weft__hook_again(dl))
            ;
        /* The kernel ends a connect that SO_SNDTIMEO timed out with
         * EINPROGRESS (it goes on in the background). */
        if (rc < 0 && HERRNO == EAGAIN && dl >= 0)
            HERRNO = EINPROGRESS;
        return rc;
    }
    case GO_BLOCK:
        return connect_block(fd, h, addr, alen);
    default:
        return NEXT(connect)(fd, addr, alen);
    }
}

WEFT_API int socket(int domain, int type, int protocol)
{
    int fd = NEXT(socket)(domain, type, protocol);
    if (fd >= 0)
        weft__hook_fd_new(fd, type & SOCK_NONBLOCK);
    return fd;
}

WEFT_API int socketpair(int domain, int type, int protocol, int sv[2])
{
    int rc = NEXT(socketpair)(domain, type, protocol, sv);
    if (rc == 0) {
        weft__hook_fd_new(sv[0], type & SOCK_NONBLOCK);
        weft__hook_fd_new(sv[1], type & SOCK_NONBLOCK);
    }
    return rc;
}

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif
#ifndef SO_RCVTIMEO_OLD
#define SO_RCVTIMEO_OLD 20
#define SO_SNDTIMEO_OLD 21
#endif

WEFT_API int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int rc = NEXT(setsockopt)(fd, level, name, val, len);
    if (rc != 0 || level != SOL_SOCKET)
        return rc;
    int which;
    if (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW)
        which = H_RCV;
    else if (name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW)
        which = H_SND;
    else
        return rc;
    /* The kernel took it, so it is a timeval of the size it expects
     * (both forms are two 64-bit words on a 64-bit ABI). */
    const struct timeval *tv = val;
    int64_t ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
    weft__hfd *h = weft__hook_fd(fd, 1);
    if (h)
        atomic_store_explicit(&h->timeo[which], ns > 0 ? ns : 0, memory_order_relaxed);
    return rc;
}
