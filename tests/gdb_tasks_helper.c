/* Helper of test_gdb_tasks: tasks that wait on a channel, a sleep and an
 * fd, a generator driven by a waiting task, and shared-stack tasks, all
 * parked when the main task calls gdb_tasks_ready (the breakpoint), while a
 * second thread's scheduler has a task of its own asleep. Not a test by
 * itself (its name does not start with test_). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

static weft_chan *ch;
static int fds[2];
volatile int gdb_tasks_sink;
weft_co *gdb_gen; /* for weft-bt by address */
static int far_parked;

__attribute__((noinline)) void gdb_tasks_ready(void)
{
    gdb_tasks_sink++; /* the breakpoint */
}

/* The function rx is parked in, below weft_chan_recv. */
__attribute__((noinline)) static int rx_wait(void)
{
    int v;
    int rc = weft_chan_recv(ch, &v, -1);
    gdb_tasks_sink++;
    return rc;
}

static void *rx_body(void *arg)
{
    (void)arg;
    rx_wait();
    return NULL;
}

static void *sleeper_body(void *arg)
{
    (void)arg;
    weft_sleep(weft_now() + 600 * (int64_t)1000000000);
    return NULL;
}

static void *reader_body(void *arg)
{
    (void)arg;
    char c;
    weft_read(fds[0], &c, 1, -1);
    return NULL;
}

/* A generator that waits on the channel inside the task that drives it. */
static void *gen_body(void *arg)
{
    (void)arg;
    int v;
    weft_chan_recv(ch, &v, -1);
    return NULL;
}

static void *driver_body(void *arg)
{
    (void)arg;
    weft_opts o = {.name = "gen"};
    weft_co *g = weft_co_new(gen_body, NULL, &o);
    gdb_gen = g;
    weft_co_send(g, NULL, NULL);
    weft_co_free(g);
    return NULL;
}

/* The second thread's tasks: its main task and "far" both sleep. */
static void *far_body(void *arg)
{
    (void)arg;
    __atomic_store_n(&far_parked, 1, __ATOMIC_RELEASE);
    weft_sleep(weft_now() + 600 * (int64_t)1000000000);
    return NULL;
}

static void *far_main(void *arg)
{
    (void)arg;
    weft_opts o = {.name = "far"};
    weft_spawn(far_body, NULL, &o);
    weft_sleep(weft_now() + 600 * (int64_t)1000000000);
    return NULL;
}

static void *far_thread(void *arg)
{
    (void)arg;
    weft_run(far_main, NULL, NULL);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    ch = weft_chan_new(sizeof(int), 0);
    if (ch == NULL || pipe(fds) != 0)
        return NULL;
    weft_opts rx = {.name = "rx", .stack_kind = WEFT_STACK_PRIVATE}, sl = {.name = "sleeper"},
              rd = {.name = "reader"}, dr = {.name = "driver"};
    weft_spawn(rx_body, NULL, &rx);
    weft_spawn(sleeper_body, NULL, &sl);
    weft_spawn(reader_body, NULL, &rd);
    weft_spawn(driver_body, NULL, &dr);
    /* More shared-stack tasks than a thread has shared stacks of a size:
     * some keep their frames in an image while another owns the stack. */
    char names[6][32];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "shared%d", i);
        weft_opts sh = {.name = names[i], .stack_kind = WEFT_STACK_SHARED};
        weft_spawn(rx_body, NULL, &sh);
    }
    pthread_t far;
    if (pthread_create(&far, NULL, far_thread, NULL) != 0)
        return NULL;
    /* Every other task parks; far's sleep follows its flag at once. */
    while (!__atomic_load_n(&far_parked, __ATOMIC_ACQUIRE))
        weft_sleep(weft_now() + 1000000);
    weft_sleep(weft_now() + 20000000);
    gdb_tasks_ready();
    return NULL;
}

int main(void)
{
    int rc = weft_run(main_task, NULL, NULL);
    printf("helper done %d\n", rc);
    return 0;
}
