#define _GNU_SOURCE
/* N tasks (default 100,000) sleep to random deadlines within one second:
 * time to spawn them and have each reach its first wait, time to wake
 * them all, whether they woke in deadline order, the worst lateness, the
 * peak RSS and the page faults per task of the spawn phase. Each task has
 * a 16 KiB stack, private or shared:
 *   sleepers [N] [private|shared]
 * Prints one line of key=value pairs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "weft.h"

static long n;
static int64_t *deadline;
static int64_t last_woken, max_late;
static long out_of_order, woke, arrived;
static weft_wg go; /* holds every task until all exist and deadlines are set */
static weft_opts small = {16 * 1024, WEFT_STACK_PRIVATE, NULL};

static void *sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    arrived++;
    weft_wg_wait(&go, -1);
    if (weft_sleep(deadline[i]) != 0)
        return NULL;
    int64_t now = weft_now();
    if (deadline[i] < last_woken)
        out_of_order++;
    last_woken = deadline[i];
    if (now - deadline[i] > max_late)
        max_late = now - deadline[i];
    woke++;
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_group *g = weft_group_new();
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t x = 88172645463325252ULL;
    int64_t t0 = weft_now();
    weft_wg_init(&go);
    weft_wg_add(&go, 1);
    long i;
    for (i = 0; i < n; i++) {
        if (!weft_group_spawn(g, sleeper, (void *)(intptr_t)i, &small)) {
            printf("spawned=%ld error=\"%s\"\n", i, strerror(errno));
            break;
        }
    }
    while (arrived < i)
        weft_pause();
    int64_t spawned_at = weft_now();
    getrusage(RUSAGE_SELF, &r1);
    /* 300 ms for all of them to wake from the wait group and go to sleep. */
    int64_t start = spawned_at + 300000000;
    for (long k = 0; k < i; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        deadline[k] = start + (int64_t)(x % 1000000000ULL);
    }
    weft_wg_done(&go);
    weft_group_wait(g, -1);
    int64_t end = weft_now();
    weft_group_close(g);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("kind=%s tasks=%ld woke=%ld spawn_ms=%.1f spawn_faults_per_task=%.3f "
           "last_wake_after_start_ms=%.1f out_of_order=%ld max_late_us=%.1f peak_rss_mb=%.1f\n",
           small.stack_kind == WEFT_STACK_SHARED ? "shared" : "private", i, woke,
           (spawned_at - t0) / 1e6, (double)(r1.ru_minflt - r0.ru_minflt) / (double)(i ? i : 1),
           (end - start) / 1e6, out_of_order, max_late / 1e3, ru.ru_maxrss / 1024.0);
    return NULL;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 100000;
    if (argc > 2 && strcmp(argv[2], "shared") == 0)
        small.stack_kind = WEFT_STACK_SHARED;
    deadline = calloc((size_t)n, sizeof *deadline);
    if (!deadline || weft_run(main_task, NULL, NULL) != 0) {
        perror("sleepers");
        return 1;
    }
    free(deadline);
    return 0;
}
