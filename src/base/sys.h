/* weft's own system calls on fds, made with syscall(2) instead of through
 * libc's symbols. A program may interpose those symbols (weft's hook layer
 * with LD_PRELOAD or linked in, or any tracer), and the interposer would
 * then see weft's own calls: the hook would turn weft's non-blocking read
 * back into a wait, and weft's O_NONBLOCK into the program's. Only the
 * calls that a task can make, or that a signal handler makes, are here;
 * the loop's sleeps and the workers' calls run outside any task, where an
 * interposer passes them to libc anyway. */
#ifndef WEFT_SYS_H
#define WEFT_SYS_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static inline ssize_t weft__sys_read(int fd, void *buf, size_t n)
{
    return syscall(SYS_read, fd, buf, n);
}

static inline ssize_t weft__sys_write(int fd, const void *buf, size_t n)
{
    return syscall(SYS_write, fd, buf, n);
}

static inline ssize_t weft__sys_readv(int fd, const struct iovec *iov, int n)
{
    return syscall(SYS_readv, fd, iov, n);
}

static inline ssize_t weft__sys_writev(int fd, const struct iovec *iov, int n)
{
    return syscall(SYS_writev, fd, iov, n);
}

static inline ssize_t weft__sys_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    /* The offset in two words, low first, as the kernel's preadv takes
     * it on every ABI (the high word is 0 on 64-bit ones). */
    unsigned long long o = (unsigned long long)off;
    return syscall(SYS_preadv, fd, iov, n, (unsigned long)o,
                   (unsigned long)(sizeof(long) < 8 ? o >> 32 : 0));
}

static inline ssize_t weft__sys_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    unsigned long long o = (unsigned long long)off;
    return syscall(SYS_pwritev, fd, iov, n, (unsigned long)o,
                   (unsigned long)(sizeof(long) < 8 ? o >> 32 : 0));
}

static inline ssize_t weft__sys_recvfrom(int fd, void *buf, size_t n, int flags,
                                         struct sockaddr *addr, socklen_t *alen)
{
    return syscall(SYS_recvfrom, fd, buf, n, flags, addr, alen);
}

static inline ssize_t weft__sys_sendto(int fd, const void *buf, size_t n, int flags,
                                       const struct sockaddr *addr, socklen_t alen)
{
    return syscall(SYS_sendto, fd, buf, n, flags, addr, alen);
}

static inline ssize_t weft__sys_recvmsg(int fd, struct msghdr *m, int flags)
{
    return syscall(SYS_recvmsg, fd, m, flags);
}

static inline ssize_t weft__sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return syscall(SYS_sendmsg, fd, m, flags);
}

static inline int weft__sys_accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    return (int)syscall(SYS_accept4, fd, addr, alen, flags);
}

static inline int weft__sys_connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    return (int)syscall(SYS_connect, fd, addr, alen);
}

static inline int weft__sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static inline int weft__sys_fcntl(int fd, int cmd, long arg)
{
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

/* poll(2) through ppoll, which every ABI has; timeout_ms < 0: forever. */
static inline int weft__sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    return (int)syscall(SYS_ppoll, fds, n, timeout_ms < 0 ? NULL : &ts, NULL, (size_t)8);
}

#endif
