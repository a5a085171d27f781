/* The worker pool (weft_offload) and futures completed from other threads:
 * results, deadlines, cancellation, errnos, and completions racing
 * timeouts. */
#include "io_util.h"

#include <pthread.h>
#include <sys/resource.h>

static void *slow_double(void *arg)
{
    usleep(20000);
    return (void *)((intptr_t)arg * 2);
}

static int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        weft_sleep(ms_from_now(1));
        ticks++;
    }
    return NULL;
}

static void *offloader(void *arg)
{
    (void)arg;
    void *r;
    CHECK_INT(weft_offload(slow_double, (void *)21, &r), 0);
    return r;
}

static void *self_cancel_offload(void *arg)
{
    (void)arg;
    weft_cancel(weft_co_self());
    return (void *)(intptr_t)weft_offload(slow_double, (void *)1, NULL);
}

static void *offload_task(void *arg)
{
    (void)arg;
    /* The others run while fn blocks a worker. */
    ticks = 0;
    weft_co *t = weft_spawn(ticker, NULL, NULL);
    void *r;
    CHECK_INT(weft_offload(slow_double, (void *)21, &r), 0);
    CHECK_INT((intptr_t)r, 42);
    CHECK(ticks >= 3);
    weft_join(t, NULL, -1);
    /* Many at once: more tasks than workers. */
    weft_co *ts[16];
    for (int i = 0; i < 16; i++)
        ts[i] = weft_spawn(offloader, NULL, NULL);
    for (int i = 0; i < 16; i++) {
        CHECK_INT(weft_join(ts[i], &r, -1), 0);
        CHECK_INT((intptr_t)r, 42);
    }
    /* Cancelled before: fn does not run. */
    weft_co *c = weft_spawn(self_cancel_offload, NULL, NULL);
    CHECK_INT(weft_join(c, &r, -1), 0);
    CHECK_INT((intptr_t)r, -1);
    CHECK_ERR(weft_offload(NULL, NULL, NULL), -1, EINVAL);
    /* Cancelled during: the wait lasts as long as fn. */
    c = weft_spawn(offloader, NULL, NULL);
    weft_pause();
    weft_cancel(c);
    CHECK_INT(weft_join(c, &r, -1), 0);
    CHECK_INT((intptr_t)r, 42);
    return NULL;
}

typedef struct {
    weft_future *f;
    int delay_us;
    void *value;
} completer_arg;

static void *completer(void *arg)
{
    completer_arg *a = arg;
    usleep((useconds_t)a->delay_us);
    CHECK_INT(weft_future_complete(a->f, a->value), 0);
    free(a);
    return NULL;
}

/* Starts a thread that completes f with value after delay_us. Its argument
 * is on the heap, not the task's stack: a task on a shared stack has its
 * frames copied away while it waits, so another thread must not read them. */
static void start_completer(pthread_t *th, weft_future *f, int delay_us, void *value)
{
    completer_arg *a = malloc(sizeof *a);
    CHECK(a != NULL);
    *a = (completer_arg){f, delay_us, value};
    CHECK_INT(pthread_create(th, NULL, completer, a), 0);
}

static void *waiter_busy(void *arg)
{
    errno = 0;
    int rc = weft_future_wait(arg, NULL, ms_from_now(2000));
    return (void *)(intptr_t)(rc ? errno : 0);
}

static void *complete_later(void *arg)
{
    weft_sleep(ms_from_now(5));
    CHECK_INT(weft_future_complete(arg, arg), 0);
    return NULL;
}

