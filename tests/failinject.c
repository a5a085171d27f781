/* Failure injection: the Nth call that weft makes to malloc, calloc,
 * realloc or one of the system calls it uses (mmap, mprotect, madvise,
 * pipe, pipe2, eventfd, epoll_create1, epoll_ctl, fcntl, socket, accept4,
 * pthread_create, io_uring_queue_init) fails on purpose, for N = 1, 2, ...
 * until a run of the workload sees no injected failure, so that every
 * error path runs. The calls are interposed at link time (-Wl,--wrap=...,
 * see tests/CMakeLists.txt): only the calls of weft's objects and of this
 * file go through the wrappers, and this file calls the real functions for
 * its own needs.
 *
 * Each N runs in a forked child: the workload (generators, tasks,
 * channels, select, timers, fds, sockets, offload, futures, groups) once
 * with the Nth call failing, then once more with nothing failing, which must
 * succeed entirely (the process stayed consistent). Checked: no crash and
 * no hang; each weft call that failed returned -1 or NULL with an errno
 * that the header documents for it, and only when a failure was injected;
 * no allocation, fd or memory map is left behind beyond what a run without
 * injection leaves (ASan's leak check sees more when the suite runs under
 * it); the maps as the process's count, except under ASan and TSan, which
 * map on their own: there the mappings that weft made and did not unmap
 * (munmap is wrapped too, never failed). An abort with one "weft: " line
 * counts as a pass only where the header documents that abort; the others
 * are reported as such.
 *
 * Usage: test_failinject            every N, from 1 until no failure is hit
 *        test_failinject -n N [-v]  only N, in this process (to reproduce) */
#include "check.h"
#include "io_util.h"
#include "weft.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

/* ---- the wrappers ------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
int __real_mprotect(void *addr, size_t len, int prot);
int __real_madvise(void *addr, size_t len, int advice);
int __real_pipe(int fds[2]);
int __real_pipe2(int fds[2], int flags);
int __real_eventfd(unsigned int initval, int flags);
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __real_fcntl(int fd, int cmd, ...);
int __real_socket(int domain, int type, int protocol);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

static int armed; /* count calls and fail the Nth */
static unsigned long calls, fail_at;
static const char *injected; /* the call that failed, or NULL */
static long live_allocs;     /* blocks allocated through the wrappers */
static long live_maps;       /* mmaps through the wrappers not unmapped (weft
                                unmaps a mapping whole) */

static int inject(const char *what)
{
    if (!__atomic_load_n(&armed, __ATOMIC_RELAXED))
        return 0;
    if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) != fail_at)
        return 0;
    injected = what;
    return 1;
}

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    if (inject("malloc")) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_malloc(n);
    if (p)
        __atomic_add_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    if (inject("calloc")) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_calloc(n, size);
    if (p)
        __atomic_add_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

void *__wrap_realloc(void *old, size_t n);
void *__wrap_realloc(void *old, size_t n)
{
    if (inject("realloc")) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_realloc(old, n);
    if (p && !old)
        __atomic_add_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

void __wrap_free(void *p);
void __wrap_free(void *p)
{
    if (p)
        __atomic_sub_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
    __real_free(p);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (inject("mmap")) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = __real_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED)
        __atomic_add_fetch(&live_maps, 1, __ATOMIC_RELAXED);
    return p;
}

/* Counted, never failed: weft's maps left behind are what it mapped and
 * did not unmap, whatever a tool maps on its own. */
int __wrap_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len)
{
    int r = __real_munmap(addr, len);
    if (r == 0)
        __atomic_sub_fetch(&live_maps, 1, __ATOMIC_RELAXED);
    return r;
}

