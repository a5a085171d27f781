/* Peer of bench/shared.c's "mem" mode: COUNT threads (default attributes,
 * as a thread-per-connection server makes them), each blocked on a
 * condition variable after touching LIVE bytes (0 or 200) of its stack;
 * prints (peak RSS - baseline) / COUNT in the same format. RSS is what the
 * process maps: the kernel's own stack and records per thread (some 16 KiB
 * more) are not counted.
 *
 *   peer_threads_mem COUNT LIVE */
#include "../bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, ready = PTHREAD_COND_INITIALIZER;
static long waiting;
static int done;
static volatile unsigned char sink;

static void block(void)
{
    pthread_mutex_lock(&mu);
    waiting++;
    pthread_cond_signal(&ready);
    while (!done)
        pthread_cond_wait(&wake, &mu);
    pthread_mutex_unlock(&mu);
}

static void *with_live(void *arg)
{
    volatile unsigned char buf[200];
    for (size_t i = 0; i < sizeof buf; i += 8)
        buf[i] = (unsigned char)((uintptr_t)arg + i);
    buf[sizeof buf - 1] = 1;
    block();
    sink += buf[sizeof buf - 1]; /* live across the wait */
    return NULL;
}

static void *empty(void *arg)
{
    (void)arg;
    block();
    return NULL;
}

int main(int argc, char **argv)
{
    long count = bench_count(argc, argv, 1, 10000);
    long live = argc > 2 ? atol(argv[2]) : 200;
    void *(*body)(void *) = live > 0 ? with_live : empty;
    pthread_t *ts = calloc((size_t)count, sizeof *ts);
    if (ts == NULL) {
        perror("calloc");
        return 1;
    }
    long base = bench_status_kb("VmRSS") * 1024;
    double t0 = bench_now_ns();
    long made = 0;
    int err = 0;
    for (; made < count; made++) {
        err = pthread_create(&ts[made], NULL, body, (void *)(uintptr_t)made);
        if (err != 0)
            break;
    }
    pthread_mutex_lock(&mu);
    while (waiting < made)
        pthread_cond_wait(&ready, &mu);
    pthread_mutex_unlock(&mu);
    double t1 = bench_now_ns();
    long peak = bench_status_kb("VmHWM") * 1024;
    if (made == 0) {
        fprintf(stderr, "pthread_create: %s\n", strerror(err));
        return 1;
    }
    printf("bytes_per_co=%.0f count=%ld rss_mib=%.0f seconds=%.2f", (double)(peak - base) / made,
           made, (double)(peak - base) / (1 << 20), (t1 - t0) / 1e9);
    if (made < count)
        printf(" stopped=%s", strerror(err));
    printf("\n");
    fflush(stdout);
    /* The figure is taken: the threads go with the process. */
    _exit(0);
}
