#define _GNU_SOURCE
/* Peer: pthread_create + pthread_join, ns per thread, in batches of 100. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *nothing(void *arg)
{
    return arg;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 20000;
    pthread_t t[100];
    double t0 = now();
    for (long done = 0; done < total; done += 100) {
        for (int i = 0; i < 100; i++)
            if (pthread_create(&t[i], NULL, nothing, NULL) != 0)
                return 1;
        for (int i = 0; i < 100; i++)
            pthread_join(t[i], NULL);
    }
    printf("%.1f\n", (now() - t0) / (double)total);
    return 0;
}