#define WRAP_INT(name, err, params, args)                                                          \
    int __wrap_##name params;                                                                      \
    int __wrap_##name params                                                                       \
    {                                                                                              \
        if (inject(#name)) {                                                                       \
            errno = err;                                                                           \
            return -1;                                                                             \
        }                                                                                          \
        return __real_##name args;                                                                 \
    }

WRAP_INT(mprotect, ENOMEM, (void *addr, size_t len, int prot), (addr, len, prot))
WRAP_INT(madvise, ENOMEM, (void *addr, size_t len, int advice), (addr, len, advice))
WRAP_INT(pipe, EMFILE, (int fds[2]), (fds))
WRAP_INT(pipe2, EMFILE, (int fds[2], int flags), (fds, flags))
WRAP_INT(eventfd, EMFILE, (unsigned int initval, int flags), (initval, flags))
WRAP_INT(epoll_create1, EMFILE, (int flags), (flags))
WRAP_INT(epoll_ctl, ENOMEM, (int epfd, int op, int fd, struct epoll_event *ev), (epfd, op, fd, ev))
WRAP_INT(socket, EMFILE, (int domain, int type, int protocol), (domain, type, protocol))
WRAP_INT(accept4, EMFILE, (int fd, struct sockaddr *addr, socklen_t *len, int flags),
         (fd, addr, len, flags))

/* fcntl(2) documents no ENOMEM; a failing F_GETFL/F_SETFL is modelled as
 * EBADF, the error of an fd that went away. */
int __wrap_fcntl(int fd, int cmd, ...);
int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    if (inject("fcntl")) {
        errno = EBADF;
        return -1;
    }
    return __real_fcntl(fd, cmd, arg);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (inject("pthread_create"))
        return EAGAIN;
    return __real_pthread_create(t, attr, fn, arg);
}

#ifdef WEFT_HAVE_URING
struct io_uring;
int __real_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
    if (inject("io_uring_queue_init"))
        return -ENOMEM;
    return __real_io_uring_queue_init(entries, ring, flags);
}
#endif

/* ---- checking the errors of the workload -------------------------------- */

static char problems[4096];
static size_t nproblems;
static int verbose;

static void problem(int line, const char *call, int e, const char *why)
{
    size_t len = strlen(problems);
    snprintf(problems + len, sizeof problems - len, "  line %d: %s: %s (errno %d %s)\n", line, call,
             why, e, strerror(e));
    nproblems++;
}

/* A weft call failed with errno e; allowed is a 0-terminated list of the
 * errnos the header documents for it. Returns 1 so that callers can write
 * "if (failed(...)) goto out". */
static int failed_(int line, const char *call, int e, const int *allowed)
{
    if (verbose)
        printf("  %s failed: %s (injected: %s)\n", call, strerror(e), injected ? injected : "none");
    if (!injected)
        problem(line, call, e, "failed with nothing injected");
    int ok = 0;
    for (const int *a = allowed; *a; a++)
        ok |= *a == e;
    if (!ok)
        problem(line, call, e, "an errno its documentation does not list");
    return 1;
}

#define ERRS(...) ((const int[]){__VA_ARGS__, 0})
#define FAILED(call, ...) failed_(__LINE__, call, errno, ERRS(__VA_ARGS__))

/* The errors of a blocking call with a deadline: ENOMEM for its timer. */
#define E_BLOCK ENOMEM
/* The I/O calls: the common errors (ENOMEM) and those of read(2) and
 * write(2) (EBADF: the injected fcntl failure), and EMFILE or ENFILE when
 * the poller cannot be made. */
#define E_IO ENOMEM, EBADF, EMFILE, ENFILE

/* ---- the workload ------------------------------------------------------- */

static int defers;

static void on_defer(void *arg)
{
    (void)arg;
    defers++;
}

static void *gen(void *arg)
{
    (void)arg;
    if (weft_co_defer(on_defer, NULL) != 0)
        FAILED("weft_co_defer", ENOMEM);
    for (uintptr_t i = 1; i <= 3; i++) {
        errno = 0;
        void *in = weft_co_yield((void *)i);
        if (in == NULL && errno != 0)
            FAILED("weft_co_yield", ENOMEM);
    }
    return (void *)(uintptr_t)4;
}

static void work_gen(int kind)
{
    weft_opts o = {.stack_kind = kind};
    weft_co *g = weft_co_new(gen, NULL, &o);
    if (!g) {
        FAILED("weft_co_new", ENOMEM);
        return;
    }
    void *out;
    int rc;
    while ((rc = weft_co_send(g, NULL, &out)) != 0)
        if (rc < 0 && FAILED("weft_co_send", ENOMEM))
            break;
    weft_co_free(g);
}

static weft_chan *ch;

static void *sender(void *arg)
{
    uint64_t v = (uintptr_t)arg;
    for (int i = 0; i < 4; i++, v++)
        if (weft_chan_send(ch, &v, weft_now() + 1000000000) != 0) {
            if (errno != EPIPE)
                FAILED("weft_chan_send", E_BLOCK);
            break;
        }
    return NULL;
}

