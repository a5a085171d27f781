#define _GNU_SOURCE
/* Peer: ping-pong between two threads through a mutex and two condition
 * variables (a one-slot hand-off each way): ns per one-way message. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn; /* even: ping's turn to send, odd: pong's */
static long rounds;

static void *ponger(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (long i = 0; i < rounds; i++) {
        while (turn % 2 == 0)
            pthread_cond_wait(&cv, &mu);
        turn++;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 100000;
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    double t0 = now();
    pthread_mutex_lock(&mu);
    for (long i = 0; i < rounds; i++) {
        turn++;
        pthread_cond_signal(&cv);
        while (turn % 2 == 1)
            pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    double t1 = now();
    pthread_join(t, NULL);
    printf("%.1f\n", (t1 - t0) / (2.0 * (double)rounds));
    return 0;
}
