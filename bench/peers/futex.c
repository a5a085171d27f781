/* Peer: two threads handing control back and forth through a futex
 * (FUTEX_WAIT / FUTEX_WAKE), the kernel's cheapest thread hand-off. One
 * round trip is main -> partner -> main, two switches, as for coroutines.
 * Placement (third argument): "same" pins both threads to CPU 0 (the
 * default), "split" pins them to CPUs 0 and 1 (a cross-CPU hand-off; falls
 * back to "same" on one CPU), "float" leaves them to the kernel.
 * Usage: peer_futex [round_trips] [runs] [same|split|float] */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../bench.h"

#define WARMUP 1000

/* Whose turn it is: TURN_MAIN, TURN_PARTNER, or STOP. */
enum { TURN_MAIN = 0, TURN_PARTNER = 1, STOP = 2 };
static _Atomic uint32_t turn = TURN_MAIN;
static uintptr_t in_val, out_val;

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Hands the turn to `to` and sleeps until the turn comes back. */
static uint32_t hand_off(uint32_t to, uint32_t mine)
{
    atomic_store_explicit(&turn, to, memory_order_release);
    futex_wake(&turn);
    uint32_t t;
    while ((t = atomic_load_explicit(&turn, memory_order_acquire)) != mine && t != STOP)
        futex_wait(&turn, t);
    return t;
}

static int pin(pthread_t th, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(th, sizeof set, &set);
}

enum { SAME, SPLIT, FLOAT };
static int placement = SAME;
static const char *const placement_name[] = {"same (cpu0)", "split (cpu0+cpu1)", "floating"};

static void *partner(void *arg)
{
    (void)arg;
    if (placement == SPLIT)
        pin(pthread_self(), 1);
    uint32_t t;
    while ((t = atomic_load_explicit(&turn, memory_order_acquire)) != TURN_PARTNER && t != STOP)
        futex_wait(&turn, t);
    while (t != STOP) {
        out_val = in_val + 1;
        t = hand_off(TURN_MAIN, TURN_PARTNER);
    }
    return NULL;
}

static uintptr_t round_trip(uintptr_t v)
{
    in_val = v;
    hand_off(TURN_PARTNER, TURN_MAIN);
    return out_val;
}

int main(int argc, char **argv)
{
    long n = bench_count(argc, argv, 1, 200000);
    int runs = (int)bench_count(argc, argv, 2, 5);
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;

    if (argc > 3) {
        if (strcmp(argv[3], "split") == 0)
            placement = SPLIT;
        else if (strcmp(argv[3], "float") == 0)
            placement = FLOAT;
        else if (strcmp(argv[3], "same") != 0) {
            fprintf(stderr, "usage: %s [round_trips] [runs] [same|split|float]\n", argv[0]);
            return 2;
        }
    }
    if (placement == SPLIT && sysconf(_SC_NPROCESSORS_ONLN) < 2)
        placement = SAME;
    /* The partner inherits the main thread's mask. */
    if (placement != FLOAT && pin(pthread_self(), 0) != 0)
        placement = FLOAT;
    pthread_t th;
    int err = pthread_create(&th, NULL, partner, NULL);
    if (err != 0) {
        errno = err;
        perror("peer_futex: pthread_create");
        return 1;
    }
    uintptr_t sum = 0;
    for (long i = 0; i < WARMUP; i++)
        sum += round_trip((uintptr_t)i);
    double ns[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sum += round_trip((uintptr_t)i);
        ns[r] = (bench_now_ns() - t0) / (2.0 * (double)n);
    }
    atomic_store_explicit(&turn, STOP, memory_order_release);
    futex_wake(&turn);
    pthread_join(th, NULL);
    volatile uintptr_t sink = sum;
    (void)sink;
    printf("placement=%s ", placement_name[placement]);
    bench_report("ns_per_switch", ns, runs, n);
    return 0;
}
