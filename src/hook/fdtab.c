/* The hook's record of each fd: whether the user set O_NONBLOCK, whether
 * the hook had weft set it underneath, and the SO_RCVTIMEO/SO_SNDTIMEO
 * that the user set. One process-wide table of chunks made with mmap
 * (not malloc, which may itself be interposed or not ready yet), never
 * freed or moved, so that a record stays where it is. */
#include "hook/hook.h"

#include "base/sys.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK 1024
#define NCHUNKS 16384 /* fds below 2^24 */

static _Atomic(weft__hfd *) chunks[NCHUNKS];
static _Atomic pid_t forcer; /* the process that forced fds (see restore_blocking) */

weft__hfd *weft__hook_fd(int fd, int make)
{
    if (fd < 0 || fd / CHUNK >= NCHUNKS)
        return NULL;
    _Atomic(weft__hfd *) *slot = &chunks[fd / CHUNK];
    weft__hfd *c = atomic_load_explicit(slot, memory_order_acquire);
    if (unlikely(!c)) {
        if (!make)
            return NULL;
        void *m = mmap(NULL, CHUNK * sizeof *c, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        weft__hfd *none = NULL;
        if (atomic_compare_exchange_strong(slot, &none, (weft__hfd *)m)) {
            c = m;
        } else {
            munmap(m, CHUNK * sizeof *c);
            c = none;
        }
    }
    return &c[fd % CHUNK];
}

static void set_record(weft__hfd *h, unsigned flags, int64_t rcv, int64_t snd)
{
    atomic_store_explicit(&h->timeo[H_RCV], rcv, memory_order_relaxed);
    atomic_store_explicit(&h->timeo[H_SND], snd, memory_order_relaxed);
    atomic_store_explicit(&h->flags, flags, memory_order_relaxed);
}

void weft__hook_fd_reset(int fd, unsigned flags)
{
    weft__hfd *h = weft__hook_fd(fd, 1);
    if (h)
        set_record(h, flags, 0, 0);
}

void weft__hook_fd_new(int fd, int user_nonblock)
{
    weft_fd_forget(fd);
    weft__hook_fd_reset(fd, H_KNOWN | (user_nonblock ? H_USER_NB : 0));
}

void weft__hook_fd_closed(int fd)
{
    weft__hfd *h = weft__hook_fd(fd, 0);
    if (h)
        set_record(h, 0, 0, 0);
}

void weft__hook_fd_dup(int oldfd, int newfd)
{
    weft_fd_forget(newfd);
    weft__hfd *o = weft__hook_fd(oldfd, 0);
    weft__hfd *n = weft__hook_fd(newfd, o != NULL);
    if (!n)
        return;
    if (!o) {
        set_record(n, 0, 0, 0);
        return;
    }
    /* The timeouts are the socket's, which both fds name. */
    set_record(n, atomic_load_explicit(&o->flags, memory_order_relaxed),
               atomic_load_explicit(&o->timeo[H_RCV], memory_order_relaxed),
               atomic_load_explicit(&o->timeo[H_SND], memory_order_relaxed));
}

int weft__hook_route(int fd, weft__hfd **hp)
{
    if (!weft_task_self()) {
        weft__hfd *h = weft__hook_fd(fd, 0);
        if (likely(!h))
            return GO_LIBC;
        unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
        if ((f & (H_FORCED | H_USER_NB)) != H_FORCED)
            return GO_LIBC;
        *hp = h;
        return GO_BLOCK;
    }
    weft__hfd *h = weft__hook_fd(fd, 1);
    if (unlikely(!h))
        return GO_LIBC; /* libc reports a negative fd as EBADF */
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    if (unlikely(!(f & H_KNOWN))) {
        /* First seen here: learn what the user set before weft sets
         * O_NONBLOCK. A bad fd goes to libc, which says EBADF. */
        int fl = weft__sys_fcntl(fd, F_GETFL, 0);
        if (fl < 0)
            return GO_LIBC;
        f = H_KNOWN | (fl & O_NONBLOCK ? H_USER_NB : 0);
    }
    if (f & H_USER_NB) {
        atomic_store_explicit(&h->flags, f, memory_order_relaxed);
        return GO_LIBC;
    }
    if (!(f & H_FORCED)) {
        atomic_store_explicit(&h->flags, f | H_FORCED, memory_order_relaxed);
        if (unlikely(!atomic_load_explicit(&forcer, memory_order_relaxed)))
            atomic_store_explicit(&forcer, getpid(), memory_order_relaxed);
    }
    *hp = h;
    return GO_WEFT;
}

int weft__hook_again(int64_t deadline)
{
    int e = HERRNO;
    if (e == EBUSY) {
        int64_t now = weft_now();
        if (deadline >= 0 && now >= deadline) {
            HERRNO = EAGAIN;
            return 0;
        }
        int64_t next = now + 1000000;
        if (weft_sleep(deadline >= 0 && deadline < next ? deadline : next) != 0)
            return 0; /* ECANCELED */
        return 1;
    }
    if (e == ETIMEDOUT && deadline >= 0 && weft_now() >= deadline)
        HERRNO = EAGAIN;
    return 0;
}

int weft__hook_block(int fd, const weft__hfd *h, short events, int which)
{
    if (HERRNO != EAGAIN)
        return 0;
    int64_t t = atomic_load_explicit(&h->timeo[which], memory_order_relaxed);
    int ms = t > 0 ? (int)((t + 999999) / 1000000) : -1;
    struct pollfd p = {fd, events, 0};
    int n;
    while ((n = weft__sys_poll(&p, 1, ms)) < 0 && HERRNO == EINTR)
        ;
    if (n == 0)
        HERRNO = EAGAIN;
    return n > 0;
}

/* At exit, the fds that the hook made non-blocking and that the program
 * still sees as blocking are made blocking again: a terminal or a pipe
 * shared with the parent process is left as it was found. Not in a child
 * of fork that exits: its parent may still be using them through weft. */
__attribute__((destructor)) static void restore_blocking(void)
{
    pid_t p = atomic_load_explicit(&forcer, memory_order_relaxed);
    if (!p || p != getpid())
        return;
    for (int c = 0; c < NCHUNKS; c++) {
        weft__hfd *t = atomic_load_explicit(&chunks[c], memory_order_acquire);
        for (int i = 0; t && i < CHUNK; i++) {
            unsigned f = atomic_load_explicit(&t[i].flags, memory_order_relaxed);
            if ((f & (H_FORCED | H_USER_NB)) != H_FORCED)
                continue;
            int fd = c * CHUNK + i;
            int fl = weft__sys_fcntl(fd, F_GETFL, 0);
            if (fl >= 0 && (fl & O_NONBLOCK))
                weft__sys_fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        }
    }
}
