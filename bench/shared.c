/* Shared stacks: memory per suspended coroutine, the largest count that
 * fits, and the cost of a switch, each for WEFT_STACK_SHARED and, as the
 * peer in the same run, WEFT_STACK_PRIVATE. bench/run.sh runs it.
 *
 *   weft_sharedstack mem  shared|private COUNT LIVE
 *       COUNT coroutines, each suspended after touching LIVE bytes (0 or
 *       200) of its stack; prints (peak RSS - baseline) / COUNT.
 *   weft_sharedstack max  COUNT
 *       shared coroutines with 200 live bytes until COUNT or the first
 *       failure; prints the count reached, the RSS and the time.
 *   weft_sharedstack pair shared|private LIVE ROUND_TRIPS RUNS
 *       a generator and its consumer, both coroutines with LIVE bytes of
 *       live stack, alternate; ns per switch, median of RUNS.
 *   weft_sharedstack ring shared|private LIVE ROUNDS RUNS
 *       1,000 coroutines with LIVE bytes of live stack; the thread sends to
 *       each in turn, ROUNDS times round; ns per switch, median of RUNS. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <weft.h>

#include "bench.h"

#define RING 1000

static volatile unsigned sink;

/* Writes the array through an opaque call, so that it is really on the
 * stack and really touched, as a coroutine using its locals would. */
static __attribute__((noinline)) void touch(char *buf, size_t n, unsigned v)
{
    for (size_t i = 0; i < n; i += 8)
        buf[i] = (char)(v + i);
    buf[n - 1] = (char)v;
    sink += (unsigned char)buf[0];
}

/* The live part stays in use across every yield: read after it. */
#define BODY(name, LIVE)                                                                           \
    static void *name(void *arg)                                                                   \
    {                                                                                              \
        char buf[LIVE];                                                                            \
        touch(buf, sizeof buf, (unsigned)(uintptr_t)arg);                                          \
        for (;;) {                                                                                 \
            weft_co_yield(NULL);                                                                   \
            sink += (unsigned char)buf[sizeof buf - 1];                                            \
        }                                                                                          \
        return NULL;                                                                               \
    }
BODY(body_200, 200)
BODY(body_2k, 2048)

/* An almost empty stack: nothing but the frames of the yield itself. */
static void *body_empty(void *arg)
{
    (void)arg;
    for (;;)
        weft_co_yield(NULL);
    return NULL;
}

static weft_fn body_for(long live)
{
    switch (live) {
    case 0:
        return body_empty;
    case 200:
        return body_200;
    case 2048:
        return body_2k;
    default:
        fprintf(stderr, "weft_sharedstack: LIVE must be 0, 200 or 2048\n");
        exit(2);
    }
}

static int kind_of(const char *s)
{
    if (strcmp(s, "shared") == 0)
        return WEFT_STACK_SHARED;
    if (strcmp(s, "private") == 0)
        return WEFT_STACK_PRIVATE;
    fprintf(stderr, "weft_sharedstack: kind must be shared or private\n");
    exit(2);
}

static long arg_count(int argc, char **argv, int i)
{
    if (argc <= i) {
        fprintf(stderr,
                "weft_sharedstack: missing argument %d (see the comment in bench/shared.c)\n", i);
        exit(2);
    }
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < 0) {
        fprintf(stderr, "weft_sharedstack: bad number '%s'\n", argv[i]);
        exit(2);
    }
    return v;
}

/* Creates coroutines and leaves each suspended after its first send, until
 * count or the first failure; returns how many. */
static long fill(weft_co **cos, long count, const weft_opts *opts, weft_fn body, int *err)
{
    for (long i = 0; i < count; i++) {
        weft_co *co = weft_co_new(body, (void *)(uintptr_t)i, opts);
        if (co == NULL || weft_co_send(co, NULL, NULL) != 1) {
            *err = errno;
            return i;
        }
        cos[i] = co;
    }
    *err = 0;
    return count;
}

static int mem(int argc, char **argv)
{
    weft_opts opts = {.stack_kind = kind_of(argv[2])};
    long count = arg_count(argc, argv, 3);
    weft_fn body = body_for(arg_count(argc, argv, 4));
    if (count == 0)
        count = 1;
    /* The bookkeeping array is touched before the baseline, so it is not
     * counted against the coroutines. */
    weft_co **cos = malloc((size_t)count * sizeof *cos);
    if (cos == NULL) {
        perror("malloc");
        return 1;
    }
    memset(cos, 0, (size_t)count * sizeof *cos);
    long base = bench_status_kb("VmRSS") * 1024;
    double t0 = bench_now_ns();
    int err;
    long made = fill(cos, count, &opts, body, &err);
    double t1 = bench_now_ns();
    long peak = bench_status_kb("VmHWM") * 1024;
    printf("bytes_per_co=%.0f count=%ld rss_mib=%.0f seconds=%.2f", (double)(peak - base) / made,
           made, (double)(peak - base) / (1 << 20), (t1 - t0) / 1e9);
    if (made < count)
        printf(" stopped=%s", strerror(err));
    printf("\n");
    /* The process exits without freeing: the figure is taken. */
    return 0;
}

