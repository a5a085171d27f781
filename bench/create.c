/* ns to create, run to completion and free one weft coroutine with the
 * default options (a pooled, guarded private stack of WEFT_STACK_DEFAULT).
 * Usage: weft_create [coroutines] [runs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "weft.h"

#define WARMUP 1000

static void *one(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static uintptr_t cycle(long i)
{
    weft_co *co = weft_co_new(one, (void *)(uintptr_t)i, NULL);
    void *out = NULL;
    if (co == NULL || weft_co_send(co, NULL, &out) != 0) {
        perror("weft_create");
        exit(1);
    }
    weft_co_free(co);
    return (uintptr_t)out;
}

int main(int argc, char **argv)
{
    long n = bench_count(argc, argv, 1, 1000000);
    int runs = (int)bench_count(argc, argv, 2, 5);
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;

    uintptr_t sum = 0;
    for (long i = 0; i < WARMUP; i++)
        sum += cycle(i);
    double ns[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sum += cycle(i);
        ns[r] = (bench_now_ns() - t0) / (double)n;
    }
    volatile uintptr_t sink = sum;
    (void)sink;
    bench_report("ns_per_coroutine", ns, runs, n);
    return 0;
}
