/* Shared and private coroutines together: chains of generators of mixed
 * kinds nested in every order (shared driving shared on the same stack,
 * several levels deep), values both ways, weft_co_status across kinds;
 * cleanup handlers of a shared coroutine freed while suspended, also after
 * its frames were evicted; the process defaults (API and environment) and
 * their errors. */
#include <limits.h>
#include <weft.h>

#include "check.h"

#define P WEFT_STACK_PRIVATE
#define S WEFT_STACK_SHARED
#define MAXDEPTH 12

/* ---- chains ------------------------------------------------------------------ */

struct chain {
    int n;
    weft_co *co[MAXDEPTH];
    const void *frame[MAXDEPTH]; /* address of a local of each level's entry */
    int kinds[MAXDEPTH];
};

struct link {
    struct chain *c;
    int level;
};

static void check_statuses(const struct chain *c, int running)
{
    for (int i = 0; i < c->n; i++) {
        if (c->co[i] == NULL)
            continue;
        int want = i < running ? WEFT_NORMAL : i == running ? WEFT_RUNNING : WEFT_SUSPENDED;
        if (weft_co_status(c->co[i]) != want)
            FAIL("level %d (kind %d): status %d, expected %d while level %d runs", i, c->kinds[i],
                 weft_co_status(c->co[i]), want, running);
    }
    CHECK_PTR(weft_co_self(), running >= 0 ? c->co[running] : NULL);
}

/* Level i gets v, passes v*3+i down, gets w back and yields w+i*1000 up.
 * The deepest level yields v+1. Each level also checks an array of its own
 * frame after every switch. */
static void *level_body(void *arg)
{
    struct link *lk = arg;
    struct chain *c = lk->c;
    int i = lk->level;
    long mine[24];
    for (int k = 0; k < 24; k++)
        mine[k] = i * 7919 + k;
    c->frame[i] = (const void *)mine;
    long v = (long)(intptr_t)weft_co_yield((void *)(intptr_t)-1); /* started */
    for (;;) {
        check_statuses(c, i);
        long w;
        if (i + 1 < c->n) {
            void *out;
            CHECK_INT(weft_co_send(c->co[i + 1], (void *)(intptr_t)(v * 3 + i), &out), 1);
            w = (long)(intptr_t)out + i * 1000;
        } else {
            w = v + 1;
        }
        check_statuses(c, i);
        for (int k = 0; k < 24; k++)
            CHECK_INT(mine[k], i * 7919 + k);
        v = (long)(intptr_t)weft_co_yield((void *)(intptr_t)w);
        if (v < 0)
            return (void *)(intptr_t)(i + 100);
    }
}

static long expect_chain(int n, long v)
{
    /* Down: v_0 = v, v_{i+1} = 3 v_i + i; up: w_last = v_last + 1,
     * w_i = w_{i+1} + 1000 i. */
    long vs[MAXDEPTH];
    vs[0] = v;
    for (int i = 1; i < n; i++)
        vs[i] = vs[i - 1] * 3 + (i - 1);
    long w = vs[n - 1] + 1;
    for (int i = n - 2; i >= 0; i--)
        w += 1000L * i;
    return w;
}

static void run_chain(const int *kinds, int n)
{
    struct chain c = {.n = n};
    struct link links[MAXDEPTH];
    for (int i = 0; i < n; i++) {
        weft_opts o = {.stack_kind = kinds[i], .stack_size = 65536};
        links[i] = (struct link){&c, i};
        c.kinds[i] = kinds[i];
        /* All created by the thread: the shared ones share stacks round
         * robin, so a chain of more than four has two on one stack. */
        c.co[i] = weft_co_new(level_body, &links[i], &o);
        CHECK(c.co[i] != NULL);
    }
    void *out;
    for (int i = 0; i < n; i++) {
        CHECK_INT(weft_co_send(c.co[i], NULL, &out), 1);
        CHECK_INT((intptr_t)out, -1);
    }
    for (long v = 1; v <= 4; v++) {
        check_statuses(&c, -1);
        CHECK_INT(weft_co_send(c.co[0], (void *)(intptr_t)v, &out), 1);
        CHECK_INT((intptr_t)out, expect_chain(n, v));
    }
    /* Shared coroutines that met on one stack: same entry frame address. */
    int same = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (kinds[i] == S && kinds[j] == S && c.frame[i] == c.frame[j])
                same = 1;
    int shared = 0;
    for (int i = 0; i < n; i++)
        shared += kinds[i] == S;
    if (shared > 4 && !same)
        FAIL("a chain of %d shared coroutines found none sharing a stack", shared);
    /* Unwind: each level returns when sent a negative value. */
    for (int i = n - 1; i >= 0; i--) {
        CHECK_INT(weft_co_send(c.co[i], (void *)(intptr_t)-1, &out), 0);
        CHECK_INT((intptr_t)out, i + 100);
        CHECK_INT(weft_co_status(c.co[i]), WEFT_DEAD);
        weft_co_free(c.co[i]);
    }
}