static void work_chan(void)
{
    if (!(ch = weft_chan_new(sizeof(uint64_t), 1))) {
        FAILED("weft_chan_new", ENOMEM);
        return;
    }
    weft_co *t[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        weft_opts o = {.stack_kind = i == 2 ? WEFT_STACK_SHARED : WEFT_STACK_PRIVATE};
        if (!(t[i] = weft_spawn(sender, (void *)(uintptr_t)(i * 100), &o)))
            FAILED("weft_spawn", ENOMEM);
    }
    /* Twenty cases: the waiters of more than 16 are allocated. */
    weft_case c[20];
    uint64_t got[20];
    for (int i = 0; i < 20; i++)
        c[i] = (weft_case){.ch = ch, .op = WEFT_RECV, .elem = &got[i], .err = 0};
    for (int n = 0; n < 12; n++) {
        int rc = weft_select(c, 20, weft_now() + 20000000);
        if (rc < 0) {
            if (errno != ETIMEDOUT)
                FAILED("weft_select", ENOMEM, E_BLOCK);
            break;
        }
    }
    weft_chan_close(ch);
    for (int i = 0; i < 3; i++)
        if (t[i] && weft_join(t[i], NULL, -1) != 0)
            FAILED("weft_join", E_BLOCK);
    CHECK(weft_chan_free(ch) == 0);
}

static void *sleeper(void *arg)
{
    (void)arg;
    /* ECANCELED: the group was closed early, its wait having failed. */
    if (weft_sleep(weft_now() + 100000) != 0)
        FAILED("weft_sleep", E_BLOCK, ECANCELED);
    return NULL;
}

static void work_timers(void)
{
    /* Enough sleepers at once to grow the timer heap. */
    weft_group *g = weft_group_new();
    if (!g) {
        FAILED("weft_group_new", ENOMEM);
        return;
    }
    for (int i = 0; i < 40; i++)
        if (!weft_group_spawn(g, sleeper, NULL, NULL))
            FAILED("weft_group_spawn", ENOMEM);
    if (weft_group_wait(g, weft_now() + 1000000000) != 0)
        FAILED("weft_group_wait", E_BLOCK);
    CHECK(weft_group_close(g) == 0);
    /* Static: a wait that times out unlinks its waiter from the queue in
     * the object, which must not be in this task's frames (on a shared
     * stack they are saved away, and another coroutine's are there). */
    static weft_mutex m;
    static weft_sem s;
    CHECK(weft_mutex_init(&m) == 0 && weft_sem_init(&s, 0) == 0);
    if (weft_mutex_lock(&m, weft_now() + 1000000) != 0)
        FAILED("weft_mutex_lock", E_BLOCK);
    else
        CHECK(weft_mutex_unlock(&m) == 0);
    if (weft_sem_wait(&s, weft_now() + 100000) == 0 || errno != ETIMEDOUT)
        FAILED("weft_sem_wait", E_BLOCK);
    CHECK(weft_mutex_destroy(&m) == 0 && weft_sem_destroy(&s) == 0);
}

static int fds[2];

static void *pipe_writer(void *arg)
{
    (void)arg;
    char buf[300];
    memset(buf, 'x', sizeof buf);
    if (weft_write(fds[1], buf, sizeof buf, weft_now() + 1000000000) != (ssize_t)sizeof buf)
        FAILED("weft_write", E_IO, EPIPE);
    weft_close(fds[1]);
    return NULL;
}

static void work_fds(void)
{
    if (__real_pipe2(fds, O_CLOEXEC) != 0)
        FAIL("pipe2: %s", strerror(errno));
    weft_co *w = weft_spawn(pipe_writer, NULL, NULL);
    if (!w) {
        FAILED("weft_spawn", ENOMEM);
        weft_close(fds[1]);
    }
    /* Twenty buffers: copied to the heap past 16. */
    char bufs[20][16];
    struct iovec v[20];
    for (int i = 0; i < 20; i++)
        v[i] = (struct iovec){bufs[i], sizeof bufs[i]};
    for (;;) {
        ssize_t n = weft_readv(fds[0], v, 20, weft_now() + 1000000000);
        if (n == 0)
            break;
        if (n < 0) {
            FAILED("weft_readv", E_IO);
            break;
        }
    }
    if (w && weft_join(w, NULL, -1) != 0)
        FAILED("weft_join", E_BLOCK);
    weft_close(fds[0]);

    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
        FAIL("socketpair: %s", strerror(errno));
    if (weft_send(sp[0], "hi", 2, 0, weft_now() + 1000000000) != 2)
        FAILED("weft_send", E_IO);
    else if (weft_wait_fd(sp[1], POLLIN, weft_now() + 1000000000) < 0)
        FAILED("weft_wait_fd", E_IO);
    weft_close(sp[0]);
    weft_close(sp[1]);
}

