/* The names that _FORTIFY_SOURCE turns the calls into when the compiler
 * knows the buffer's size (Debian builds its libraries so): __read_chk
 * and the like. libc's own would call its internal read, which no
 * interposer sees, so each is checked here and handed to the hook's call;
 * a buffer too small goes to libc's, which reports it and aborts. */
#include "hook/hook.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t __read_chk(int fd, void *buf, size_t n, size_t size);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t size);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t size);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t size, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t size, int flags, struct sockaddr *addr,
                       socklen_t *alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t size);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
                size_t size);

NEXT_DECL(__read_chk);
NEXT_DECL(__pread_chk);
NEXT_DECL(__pread64_chk);
NEXT_DECL(__recv_chk);
NEXT_DECL(__recvfrom_chk);
NEXT_DECL(__poll_chk);
NEXT_DECL(__ppoll_chk);

WEFT_API ssize_t __read_chk(int fd, void *buf, size_t n, size_t size)
{
    if (unlikely(n > size))
        return NEXT(__read_chk)(fd, buf, n, size);
    return read(fd, buf, n);
}

WEFT_API ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t size)
{
    if (unlikely(n > size))
        return NEXT(__pread_chk)(fd, buf, n, off, size);
    return pread(fd, buf, n, off);
}

WEFT_API ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t size)
{
    if (unlikely(n > size))
        return NEXT(__pread64_chk)(fd, buf, n, off, size);
    return pread(fd, buf, n, off);
}

WEFT_API ssize_t __recv_chk(int fd, void *buf, size_t n, size_t size, int flags)
{
    if (unlikely(n > size))
        return NEXT(__recv_chk)(fd, buf, n, size, flags);
    return recv(fd, buf, n, flags);
}

WEFT_API ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t size, int flags,
                                struct sockaddr *addr, socklen_t *alen)
{
    if (unlikely(n > size))
        return NEXT(__recvfrom_chk)(fd, buf, n, size, flags, addr, alen);
    return recvfrom(fd, buf, n, flags, addr, alen);
}

WEFT_API int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t size)
{
    if (unlikely(n > size / sizeof *fds))
        return NEXT(__poll_chk)(fds, n, timeout, size);
    return poll(fds, n, timeout);
}

WEFT_API int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                         const sigset_t *mask, size_t size)
{
    if (unlikely(n > size / sizeof *fds))
        return NEXT(__ppoll_chk)(fds, n, ts, mask, size);
    return ppoll(fds, n, ts, mask);
}
