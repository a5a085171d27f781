#define _GNU_SOURCE
/* Spawn + run + join: ns per task, in batches so that the number of live
 * tasks stays bounded (as a WaitGroup-per-batch does in the Go peer). */
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"

#define BATCH 100

static long total;
static double ns_per_task;

static void *nothing(void *arg)
{
    return arg;
}

static void *main_task(void *arg)
{
    (void)arg;
    static weft_co *tasks[BATCH];
    int64_t t0 = weft_now();
    for (long done = 0; done < total; done += BATCH) {
        for (int i = 0; i < BATCH; i++)
            if (!(tasks[i] = weft_spawn(nothing, NULL, NULL))) {
                perror("weft_spawn");
                exit(1);
            }
        for (int i = 0; i < BATCH; i++)
            weft_join(tasks[i], NULL, -1);
    }
    ns_per_task = (double)(weft_now() - t0) / (double)total;
    return NULL;
}

int main(int argc, char **argv)
{
    total = argc > 1 ? atol(argv[1]) : 1000000;
    if (weft_run(main_task, NULL, NULL) != 0) {
        perror("weft_run");
        return 1;
    }
    printf("%.1f\n", ns_per_task);
    return 0;
}
