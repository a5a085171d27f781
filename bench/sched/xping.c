#define _GNU_SOURCE
/* Ping-pong over two unbuffered channels between two tasks that are
 * placed with weft_spawn_on: ns per one-way message (each round trip is
 * two messages).
 *   xping [ROUNDS] [cross|same|one]
 * cross (default): two workers, the tasks on worker 0 and worker 1, so
 *        that every message wakes a task of the other thread;
 * same:  two workers, both tasks on worker 0 and worker 1 idle: the
 *        channel of a multi-worker run when no wake crosses;
 * one:   weft_run, as bench/sched/pingpong.c.
 * Prints one number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

/* Untimed round trips first, so that stacks, pollers and the other
 * worker's wake-up path are warm. */
#define WARMUP 1000

static long rounds;
static weft_chan *ping, *pong;
static double ns_per_msg;
static int where[2]; /* the worker each task ran on */

static void *ponger(void *arg)
{
    (void)arg;
    where[1] = weft_worker();
    int v;
    for (long i = 0; i < WARMUP + rounds; i++) {
        weft_chan_recv(ping, &v, -1);
        weft_chan_send(pong, &v, -1);
    }
    return NULL;
}

static void *pinger(void *arg)
{
    (void)arg;
    where[0] = weft_worker();
    int64_t t0 = 0;
    for (long i = 0; i < WARMUP + rounds; i++) {
        if (i == WARMUP)
            t0 = weft_now();
        int v = (int)i;
        weft_chan_send(ping, &v, -1);
        weft_chan_recv(pong, &v, -1);
    }
    ns_per_msg = (double)(weft_now() - t0) / (2.0 * (double)rounds);
    return NULL;
}

static void *main_task(void *arg)
{
    int other = *(int *)arg;
    weft_co *a = weft_spawn_on(0, pinger, NULL, NULL);
    weft_co *b = weft_spawn_on(other, ponger, NULL, NULL);
    if (!a || !b) {
        perror("weft_spawn_on");
        exit(1);
    }
    weft_join(a, NULL, -1);
    weft_join(b, NULL, -1);
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 1000000;
    const char *mode = argc > 2 ? argv[2] : "cross";
    if (rounds <= 0 || (strcmp(mode, "cross") && strcmp(mode, "same") && strcmp(mode, "one"))) {
        fprintf(stderr, "usage: %s [ROUNDS] [cross|same|one]\n", argv[0]);
        return 2;
    }
    int other = strcmp(mode, "cross") == 0;
    ping = weft_chan_new(sizeof(int), 0);
    pong = weft_chan_new(sizeof(int), 0);
    int rc = strcmp(mode, "one") == 0 ? weft_run(main_task, &other, NULL)
                                      : weft_run_threads(2, main_task, &other, NULL);
    if (rc != 0) {
        perror("weft_run");
        return 1;
    }
    /* A figure for the wrong placement would mislead: refuse it. */
    if (where[0] != 0 || where[1] != other) {
        fprintf(stderr, "xping: tasks ran on workers %d and %d, not 0 and %d\n", where[0], where[1],
                other);
        return 1;
    }
    printf("%.1f\n", ns_per_msg);
    weft_chan_free(ping);
    weft_chan_free(pong);
    return 0;
}
