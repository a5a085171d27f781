/* Slabs: private stacks carved from large mappings. A slab is one mmap of
 * n stacks of one size, each with its guard at its low end. Where the
 * kernel has guard regions the guards of a whole slab are installed by one
 * process_madvise, and the slab stays one map; in the classic mode each
 * guard is a PROT_NONE range set when its stack is first carved, so that
 * running out of maps is an ENOMEM at creation, as it always was.
 *
 * Stacks beyond what the per-thread pools keep come back here, to a free
 * list of their slab. A slab whose stacks are all free again is unmapped,
 * except one per size, the largest, kept as a spare whose memory goes back
 * with one MADV_FREE: the kernel takes the pages when it needs them, and a
 * stack reused before that costs no fault. This layer is shared by the
 * threads and locked: it serves only the pools' misses. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/tools.h"
#include "stack/stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP -20000 /* Linux 6.15 */
#endif

/* Stacks per slab: the first slab of a size is small, later ones double up
 * to the most one process_madvise takes, and to SLAB_BYTES of address
 * space. Near a limit of address space (RLIMIT_AS) slabs get smaller, down
 * to one stack, so that creation fails where a mapping per stack would. */
#define SLAB_FIRST 16
#define SLAB_MOST 1024
#define SLAB_BYTES ((size_t)512 << 20)

typedef struct slab {
    char *base;
    size_t map_size; /* of one stack */
    size_t bytes;    /* of the whole mapping: the stacks, then this record */
    unsigned n, carved, nfree;
    unsigned *freeidx;        /* its free stacks' indices (nfree of them), kept
                                 outside the stacks so that MADV_FREE may
                                 take every page */
    unsigned *vg;             /* valgrind's id of each carved stack */
    struct slab *prev, *next; /* in its class's list of slabs with free stacks */
    int listed;
    int advised; /* given back with MADV_FREE since its last use */
    int classic; /* its guards are PROT_NONE ranges, set as stacks are carved */
} slab;

typedef struct cls {
    size_t map_size;
    slab *cur;     /* being carved */
    slab *partial; /* slabs with free stacks */
    slab *spare;   /* a slab with no stack in use, kept */
    unsigned next_n;
    struct cls *link;
} cls;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cls *classes;
static slab **all; /* every slab, by base address */
static size_t nall, capall;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- guards ---------------------------------------------------------------- */

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_mode;
/* How a slab's guard regions go in: 0 not known, 1 one process_madvise
 * with PIDFD_SELF, 2 with a pidfd of our own, 3 one madvise per guard. */
static int batch_mode;

/* Checks that a guard region really faults (an emulator may accept the
 * advice and ignore it): the kernel refuses to read it with EFAULT.
 * Returns 1 or 0, or -1 when the probe itself could not run (no memory,
 * no fd): then it is tried again next time. */
