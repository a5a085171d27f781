/* Peer: glibc swapcontext, the same ping-pong as bench/switch.c. Each
 * swapcontext also saves and restores the signal mask (a system call).
 * Usage: peer_swapcontext [round_trips] [runs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "../bench.h"
#include "weft.h"

#define WARMUP 10000

static ucontext_t main_uc, co_uc;
/* The value handed each way, as weft_co_send/weft_co_yield hand a pointer. */
static uintptr_t in_val, out_val;

static void echo(void)
{
    for (;;) {
        out_val = in_val + 1;
        swapcontext(&co_uc, &main_uc);
    }
}

static uintptr_t round_trip(uintptr_t v)
{
    in_val = v;
    swapcontext(&main_uc, &co_uc);
    return out_val;
}

int main(int argc, char **argv)
{
    long n = bench_count(argc, argv, 1, 10000000);
    int runs = (int)bench_count(argc, argv, 2, 5);
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;

    size_t size = WEFT_STACK_DEFAULT;
    void *stack = malloc(size);
    if (stack == NULL || getcontext(&co_uc) != 0) {
        perror("peer_swapcontext");
        return 1;
    }
    co_uc.uc_stack.ss_sp = stack;
    co_uc.uc_stack.ss_size = size;
    co_uc.uc_link = NULL;
    makecontext(&co_uc, echo, 0);

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
    volatile uintptr_t sink = sum;
    (void)sink;
    free(stack);
    bench_report("ns_per_switch", ns, runs, n);
    return 0;
}
