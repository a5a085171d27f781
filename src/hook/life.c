/* The life of an fd: the calls that make one (pipe, pipe2, dup, open,
 * openat; socket and accept are in sock.c), that end one (close, and
 * dup2/dup3 over one), and that set or read O_NONBLOCK (fcntl, ioctl
 * FIONBIO), which stays the user's: the hook keeps what the user set,
 * F_GETFL reports it, and an fd that the user made non-blocking keeps
 * failing with EAGAIN, while weft's own O_NONBLOCK stays underneath. */
#include "hook/hook.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

NEXT_DECL(close);
NEXT_DECL(dup);
NEXT_DECL(dup2);
NEXT_DECL(dup3);
NEXT_DECL(fcntl);
NEXT_DECL(ioctl);
NEXT_DECL(pipe);
NEXT_DECL(pipe2);
NEXT_DECL(open);
NEXT_DECL(openat);

WEFT_API int close(int fd)
{
    /* The tasks that wait on fd get EBADF, and the poller lets go of it
     * before the kernel does (an io_uring poll holds the file). */
    weft_fd_forget(fd);
    weft__hook_fd_closed(fd);
    return NEXT(close)(fd);
}

WEFT_API int dup(int fd)
{
    int n = NEXT(dup)(fd);
    if (n >= 0)
        weft__hook_fd_dup(fd, n);
    return n;
}

WEFT_API int dup2(int fd, int newfd)
{
    if (fd == newfd || fd < 0)
        return NEXT(dup2)(fd, newfd);
    /* newfd's waiters must not go on waiting on the file that replaces
     * it. A bad fd leaves newfd alone: checked first. */
    if (NEXT(fcntl)(fd, F_GETFD) < 0)
        return -1;
    weft_fd_forget(newfd);
    int n = NEXT(dup2)(fd, newfd);
    if (n >= 0)
        weft__hook_fd_dup(fd, n);
    return n;
}

WEFT_API int dup3(int fd, int newfd, int flags)
{
    if (fd == newfd || fd < 0 || (flags & ~O_CLOEXEC))
        return NEXT(dup3)(fd, newfd, flags); /* EINVAL, EBADF */
    if (NEXT(fcntl)(fd, F_GETFD) < 0)
        return -1;
    weft_fd_forget(newfd);
    int n = NEXT(dup3)(fd, newfd, flags);
    if (n >= 0)
        weft__hook_fd_dup(fd, n);
    return n;
}

static int set_user_nonblock(int fd, int on)
{
    weft__hfd *h = weft__hook_fd(fd, 1);
    if (!h)
        return 0;
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    atomic_store_explicit(&h->flags, (f & H_FORCED) | H_KNOWN | (on ? H_USER_NB : 0),
                          memory_order_relaxed);
    return (f & H_FORCED) != 0;
}

static int forced(int fd)
{
    weft__hfd *h = weft__hook_fd(fd, 0);
    return h && (atomic_load_explicit(&h->flags, memory_order_relaxed) & H_FORCED);
}

static int user_nonblock(int fd)
{
    weft__hfd *h = weft__hook_fd(fd, 0);
    return h && (atomic_load_explicit(&h->flags, memory_order_relaxed) & H_USER_NB);
}

/* fcntl's argument is an int, a pointer or nothing; passed on as a
 * pointer-sized word, as libc's own fcntl reads it. */
static int fcntl_hook(int fd, int cmd, void *arg)
{
    switch (cmd) {
    case F_GETFL: {
        int fl = NEXT(fcntl)(fd, cmd);
        if (fl >= 0 && forced(fd))
            fl = (fl & ~O_NONBLOCK) | (user_nonblock(fd) ? O_NONBLOCK : 0);
        return fl;
    }
    case F_SETFL: {
        int fl = (int)(intptr_t)arg;
        if (NEXT(fcntl)(fd, F_GETFD) < 0)
            return -1;
        /* Recorded first: an fd the hook has made non-blocking stays so. */
        if (set_user_nonblock(fd, fl & O_NONBLOCK))
            fl |= O_NONBLOCK;
        return NEXT(fcntl)(fd, cmd, fl);
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int n = NEXT(fcntl)(fd, cmd, arg);
        if (n >= 0)
            weft__hook_fd_dup(fd, n);
        return n;
    }
    default:
        return NEXT(fcntl)(fd, cmd, arg);
    }
}

WEFT_API int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_hook(fd, cmd, arg);
}

/* What programs built with _FILE_OFFSET_BITS=64 call. */
WEFT_API int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_hook(fd, cmd, arg);
}

WEFT_API int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == FIONBIO && arg) {
        if (NEXT(fcntl)(fd, F_GETFD) < 0)
            return -1;
        int on = *(const int *)arg != 0;
        if (set_user_nonblock(fd, on) && !on)
            return 0; /* stays non-blocking underneath */
    }
    return NEXT(ioctl)(fd, req, arg);
}

WEFT_API int pipe(int fds[2])
{
    int rc = NEXT(pipe)(fds);
    if (rc == 0) {
        weft__hook_fd_new(fds[0], 0);
        weft__hook_fd_new(fds[1], 0);
    }
    return rc;
}

WEFT_API int pipe2(int fds[2], int flags)
{
    int rc = NEXT(pipe2)(fds, flags);
    if (rc == 0) {
        weft__hook_fd_new(fds[0], flags & O_NONBLOCK);
        weft__hook_fd_new(fds[1], flags & O_NONBLOCK);
    }
    return rc;
}

/* open and openat: only so that a number that comes back after a close
 * the hook did not see (fclose, libc's own) is not taken for the old fd. */
static int opened(int fd, int flags)
{
    if (fd >= 0)
        weft__hook_fd_new(fd, flags & O_NONBLOCK);
    return fd;
}

static mode_t mode_of(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

WEFT_API int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return opened(NEXT(open)(path, flags, m), flags);
}

WEFT_API int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return opened(NEXT(open)(path, flags, m), flags);
}

WEFT_API int openat(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return opened(NEXT(openat)(dir, path, flags, m), flags);
}

WEFT_API int openat64(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return opened(NEXT(openat)(dir, path, flags, m), flags);
}
