/* read, write, readv, writev, pread, pwrite, sendfile: weft's calls in a
 * task (regular files on the worker pool or io_uring, as weft_read does). */
#include "hook/hook.h"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

NEXT_DECL(read);
NEXT_DECL(write);
NEXT_DECL(readv);
NEXT_DECL(writev);
NEXT_DECL(pread);
NEXT_DECL(pwrite);

WEFT_API ssize_t read(int fd, void *buf, size_t n)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_RCV, weft_read(fd, buf, n, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(read)(fd, buf, n));
    default:
        return NEXT(read)(fd, buf, n);
    }
}

/* All of buf, as a blocking write writes; what was written before an
 * error or the SO_SNDTIMEO deadline is returned, as the kernel does. */
static ssize_t write_weft(int fd, const char *buf, size_t n, int64_t dl)
{
    size_t total = 0;
    for (;;) {
        size_t done = 0;
        int rc = weft_writen(fd, buf + total, n - total, &done, dl);
        total += done;
        if (rc == 0)
            return (ssize_t)total;
        if (weft__hook_again(dl))
            continue;
        return total ? (ssize_t)total : -1;
    }
}

WEFT_API ssize_t write(int fd, const void *buf, size_t n)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        return write_weft(fd, buf, n, weft__hook_deadline(h, H_SND));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(write)(fd, buf, n));
    default:
        return NEXT(write)(fd, buf, n);
    }
}

WEFT_API ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_RCV, weft_readv(fd, iov, cnt, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(readv)(fd, iov, cnt));
    default:
        return NEXT(readv)(fd, iov, cnt);
    }
}

WEFT_API ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_SND, weft_writev(fd, iov, cnt, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(writev)(fd, iov, cnt));
    default:
        return NEXT(writev)(fd, iov, cnt);
    }
}

WEFT_API ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_RCV, weft_pread(fd, buf, n, off, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLIN, H_RCV, NEXT(pread)(fd, buf, n, off));
    default:
        return NEXT(pread)(fd, buf, n, off);
    }
}

WEFT_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    weft__hfd *h;
    switch (weft__hook_route(fd, &h)) {
    case GO_WEFT:
        HOOK_WEFT(ssize_t, h, H_SND, weft_pwrite(fd, buf, n, off, dl));
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, fd, h, POLLOUT, H_SND, NEXT(pwrite)(fd, buf, n, off));
    default:
        return NEXT(pwrite)(fd, buf, n, off);
    }
}

/* The names that programs built with _FILE_OFFSET_BITS=64 call (the
 * same functions where off_t is 64 bits). */
#if !defined(__LP64__)
#error "the hook's pread64/pwrite64 assume a 64-bit off_t"
#endif
WEFT_API ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    return pread(fd, buf, n, off);
}

WEFT_API ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

/* sendfile: the kernel copies; a task waits for room in out_fd. */
NEXT_DECL(sendfile);

WEFT_API ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    weft__hfd *h;
    switch (weft__hook_route(out, &h)) {
    case GO_WEFT: {
        /* The wait comes first: it is what makes out non-blocking (and
         * returns at once when there is room). */
        int64_t dl = weft__hook_deadline(h, H_SND);
        for (;;) {
            if (weft_wait_fd(out, POLLOUT, dl) < 0) {
                if (weft__hook_again(dl))
                    continue;
                return -1;
            }
            ssize_t r = NEXT(sendfile)(out, in, off, n);
            if (r >= 0 || HERRNO != EAGAIN)
                return r;
        }
    }
    case GO_BLOCK:
        HOOK_BLOCK(ssize_t, out, h, POLLOUT, H_SND, NEXT(sendfile)(out, in, off, n));
    default:
        return NEXT(sendfile)(out, in, off, n);
    }
}

WEFT_API ssize_t sendfile64(int out, int in, off_t *off, size_t n)
{
    return sendfile(out, in, off, n);
}