static void chains(void)
{
    static const int orders[][MAXDEPTH + 1] = {
        /* count first, then the kinds from the outermost */
        {2, P, S},
        {2, S, P},
        {2, S, S},
        {3, S, S, S},
        {4, S, S, S, S},
        {5, S, S, S, S, S},
        {9, S, S, S, S, S, S, S, S, S},
        {6, P, S, P, S, P, S},
        {6, S, P, S, P, S, P},
        {8, P, P, S, S, S, S, S, P},
        {10, S, S, S, S, S, P, S, S, S, S},
        {12, S, P, P, S, S, P, S, S, S, S, P, S},
    };
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++)
        run_chain(orders[o] + 1, orders[o][0]);
}

/* A private coroutine creates and drives a shared generator, and the
 * other way round, as generators usually are: made by their consumer. */
static void *gen_squares(void *arg)
{
    weft_co *consumer = arg;
    long acc = 0;
    for (long i = 1;; i++) {
        CHECK_INT(weft_co_status(consumer), WEFT_NORMAL);
        CHECK_INT(weft_co_status(weft_co_self()), WEFT_RUNNING);
        long in = (long)(intptr_t)weft_co_yield((void *)(intptr_t)(i * i + acc));
        if (in == 0)
            return (void *)(intptr_t)acc;
        acc += in;
    }
}

static void *consumer_body(void *arg)
{
    int gen_kind = (int)(intptr_t)arg;
    weft_opts o = {.stack_kind = gen_kind};
    weft_co *g = weft_co_new(gen_squares, weft_co_self(), &o);
    CHECK(g != NULL);
    void *out;
    CHECK_INT(weft_co_send(g, NULL, &out), 1);
    CHECK_INT((intptr_t)out, 1);
    long acc = 0;
    for (long i = 2; i <= 50; i++) {
        acc += i;
        CHECK_INT(weft_co_send(g, (void *)(intptr_t)i, &out), 1);
        CHECK_INT((intptr_t)out, i * i + acc);
        CHECK_INT(weft_co_status(g), WEFT_SUSPENDED);
        /* Hand control up between values: the consumer's own resumer sees
         * it suspended and the generator suspended. */
        weft_co_yield(NULL);
    }
    CHECK_INT(weft_co_send(g, NULL, &out), 0);
    CHECK_INT((intptr_t)out, acc);
    weft_co_free(g);
    return (void *)(intptr_t)acc;
}

static void consumers(void)
{
    int pairs[4][2] = {{P, S}, {S, P}, {S, S}, {P, P}};
    for (int k = 0; k < 4; k++) {
        weft_opts o = {.stack_kind = pairs[k][0]};
        weft_co *c = weft_co_new(consumer_body, (void *)(intptr_t)pairs[k][1], &o);
        CHECK(c != NULL);
        void *out;
        int r, turns = 0;
        while ((r = weft_co_send(c, NULL, &out)) == 1)
            turns++;
        CHECK_INT(r, 0);
        CHECK_INT(turns, 49);
        CHECK_INT((intptr_t)out, 50 * 51 / 2 - 1);
        weft_co_free(c);
    }
}

/* ---- cleanup handlers ---------------------------------------------------------- */

static int handlers_ran;

struct seen {
    weft_co *self;
    const long *local;
    long want;
    int *ran;
};

static void handler(void *arg)
{
    struct seen *h = arg; /* itself on the coroutine's stack */
    CHECK_PTR(weft_co_self(), h->self);
    CHECK_INT(weft_co_status(h->self), WEFT_RUNNING);
    CHECK_INT(*h->local, h->want);
    (*h->ran)++;
}

static void *with_handler(void *arg)
{
    long local = 424242 + (long)(intptr_t)arg;
    char pad[700]; /* a frame larger than the inline part of the image */
    memset(pad, 1, sizeof pad);
    struct seen h = {weft_co_self(), &local, local, &handlers_ran};
    CHECK_INT(weft_co_defer(handler, &h), 0);
    weft_co_yield(&local);
    CHECK(0); /* freed while suspended: never resumed */
    __asm__ volatile("" : : "r"(pad) : "memory");
    return NULL;
}

/* Frees the coroutines of a null-terminated array, running on a shared
 * stack itself: some of them on the same stack. */
static void *free_all(void *arg)
{
    char pad[1500];
    memset(pad, 2, sizeof pad);
    weft_co_yield(NULL);
    for (weft_co **p = arg; *p; p++)
        weft_co_free(*p);
    CHECK_INT(pad[1499], 2);
    return NULL;
}

