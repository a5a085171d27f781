/* Tasks on shared stacks in every kind of wait: what the scheduler keeps
 * for a waiting task, and the elements it hands over, must survive the
 * task's frames being copied away while another task of the same stack
 * runs. Every coroutine here asks for a shared stack, whatever the
 * process default. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "weft.h"

static const weft_opts sh = {.stack_kind = WEFT_STACK_SHARED};

static weft_co *spawn_sh(weft_fn fn, void *arg)
{
    weft_co *t = weft_spawn(fn, arg, &sh);
    CHECK(t != NULL);
    return t;
}

static void join_all(weft_co **t, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
}

/* Fills and checks a local of a size that crosses the part of a saved
 * image kept inside the coroutine object. */
typedef struct big {
    int id;
    char pad[600];
    int check;
} big;

/* ---- one channel, 100 receivers ----------------------------------------- */

static weft_chan *ch;
static long sum;

static void *receiver(void *arg)
{
    (void)arg;
    int v = 0; /* a local, written by the sender while we wait */
    char deeper[300];
    memset(deeper, 1, sizeof deeper);
    __asm__ volatile("" : : "r"(deeper) : "memory");
    CHECK_INT(weft_chan_recv(ch, &v, -1), 0);
    sum += v;
    return NULL;
}

static void *sender(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 1; i <= n; i++) {
        int v = i; /* a local, read by the receiver's wake-up */
        CHECK_INT(weft_chan_send(ch, &v, -1), 0);
    }
    return NULL;
}

static void receivers(int cap)
{
    CHECK((ch = weft_chan_new(sizeof(int), (size_t)cap)) != NULL);
    sum = 0;
    weft_co *t[101];
    for (int i = 0; i < 100; i++)
        t[i] = spawn_sh(receiver, NULL);
    t[100] = spawn_sh(sender, (void *)(intptr_t)100);
    join_all(t, 101);
    CHECK_INT(sum, 5050);
    CHECK_INT(weft_chan_free(ch), 0);
}

/* ---- large elements both ways, blocked senders on a buffered channel ---- */

static void *big_sender(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 20; i++) {
        big b;
        memset(b.pad, (char)(base + i), sizeof b.pad);
        b.id = base + i;
        b.check = ~(base + i);
        CHECK_INT(weft_chan_send(ch, &b, -1), 0);
    }
    return NULL;
}

static void *big_receiver(void *arg)
{
    long *got = arg;
    for (int i = 0; i < 20; i++) {
        big b;
        memset(&b, 0, sizeof b);
        CHECK_INT(weft_chan_recv(ch, &b, -1), 0);
        CHECK_INT(b.check, ~b.id);
        for (size_t k = 0; k < sizeof b.pad; k++)
            CHECK_INT(b.pad[k], (char)b.id);
        *got += b.id;
        weft_pause();
    }
    return NULL;
}

static void big_elements(int cap)
{
    CHECK((ch = weft_chan_new(sizeof(big), (size_t)cap)) != NULL);
    /* Static, not a local: the tasks that add to it run while this one
     * waits, its frames copied away if it is on a shared stack itself. */
    static long got;
    got = 0;
    weft_co *t[4] = {spawn_sh(big_sender, (void *)(intptr_t)1000), spawn_sh(big_receiver, &got),
                     spawn_sh(big_sender, (void *)(intptr_t)2000), spawn_sh(big_receiver, &got)};
    join_all(t, 4);
    long want = 0;
    for (int i = 0; i < 20; i++)
        want += 1000 + i + 2000 + i;
    CHECK_INT(got, want);
    CHECK_INT(weft_chan_free(ch), 0);
}

/* ---- select -------------------------------------------------------------- */

static weft_chan *sel[3];

static void *selector(void *arg)
{
    long *got = arg;
    for (int i = 0; i < 30; i++) {
        int a = -1, b = -1, c = -1;
        weft_case cases[3] = {{.ch = sel[0], .op = WEFT_RECV, .elem = &a},
                              {.ch = sel[1], .op = WEFT_RECV, .elem = &b},
                              {.ch = sel[2], .op = WEFT_RECV, .elem = &c}};
        int k = weft_select(cases, 3, -1);
        CHECK(k >= 0 && k < 3);
        CHECK_INT(cases[k].err, 0);
        *got += k == 0 ? a : k == 1 ? b : c;
    }
    return NULL;
}

static void *sel_sender(void *arg)
{
    int k = (int)(intptr_t)arg;
    for (int i = 1; i <= 20; i++) {
        int v = i;
        CHECK_INT(weft_chan_send(sel[k], &v, -1), 0);
    }
    return NULL;
}

static void selects(void)
{
    for (int i = 0; i < 3; i++)
        CHECK((sel[i] = weft_chan_new(sizeof(int), 0)) != NULL);
    static long got; /* static: see big_elements */
    got = 0;
    weft_co *t[5] = {spawn_sh(selector, &got), spawn_sh(selector, &got),
                     spawn_sh(sel_sender, (void *)0), spawn_sh(sel_sender, (void *)1),
                     spawn_sh(sel_sender, (void *)2)};
    join_all(t, 5);
    CHECK_INT(got, 3 * 210);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_chan_free(sel[i]), 0);
}

