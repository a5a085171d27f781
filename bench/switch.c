/* ns per switch for weft: weft_co_send into a coroutine that loops on
 * weft_co_yield. One round trip (send + yield) is two switches.
 * Usage: weft_switch [round_trips] [runs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "weft.h"

#define WARMUP 10000

static void *echo(void *arg)
{
    (void)arg;
    uintptr_t v = 0;
    for (;;)
        v = (uintptr_t)weft_co_yield((void *)(v + 1));
    return NULL;
}

int main(int argc, char **argv)
{
    long n = bench_count(argc, argv, 1, 10000000);
    int runs = (int)bench_count(argc, argv, 2, 5);
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;

    weft_co *co = weft_co_new(echo, NULL, NULL);
    if (co == NULL || weft_co_send(co, NULL, NULL) != 1) {
        perror("weft_switch: starting the coroutine");
        return 1;
    }
    /* The sum of the values that come back keeps every round trip live. */
    uintptr_t sum = 0;
    void *out;
    for (long i = 0; i < WARMUP; i++) {
        weft_co_send(co, (void *)(uintptr_t)i, &out);
        sum += (uintptr_t)out;
    }
    double ns[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            weft_co_send(co, (void *)(uintptr_t)i, &out);
            sum += (uintptr_t)out;
        }
        ns[r] = (bench_now_ns() - t0) / (2.0 * (double)n);
    }
    weft_co_free(co);
    volatile uintptr_t sink = sum;
    (void)sink;
    bench_report("ns_per_switch", ns, runs, n);
    return 0;
}