static void defers(void)
{
    weft_opts sh = {.stack_kind = S};
    /* Not evicted: it still owns its stack. */
    weft_co *a = weft_co_new(with_handler, (void *)1, &sh);
    void *where_a;
    CHECK_INT(weft_co_send(a, NULL, &where_a), 1);
    weft_co_free(a);
    CHECK_INT(handlers_ran, 1);

    /* Evicted: more coroutines than shared stacks, all running after it,
     * so one of them took its stack (same frame address). */
    weft_co *b = weft_co_new(with_handler, (void *)2, &sh);
    void *where_b;
    CHECK_INT(weft_co_send(b, NULL, &where_b), 1);
    weft_co *others[9] = {NULL};
    int took = 0;
    for (int i = 0; i < 8; i++) {
        others[i] = weft_co_new(with_handler, (void *)(intptr_t)(10 + i), &sh);
        void *w;
        CHECK_INT(weft_co_send(others[i], NULL, &w), 1);
        took += w == where_b;
    }
    CHECK(took > 0);
    weft_co_free(b);
    CHECK_INT(handlers_ran, 2);
    /* Freed by a coroutine that runs on the same stack as some of them:
     * each handler runs on its owner's frames, brought back in turn. */
    weft_co *killer = weft_co_new(free_all, others, &sh);
    CHECK_INT(weft_co_send(killer, NULL, NULL), 1);
    CHECK_INT(weft_co_send(killer, NULL, NULL), 0);
    CHECK_INT(handlers_ran, 10);
    weft_co_free(killer);
}

/* ---- defaults ------------------------------------------------------------------- */

static void *where(void *arg)
{
    volatile char here = 1;
    (void)arg;
    weft_co_yield((void *)&here);
    return NULL;
}

/* Creates 9 coroutines with opts and says whether two of them have their
 * entry frame at one address: shared ones do (more coroutines than shared
 * stacks), private ones never (each has its own stack). */
static int looks_shared(const weft_opts *opts)
{
    weft_co *cos[9];
    void *at[9];
    int same = 0;
    for (int i = 0; i < 9; i++) {
        cos[i] = weft_co_new(where, NULL, opts);
        CHECK(cos[i] != NULL);
        CHECK_INT(weft_co_send(cos[i], NULL, &at[i]), 1);
        for (int j = 0; j < i; j++)
            same |= at[i] == at[j];
    }
    for (int i = 0; i < 9; i++)
        weft_co_free(cos[i]);
    return same;
}

static void defaults(char *self)
{
    weft_opts autok = {.stack_kind = WEFT_STACK_AUTO};
    weft_opts priv = {.stack_kind = P};
    weft_opts shar = {.stack_kind = S};
    /* Under WEFT_STACK=shared (a CI mode) start from the built-in default;
     * the environment itself is tested in a child below. */
    if (getenv("WEFT_STACK"))
        CHECK_INT(weft_set_stack_defaults(P, 0), 0);
    CHECK(!looks_shared(NULL));
    CHECK(!looks_shared(&autok));
    CHECK(looks_shared(&shar));

    CHECK_INT(weft_set_stack_defaults(S, 0), 0);
    CHECK(looks_shared(NULL));
    CHECK(looks_shared(&autok));
    CHECK(!looks_shared(&priv));
    CHECK_INT(weft_set_stack_defaults(P, 0), 0);
    CHECK(!looks_shared(NULL));

    CHECK_ERR(weft_set_stack_defaults(WEFT_STACK_AUTO, 0), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(3, 0), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(-1, 0), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(S, WEFT_STACK_MIN - 1), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(S, WEFT_STACK_MAX + 1), -1, EINVAL);
    CHECK(!looks_shared(NULL)); /* the failed calls changed nothing */
    weft_opts bad_kind = {.stack_kind = 3};
    CHECK_ERR(weft_co_new(where, NULL, &bad_kind), NULL, EINVAL);
    weft_opts bad_size = {.stack_kind = S, .stack_size = 1};
    CHECK_ERR(weft_co_new(where, NULL, &bad_size), NULL, EINVAL);
    CHECK_ERR(weft_co_new(NULL, NULL, &shar), NULL, EINVAL);

    /* The environment: WEFT_STACK=shared in a fresh copy of this program. */
    if (test_under_is("qemu"))
        return; /* /proc/self/exe is the emulator there */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("WEFT_STACK", "shared", 1);
        execl(self, self, "env-child", (char *)NULL);
        _exit(127);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

static int env_child(void)
{
    weft_opts autok = {.stack_kind = WEFT_STACK_AUTO};
    weft_opts priv = {.stack_kind = P};
    if (!looks_shared(NULL) || !looks_shared(&autok) || looks_shared(&priv))
        return 1;
    /* The call overrides the environment. */
    CHECK_INT(weft_set_stack_defaults(P, 0), 0);
    return looks_shared(NULL) ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "env-child") == 0)
        return env_child();
    chains();
    consumers();
    defers();
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(len > 0);
    self[len] = '\0';
    defaults(self);
    return 0;
}