static int probe_guard_regions(void)
{
    size_t page = weft__page_size();
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    int ok = -1, fds[2];
    if (madvise(m, page, MADV_GUARD_INSTALL) != 0) {
        ok = errno == EINVAL ? 0 : -1; /* EINVAL: the kernel has none */
    } else if (pipe(fds) == 0) {
        ok = write(fds[1], m, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(m, 2 * page);
    return ok;
}

int weft__stack_guard_regions(void)
{
    int mode = __atomic_load_n(&guard_mode, __ATOMIC_RELAXED);
    if (__builtin_expect(mode == GUARD_UNKNOWN, 0)) {
        const char *env = getenv("WEFT_GUARD");
        int found = env && strcmp(env, "mprotect") == 0 ? 0 : probe_guard_regions();
        if (found < 0)
            return -1; /* probed again next time */
        mode = found ? GUARD_MADVISE : GUARD_MPROTECT;
        __atomic_store_n(&guard_mode, mode, __ATOMIC_RELAXED);
    }
    return mode == GUARD_MADVISE;
}

static long pmadvise(int pidfd, struct iovec *iov, size_t n)
{
#ifdef SYS_process_madvise
    return syscall(SYS_process_madvise, pidfd, iov, n, MADV_GUARD_INSTALL, 0);
#else
    (void)pidfd, (void)iov, (void)n;
    errno = ENOSYS;
    return -1;
#endif
}

/* Installs the guard regions of stacks [0, n) of the slab at base, in one
 * system call where the kernel allows. Returns 0 or -1. */
static int guards_batch(char *base, size_t map_size, unsigned n)
{
    size_t guard = weft__guard_size();
    struct iovec iov[SLAB_MOST];
    for (unsigned i = 0; i < n; i++)
        iov[i] = (struct iovec){base + (size_t)i * map_size, guard};
    size_t want = (size_t)n * guard;
    if (weft__tools_valgrind)
        batch_mode = 3; /* it knows neither process_madvise nor pidfd_open */
    if (batch_mode <= 1) {
        if (pmadvise(PIDFD_SELF_THREAD_GROUP, iov, n) == (long)want) {
            batch_mode = 1;
            return 0;
        }
        if (batch_mode == 1)
            return -1;
        /* TSan does not see pidfd_open make an fd, and reports the
         * number's reuse across threads as a race. */
        batch_mode = weft__tools_tsan ? 3 : 2;
    }
#ifdef SYS_pidfd_open
    if (batch_mode == 2) {
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        long r = fd >= 0 ? pmadvise(fd, iov, n) : -1;
        if (fd >= 0)
            close(fd);
        if (r == (long)want)
            return 0;
        batch_mode = 3;
    }
#else
    batch_mode = 3;
#endif
    for (unsigned i = 0; i < n; i++)
        if (madvise(iov[i].iov_base, guard, MADV_GUARD_INSTALL) != 0)
            return -1;
    return 0;
}

/* ---- the slabs ------------------------------------------------------------- */

static void lock(void)
{
    pthread_mutex_lock(&mu);
}

static void unlock(void)
{
    pthread_mutex_unlock(&mu);
}

static void child_reset(void)
{
    pthread_mutex_init(&mu, NULL);
}

static void register_fork(void)
{
    pthread_atfork(lock, unlock, child_reset);
}

static cls *class_of(size_t map_size)
{
    cls *c = classes;
    while (c && c->map_size != map_size)
        c = c->link;
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    c->map_size = map_size;
    c->next_n = SLAB_FIRST;
    c->link = classes;
    classes = c;
    return c;
}

/* The index at which a slab at base is, or would be, in `all`. */
static size_t find(const char *base)
{
    size_t lo = 0, hi = nall;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (all[mid]->base < base)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The slab holding the address p. */
static slab *slab_at(const char *p)
{
    size_t i = find(p);
    if (i < nall && all[i]->base == p)
        return all[i];
    return i > 0 ? all[i - 1] : NULL;
}

static slab *slab_new(cls *c)
{
    unsigned n = c->next_n;
    if ((size_t)n * c->map_size > SLAB_BYTES)
        n = c->map_size >= SLAB_BYTES ? 1 : (unsigned)(SLAB_BYTES / c->map_size);
    if (nall == capall) {
        size_t cap = capall ? capall * 2 : 64;
        slab **a = realloc(all, cap * sizeof *a);
        if (!a)
            return NULL;
        all = a;
        capall = cap;
    }
    /* The slab's record lives in its own mapping, after its stacks: a slab
     * costs one mapping and no allocation. */
    size_t page = weft__page_size(), stacks, bytes;
    char *base;
    int retried = 0;
    for (;;) {
        stacks = (size_t)n * c->map_size;
        bytes =
            stacks + ((sizeof(slab) + 2 * (size_t)n * sizeof(unsigned) + page - 1) & ~(page - 1));
        /* MAP_NORESERVE: pages are committed as they are touched, and
         * idle address space is not charged to the overcommit account. */
        base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (base != MAP_FAILED)
            break;
        if (n == 1)
            return NULL;
        /* Tried once more at the same size: a slab smaller than its turn
         * would change the layout of every later one. */
        if (!retried) {
            retried = 1;
            continue;
        }
        n /= 2;
    }
    slab *s = (slab *)(base + stacks);
    s->freeidx = (unsigned *)(s + 1);
    s->vg = s->freeidx + n;
    s->bytes = bytes;
    int regions = weft__stack_guard_regions();
    s->classic = !regions;
    /* A huge page would commit 2 MiB at a stack's first touch (kernels
     * before 6.7 do not infer this from MAP_STACK). With guard regions
     * installed at once, a stack under 2 MiB has a guard in every 2 MiB,
     * where no huge page fits, and its slab saves the system call. */
#ifdef MADV_NOHUGEPAGE
    if (!regions || c->map_size >= ((size_t)2 << 20))
        madvise(base, bytes, MADV_NOHUGEPAGE);
#endif
    if (regions < 0 || (regions && guards_batch(base, c->map_size, n) != 0)) {
        munmap(base, bytes);
        return NULL;
    }
    s->base = base;
    s->map_size = c->map_size;
    s->n = n;
    size_t at = find(base);
    memmove(&all[at + 1], &all[at], (nall - at) * sizeof *all);
    all[at] = s;
    nall++;
    if (c->next_n < SLAB_MOST)
        c->next_n *= 2;
    return s;
}

static void list_add(cls *c, slab *s)
{
    s->prev = NULL;
    s->next = c->partial;
    if (c->partial)
        c->partial->prev = s;
    c->partial = s;
    s->listed = 1;
}

static void list_del(cls *c, slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = 0;
}

/* Unmaps a slab whose stacks are all free. */
static void slab_unmap(cls *c, slab *s)
{
    for (unsigned i = 0; i < s->carved; i++)
        weft__tools_stack_unregister(s->vg[i]);
    if (s->listed)
        list_del(c, s);
    if (c->cur == s)
        c->cur = NULL;
    if (c->spare == s)
        c->spare = NULL;
    size_t at = find(s->base);
    memmove(&all[at], &all[at + 1], (nall - at - 1) * sizeof *all);
    nall--;
    munmap(s->base, s->bytes);
}

/* Unmaps every slab whose stacks are all free, of every size: when memory
 * maps or address space run out. Returns how many. */
static int reclaim(void)
{
    int n = 0;
    for (cls *c = classes; c; c = c->link) {
        for (slab *s = c->partial, *next; s; s = next) {
            next = s->next;
            if (s->nfree == s->carved) {
                slab_unmap(c, s);
                n++;
            }
        }
    }
    return n;
}

/* Carves the next stack of the slab being carved, making a slab when there
 * is none. Locked. */
static int carve(cls *c, weft__stack *st)
{
    slab *s = c->cur;
    if (!s || s->carved == s->n) {
        if (!(s = slab_new(c)) && (!reclaim() || !(s = slab_new(c))))
            return -1;
        c->cur = s;
    }
    char *map = s->base + (size_t)s->carved * s->map_size;
    size_t guard = weft__guard_size();
    /* Classic guards split the slab's map: one per stack, when it is
     * needed, so that running out of maps fails the creation at hand. */
    if (s->classic && mprotect(map, guard, PROT_NONE) != 0)
        return -1;
    st->map = map;
    st->map_size = s->map_size;
    st->vg_id = s->vg[s->carved] = weft__tools_stack_register(map + guard, map + s->map_size);
    s->carved++;
    return 0;
}

int weft__slab_get(weft__stack *st, size_t map_size)
{
    pthread_once(&once, register_fork);
    lock();
    int rc = -1;
    cls *c = class_of(map_size);
    if (c && c->partial) {
        slab *s = c->partial;
        unsigned i = s->freeidx[--s->nfree];
        if (s->nfree == 0)
            list_del(c, s);
        s->advised = 0;
        if (c->spare == s)
            c->spare = NULL;
        st->map = s->base + (size_t)i * s->map_size;
        st->map_size = s->map_size;
        st->vg_id = s->vg[i];
        rc = 0;
    } else if (c) {
        rc = carve(c, st);
    }
    unlock();
    if (rc != 0)
        errno = ENOMEM;
    return rc;
}

void weft__slab_put(const weft__stack *st)
{
    lock();
    slab *s = slab_at(st->map);
    cls *c = class_of(st->map_size);
    s->freeidx[s->nfree++] = (unsigned)((size_t)(st->map - s->base) / s->map_size);
    if (!s->listed)
        list_add(c, s);
    /* A slab back to no stack in use has seen a peak pass, or its
     * threads exit. With classic guards it goes whole, since its maps are
     * the scarcer; else the larger of it and the spare stays, its pages
     * given back by one call (the guards stay). */
    if (s->nfree == s->carved) {
        if (s->classic) {
            slab_unmap(c, s);
            s = NULL;
        } else if (c->spare && c->spare != s) {
            slab *small = c->spare->n < s->n ? c->spare : s;
            slab *keep = small == s ? c->spare : s;
            slab_unmap(c, small);
            c->spare = keep;
            s = keep;
        } else {
            c->spare = s;
        }
        if (s && !s->advised) {
            madvise(s->base, (size_t)s->carved * s->map_size, MADV_FREE);
            s->advised = 1;
        }
    }
    unlock();
}
