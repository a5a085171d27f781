#define _GNU_SOURCE
/* skynet: a tree of tasks, 10 children per node down to LEAVES leaf tasks
 * (default 1,000,000), each node summing its children's numbers from a
 * channel. Every task is detached (freed as it finishes) and its argument
 * is on the heap, so the same program runs on private or shared stacks:
 *   skynet [LEAVES] [private|shared]
 * Prints one line of key=value pairs: ms, whether the sum is right, peak
 * RSS and page faults per task (system calls per task: bench/sched/run.sh
 * counts them with strace -c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "weft.h"

typedef struct node {
    long num, size;
    weft_chan *up;
} node;

static weft_opts opts;
static long tasks, leaves, arrived;
static int alive;
static weft_wg gate;

static void *skynet(void *arg);

static void spawn_child(long num, long size, weft_chan *up)
{
    node *n = malloc(sizeof *n);
    if (!n) {
        perror("malloc");
        exit(1);
    }
    *n = (node){num, size, up};
    weft_co *t = weft_spawn(skynet, n, &opts);
    if (!t || weft_detach(t) != 0) {
        perror("weft_spawn");
        exit(1);
    }
    tasks++;
}

static void *skynet(void *arg)
{
    node n = *(node *)arg;
    free(arg);
    long total = n.num;
    if (n.size == 1 && alive) {
        if (++arrived == leaves)
            weft_wg_done(&gate);
        else
            weft_wg_wait(&gate, -1);
    }
    if (n.size > 1) {
        weft_chan *c = weft_chan_new(sizeof(long), 0);
        if (!c) {
            perror("weft_chan_new");
            exit(1);
        }
        long part = n.size / 10;
        for (int i = 0; i < 10; i++)
            spawn_child(n.num + i * part, part, c);
        total = 0;
        for (int i = 0; i < 10; i++) {
            long v = 0;
            weft_chan_recv(c, &v, -1);
            total += v;
        }
        weft_chan_free(c);
    }
    weft_chan_send(n.up, &total, -1);
    return NULL;
}

static void *main_task(void *arg)
{
    weft_wg_init(&gate);
    weft_wg_add(&gate, 1);
    weft_chan *top = weft_chan_new(sizeof(long), 1);
    spawn_child(0, leaves, top);
    long v = 0;
    weft_chan_recv(top, &v, -1);
    weft_chan_free(top);
    *(long *)arg = v;
    return NULL;
}

int main(int argc, char **argv)
{
    leaves = argc > 1 ? atol(argv[1]) : 1000000;
    const char *kind = argc > 2 ? argv[2] : "private";
    alive = argc > 3 && strcmp(argv[3], "alive") == 0;
    opts.stack_kind = strcmp(kind, "shared") == 0 ? WEFT_STACK_SHARED : WEFT_STACK_PRIVATE;
    long io = leaves;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    int64_t t0 = weft_now();
    if (weft_run(main_task, &io, NULL) != 0) {
        fprintf(stderr, "weft_run: %s\n", strerror(errno));
        return 1;
    }
    int64_t t1 = weft_now();
    getrusage(RUSAGE_SELF, &r1);
    long want = leaves * (leaves - 1) / 2;
    printf(
        "kind=%s%s leaves=%ld tasks=%ld ms=%.1f sum_ok=%d peak_rss_mb=%.1f faults_per_task=%.3f\n",
        kind, alive ? "-alive" : "", leaves, tasks, (double)(t1 - t0) / 1e6, io == want,
        (double)r1.ru_maxrss / 1024.0, (double)(r1.ru_minflt - r0.ru_minflt) / (double)tasks);
    return io == want ? 0 : 1;
}
