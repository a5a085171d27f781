/* What a select over kinds costs against the plain calls: two tasks of one
 * thread play ping-pong over two pipes, one byte each way, and wait for
 * their pipe (1) in weft_read itself, (2) in weft_wait_fd then read, (3)
 * in weft_select on the fd alone, (4) with an idle channel case too, (5)
 * with eight. Prints ns per round trip for each, the median of 5 runs, and
 * the ratio to (1). Usage: select [ROUNDS] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft.h"

enum { VARIANTS = 5, RUNS = 5, IDLE = 8 };
static const char *const names[VARIANTS] = {"weft_read", "weft_wait_fd + read", "select: fd",
                                            "select: fd + 1 channel", "select: fd + 8 channels"};
static long rounds;
static int variant;
static weft_chan *idle[IDLE];

static void wait_read(int fd)
{
    char c;
    if (variant == 1) {
        weft_wait_fd(fd, POLLIN, -1);
    } else if (variant >= 2) {
        weft_case cs[1 + IDLE] = {{.op = WEFT_FD, .fd = fd, .events = POLLIN}};
        size_t n = variant == 2 ? 1 : variant == 3 ? 2 : 1 + IDLE;
        for (size_t i = 1; i < n; i++)
            cs[i] = (weft_case){.ch = idle[i - 1], .op = WEFT_RECV, .elem = &c};
        if (weft_select(cs, n, -1) != 0)
            abort();
    }
    if (weft_read(fd, &c, 1, -1) != 1)
        abort();
}

static int p1[2], p2[2];

static void *echo(void *arg)
{
    for (long i = 0; i < rounds; i++) {
        wait_read(p1[0]);
        weft_write(p2[1], "y", 1, -1);
    }
    return arg;
}

static void *ping(void *arg)
{
    weft_co *t = weft_spawn(echo, NULL, NULL);
    int64_t t0 = weft_now();
    for (long i = 0; i < rounds; i++) {
        weft_write(p1[1], "x", 1, -1);
        wait_read(p2[0]);
    }
    *(double *)arg = (double)(weft_now() - t0) / (double)rounds;
    weft_join(t, NULL, -1);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 200000;
    if (pipe(p1) || pipe(p2))
        return perror("pipe"), 1;
    for (int i = 0; i < IDLE; i++)
        idle[i] = weft_chan_new(1, 0);
    double ns[VARIANTS][RUNS];
    for (int r = 0; r < RUNS; r++) /* interleaved, so that drift hits all */
        for (variant = 0; variant < VARIANTS; variant++)
            if (weft_run(ping, &ns[variant][r], NULL) != 0)
                return perror("weft_run"), 1;
    printf("backend %s, %ld rounds, median of %d runs\n", weft_backend(), rounds, RUNS);
    double base = 0;
    for (int v = 0; v < VARIANTS; v++) {
        qsort(ns[v], RUNS, sizeof ns[v][0], cmp);
        if (v == 0)
            base = ns[v][RUNS / 2];
        printf("%-26s %8.0f ns per round trip  %.2fx\n", names[v], ns[v][RUNS / 2],
               ns[v][RUNS / 2] / base);
    }
    for (int i = 0; i < IDLE; i++)
        weft_chan_free(idle[i]);
    return 0;
}
