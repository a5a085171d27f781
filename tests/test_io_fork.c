/* fork() inside a task: parent and child each get only their own events.
 * Both go on waiting on fds and offloading; a task that waited on an fd
 * at fork waits on in the child; an offload in flight at fork completes in
 * the parent, and its copy in the child returns ECANCELED instead of
 * hanging. An alarm in each process fails a hang; no time is asserted. */
#include "io_util.h"

#include <stdatomic.h>

static int rounds;

static void *identity(void *arg)
{
    return arg;
}

static void *write_byte(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c = 'x';
    CHECK_INT(weft_write(fd, &c, 1, ms_from_now(10000)), 1);
    return NULL;
}

/* Rounds of: another task writes a byte to w, this one reads it from r
 * within a deadline, and offloads a call. */
static void traffic(int r, int w, const char *who)
{
    for (int i = 0; i < rounds; i++) {
        weft_co *t = weft_spawn(write_byte, (void *)(intptr_t)w, NULL);
        CHECK(t != NULL);
        char c;
        ssize_t n = weft_read(r, &c, 1, ms_from_now(10000));
        if (n != 1)
            FAIL("%s: round %d: read returned %zd (%s)", who, i, n, strerror(errno));
        CHECK_INT(weft_join(t, NULL, -1), 0);
        void *v = NULL;
        CHECK_INT(weft_offload(identity, (void *)(intptr_t)(i + 1), &v), 0);
        CHECK_INT((intptr_t)v, i + 1);
    }
}

/* Pipes made before fork, each then used by one process only. */
static int ppipe[2], cpipe[2];
/* The child's: a task waits on it across the fork. */
static int across[2];
/* What the in-flight offloads read: written by the parent after fork. */
static int gate[2];
static atomic_int gate_readers;
static pid_t child;

static void *read_gate(void *arg)
{
    (void)arg;
    atomic_fetch_add(&gate_readers, 1);
    char c;
    return (void *)(intptr_t)read(gate[0], &c, 1);
}

static void *offload_gate(void *arg)
{
    (void)arg;
    void *r = NULL;
    errno = 0;
    if (weft_offload(read_gate, NULL, &r) != 0)
        return (void *)(intptr_t)-errno;
    return r;
}

static void *wait_across(void *arg)
{
    (void)arg;
    char c = 0;
    errno = 0;
    ssize_t n = weft_read(across[0], &c, 1, ms_from_now(10000));
    return (void *)(intptr_t)(n == 1 ? c : n < 0 ? -errno : 0);
}

static void *fork_task(void *arg)
{
    (void)arg;
    CHECK_INT(pipe(ppipe), 0);
    CHECK_INT(pipe(cpipe), 0);
    CHECK_INT(pipe(across), 0);
    CHECK_INT(pipe(gate), 0);
    /* Every fd known to the poller before fork. */
    for (int round = 0; round < 2; round++) {
        traffic(ppipe[0], ppipe[1], "before");
        traffic(cpipe[0], cpipe[1], "before");
    }
    /* Two calls in flight at fork: with one worker, one runs (blocked in
     * read) and one is queued. Private stacks: the calls wait for this
     * task, which a shared stack kept for an offload would hold back. */
    static const weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};
    weft_co *g1 = weft_spawn(offload_gate, NULL, &priv);
    weft_co *g2 = weft_spawn(offload_gate, NULL, &priv);
    weft_co *wa = weft_spawn(wait_across, NULL, NULL);
    CHECK(g1 && g2 && wa);
    while (atomic_load(&gate_readers) < 1)
        weft_sleep(ms_from_now(1));
    weft_pause(); /* wa is waiting on across[0] */
    fflush(NULL);
    child = fork();
    CHECK(child >= 0);
    alarm(60);
    void *r;
    if (child == 0) {
        weft_close(ppipe[0]);
        weft_close(ppipe[1]);
        /* Only the child writes across; wa waits on in the child. */
        char c = 'c';
        CHECK_INT(write(across[1], &c, 1), 1);
        CHECK_INT(weft_join(wa, &r, -1), 0);
        CHECK_INT((intptr_t)r, 'c');
        traffic(cpipe[0], cpipe[1], "child");
        /* The calls in flight at fork are the parent's. */
        CHECK_INT(weft_join(g1, &r, -1), 0);
        CHECK_INT((intptr_t)r, -ECANCELED);
        CHECK_INT(weft_join(g2, &r, -1), 0);
        CHECK_INT((intptr_t)r, -ECANCELED);
        traffic(cpipe[0], cpipe[1], "child");
        alarm(0);
        return NULL;
    }
    weft_close(cpipe[0]);
    weft_close(cpipe[1]);
    /* The parent's copy of wa is handed back at once (EBADF): the byte
     * the child writes is the child's. */
    weft_close(across[0]);
    CHECK_INT(weft_join(wa, &r, -1), 0);
    CHECK_INT((intptr_t)r, -EBADF);
    /* The calls in flight at fork complete here (the one worker is theirs
     * until then). */
    CHECK_INT(write(gate[1], "ab", 2), 2);
    CHECK_INT(weft_join(g1, &r, -1), 0);
    CHECK_INT((intptr_t)r, 1);
    CHECK_INT(weft_join(g2, &r, -1), 0);
    CHECK_INT((intptr_t)r, 1);
    traffic(ppipe[0], ppipe[1], "parent");
    alarm(0);
    return NULL;
}

int main(void)
{
    io_test_init();
    /* The fork here is of a process with a worker thread, whose child
     * starts threads and switches fibers: ThreadSanitizer supports
     * neither. */
    if (test_under_is("tsan"))
        test_skip("ThreadSanitizer does not run threads in a child of a threaded fork");
    setenv("WEFT_WORKERS", "1", 1);
    rounds = io_slow_tool() ? 50 : 500;
    const char *before = weft_backend();
    CHECK_INT(weft_run(fork_task, NULL, NULL), 0);
    if (child == 0) {
        CHECK_STR(weft_backend(), before);
        exit(0); /* the pool's exit handler runs in the child too */
    }
    int status;
    CHECK_INT(waitpid(child, &status, 0), child);
    CHECK_EXITED(status, 0, "(the child's stderr is this test's)");
    puts("ok");
    return 0;
}