/* ---- the sync objects ---------------------------------------------------- */

static weft_mutex mu;
static weft_cond cv;
static weft_sem sem;
static weft_wg wg;
static int inside, turns, flag;

static void *sync_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        CHECK_INT(weft_sem_wait(&sem, -1), 0);
        CHECK_INT(weft_mutex_lock(&mu, -1), 0);
        CHECK_INT(inside, 0);
        inside = 1;
        weft_pause();
        inside = 0;
        turns++;
        CHECK_INT(weft_mutex_unlock(&mu), 0);
        CHECK_INT(weft_sem_post(&sem), 0);
    }
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    while (!flag)
        CHECK_INT(weft_cond_wait(&cv, &mu, -1), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    CHECK_INT(weft_wg_done(&wg), 0);
    return NULL;
}

static void *waker(void *arg)
{
    (void)arg;
    while (turns < 30 * 10)
        weft_pause();
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    flag = 1;
    CHECK_INT(weft_cond_broadcast(&cv), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

static void *wg_waiter(void *arg)
{
    (void)arg;
    CHECK_INT(weft_wg_wait(&wg, -1), 0);
    CHECK_INT(turns, 300);
    return NULL;
}

static void sync_objects(void)
{
    CHECK_INT(weft_mutex_init(&mu), 0);
    CHECK_INT(weft_cond_init(&cv), 0);
    CHECK_INT(weft_sem_init(&sem, 2), 0);
    CHECK_INT(weft_wg_init(&wg), 0);
    CHECK_INT(weft_wg_add(&wg, 30), 0);
    weft_co *t[33];
    for (int i = 0; i < 30; i++)
        t[i] = spawn_sh(sync_user, NULL);
    t[30] = spawn_sh(waker, NULL);
    t[31] = spawn_sh(wg_waiter, NULL);
    t[32] = spawn_sh(wg_waiter, NULL);
    join_all(t, 33);
}

/* ---- join and sleep ------------------------------------------------------ */

static void *sleeper(void *arg)
{
    int n = (int)(intptr_t)arg;
    CHECK_INT(weft_sleep(weft_now() + (n % 5) * 100000), 0);
    return (void *)(intptr_t)(n * 2);
}

static void *joiner(void *arg)
{
    int n = (int)(intptr_t)arg;
    weft_co *t = spawn_sh(sleeper, (void *)(intptr_t)n);
    void *r = NULL;
    CHECK_INT(weft_join(t, &r, -1), 0);
    CHECK_INT((intptr_t)r, n * 2);
    return NULL;
}

static void joins(void)
{
    weft_co *t[40];
    for (int i = 0; i < 40; i++)
        t[i] = spawn_sh(joiner, (void *)(intptr_t)i);
    join_all(t, 40);
}

/* ---- offload: a worker thread uses the task's locals --------------------- */

typedef struct job {
    int in;
    int out;
    char scratch[256];
} job;

static void *square(void *arg)
{
    job *j = arg;
    usleep(1000);
    memset(j->scratch, j->in & 0x7f, sizeof j->scratch);
    j->out = j->in * j->in;
    return j;
}

static void *offloader(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        job j = {.in = n * 10 + i}; /* on this task's (shared) stack */
        void *r = NULL;
        CHECK_INT(weft_offload(square, &j, &r), 0);
        CHECK_PTR(r, &j);
        CHECK_INT(j.out, j.in * j.in);
        CHECK_INT(j.scratch[200], j.in & 0x7f);
    }
    return NULL;
}

static void *busy(void *arg)
{
    long *spins = arg;
    char frame[512];
    for (int i = 0; i < 200; i++) {
        memset(frame, i, sizeof frame);
        __asm__ volatile("" : : "r"(frame) : "memory");
        ++*spins;
        weft_pause();
    }
    return NULL;
}

static void offloads(void)
{
    static long spins; /* static: see big_elements */
    spins = 0;
    weft_co *t[24];
    for (int i = 0; i < 12; i++) {
        t[2 * i] = spawn_sh(offloader, (void *)(intptr_t)i);
        t[2 * i + 1] = spawn_sh(busy, &spins);
    }
    join_all(t, 24);
    CHECK_INT(spins, 12 * 200);
}

/* ---- skynet, a tree of tasks summing through channels -------------------- */

typedef struct node {
    long num, size;
    weft_chan *up;
} node;

static void *skynet(void *arg)
{
    node *n = arg;
    long total = 0;
    if (n->size == 1) {
        total = n->num;
    } else {
        weft_chan *c = weft_chan_new(sizeof(long), 0);
        CHECK(c != NULL);
        long part = n->size / 10;
        for (int i = 0; i < 10; i++) {
            node *k = malloc(sizeof *k);
            CHECK(k != NULL);
            *k = (node){n->num + i * part, part, c};
            CHECK(weft_spawn(skynet, k, &sh) != NULL);
        }
        for (int i = 0; i < 10; i++) {
            long v;
            CHECK_INT(weft_chan_recv(c, &v, -1), 0);
            total += v;
        }
        CHECK_INT(weft_chan_free(c), 0);
    }
    CHECK_INT(weft_chan_send(n->up, &total, -1), 0);
    free(n);
    return NULL;
}

static void skynet_tree(long leaves)
{
    weft_chan *top = weft_chan_new(sizeof(long), 1);
    CHECK(top != NULL);
    node *root = malloc(sizeof *root);
    CHECK(root != NULL);
    *root = (node){0, leaves, top};
    CHECK(weft_spawn(skynet, root, &sh) != NULL);
    long v = 0;
    CHECK_INT(weft_chan_recv(top, &v, -1), 0);
    CHECK_INT(v, leaves * (leaves - 1) / 2);
    CHECK_INT(weft_chan_free(top), 0);
}

/* ---- a resumer's locals, for a coroutine started by a shared one --------- */

static void *writer(void *arg)
{
    int *p = arg; /* the first resumer's local, passed at creation */
    for (int i = 0; i < 5; i++) {
        *p += 1;
        p = weft_co_yield(NULL); /* the resumer's next local */
    }
    *p += 1;
    return NULL;
}

static weft_co *gens[16];

static void *driver(void *arg)
{
    int i = (int)(intptr_t)arg;
    int first = 100;
    for (int k = 0; k < 5; k++) {
        int local = k;
        CHECK_INT(weft_co_send(gens[i], k ? &local : NULL, NULL), 1);
        if (k)
            CHECK_INT(local, k + 1);
    }
    CHECK_INT(weft_co_send(gens[i], &first, NULL), 0);
    CHECK_INT(first, 101);
    return NULL;
}

static int firsts[16];

static void resumer_locals(void)
{
    /* Made by one coroutine, first run by another: each must be placed on
     * a stack other than its driver's, though made in turns with them. */
    weft_co *drivers[16];
    for (int i = 0; i < 16; i++) {
        firsts[i] = 0;
        CHECK((gens[i] = weft_co_new(writer, &firsts[i], &sh)) != NULL);
        CHECK((drivers[i] = weft_co_new(driver, (void *)(intptr_t)i, &sh)) != NULL);
    }
    for (int i = 0; i < 16; i++) {
        CHECK_INT(weft_co_send(drivers[i], NULL, NULL), 0);
        CHECK_INT(firsts[i], 1);
        weft_co_free(drivers[i]);
        weft_co_free(gens[i]);
    }
}

/* ---- a lock of a task's own, timed out while its frames are away ------- */

static int own_done, own_corrupt;

static void *own_sem(void *arg)
{
    (void)arg;
    weft_sem s; /* in this task's frames */
    CHECK_INT(weft_sem_init(&s, 0), 0);
    CHECK_ERR(weft_sem_wait(&s, weft_now() + 5000000), -1, ETIMEDOUT);
    CHECK_INT(weft_sem_destroy(&s), 0); /* its queue left as it should */
    own_done = 1;
    return NULL;
}

static void *frame_keeper(void *arg)
{
    (void)arg;
    volatile unsigned char frame[2048];
    memset((void *)frame, 0x5a, sizeof frame);
    while (!own_done) {
        weft_pause();
        for (size_t i = 0; i < sizeof frame; i++)
            own_corrupt += frame[i] != 0x5a;
    }
    return NULL;
}

static void own_lock(void)
{
    /* Enough keepers that some run on the waiter's stack. */
    weft_co *t[9];
    t[0] = spawn_sh(own_sem, NULL);
    for (int i = 1; i < 9; i++)
        t[i] = spawn_sh(frame_keeper, NULL);
    join_all(t, 9);
    CHECK_INT(own_corrupt, 0);
}

/* ---- weft_run inside a shared coroutine ---------------------------------- */

static void *inner_main(void *arg)
{
    (void)arg;
    receivers(0);
    skynet_tree(1000);
    return (void *)7;
}

static void *runs_a_loop(void *arg)
{
    (void)arg;
    char frames[1000];
    memset(frames, 3, sizeof frames);
    void *r = NULL;
    CHECK_INT(weft_run(inner_main, NULL, &r), 0);
    CHECK_PTR(r, (void *)7);
    CHECK_INT(frames[999], 3);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    receivers(0);
    receivers(3);
    big_elements(0);
    big_elements(2);
    selects();
    sync_objects();
    joins();
    offloads();
    skynet_tree(10000);
    resumer_locals();
    own_lock();
    return NULL;
}

int main(void)
{
    alarm(120); /* a lost wake-up fails instead of hanging */
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    weft_co *c = weft_co_new(runs_a_loop, NULL, &sh);
    CHECK(c != NULL);
    CHECK_INT(weft_co_send(c, NULL, NULL), 0);
    weft_co_free(c);
    resumer_locals();
    return 0;
}