static void *acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int c = weft_accept(lfd, NULL, NULL, weft_now() + 1000000000);
    if (c < 0 && errno != ECANCELED)
        FAILED("weft_accept", E_IO, EMFILE, ENFILE);
    else
        weft_close(c);
    return NULL;
}

static void work_sockets(void)
{
    int lfd = weft_tcp_listen("127.0.0.1", 0, 4);
    if (lfd < 0) {
        FAILED("weft_tcp_listen", EMFILE, ENFILE, ENOMEM, ENOBUFS);
        return;
    }
    int port = weft_local_port(lfd);
    CHECK(port > 0);
    weft_co *a = weft_spawn(acceptor, (void *)(intptr_t)lfd, NULL);
    if (!a)
        FAILED("weft_spawn", ENOMEM);
    int c = weft_tcp_dial("127.0.0.1", port, weft_now() + 1000000000);
    if (c < 0) {
        FAILED("weft_tcp_dial", EMFILE, ENFILE, ENOMEM, ENOBUFS);
        if (a)
            weft_cancel(a);
    } else {
        weft_close(c);
    }
    if (a && weft_join(a, NULL, -1) != 0)
        FAILED("weft_join", E_BLOCK);
    weft_close(lfd);
}

static void *job(void *arg)
{
    weft_future *f = arg;
    if (f)
        weft_future_complete(f, (void *)(uintptr_t)7);
    return (void *)(uintptr_t)42;
}

static void work_offload(void)
{
    void *r = NULL;
    if (weft_offload(job, NULL, &r) != 0)
        FAILED("weft_offload", EAGAIN, ENOMEM, EMFILE, ENFILE);
    else
        CHECK((uintptr_t)r == 42);
    weft_future *f = weft_future_new();
    if (!f) {
        FAILED("weft_future_new", ENOMEM);
        return;
    }
    if (weft_offload(job, f, NULL) != 0) {
        FAILED("weft_offload", EAGAIN, ENOMEM, EMFILE, ENFILE);
        weft_future_complete(f, (void *)(uintptr_t)7);
    }
    void *v = NULL;
    if (weft_future_wait(f, &v, weft_now() + 1000000000) != 0)
        FAILED("weft_future_wait", E_BLOCK);
    else
        CHECK((uintptr_t)v == 7);
    weft_future_free(f);
}

/* Shared-stack tasks that keep a few KiB of frames across a wait, so
 * that switching between them saves their frames. */
static void *deep(void *arg)
{
    (void)arg;
    volatile char pad[4096];
    for (size_t i = 0; i < sizeof pad; i += 64)
        pad[i] = (char)i;
    /* ECANCELED: the group was closed early, its wait having failed. */
    if (weft_sleep(weft_now() + 100000) != 0)
        FAILED("weft_sleep", E_BLOCK, ECANCELED);
    for (size_t i = 0; i < sizeof pad; i += 64)
        CHECK(pad[i] == (char)i);
    return NULL;
}

static void work_shared(void)
{
    weft_co *t[6];
    weft_opts o = {.stack_kind = WEFT_STACK_SHARED};
    for (int i = 0; i < 6; i++)
        if (!(t[i] = weft_spawn(deep, NULL, &o)))
            FAILED("weft_spawn", ENOMEM);
    for (int i = 0; i < 6; i++)
        if (t[i] && weft_join(t[i], NULL, -1) != 0)
            FAILED("weft_join", E_BLOCK);
}

/* Generators on shared stacks that resume one another: five of them, more
 * than the stacks a thread takes in turn per size (four), so that two
 * share a stack and one hands that stack straight to the other (through
 * the thread's scratch context, made the first time). Every run needs
 * that context then, not only one whose injected failure moved the
 * coroutines to other stacks. A hub yields for each send; sent another
 * hub, it first resumes that one; sent NULL, it returns. */
#define HUBS 5
#define PING ((void *)(uintptr_t)1)

static void *hub(void *arg)
{
    (void)arg;
    for (;;) {
        errno = 0;
        void *in = weft_co_yield(NULL);
        if (in == NULL && errno != 0) {
            FAILED("weft_co_yield", ENOMEM);
            continue;
        }
        if (in == NULL)
            return NULL;
        if (in != PING && weft_co_send(in, PING, NULL) < 0)
            FAILED("weft_co_send", ENOMEM);
    }
}

