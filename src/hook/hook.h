/* What the hook files share: libc's definitions of the calls they
 * replace, the hook's record of each fd, and the routing of a call: to
 * weft inside a task, to libc outside. The hook is built on weft's public
 * API only (it is its own library, over libweft.so). Nothing here is
 * public. */
#ifndef WEFT_HOOK_H
#define WEFT_HOOK_H

#include "weft.h"

#include "base/compiler.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- libc's definitions ------------------------------------------------- */

/* The definition of name that comes after this library (libc's, or that
 * of an interposer loaded after it), from dlsym(RTLD_NEXT); prints a
 * "weft: " line and aborts when there is none. */
void *weft__hook_next(const char *name);

static inline void *weft__hook_resolve(_Atomic(void *) *slot, const char *name)
{
    void *f = atomic_load_explicit(slot, memory_order_relaxed);
    if (likely(f))
        return f;
    f = weft__hook_next(name);
    atomic_store_explicit(slot, f, memory_order_relaxed);
    return f;
}

/* NEXT_DECL(read) once per file, then NEXT(read)(fd, buf, n). */
#define NEXT_DECL(name) static _Atomic(void *) next_##name
#define NEXT(name) ((__typeof__(&name))weft__hook_resolve(&next_##name, #name))

/* errno, its address read anew at each use: __errno_location is declared
 * const, so that a compiler may keep the address across a call that
 * switches tasks. Tasks do not change threads, but the hook does not
 * lean on that. */
extern int *(*volatile weft__hook_errno_at)(void);
#define HERRNO (*weft__hook_errno_at())

/* ---- the fd records ----------------------------------------------------- */

enum {
    H_KNOWN = 1,   /* the user's O_NONBLOCK is known (H_USER_NB) */
    H_USER_NB = 2, /* the user set O_NONBLOCK: calls go to libc, EAGAIN stays */
    H_FORCED = 4   /* the hook had weft make it non-blocking underneath */
};

/* Which timeout of an fd. */
enum { H_RCV = 0, H_SND = 1 };

typedef struct weft__hfd {
    _Atomic unsigned flags;
    _Atomic int64_t timeo[2]; /* SO_RCVTIMEO, SO_SNDTIMEO in ns; 0: none */
} weft__hfd;

/* The record of fd, made on demand when make is set; NULL for a negative
 * fd, one beyond the table (2^24), when there is no memory, or when
 * !make and none was made. Records are process-wide, like fds. */
weft__hfd *weft__hook_fd(int fd, int make);

/* fd is new (made by a call the hook saw) or closed: its record starts
 * again, with the user's O_NONBLOCK as given, and this thread's poller
 * forgets the number. */
void weft__hook_fd_new(int fd, int user_nonblock);
/* The same for an fd that weft itself just made (weft_accept4), whose
 * poller record is already right: only the hook's record starts again,
 * with the given H_* flags. */
void weft__hook_fd_reset(int fd, unsigned flags);
void weft__hook_fd_closed(int fd);

/* newfd is a duplicate of oldfd: the same open file, so the same
 * O_NONBLOCK; it inherits oldfd's record. */
void weft__hook_fd_dup(int oldfd, int newfd);

/* ---- routing ------------------------------------------------------------ */

enum {
    GO_LIBC, /* libc's own call */
    GO_WEFT, /* in a task, an fd the user sees as blocking: weft's call */
    GO_BLOCK /* outside a task, an fd the hook made non-blocking that the
                user sees as blocking: libc's call, and on EAGAIN a
                blocking poll(2) before trying again */
};

/* How a call on fd goes; *h is its record for GO_WEFT and GO_BLOCK. */
int weft__hook_route(int fd, weft__hfd **h);

/* The deadline of a call under the fd's timeout (-1: none). */
static inline int64_t weft__hook_deadline(const weft__hfd *h, int which)
{
    int64_t t = atomic_load_explicit(&h->timeo[which], memory_order_relaxed);
    return t > 0 ? weft_now() + t : -1;
}

/* A call of weft failed: should it be made again? Yes after EBUSY
 * (another task waits on the same fd and direction; the caller waits its
 * turn, looking again every millisecond). A deadline of the fd's timeout
 * that passed becomes EAGAIN, as the kernel reports an SO_RCVTIMEO. */
int weft__hook_again(int64_t deadline);

/* GO_BLOCK: libc's call failed; waits for events on fd (within the fd's
 * timeout) if it failed with EAGAIN. 1: call again; 0: return the error
 * (EAGAIN when the timeout passed). */
int weft__hook_block(int fd, const weft__hfd *h, short events, int which);

/* The three ways, for a call `call` that returns type: */
#define HOOK_WEFT(type, h, which, call)                                                            \
    do {                                                                                           \
        int64_t dl = weft__hook_deadline((h), (which));                                            \
        type r_;                                                                                   \
        while ((r_ = (call)) < 0 && weft__hook_again(dl))                                          \
            ;                                                                                      \
        return r_;                                                                                 \
    } while (0)

#define HOOK_BLOCK(type, fd, h, events, which, call)                                               \
    do {                                                                                           \
        type r_;                                                                                   \
        while ((r_ = (call)) < 0 && weft__hook_block((fd), (h), (events), (which)))                \
            ;                                                                                      \
        return r_;                                                                                 \
    } while (0)

#endif
