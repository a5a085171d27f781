/* Helpers shared by the benchmark programs (C and C++): the monotonic
 * clock, the command line, the median of a few runs, and RSS. */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest number of timed runs a program accepts. */
#define BENCH_MAX_RUNS 64

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Parses argv[i] as a positive count, or exits with a usage line. */
static inline long bench_count(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v <= 0) {
        fprintf(stderr, "usage: %s [iterations] [runs]\n", argv[0]);
        exit(2);
    }
    return v;
}

/* A "Field: N kB" line of /proc/self/status (VmRSS, VmHWM), in KiB; -1
 * when it cannot be read. */
static inline long bench_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t n = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Sorts v[0..n) in place and returns its median. */
static inline double bench_median(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        for (; j >= 0 && v[j] > x; j--)
            v[j + 1] = v[j];
        v[j + 1] = x;
    }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Prints the one line that bench/run.sh reads: the median first, then the
 * spread, the iteration count and the number of runs. */
static inline void bench_report(const char *what, double *v, int runs, long iters)
{
    double med = bench_median(v, runs);
    printf("%s=%.2f min=%.2f max=%.2f iterations=%ld runs=%d\n", what, med, v[0], v[runs - 1],
           iters, runs);
}

#endif
