/* Runs a blocking client body on many connections as weft tasks on one
 * thread (BENCH_HOOK_WEFT) or as a pthread per connection; see driver.h. */
#include "driver.h"

#include "../bench.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef BENCH_HOOK_WEFT
#include <weft.h>
#else
#include <pthread.h>
#endif

static const bench_client *client;
static const char *target;
static long conns, iters;
static long ops_done;
static int failures;

static double now_s(void)
{
    return bench_now_ns() / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static struct {
    double t0, t1, cpu0, cpu1;
    long rss0, hwm;
} fig;

/* ---- one connection's life, the same for tasks and threads ---- */

static void *open_one(long index)
{
    void *c = client->open((int)index, target);
    if (!c)
        failures++;
    return c;
}

static void work_one(void *c)
{
    long n = c ? client->work(c, iters) : -1;
#ifdef BENCH_HOOK_WEFT
    if (n < 0)
        failures++;
    else
        ops_done += n;
#else
    if (n < 0)
        __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&ops_done, n, __ATOMIC_RELAXED);
#endif
}

#ifdef BENCH_HOOK_WEFT
/* ---- weft tasks on this thread ---- */

static weft_wg opened, gate, worked, closing;

static void *conn_task(void *arg)
{
    void *c = open_one((long)(intptr_t)arg);
    weft_wg_done(&opened);
    weft_wg_wait(&gate, -1);
    work_one(c);
    weft_wg_done(&worked);
    weft_wg_wait(&closing, -1);
    if (c)
        client->close(c);
    return NULL;
}

static void *run_main(void *arg)
{
    (void)arg;
    weft_wg_init(&opened);
    weft_wg_init(&gate);
    weft_wg_init(&worked);
    weft_wg_init(&closing);
    weft_wg_add(&opened, conns);
    weft_wg_add(&gate, 1);
    weft_wg_add(&worked, conns);
    weft_wg_add(&closing, 1);
    /* Default options: what a program gets without tuning. weft_run frees
     * the tasks when they finish. */
    for (long i = 0; i < conns; i++)
        if (!weft_spawn(conn_task, (void *)(intptr_t)i, NULL)) {
            fprintf(stderr, "weft_spawn: %s\n", strerror(errno));
            exit(1);
        }
    weft_wg_wait(&opened, -1);
    fig.t0 = now_s();
    fig.cpu0 = cpu_s();
    weft_wg_done(&gate);
    weft_wg_wait(&worked, -1);
    fig.t1 = now_s();
    fig.cpu1 = cpu_s();
    fig.hwm = bench_status_kb("VmHWM");
    weft_wg_done(&closing);
    return NULL;
}

static const char *mode = "weft";

static void run_all(void)
{
    if (weft_run(run_main, NULL, NULL) != 0) {
        fprintf(stderr, "weft_run: %s\n", strerror(errno));
        exit(1);
    }
}
#else
/* ---- a pthread per connection ---- */

static pthread_barrier_t opened, gate, worked, closing;

static void *conn_thread(void *arg)
{
    void *c = open_one((long)(intptr_t)arg);
    pthread_barrier_wait(&opened);
    pthread_barrier_wait(&gate);
    work_one(c);
    pthread_barrier_wait(&worked);
    pthread_barrier_wait(&closing);
    if (c)
        client->close(c);
    return NULL;
}

static const char *mode = "threads";

static void run_all(void)
{
    unsigned n = (unsigned)conns + 1;
    pthread_barrier_init(&opened, NULL, n);
    pthread_barrier_init(&gate, NULL, n);
    pthread_barrier_init(&worked, NULL, n);
    pthread_barrier_init(&closing, NULL, n);
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    if (!t)
        exit(1);
    for (long i = 0; i < conns; i++) {
        int e = pthread_create(&t[i], NULL, conn_thread, (void *)(intptr_t)i);
        if (e) {
            fprintf(stderr, "pthread_create: %s\n", strerror(e));
            exit(1);
        }
    }
    pthread_barrier_wait(&opened);
    fig.t0 = now_s();
    fig.cpu0 = cpu_s();
    pthread_barrier_wait(&gate);
    pthread_barrier_wait(&worked);
    fig.t1 = now_s();
    fig.cpu1 = cpu_s();
    fig.hwm = bench_status_kb("VmHWM");
    pthread_barrier_wait(&closing);
    for (long i = 0; i < conns; i++)
        pthread_join(t[i], NULL);
    free(t);
}
#endif

int bench_hook_main(int argc, char **argv, const bench_client *c)
{
    if (argc != 4 || (conns = atol(argv[1])) <= 0 || (iters = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: %s CONNS ITERS TARGET\n", argv[0]);
        return 2;
    }
    client = c;
    target = argv[3];
    fig.rss0 = bench_status_kb("VmRSS");
    run_all();
    if (failures) {
        fprintf(stderr, "%s: %d of %ld connections failed\n", argv[0], failures, conns);
        return 1;
    }
    double secs = fig.t1 - fig.t0;
    double ops = (double)ops_done;
    printf("mode=%s conns=%ld ops=%ld seconds=%.3f ops_per_s=%.0f cpu_us_per_op=%.2f "
           "rss_kb_per_conn=%.1f\n",
           mode, conns, ops_done, secs, ops / secs, (fig.cpu1 - fig.cpu0) * 1e6 / ops,
           (double)(fig.hwm - fig.rss0) / (double)conns);
    return 0;
}