static void work_handover(void)
{
    weft_opts o = {.stack_kind = WEFT_STACK_SHARED};
    weft_co *h[HUBS];
    int started[HUBS];
    for (int i = 0; i < HUBS; i++) {
        started[i] = 0;
        if (!(h[i] = weft_co_new(hub, NULL, &o)))
            FAILED("weft_co_new", ENOMEM);
        else if (weft_co_send(h[i], NULL, NULL) < 0)
            FAILED("weft_co_send", ENOMEM);
        else
            started[i] = 1;
    }
    for (int i = 0; i < HUBS; i++)
        for (int j = 0; j < HUBS; j++)
            if (i != j && started[i] && started[j] && weft_co_send(h[i], h[j], NULL) < 0)
                FAILED("weft_co_send", ENOMEM);
    for (int i = 0; i < HUBS; i++) {
        int rc;
        while (started[i] && (rc = weft_co_send(h[i], NULL, NULL)) != 0)
            if (rc < 0 && FAILED("weft_co_send", ENOMEM))
                break;
        weft_co_free(h[i]);
    }
}

/* Two runs, each with its own poller: the first makes it for an offload,
 * the second for an fd. */
static void *workload_a(void *arg)
{
    (void)arg;
    work_offload();
    work_gen(WEFT_STACK_PRIVATE);
    work_gen(WEFT_STACK_SHARED);
    work_chan();
    work_shared();
    work_handover();
    work_timers();
    return (void *)(uintptr_t)1;
}

static void *workload_b(void *arg)
{
    (void)arg;
    work_fds();
    work_sockets();
    work_offload();
    return (void *)(uintptr_t)1;
}

static void run_workload(void)
{
    weft_fn parts[2] = {workload_a, workload_b};
    for (int i = 0; i < 2; i++) {
        void *res = NULL;
        if (weft_run(parts[i], NULL, &res) != 0)
            FAILED("weft_run", ENOMEM);
        else
            CHECK((uintptr_t)res == 1);
    }
}

/* ---- one N, in this process --------------------------------------------- */

typedef struct outcome {
    long allocs; /* live allocations after the clean run */
    int fds, maps;
    long weft_maps; /* mmaps of weft not unmapped */
    char what[32];  /* the call that failed */
} outcome;

/* Runs the workload with the Nth call failing (0: none), then once more
 * clean; returns 0, 1 when problems were found, 2 when nothing was
 * injected. */
static int run_n(unsigned long n, outcome *out)
{
    calls = 0;
    fail_at = n;
    injected = NULL;
    __atomic_store_n(&armed, n != 0, __ATOMIC_RELAXED);
    run_workload();
    __atomic_store_n(&armed, 0, __ATOMIC_RELAXED);
    const char *what = injected;
    int hit = what != NULL;
    snprintf(out->what, sizeof out->what, "%s", hit ? what : "");
    if (verbose)
        printf("N=%lu: %s\n", n, hit ? what : "nothing injected");
    injected = NULL;
    size_t before = nproblems;
    run_workload();
    if (nproblems != before)
        problem(__LINE__, "the clean run after it", 0, "failed");
    out->allocs = __atomic_load_n(&live_allocs, __ATOMIC_RELAXED);
    out->fds = io_count_fds();
    out->maps = test_count_maps();
    out->weft_maps = __atomic_load_n(&live_maps, __ATOMIC_RELAXED);
    if (nproblems) {
        fprintf(stderr, "failinject: N=%lu (%s):\n%s", n, hit ? what : "nothing injected",
                problems);
        return 1;
    }
    return hit ? 0 : 2;
}

/* ---- the driver ----------------------------------------------------------- */

static unsigned long child_n;
static outcome *shared_out;

static void child(void *arg)
{
    (void)arg;
    alarm(20);
    int rc = run_n(child_n, shared_out);
    fflush(NULL);
    exit(rc);
}

