#define _GNU_SOURCE
/* Ping-pong over two unbuffered channels between two tasks: ns per
 * one-way message (each round trip is two messages). */
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"

static long rounds;
static weft_chan *ping, *pong;
static double best_ns;

static void *ponger(void *arg)
{
    (void)arg;
    int v;
    for (long i = 0; i < rounds; i++) {
        weft_chan_recv(ping, &v, -1);
        weft_chan_send(pong, &v, -1);
    }
    return NULL;
}

static void *pinger(void *arg)
{
    (void)arg;
    weft_co *t = weft_spawn(ponger, NULL, NULL);
    int64_t t0 = weft_now();
    for (long i = 0; i < rounds; i++) {
        int v = (int)i;
        weft_chan_send(ping, &v, -1);
        weft_chan_recv(pong, &v, -1);
    }
    int64_t t1 = weft_now();
    weft_join(t, NULL, -1);
    best_ns = (double)(t1 - t0) / (2.0 * (double)rounds);
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 1000000;
    ping = weft_chan_new(sizeof(int), 0);
    pong = weft_chan_new(sizeof(int), 0);
    if (weft_run(pinger, NULL, NULL) != 0) {
        perror("weft_run");
        return 1;
    }
    printf("%.1f\n", best_ns);
    weft_chan_free(ping);
    weft_chan_free(pong);
    return 0;
}
