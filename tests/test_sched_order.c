/* The order in which ready tasks run: what the running task makes ready
 * (spawns, or wakes through a channel) runs next, in the order it was
 * made ready; paused tasks and those the loop wakes (timers) wait in FIFO
 * order, and a chain of hand-offs cannot starve them. */
#include <stdio.h>

#include "check.h"
#include "weft.h"

static char trace[64];
static int ntrace;

static void *mark(void *arg)
{
    trace[ntrace++] = (char)(intptr_t)arg;
    return NULL;
}

static void spawn_detached(weft_fn fn, void *arg)
{
    weft_co *t = weft_spawn(fn, arg, NULL);
    CHECK(t != NULL);
    CHECK_INT(weft_detach(t), 0);
}

/* A paused task waits behind tasks spawned before its pause, and those
 * run in spawn order. */
static void *pauser(void *arg)
{
    (void)arg;
    trace[ntrace++] = 'P';
    CHECK_INT(weft_pause(), 0);
    trace[ntrace++] = 'p';
    return NULL;
}

static void spawn_order(void)
{
    ntrace = 0;
    spawn_detached(pauser, NULL); /* runs first, pauses: FIFO */
    CHECK_INT(weft_pause(), 0);   /* main behind it */
    spawn_detached(mark, (void *)'a');
    spawn_detached(mark, (void *)'b');
    spawn_detached(mark, (void *)'c');
    /* a, b, c were made ready by main: they run before the paused one,
     * which runs before main (behind all of them). */
    CHECK_INT(weft_pause(), 0);
    trace[ntrace] = '\0';
    CHECK_STR(trace, "Pabcp");
}

/* A tree of tasks runs depth first: with 10 children per node and 10,000
 * leaves, few tasks exist at once (in FIFO order all 10,000 leaves would
 * exist before the first ran). */
static long live, peak, ran;

static void *node(void *arg)
{
    long size = (long)(intptr_t)arg;
    ran++;
    if (size > 1) {
        for (int i = 0; i < 10; i++) {
            if (++live > peak)
                peak = live;
            spawn_detached(node, (void *)(intptr_t)(size / 10));
        }
    }
    live--;
    return NULL;
}

static void tree_depth_first(void)
{
    live = 1;
    peak = ran = 0;
    spawn_detached(node, (void *)(intptr_t)10000);
    while (ran < 11111)
        CHECK_INT(weft_pause(), 0);
    CHECK_INT(live, 0);
    printf("tree of 11111 tasks: at most %ld existed at once\n", peak);
    CHECK(peak <= 50);
}

/* Two tasks that hand a token back and forth for ever must not starve a
 * task that pauses, nor a sleeper's timer. */
static weft_chan *ping, *pong;
static int stop;

static void *bouncer(void *arg)
{
    weft_chan *in = arg == NULL ? ping : pong, *out = arg == NULL ? pong : ping;
    int v;
    while (weft_chan_recv(in, &v, -1) == 0 && !stop)
        if (weft_chan_send(out, &v, -1) != 0)
            break;
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    CHECK_INT(weft_sleep(weft_now() + 2000000), 0);
    return NULL;
}

static void no_starvation(void)
{
    ping = weft_chan_new(sizeof(int), 0);
    pong = weft_chan_new(sizeof(int), 0);
    CHECK(ping && pong);
    weft_co *a = weft_spawn(bouncer, NULL, NULL), *b = weft_spawn(bouncer, (void *)1, NULL);
    weft_co *s = weft_spawn(sleeper, NULL, NULL);
    CHECK(a && b && s);
    int v = 1;
    CHECK_INT(weft_chan_send(ping, &v, -1), 0);
    /* The token now bounces for ever; main only gets turns through the
     * FIFO, and so does the sleeper when its timer fires. */
    for (int i = 0; i < 1000; i++)
        CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_join(s, NULL, -1), 0);
    stop = 1;
    CHECK_INT(weft_chan_close(ping), 0);
    CHECK_INT(weft_chan_close(pong), 0);
    CHECK_INT(weft_join(a, NULL, -1), 0);
    CHECK_INT(weft_join(b, NULL, -1), 0);
    weft_chan_free(ping);
    weft_chan_free(pong);
}

static void *main_task(void *arg)
{
    (void)arg;
    spawn_order();
    tree_depth_first();
    no_starvation();
    return NULL;
}

int main(void)
{
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