int main(int argc, char **argv)
{
    unsigned long only = 0;
    int opt;
    while ((opt = getopt(argc, argv, "n:v")) != -1) {
        if (opt == 'n')
            only = strtoul(optarg, NULL, 0);
        else if (opt == 'v')
            verbose = 1;
        else {
            fprintf(stderr, "usage: test_failinject [-n N] [-v]\n");
            return 2;
        }
    }
    /* One worker thread at most, so that what a run leaves behind does not
     * depend on how many workers the timing started. */
    setenv("WEFT_WORKERS", "1", 1);
    io_test_init();
    /* Some two hundred children, each running the workload twice: minutes
     * under valgrind or an emulator, for paths the plain and ASan modes
     * already run. */
    if (!only && (test_under_is("valgrind") || test_under_is("qemu")))
        test_skip("one child per injected failure is too slow under valgrind and qemu");
    if (only) {
        outcome o;
        int rc = run_n(only, &o);
        printf("N=%lu: %s; %ld allocations, %d fds, %d maps (%ld of weft's own) after\n", only,
               rc == 0   ? "passed"
               : rc == 2 ? "nothing injected"
                         : "problems",
               o.allocs, o.fds, o.maps, o.weft_maps);
        return rc == 2 ? 0 : rc;
    }
    shared_out = __real_mmap(NULL, sizeof *shared_out, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_out != MAP_FAILED);

    /* The reference: what two clean runs leave behind. */
    static char out[65536];
    child_n = 0;
    int status = test_fork(child, NULL, out, sizeof out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
        FAIL("the workload fails with nothing injected (status %#x):\n%s", status, out);
    outcome ref = *shared_out;
    printf("reference: %ld allocations, %d fds, %d maps (%ld of weft's own) after two runs\n",
           ref.allocs, ref.fds, ref.maps, ref.weft_maps);
    /* ASan and TSan map memory of their own as the program goes (the
     * allocator's region of a size class at its first use, the stack
     * depot as new allocation stacks appear), so that under them the
     * process's count of maps depends on which error paths ran: there the
     * maps weft made and did not unmap are counted instead. */
    int count_maps = !test_under_is("asan") && !test_under_is("tsan");

    unsigned long n, bad = 0, aborts_doc = 0, max_n = 100000;
    unsigned long badn[64];
    struct {
        char what[32];
        unsigned long count;
    } kinds[24];
    size_t nkinds = 0;
    for (n = 1; n < max_n; n++) {
        child_n = n;
        memset(shared_out, 0, sizeof *shared_out);
        status = test_fork(child, NULL, out, sizeof out);
        const char *what = NULL;
        char line[256] = "";
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
            break; /* the workload ran through without reaching call N */
        size_t k = 0;
        while (k < nkinds && strcmp(kinds[k].what, shared_out->what) != 0)
            k++;
        if (k == nkinds && nkinds < sizeof kinds / sizeof kinds[0]) {
            memcpy(kinds[k].what, shared_out->what, sizeof kinds[k].what);
            kinds[nkinds++].count = 0;
        }
        if (k < nkinds)
            kinds[k].count++;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            outcome o = *shared_out;
            if (o.allocs > ref.allocs || o.fds > ref.fds ||
                (count_maps ? o.maps > ref.maps : o.weft_maps > ref.weft_maps)) {
                snprintf(line, sizeof line,
                         "left behind: %ld allocations, %d fds, %d maps, %ld of weft's own "
                         "(reference %ld, %d, %d, %ld)",
                         o.allocs, o.fds, o.maps, o.weft_maps, ref.allocs, ref.fds, ref.maps,
                         ref.weft_maps);
                what = line;
            }
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
                   test_count_lines(out, "weft: ", line, sizeof line) == 1) {
            /* Documented aborts on running out of memory: none in the
             * header today (it documents ENOMEM returns instead). */
            what = "an abort the header does not document";
        } else if (WIFSIGNALED(status)) {
            snprintf(line, sizeof line, "killed by signal %d%s", WTERMSIG(status),
                     WTERMSIG(status) == SIGALRM ? " (hung)" : "");
            what = line;
        } else {
            what = "problems";
        }
        if (what) {
            if (bad < sizeof badn / sizeof badn[0])
                badn[bad] = n;
            bad++;
            printf("FAIL N=%lu: %s\n%s", n, what, out);
            if (strstr(what, "abort"))
                printf("  %s\n", line);
        }
    }
    (void)aborts_doc;
    printf("failed on purpose:");
    for (size_t k = 0; k < nkinds; k++)
        printf(" %s %lu", kinds[k].what[0] ? kinds[k].what : "(unknown: the child died)",
               kinds[k].count);
    printf("\n");
    printf("failinject: %lu injected failures, %lu wrong", n - 1, bad);
    for (unsigned long i = 0; i < bad && i < sizeof badn / sizeof badn[0]; i++)
        printf("%s%lu", i ? " " : ": N = ", badn[i]);
    printf("\n");
    if (bad)
        printf("reproduce one with: test_failinject -n N -v\n");
    return bad ? 1 : 0;
}