static int max(int argc, char **argv)
{
    long count = arg_count(argc, argv, 2);
    weft_opts opts = {.stack_kind = WEFT_STACK_SHARED};
    weft_co **cos = malloc((size_t)count * sizeof *cos);
    if (cos == NULL) {
        perror("malloc");
        return 1;
    }
    memset(cos, 0, (size_t)count * sizeof *cos);
    long base = bench_status_kb("VmRSS") * 1024;
    double t0 = bench_now_ns();
    int err;
    long made = fill(cos, count, &opts, body_200, &err);
    double t1 = bench_now_ns();
    long peak = bench_status_kb("VmHWM") * 1024;
    printf("count=%ld rss_mib=%.0f bytes_per_co=%.0f seconds=%.2f", made, (double)peak / (1 << 20),
           (double)(peak - base) / (made ? made : 1), (t1 - t0) / 1e9);
    if (made < count)
        printf(" stopped=%s", strerror(err));
    printf("\n");
    return 0;
}

/* ---- switches ----------------------------------------------------------- */

struct pair {
    weft_opts opts;
    weft_fn body;
    long live;
    long trips;
    double ns;
};

/* The consumer: a coroutine with live stack of its own, that creates its
 * generator (on another shared stack, as weft chooses) and drives it. */
#define CONSUMER(name, LIVE)                                                                       \
    static void *name(void *arg)                                                                   \
    {                                                                                              \
        struct pair *p = arg;                                                                      \
        char buf[LIVE];                                                                            \
        touch(buf, sizeof buf, 1);                                                                 \
        weft_co *gen = weft_co_new(p->body, NULL, &p->opts);                                       \
        if (gen == NULL || weft_co_send(gen, NULL, NULL) != 1) {                                   \
            perror("weft_sharedstack: generator");                                                 \
            exit(1);                                                                               \
        }                                                                                          \
        double t0 = bench_now_ns();                                                                \
        for (long i = 0; i < p->trips; i++)                                                        \
            weft_co_send(gen, NULL, NULL);                                                         \
        p->ns = bench_now_ns() - t0;                                                               \
        sink += (unsigned char)buf[sizeof buf - 1];                                                \
        weft_co_free(gen);                                                                         \
        return NULL;                                                                               \
    }
CONSUMER(consumer_200, 200)
CONSUMER(consumer_2k, 2048)

static int pair(int argc, char **argv)
{
    struct pair p = {.opts = {.stack_kind = kind_of(argv[2])}};
    p.live = arg_count(argc, argv, 3);
    p.body = body_for(p.live);
    p.trips = arg_count(argc, argv, 4);
    int runs = (int)arg_count(argc, argv, 5);
    if (p.live == 0 || p.trips == 0 || runs < 1 || runs > BENCH_MAX_RUNS) {
        fprintf(stderr, "weft_sharedstack pair: LIVE 200 or 2048, ROUND_TRIPS > 0, RUNS 1..%d\n",
                BENCH_MAX_RUNS);
        return 2;
    }
    double v[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        weft_co *c = weft_co_new(p.live == 200 ? consumer_200 : consumer_2k, &p, &p.opts);
        if (c == NULL || weft_co_send(c, NULL, NULL) != 0) {
            perror("weft_sharedstack: consumer");
            return 1;
        }
        weft_co_free(c);
        v[r] = p.ns / (2.0 * (double)p.trips);
    }
    bench_report("ns_per_switch", v, runs, p.trips);
    return 0;
}

static int ring(int argc, char **argv)
{
    weft_opts opts = {.stack_kind = kind_of(argv[2])};
    weft_fn body = body_for(arg_count(argc, argv, 3));
    long rounds = arg_count(argc, argv, 4);
    int runs = (int)arg_count(argc, argv, 5);
    if (rounds == 0 || runs < 1 || runs > BENCH_MAX_RUNS) {
        fprintf(stderr, "weft_sharedstack ring: ROUNDS > 0, RUNS 1..%d\n", BENCH_MAX_RUNS);
        return 2;
    }
    static weft_co *cos[RING];
    int err;
    if (fill(cos, RING, &opts, body, &err) != RING) {
        fprintf(stderr, "weft_sharedstack: weft_co_new: %s\n", strerror(err));
        return 1;
    }
    double v[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long k = 0; k < rounds; k++)
            for (int i = 0; i < RING; i++)
                weft_co_send(cos[i], NULL, NULL);
        v[r] = (bench_now_ns() - t0) / (2.0 * (double)rounds * RING);
    }
    bench_report("ns_per_switch", v, runs, rounds * RING);
    for (int i = 0; i < RING; i++)
        weft_co_free(cos[i]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "mem") == 0 && argc > 2)
        return mem(argc, argv);
    if (strcmp(mode, "max") == 0)
        return max(argc, argv);
    if (strcmp(mode, "pair") == 0 && argc > 2)
        return pair(argc, argv);
    if (strcmp(mode, "ring") == 0 && argc > 2)
        return ring(argc, argv);
    fprintf(stderr, "usage: %s mem|max|pair|ring ... (see bench/shared.c)\n", argv[0]);
    return 2;
}
