#define _GNU_SOURCE
/* skynet: a tree of tasks, 10 children per node down to LEAVES leaf tasks
 * (default 1,000,000), each node summing its children's numbers from a
 * channel. Every task is detached (freed as it finishes) and its argument
 * is on the heap, so the same program runs on private or shared stacks:
 *   skynet [LEAVES] [private|shared] [alive] [threads N] [mt]
 * "alive" holds every leaf until all exist; "threads N" runs the tree on N
 * workers (weft_run_threads; 0: one per CPU), where idle workers steal
 * unstarted subtrees (shared-stack tasks are never stolen, so shared
 * stacks stay on one worker). One worker is weft_run, unless "mt" asks
 * for weft_run_threads(1), to show what the multi-worker paths cost.
 * Prints one line of key=value pairs: ms, whether the sum is right, peak
 * RSS and page faults per task (system calls per task: bench/sched/run.sh
 * counts them with strace -c). */
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
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
static long leaves;
/* Tasks run by each worker, one cache line each so that counting does not
 * bounce a line between CPUs. */
static struct {
    alignas(64) long ran;
} per_worker[WEFT_WORKERS_MAX];
/* Touched by every worker: the leaves' arrival count of the alive mode. */
static atomic_long arrived;
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
}

/* The tasks a tree of size leaves spawns (counted, not tallied as they
 * run, so that workers share no counter). */
static long tree_tasks(long size)
{
    return size > 1 ? 1 + 10 * tree_tasks(size / 10) : 1;
}

static void *skynet(void *arg)
{
    node n = *(node *)arg;
    free(arg);
    per_worker[weft_worker()].ran++;
    long total = n.num;
    if (n.size == 1 && alive) {
        if (atomic_fetch_add_explicit(&arrived, 1, memory_order_relaxed) + 1 == leaves)
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
    long threads = 1;
    int mt = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "alive") == 0) {
            alive = 1;
        } else if (strcmp(argv[i], "mt") == 0) {
            mt = 1;
        } else if (strcmp(argv[i], "threads") == 0 && i + 1 < argc) {
            char *end;
            threads = strtol(argv[++i], &end, 10);
            if (*end != '\0' || threads < 0) {
                fprintf(stderr, "skynet: threads wants a count >= 0\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [LEAVES] [private|shared] [alive] [threads N] [mt]\n",
                    argv[0]);
            return 2;
        }
    }
    opts.stack_kind = strcmp(kind, "shared") == 0 ? WEFT_STACK_SHARED : WEFT_STACK_PRIVATE;
    long io = leaves;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    int64_t t0 = weft_now();
    mt |= threads != 1;
    int rc = mt ? weft_run_threads((unsigned)threads, main_task, &io, NULL)
                : weft_run(main_task, &io, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", mt ? "weft_run_threads" : "weft_run", strerror(errno));
        return 1;
    }
    int64_t t1 = weft_now();
    getrusage(RUSAGE_SELF, &r1);
    long want = leaves * (leaves - 1) / 2;
    long tasks = tree_tasks(leaves);
    if (threads == 0) { /* what weft_run_threads(0) counts */
        cpu_set_t set;
        threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    }
    char ran[256] = "";
    size_t len = 0;
    for (long k = 0; k < threads && len < sizeof ran - 24; k++)
        len +=
            (size_t)snprintf(ran + len, sizeof ran - len, "%s%ld", k ? "," : "", per_worker[k].ran);
    printf("kind=%s%s threads=%ld mt=%d leaves=%ld tasks=%ld ms=%.1f sum_ok=%d peak_rss_mb=%.1f "
           "faults_per_task=%.3f ran=%s\n",
           kind, alive ? "-alive" : "", threads, mt, leaves, tasks, (double)(t1 - t0) / 1e6,
           io == want, (double)r1.ru_maxrss / 1024.0,
           (double)(r1.ru_minflt - r0.ru_minflt) / (double)tasks, ran);
    return io == want ? 0 : 1;
}