static void *future_task(void *arg)
{
    (void)arg;
    weft_future *f = weft_future_new();
    CHECK(f);
    CHECK_INT(weft_future_done(f), 0);
    CHECK_ERR(weft_future_wait(f, NULL, 0), -1, EAGAIN);
    CHECK_ERR(weft_future_wait(f, NULL, ms_from_now(10)), -1, ETIMEDOUT);
    /* Completed from a second thread while this task waits. */
    pthread_t th;
    start_completer(&th, f, 20000, (void *)0x1234);
    weft_co *other = weft_spawn(waiter_busy, f, NULL);
    void *v = NULL;
    CHECK_INT(weft_future_wait(f, &v, ms_from_now(5000)), 0);
    CHECK_PTR(v, (void *)0x1234);
    pthread_join(th, NULL);
    void *why;
    weft_join(other, &why, -1);
    CHECK_INT((intptr_t)why, EBUSY);
    /* Stays completed. */
    CHECK_INT(weft_future_done(f), 1);
    v = NULL;
    CHECK_INT(weft_future_wait(f, &v, 0), 0);
    CHECK_PTR(v, (void *)0x1234);
    CHECK_ERR(weft_future_complete(f, NULL), -1, EALREADY);
    weft_future_free(f);
    CHECK_ERR(weft_future_wait(NULL, NULL, 0), -1, EINVAL);
    CHECK_ERR(weft_future_complete(NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_future_done(NULL), -1, EINVAL);
    weft_future_free(NULL);

    /* Completed by another task of this thread. */
    f = weft_future_new();
    weft_co *ct = weft_spawn(complete_later, f, NULL);
    v = NULL;
    CHECK_INT(weft_future_wait(f, &v, ms_from_now(5000)), 0);
    CHECK_PTR(v, (void *)f);
    CHECK_INT(weft_join(ct, NULL, -1), 0);
    weft_future_free(f);

    /* Cancelled while waiting. */
    f = weft_future_new();
    weft_cancel(weft_co_self());
    CHECK_ERR(weft_future_wait(f, NULL, -1), -1, ECANCELED);
    weft_future_free(f);
    return NULL;
}

/* Completions racing deadlines: whichever wins, no wake-up is lost or
 * left behind for a later wait. */
static void *race_task(void *arg)
{
    (void)arg;
    int rounds = io_slow_tool() ? 50 : 500, ok = 0, late = 0;
    for (int i = 0; i < rounds; i++) {
        weft_future *f = weft_future_new();
        pthread_t th;
        start_completer(&th, f, i % 200, (void *)(intptr_t)(i + 1));
        void *v = NULL;
        if (weft_future_wait(f, &v, weft_now() + (i % 150) * 1000) == 0) {
            CHECK_INT((intptr_t)v, i + 1);
            ok++;
        } else {
            CHECK_INT(errno, ETIMEDOUT);
            late++;
        }
        pthread_join(th, NULL);
        /* A sleep right after must not be woken early by a stale post. */
        int64_t t0 = weft_now();
        weft_sleep(t0 + 100000);
        CHECK(weft_now() - t0 >= 100000);
        weft_future_free(f);
    }
    printf("race: %d completed, %d timed out\n", ok, late);
    return NULL;
}

static void *eagain_task(void *arg)
{
    (void)arg;
    errno = 0;
    int rc = weft_offload(slow_double, (void *)1, NULL);
    return (void *)(intptr_t)(rc ? errno : 0);
}

/* In a child: too little address space for a worker's stack. */
static void no_threads(void *arg)
{
    (void)arg;
    FILE *st = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!st || fscanf(st, "%lu", &pages) != 1)
        _exit(4);
    fclose(st);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = pages * 4096 + (1 << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        _exit(5);
    void *why = NULL;
    if (weft_run(eagain_task, NULL, &why) != 0)
        _exit(3);
    if ((intptr_t)why != EAGAIN)
        fprintf(stderr, "offload: %s\n", strerror((int)(intptr_t)why));
    _exit((intptr_t)why == EAGAIN ? 0 : 6);
}

/* ---- no memory for the job ---- */

static void *identity(void *arg)
{
    return arg;
}

static void *offload_errno(void *arg)
{
    (void)arg;
    errno = 0;
    int rc = weft_offload(identity, NULL, NULL);
    return (void *)(intptr_t)(rc ? errno : 0);
}

typedef struct hog {
    struct hog *next;
} hog;

static void *enomem_task(void *arg)
{
    (void)arg;
    /* One job record kept for reuse, one idle worker. */
    CHECK_INT(weft_offload(identity, NULL, NULL), 0);
    weft_co *a = weft_spawn(offload_errno, NULL, NULL);
    weft_co *b = weft_spawn(offload_errno, NULL, NULL);
    CHECK(a && b);
    /* No address space left: a takes the kept record, b finds none. */
    FILE *st = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    CHECK(st && fscanf(st, "%lu", &pages) == 1);
    fclose(st);
    struct rlimit rl = {pages * 4096, pages * 4096};
    CHECK_INT(setrlimit(RLIMIT_AS, &rl), 0);
    hog *h = NULL;
    for (size_t size = 1 << 20; size >= sizeof(hog); size /= 2) {
        hog *n;
        while ((n = malloc(size))) {
            n->next = h;
            h = n;
        }
    }
    void *ra, *rb;
    CHECK_INT(weft_join(a, &ra, -1), 0);
    CHECK_INT(weft_join(b, &rb, -1), 0);
    while (h) {
        hog *n = h->next;
        free(h);
        h = n;
    }
    CHECK_INT((intptr_t)ra, 0);
    CHECK_INT((intptr_t)rb, ENOMEM);
    return NULL;
}

static void no_memory(void *arg)
{
    (void)arg;
    /* Private stacks: a shared-stack switch saves and frees images, which
     * would hand the exhausted heap some room. */
    CHECK_INT(weft_set_stack_defaults(WEFT_STACK_PRIVATE, 0), 0);
    if (weft_run(enomem_task, NULL, NULL) != 0)
        _exit(3);
}

int main(void)
{
    io_test_init();
    /* No worker can start: EAGAIN (in a child, before this process has
     * made any thread, whose stacks glibc would reuse). */
    if (!io_slow_tool()) {
        char out[512];
        int status = test_fork(no_threads, NULL, out, sizeof out);
        CHECK_EXITED(status, 0, out);
        /* No memory for the call's record: ENOMEM. */
        status = test_fork(no_memory, NULL, out, sizeof out);
        CHECK_EXITED(status, 0, out);
    }
    CHECK_INT(weft_run(offload_task, NULL, NULL), 0);
    CHECK_INT(weft_run(future_task, NULL, NULL), 0);
    CHECK_INT(weft_run(race_task, NULL, NULL), 0);
    /* Outside a task, fn runs on the calling thread. */
    void *r;
    CHECK_INT(weft_offload(slow_double, (void *)5, &r), 0);
    CHECK_INT((intptr_t)r, 10);
    CHECK_ERR(weft_future_wait(NULL, NULL, 0), -1, EPERM);
    puts("ok");
    return 0;
}
