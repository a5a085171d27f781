/* A stress tester: seeded random programs of tasks that use the whole
 * public API at once (spawn, join, cancel, groups, channels with select
 * and close, the sync objects, sleeps with deadlines, pipes and
 * socketpairs, weft_offload, futures, and generators that wait inside
 * tasks), checking that
 *   - every value sent is received exactly once (each value is a unique id;
 *     channels and queues are drained after close);
 *   - weft_run returns 0: the programs cannot deadlock by construction
 *     (every receiver ends at a close it is sure to see, or its wait has a
 *     deadline), so a reported deadlock is a bug;
 *   - every task ends, every join returns, every object is freed (leaks are
 *     for ASan and valgrind to find) and no fd is left open.
 *
 * Each seed runs in a forked child, so that a crash or a hang (an alarm)
 * is reported with its seed and the other seeds go on.
 *
 * Usage: stress [-s SEED] [-n SEEDS] [-o OPS] [-k KIND] [-m MASK] [-w WORKERS] [-b BATCH]
 *               [-H TASKS] [-t SECS] [-F] [-v]
 *   -s  first seed (default 1)           -n  number of seeds (default 20)
 *   -o  operations per seed (default 20000)
 *   -k  stack kind of tasks and generators: auto (the process default,
 *       WEFT_STACK=shared|private), private, shared, or mixed (each at
 *       random, explicit kinds included); default auto
 *   -m  bit mask of the scenarios to run (default all; see scen_names)
 *   -w  run each seed under weft_run_threads(WORKERS) (0: one per CPU)
 *       instead of weft_run
 *   -b  at most BATCH scenarios at once (default 4)
 *   -H  carrier tasks of one hop scenario (default 3000; 300 under a tool)
 *   -t  seconds before a seed counts as hung (default 60)
 *   -F  run the seeds in this process, without forking (for a debugger)
 *   -v  print each seed and its operation count
 * Prints the operations done across all seeds and the seeds that failed,
 * each with the command that reproduces it. Without arguments, as run by
 * the test suite (test_stress), a fixed set of seeds sized for the tool
 * named by WEFT_TEST_UNDER; built as test_stress_mt, the same on 8 workers,
 * then one hop scenario of a million tasks (stress -w 8 -m 0x100 -b 1 -o 1
 * -H 1000000). */
#include "check.h"
#include "io_util.h"
#include "weft.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

/* ---- random numbers ------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned rbelow(rng *r, unsigned n)
{
    return n ? (unsigned)(rnext(r) % n) : 0;
}

static int rchance(rng *r, unsigned percent)
{
    return rbelow(r, 100) < percent;
}

static rng rsplit(rng *r)
{
    rng c = {rnext(r)};
    return c;
}

/* ---- state of one seed --------------------------------------------------- */

enum { SC_CHAN, SC_SELECT, SC_SYNC, SC_IO, SC_ASYNC, SC_GEN, SC_CANCEL, SC_MISC, SC_HOP, SC_COUNT };
static const char *const scen_names[SC_COUNT] = {"chan", "select", "sync", "io", "async",
                                                 "gen",  "cancel", "misc", "hop"};

enum { K_AUTO, K_PRIVATE, K_SHARED, K_MIXED };

static struct {
    uint64_t seed;
    unsigned long long ops, target;
    int kind;
    unsigned mask;
    int small;                 /* under a slow tool: smaller programs */
    int workers;               /* -w: the seeds run under weft_run_threads(workers); -1: weft_run */
    int batch;                 /* at most this many scenarios at once */
    unsigned long hop_tasks;   /* carriers of one hop scenario */
    unsigned long long hopped; /* carriers spawned, across the seed's hop scenarios */
    /* Ids of values in flight: sent[id] once its send succeeded, got[id]
     * counts its receipts, owner[id] the scenario that made it. */
    uint8_t *sent, *got, *owner;
    uint32_t nid, capid;
} G;

/* Atomic: under -w the tasks of a seed run on several threads. */
#define OP() __atomic_add_fetch(&G.ops, 1, __ATOMIC_RELAXED)

/* The id tables grow (realloc) while tasks of other workers use them. */
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;

static void stress_fail(int line, const char *what)
{
    int e = errno;
    weft_co *self = weft_co_self();
    fprintf(stderr,
            "stress: seed %" PRIu64 ": stress.c:%d: in '%s': check failed: %s (errno %d %s)\n",
            G.seed, line, self ? weft_co_name(self) : "(thread)", what, e, strerror(e));
    weft_dump();
    fflush(stderr);
    abort();
}

#define SCHECK(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            stress_fail(__LINE__, #c);                                                             \
    } while (0)

static uint32_t id_new(int scen)
{
    pthread_mutex_lock(&ids_lock);
    if (G.nid == G.capid) {
        uint32_t cap = G.capid ? G.capid * 2 : 4096;
        G.sent = realloc(G.sent, cap);
        G.got = realloc(G.got, cap);
        G.owner = realloc(G.owner, cap);
        SCHECK(G.sent && G.got && G.owner);
        G.capid = cap;
    }
    G.sent[G.nid] = 0;
    G.got[G.nid] = 0;
    G.owner[G.nid] = (uint8_t)scen;
    uint32_t id = G.nid++;
    pthread_mutex_unlock(&ids_lock);
    return id;
}

static void id_sent(uint32_t id)
{
    pthread_mutex_lock(&ids_lock);
    SCHECK(id < G.nid && !G.sent[id]);
    G.sent[id] = 1;
    pthread_mutex_unlock(&ids_lock);
}

static void id_got(uint32_t id)
{
    pthread_mutex_lock(&ids_lock);
    SCHECK(id < G.nid);
    SCHECK(G.got[id] == 0); /* received twice */
    G.got[id] = 1;
    pthread_mutex_unlock(&ids_lock);
}

/* Every id made so far was received exactly as often as it was sent. */
static void ids_check(void)
{
    for (uint32_t i = 0; i < G.nid; i++)
        if (G.sent[i] != G.got[i]) {
            fprintf(stderr, "stress: seed %" PRIu64 ": id %u of scenario %s sent %d, received %d\n",
                    G.seed, i, scen_names[G.owner[i]], G.sent[i], G.got[i]);
            SCHECK(G.sent[i] == G.got[i]);
        }
    G.nid = 0;
}

/* An element of a channel: its id, a check word and a pattern. */
static uint32_t id_hash(uint32_t id)
{
    uint32_t h = id * 2654435761u;
    return h ^ (h >> 15) ^ 0x5a5a5a5au;
}

static void elem_fill(unsigned char *buf, size_t size, uint32_t id)
{
    uint32_t h = id_hash(id);
    memcpy(buf, &id, 4);
    memcpy(buf + 4, &h, 4);
    for (size_t i = 8; i < size; i++)
        buf[i] = (unsigned char)(id + i);
}

static uint32_t elem_id(const unsigned char *buf, size_t size)
{
    uint32_t id, h;
    memcpy(&id, buf, 4);
    memcpy(&h, buf + 4, 4);
    SCHECK(h == id_hash(id));
    for (size_t i = 8; i < size; i++)
        SCHECK(buf[i] == (unsigned char)(id + i));
    return id;
}

static const size_t elem_sizes[] = {8, 16, 24, 40, 64, 200};
#define ELEM_MAX 200

/* ---- helpers ------------------------------------------------------------- */

/* A deadline for a wait that is retried on ETIMEDOUT (or EAGAIN, for
 * deadline 0): often none, else "now" or a few microseconds ahead. */
#define LATE(e) ((e) == ETIMEDOUT || (e) == EAGAIN)

static int64_t rdl(rng *r)
{
    unsigned c = rbelow(r, 10);
    if (c < 5)
        return -1;
    if (c < 6)
        return 0;
    return weft_now() + (int64_t)rbelow(r, 40000);
}

/* After a wait that timed out: let the others run, so that a loop of
 * zero deadlines does not spin forever. */
static void timed_out(void)
{
    SCHECK(LATE(errno));
    SCHECK(weft_pause() == 0 || errno == ECANCELED);
    OP();
}

static weft_opts opts_for(rng *r, const char *name)
{
    weft_opts o;
    memset(&o, 0, sizeof o);
    o.name = name;
    switch (G.kind) {
    case K_PRIVATE:
        o.stack_kind = WEFT_STACK_PRIVATE;
        break;
    case K_SHARED:
        o.stack_kind = WEFT_STACK_SHARED;
        break;
    case K_MIXED:
        o.stack_kind = (int)rbelow(r, 3);
        break;
    default:
        o.stack_kind = WEFT_STACK_AUTO;
    }
    /* Some small stacks, except under ASan, whose frames are larger. */
    if (!G.small && rchance(r, 30))
        o.stack_size = rchance(r, 50) ? (size_t)32 * 1024 : (size_t)64 * 1024;
    return o;
}

static weft_co *spawn(rng *r, const char *name, weft_fn fn, void *arg)
{
    weft_opts o = opts_for(r, name);
    weft_co *t = weft_spawn(fn, arg, &o);
    SCHECK(t != NULL);
    OP();
    return t;
}

/* A task that uses the caller's fds: fds belong to the worker that made
 * them, so it is pinned there. */
static weft_co *spawn_here(rng *r, const char *name, weft_fn fn, void *arg)
{
    weft_opts o = opts_for(r, name);
    weft_co *t = weft_spawn_on(weft_worker(), fn, arg, &o);
    SCHECK(t != NULL);
    OP();
    return t;
}

/* Joins t, with deadlines that may pass first; returns its result. */
static void *join(rng *r, weft_co *t)
{
    void *res = NULL;
    for (;;) {
        int rc = weft_join(t, &res, rdl(r));
        OP();
        if (rc == 0)
            return res;
        timed_out();
    }
}

/* Sometimes lets the others run, or sleeps a little. */
static void dawdle(rng *r)
{
    unsigned c = rbelow(r, 16);
    if (c == 0) {
        int64_t dl = weft_now() + (int64_t)rbelow(r, 30000);
        if (weft_sleep(dl) == 0)
            SCHECK(weft_now() >= dl);
        else
            SCHECK(errno == ECANCELED);
        OP();
    } else if (c < 4) {
        SCHECK(weft_pause() == 0 || errno == ECANCELED);
        OP();
    }
}

/* The arguments of a worker task: the scenario's state, its own random
 * numbers, how much to do, and whether it may be cancelled. */
typedef struct work {
    void *sc;
    rng r;
    int n;
    int victim;
    int idx;
} work;

static work *work_new(rng *r, void *sc, int n, int victim)
{
    work *w = calloc(1, sizeof *w);
    SCHECK(w != NULL);
    w->sc = sc;
    w->r = rsplit(r);
    w->n = n;
    w->victim = victim;
    return w;
}

/* A blocking call failed with ECANCELED: only victims are cancelled. */
#define CANCELED_OK(w) SCHECK(errno == ECANCELED && (w)->victim)

/* ---- scenario: one channel, producers and consumers --------------------- */

typedef struct chan_sc {
    weft_chan *ch;
    weft_chan *idle; /* never sent to: a case that never fires */
    size_t esz;
} chan_sc;

static void *chan_prod(void *arg)
{
    work *w = arg;
    chan_sc *sc = w->sc;
    for (int i = 0; i < w->n; i++) {
        unsigned char buf[ELEM_MAX], junk[ELEM_MAX];
        uint32_t id = id_new(SC_CHAN);
        elem_fill(buf, sc->esz, id);
        int rc;
        for (;;) {
            if (rchance(&w->r, 60)) {
                rc = weft_chan_send(sc->ch, buf, rdl(&w->r));
            } else {
                weft_case c[2] = {{.ch = sc->ch, .op = WEFT_SEND, .elem = buf, .err = -1},
                                  {.ch = sc->idle, .op = WEFT_RECV, .elem = junk, .err = -1}};
                rc = weft_select(c, 1 + rchance(&w->r, 50), rdl(&w->r));
                if (rc >= 0) {
                    SCHECK(rc == 0 && c[0].err == 0);
                    rc = 0;
                }
            }
            OP();
            if (rc == 0 || !LATE(errno))
                break;
            timed_out();
        }
        if (rc != 0) {
            CANCELED_OK(w); /* the channel closes only after the producers end */
            break;
        }
        id_sent(id);
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

static void *chan_cons(void *arg)
{
    work *w = arg;
    chan_sc *sc = w->sc;
    for (;;) {
        unsigned char buf[ELEM_MAX], junk[ELEM_MAX];
        int rc;
        if (rchance(&w->r, 60)) {
            rc = weft_chan_recv(sc->ch, buf, rdl(&w->r));
        } else {
            weft_case c[2] = {{.ch = sc->idle, .op = WEFT_RECV, .elem = junk, .err = -1},
                              {.ch = sc->ch, .op = WEFT_RECV, .elem = buf, .err = -1}};
            rc = weft_select(c, 2, rdl(&w->r));
            if (rc >= 0) {
                SCHECK(rc == 1);
                if (c[1].err) {
                    SCHECK(c[1].err == EPIPE);
                    errno = EPIPE;
                    rc = -1;
                } else {
                    rc = 0;
                }
            }
        }
        OP();
        if (rc == 0) {
            id_got(elem_id(buf, sc->esz));
            dawdle(&w->r);
            continue;
        }
        if (LATE(errno)) {
            timed_out();
            continue;
        }
        if (errno == EPIPE)
            break;
        CANCELED_OK(w);
        break;
    }
    free(w);
    return NULL;
}

static void *sc_chan(void *arg)
{
    rng *r = arg;
    chan_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    sc->esz = elem_sizes[rbelow(r, sizeof elem_sizes / sizeof elem_sizes[0])];
    size_t cap = rchance(r, 40) ? 0 : 1 + rbelow(r, 8);
    sc->ch = weft_chan_new(sc->esz, cap);
    sc->idle = weft_chan_new(ELEM_MAX, rbelow(r, 2));
    SCHECK(sc->ch && sc->idle);
    OP();
    int np = 1 + (int)rbelow(r, 4), nc = 1 + (int)rbelow(r, 4);
    int items = G.small ? 20 : 50 + (int)rbelow(r, 300);
    weft_co *p[4], *c[4];
    for (int i = 0; i < np; i++)
        p[i] = spawn(r, "chan.prod", chan_prod, work_new(r, sc, items, i > 0));
    for (int i = 0; i < nc; i++)
        c[i] = spawn(r, "chan.cons", chan_cons, work_new(r, sc, 0, i > 0));
    /* Cancel some victims (all but the first of each), at random moments. */
    for (int i = 0; i < np + nc; i++) {
        if (i == 0 || i == np || !rchance(r, 25))
            continue;
        dawdle(r);
        SCHECK(weft_cancel(i < np ? p[i] : c[i - np]) == 0);
        OP();
    }
    for (int i = 0; i < np; i++)
        join(r, p[i]);
    SCHECK(weft_chan_close(sc->ch) == 0);
    OP();
    for (int i = 0; i < nc; i++)
        join(r, c[i]);
    /* What the cancelled consumers left in the buffer. */
    unsigned char buf[ELEM_MAX];
    while (weft_chan_recv(sc->ch, buf, 0) == 0)
        id_got(elem_id(buf, sc->esz));
    SCHECK(errno == EPIPE);
    SCHECK(weft_chan_send(sc->ch, buf, -1) == -1 && errno == EPIPE);
    SCHECK(weft_chan_free(sc->ch) == 0 && weft_chan_free(sc->idle) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- scenario: a pipeline of selects ------------------------------------ */

/* Producers send each value on whichever of the stage channels is ready
 * first; relays take from any stage channel and forward to the output,
 * holding up to RELAY_Q values; consumers take from the output. Every
 * select offers sends and receives at once. */
#define STAGES_MAX 4
#define RELAY_Q 4

typedef struct sel_sc {
    weft_chan *stage[STAGES_MAX];
    int nstage;
    weft_chan *out;
    size_t esz;
} sel_sc;

static void *sel_prod(void *arg)
{
    work *w = arg;
    sel_sc *sc = w->sc;
    for (int i = 0; i < w->n; i++) {
        unsigned char buf[STAGES_MAX][ELEM_MAX];
        uint32_t ids[STAGES_MAX];
        weft_case c[STAGES_MAX];
        /* A distinct value per case: the one chosen is the one sent. */
        for (int k = 0; k < sc->nstage; k++) {
            ids[k] = id_new(SC_SELECT);
            elem_fill(buf[k], sc->esz, ids[k]);
            c[k] = (weft_case){.ch = sc->stage[k], .op = WEFT_SEND, .elem = buf[k], .err = -1};
        }
        int rc;
        while ((rc = weft_select(c, (size_t)sc->nstage, rdl(&w->r))) < 0) {
            OP();
            timed_out();
        }
        OP();
        SCHECK(rc < sc->nstage && c[rc].err == 0);
        id_sent(ids[rc]);
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

static void *sel_relay(void *arg)
{
    work *w = arg;
    sel_sc *sc = w->sc;
    unsigned char q[RELAY_Q][ELEM_MAX];
    int qlen = 0;
    int open[STAGES_MAX];
    int nopen = sc->nstage;
    for (int k = 0; k < sc->nstage; k++)
        open[k] = 1;
    unsigned char in[ELEM_MAX];
    while (nopen || qlen) {
        weft_case c[STAGES_MAX + 1];
        int map[STAGES_MAX + 1];
        size_t n = 0;
        if (qlen < RELAY_Q)
            for (int k = 0; k < sc->nstage; k++)
                if (open[k]) {
                    map[n] = k;
                    c[n++] =
                        (weft_case){.ch = sc->stage[k], .op = WEFT_RECV, .elem = in, .err = -1};
                }
        if (qlen) {
            map[n] = -1;
            c[n++] = (weft_case){.ch = sc->out, .op = WEFT_SEND, .elem = q[0], .err = -1};
        }
        int rc = weft_select(c, n, rdl(&w->r));
        OP();
        if (rc < 0) {
            timed_out();
            continue;
        }
        SCHECK((size_t)rc < n);
        if (map[rc] < 0) {
            SCHECK(c[rc].err == 0); /* out closes after the relays end */
            memmove(q[0], q[1], (size_t)(qlen - 1) * sizeof q[0]);
            qlen--;
        } else if (c[rc].err) {
            SCHECK(c[rc].err == EPIPE);
            open[map[rc]] = 0;
            nopen--;
        } else {
            elem_id(in, sc->esz);
            memcpy(q[qlen++], in, sc->esz);
        }
    }
    free(w);
    return NULL;
}

static void *sel_cons(void *arg)
{
    work *w = arg;
    sel_sc *sc = w->sc;
    for (;;) {
        unsigned char buf[ELEM_MAX];
        weft_case c = {.ch = sc->out, .op = WEFT_RECV, .elem = buf, .err = -1};
        int rc = weft_select(&c, 1, rdl(&w->r));
        OP();
        if (rc < 0) {
            timed_out();
            continue;
        }
        SCHECK(rc == 0);
        if (c.err) {
            SCHECK(c.err == EPIPE);
            break;
        }
        id_got(elem_id(buf, sc->esz));
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

static void *sc_select(void *arg)
{
    rng *r = arg;
    sel_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    sc->esz = elem_sizes[rbelow(r, sizeof elem_sizes / sizeof elem_sizes[0])];
    sc->nstage = 2 + (int)rbelow(r, STAGES_MAX - 1);
    for (int k = 0; k < sc->nstage; k++)
        SCHECK((sc->stage[k] = weft_chan_new(sc->esz, rbelow(r, 3))) != NULL);
    SCHECK((sc->out = weft_chan_new(sc->esz, rbelow(r, 3))) != NULL);
    OP();
    int np = 1 + (int)rbelow(r, 3), nr = 1 + (int)rbelow(r, 3), nc = 1 + (int)rbelow(r, 3);
    int items = G.small ? 15 : 40 + (int)rbelow(r, 200);
    weft_co *p[3], *rl[3], *c[3];
    for (int i = 0; i < np; i++)
        p[i] = spawn(r, "select.prod", sel_prod, work_new(r, sc, items, 0));
    for (int i = 0; i < nr; i++)
        rl[i] = spawn(r, "select.relay", sel_relay, work_new(r, sc, 0, 0));
    for (int i = 0; i < nc; i++)
        c[i] = spawn(r, "select.cons", sel_cons, work_new(r, sc, 0, 0));
    for (int i = 0; i < np; i++)
        join(r, p[i]);
    for (int k = 0; k < sc->nstage; k++)
        SCHECK(weft_chan_close(sc->stage[k]) == 0);
    for (int i = 0; i < nr; i++)
        join(r, rl[i]);
    SCHECK(weft_chan_close(sc->out) == 0);
    for (int i = 0; i < nc; i++)
        join(r, c[i]);
    for (int k = 0; k < sc->nstage; k++)
        SCHECK(weft_chan_free(sc->stage[k]) == 0);
    SCHECK(weft_chan_free(sc->out) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- scenario: a queue under a mutex and two conds, a semaphore, a wait
 * group ---------------------------------------------------------------- */

#define RING_MAX 8

typedef struct sync_sc {
    weft_mutex m;
    weft_cond notempty, notfull;
    weft_sem sem;
    weft_wg wg;
    uint32_t ring[RING_MAX];
    unsigned head, count, cap;
    int done;
    unsigned inside, semk;
} sync_sc;

/* Locks, retrying deadlines; 0, or -1 when cancelled. */
static int lock(work *w, weft_mutex *m)
{
    for (;;) {
        int rc = weft_mutex_lock(m, rdl(&w->r));
        OP();
        if (rc == 0)
            return 0;
        if (errno == ECANCELED) {
            CANCELED_OK(w);
            return -1;
        }
        timed_out();
    }
}

static void unlock(weft_mutex *m)
{
    SCHECK(weft_mutex_unlock(m) == 0);
    OP();
}

/* Waits on c (holding m, and holding it again on return); 0, or -1 when
 * cancelled. A timeout is a spurious wake-up. */
static int cwait(work *w, weft_cond *c, weft_mutex *m)
{
    int rc = weft_cond_wait(c, m, rdl(&w->r));
    OP();
    if (rc == 0 || LATE(errno))
        return 0;
    CANCELED_OK(w);
    return -1;
}

static void signal_or_broadcast(work *w, weft_cond *c)
{
    SCHECK((rchance(&w->r, 70) ? weft_cond_signal(c) : weft_cond_broadcast(c)) == 0);
    OP();
}

/* The semaphore admits at most semk tasks at once. */
static int gate(work *w, sync_sc *sc)
{
    int rc;
    while ((rc = weft_sem_wait(&sc->sem, rdl(&w->r))) != 0 && LATE(errno)) {
        OP();
        timed_out();
    }
    OP();
    if (rc != 0) {
        CANCELED_OK(w);
        return -1;
    }
    SCHECK(__atomic_add_fetch(&sc->inside, 1, __ATOMIC_RELAXED) <= sc->semk);
    dawdle(&w->r);
    __atomic_sub_fetch(&sc->inside, 1, __ATOMIC_RELAXED);
    SCHECK(weft_sem_post(&sc->sem) == 0);
    OP();
    return 0;
}

static void *sync_prod(void *arg)
{
    work *w = arg;
    sync_sc *sc = w->sc;
    for (int i = 0; i < w->n; i++) {
        if (rchance(&w->r, 20) && gate(w, sc) != 0)
            break;
        if (lock(w, &sc->m) != 0)
            break;
        int ok = 0;
        while (sc->count == sc->cap)
            if (cwait(w, &sc->notfull, &sc->m) != 0)
                goto cancelled;
        uint32_t id = id_new(SC_SYNC);
        sc->ring[(sc->head + sc->count++) % sc->cap] = id;
        id_sent(id);
        ok = 1;
    cancelled:
        /* A woken waiter that was cancelled passes the wake-up on. */
        signal_or_broadcast(w, ok ? &sc->notempty : &sc->notfull);
        unlock(&sc->m);
        if (!ok)
            break;
        dawdle(&w->r);
    }
    SCHECK(weft_wg_done(&sc->wg) == 0);
    OP();
    free(w);
    return NULL;
}

static void *sync_cons(void *arg)
{
    work *w = arg;
    sync_sc *sc = w->sc;
    for (;;) {
        if (lock(w, &sc->m) != 0)
            break;
        int ok = 0;
        while (sc->count == 0 && !sc->done)
            if (cwait(w, &sc->notempty, &sc->m) != 0)
                goto out;
        if (sc->count == 0) {
            unlock(&sc->m);
            break;
        }
        id_got(sc->ring[sc->head]);
        sc->head = (sc->head + 1) % sc->cap;
        sc->count--;
        ok = 1;
    out:
        signal_or_broadcast(w, ok ? &sc->notfull : &sc->notempty);
        unlock(&sc->m);
        if (!ok)
            break;
        if (rchance(&w->r, 20) && gate(w, sc) != 0)
            break;
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

static void *sc_sync(void *arg)
{
    rng *r = arg;
    sync_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    SCHECK(weft_mutex_init(&sc->m) == 0 && weft_cond_init(&sc->notempty) == 0 &&
           weft_cond_init(&sc->notfull) == 0 && weft_wg_init(&sc->wg) == 0);
    sc->cap = 1 + rbelow(r, RING_MAX);
    sc->semk = 1 + rbelow(r, 3);
    SCHECK(weft_sem_init(&sc->sem, sc->semk) == 0);
    OP();
    int np = 1 + (int)rbelow(r, 4), nc = 1 + (int)rbelow(r, 4);
    int items = G.small ? 20 : 50 + (int)rbelow(r, 200);
    weft_co *p[4], *c[4];
    SCHECK(weft_wg_add(&sc->wg, np) == 0);
    for (int i = 0; i < np; i++)
        p[i] = spawn(r, "sync.prod", sync_prod, work_new(r, sc, items, i > 0));
    for (int i = 0; i < nc; i++)
        c[i] = spawn(r, "sync.cons", sync_cons, work_new(r, sc, 0, i > 0));
    /* Cancel some victims (all but the first of each), at random moments. */
    for (int i = 0; i < np + nc; i++) {
        if (i == 0 || i == np || !rchance(r, 25))
            continue;
        dawdle(r);
        SCHECK(weft_cancel(i < np ? p[i] : c[i - np]) == 0);
        OP();
    }
    int rc;
    while ((rc = weft_wg_wait(&sc->wg, rdl(r))) != 0) {
        OP();
        timed_out();
    }
    OP();
    work self = {.r = rsplit(r)};
    SCHECK(lock(&self, &sc->m) == 0);
    sc->done = 1;
    SCHECK(weft_cond_broadcast(&sc->notempty) == 0);
    unlock(&sc->m);
    for (int i = 0; i < np; i++)
        join(r, p[i]);
    for (int i = 0; i < nc; i++)
        join(r, c[i]);
    /* What cancelled consumers left. */
    while (sc->count) {
        id_got(sc->ring[sc->head]);
        sc->head = (sc->head + 1) % sc->cap;
        sc->count--;
    }
    SCHECK(sc->inside == 0);
    SCHECK(weft_mutex_destroy(&sc->m) == 0 && weft_cond_destroy(&sc->notempty) == 0 &&
           weft_cond_destroy(&sc->notfull) == 0 && weft_wg_destroy(&sc->wg) == 0 &&
           weft_sem_destroy(&sc->sem) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- scenario: streams of records through pipes and socketpairs ------- */

/* A record: id, payload length, payload bytes derived from the id. */
static unsigned char pay_byte(uint32_t id, uint32_t off)
{
    return (unsigned char)(id * 31u + off * 7u + (off >> 8));
}

typedef struct io_w {
    int fd;
    int shut; /* a socket: shutdown(SHUT_WR) at the end; else close */
    rng r;
    int n;
} io_w;

static void *io_writer(void *arg)
{
    io_w *w = arg;
    for (int i = 0; i < w->n; i++) {
        unsigned char rec[8 + 3000];
        uint32_t id = id_new(SC_IO), len = rbelow(&w->r, 3000);
        memcpy(rec, &id, 4);
        memcpy(rec + 4, &len, 4);
        for (uint32_t k = 0; k < len; k++)
            rec[8 + k] = pay_byte(id, k);
        size_t total = 8 + len, off = 0;
        while (off < total) {
            size_t k = 1 + rbelow(&w->r, (unsigned)(total - off));
            if (rchance(&w->r, 30) && k > 1) {
                struct iovec v[2] = {{rec + off, k / 2}, {rec + off + k / 2, k - k / 2}};
                SCHECK(weft_writev(w->fd, v, 2, -1) == (ssize_t)k);
            } else {
                SCHECK(weft_write(w->fd, rec + off, k, -1) == (ssize_t)k);
            }
            OP();
            off += k;
        }
        id_sent(id);
        dawdle(&w->r);
    }
    if (w->shut)
        SCHECK(shutdown(w->fd, SHUT_WR) == 0);
    else
        SCHECK(weft_close(w->fd) == 0);
    OP();
    free(w);
    return NULL;
}

static void *io_reader(void *arg)
{
    io_w *w = arg;
    unsigned char hdr[8];
    uint32_t have = 0, id = 0, len = 0; /* bytes of the current record seen */
    for (;;) {
        unsigned char buf[4096];
        size_t want = 1 + rbelow(&w->r, sizeof buf);
        ssize_t got;
        int64_t dl = rdl(&w->r);
        if (rchance(&w->r, 20)) {
            int ev = weft_wait_fd(w->fd, POLLIN, dl);
            OP();
            if (ev < 0) {
                timed_out();
                continue;
            }
            SCHECK(ev & POLLIN);
        }
        if (rchance(&w->r, 25) && want > 1) {
            struct iovec v[2] = {{buf, want / 2}, {buf + want / 2, want - want / 2}};
            got = weft_readv(w->fd, v, 2, dl);
        } else {
            got = weft_read(w->fd, buf, want, dl);
        }
        OP();
        if (got < 0) {
            timed_out();
            continue;
        }
        if (got == 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            unsigned char b = buf[i];
            if (have < 8) {
                hdr[have++] = b;
                if (have == 8) {
                    memcpy(&id, hdr, 4);
                    memcpy(&len, hdr + 4, 4);
                    SCHECK(len < 3000);
                }
            } else {
                SCHECK(b == pay_byte(id, have - 8));
                have++;
            }
            if (have >= 8 && have == 8 + len) {
                id_got(id);
                have = 0;
            }
        }
        dawdle(&w->r);
    }
    SCHECK(have == 0); /* the stream ended on a record boundary */
    free(w);
    return NULL;
}

static io_w *io_new(rng *r, int fd, int shut, int n)
{
    io_w *w = calloc(1, sizeof *w);
    SCHECK(w != NULL);
    w->fd = fd;
    w->shut = shut;
    w->r = rsplit(r);
    w->n = n;
    return w;
}

static void *sc_io(void *arg)
{
    rng *r = arg;
    int items = G.small ? 10 : 20 + (int)rbelow(r, 60);
    if (rchance(r, 50)) {
        int p[2];
        SCHECK(pipe2(p, O_CLOEXEC) == 0);
        weft_co *wt = spawn_here(r, "io.pipe.write", io_writer, io_new(r, p[1], 0, items));
        weft_co *rt = spawn_here(r, "io.pipe.read", io_reader, io_new(r, p[0], 0, 0));
        join(r, wt);
        join(r, rt);
        SCHECK(weft_close(p[0]) == 0);
    } else {
        int s[2];
        SCHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
        weft_co *t[4];
        t[0] = spawn_here(r, "io.sock.write0", io_writer, io_new(r, s[0], 1, items));
        t[1] = spawn_here(r, "io.sock.read1", io_reader, io_new(r, s[1], 1, 0));
        t[2] = spawn_here(r, "io.sock.write1", io_writer, io_new(r, s[1], 1, items));
        t[3] = spawn_here(r, "io.sock.read0", io_reader, io_new(r, s[0], 1, 0));
        for (int i = 0; i < 4; i++)
            join(r, t[i]);
        SCHECK(weft_close(s[0]) == 0 && weft_close(s[1]) == 0);
    }
    OP();
    return NULL;
}

/* ---- scenario: offloaded calls and futures ------------------------------ */

typedef struct job {
    uint64_t x;
    int ran;
    int nap;        /* sleep a little on the worker */
    weft_future *f; /* complete it from the worker */
} job;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void *job_run(void *arg)
{
    job *j = arg;
    j->ran = 1;
    if (j->nap) {
        struct timespec ts = {0, j->nap * 1000L};
        nanosleep(&ts, NULL);
    }
    if (j->f && weft_future_complete(j->f, (void *)(uintptr_t)mix64(j->x)) != 0)
        abort();
    return (void *)(uintptr_t)mix64(j->x);
}

static void *async_offloader(void *arg)
{
    work *w = arg;
    for (int i = 0; i < w->n; i++) {
        job *j = calloc(1, sizeof *j);
        SCHECK(j != NULL);
        j->x = rnext(&w->r);
        j->nap = rchance(&w->r, 20) ? (int)rbelow(&w->r, 100) : 0;
        void *res = NULL;
        int rc = weft_offload(job_run, j, &res);
        OP();
        if (rc == 0) {
            SCHECK(j->ran && (uintptr_t)res == (uintptr_t)mix64(j->x));
        } else {
            CANCELED_OK(w);
            SCHECK(!j->ran);
        }
        free(j);
        if (rc != 0)
            break;
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

typedef struct fut_sc {
    weft_future *f;
    uint64_t x, value; /* value == mix64(x) */
    int how;           /* who completes: 0 a task, 1 a worker thread, 2 before the wait */
} fut_sc;

static void *fut_waiter(void *arg)
{
    work *w = arg;
    fut_sc *sc = w->sc;
    void *v = NULL;
    int rc;
    while ((rc = weft_future_wait(sc->f, &v, rdl(&w->r))) != 0) {
        OP();
        timed_out();
    }
    OP();
    SCHECK((uintptr_t)v == (uintptr_t)sc->value);
    SCHECK(weft_future_done(sc->f) == 1);
    v = NULL;
    SCHECK(weft_future_wait(sc->f, &v, 0) == 0 && (uintptr_t)v == (uintptr_t)sc->value);
    OP();
    free(w);
    return NULL;
}

static void *fut_completer(void *arg)
{
    work *w = arg;
    fut_sc *sc = w->sc;
    dawdle(&w->r);
    if (sc->how == 0) {
        SCHECK(weft_future_complete(sc->f, (void *)(uintptr_t)sc->value) == 0);
    } else {
        /* The job is read by the worker while this task waits: off the
         * stack, which may be a shared one. */
        job *j = calloc(1, sizeof *j);
        SCHECK(j != NULL);
        j->x = sc->x;
        j->f = sc->f;
        j->nap = (int)rbelow(&w->r, 50);
        SCHECK(weft_offload(job_run, j, NULL) == 0);
        free(j);
    }
    OP();
    SCHECK(weft_future_complete(sc->f, NULL) == -1 && errno == EALREADY);
    free(w);
    return NULL;
}

static void *sc_async(void *arg)
{
    rng *r = arg;
    int no = 1 + (int)rbelow(r, 3), nf = 1 + (int)rbelow(r, 3);
    int items = G.small ? 3 : 5 + (int)rbelow(r, 20);
    weft_co *o[3], *fw[3], *fc[3];
    fut_sc *fs = calloc(3, sizeof *fs);
    SCHECK(fs != NULL);
    for (int i = 0; i < no; i++)
        o[i] = spawn(r, "async.offload", async_offloader, work_new(r, NULL, items, i > 0));
    for (int i = 0; i < nf; i++) {
        SCHECK((fs[i].f = weft_future_new()) != NULL);
        fs[i].how = (int)rbelow(r, 3);
        fs[i].x = rnext(r);
        fs[i].value = mix64(fs[i].x);
        if (fs[i].how == 2)
            SCHECK(weft_future_complete(fs[i].f, (void *)(uintptr_t)fs[i].value) == 0);
        fw[i] = spawn(r, "async.fwait", fut_waiter, work_new(r, &fs[i], 0, 0));
        fc[i] = fs[i].how == 2
                    ? NULL
                    : spawn(r, "async.fcomplete", fut_completer, work_new(r, &fs[i], 0, 0));
    }
    for (int i = 1; i < no; i++)
        if (rchance(r, 30)) {
            dawdle(r);
            SCHECK(weft_cancel(o[i]) == 0);
        }
    for (int i = 0; i < no; i++)
        join(r, o[i]);
    for (int i = 0; i < nf; i++) {
        join(r, fw[i]);
        if (fc[i])
            join(r, fc[i]);
        weft_future_free(fs[i].f);
    }
    free(fs);
    OP();
    return NULL;
}

/* ---- scenario: generators that wait, driven by tasks -------------------- */

enum { GW_RECV, GW_SLEEP, GW_LOCK, GW_NESTED, GW_OFFLOAD, GW_NONE, GW_COUNT };

typedef struct gen_sc {
    weft_chan *ch;
    weft_mutex m;
    int n;
    uint8_t plan[64];
    int nrecv;
    int deferred;
    rng r;
} gen_sc;

/* Atomic: a victim's handler runs on its own worker. */
static void on_defer(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

static weft_co *co_new(rng *r, weft_fn fn, void *arg)
{
    weft_opts o = opts_for(r, "gen");
    weft_co *co = weft_co_new(fn, arg, &o);
    SCHECK(co != NULL);
    OP();
    return co;
}

/* A small generator, driven by a generator: yields 1, 2, 3 while sleeping. */
static void *gen_inner(void *arg)
{
    (void)arg;
    for (uintptr_t i = 1; i <= 3; i++) {
        SCHECK(weft_sleep(weft_now() + 1000) == 0);
        SCHECK(weft_co_yield((void *)i) == NULL);
    }
    return (void *)(uintptr_t)4;
}

static void *gen_body(void *arg)
{
    gen_sc *sc = arg;
    SCHECK(weft_co_defer(on_defer, &sc->deferred) == 0);
    for (int i = 0; i < sc->n; i++) {
        switch (sc->plan[i]) {
        case GW_RECV: {
            unsigned char buf[ELEM_MAX];
            SCHECK(weft_chan_recv(sc->ch, buf, -1) == 0);
            id_got(elem_id(buf, 24));
            break;
        }
        case GW_SLEEP:
            SCHECK(weft_sleep(weft_now() + (int64_t)rbelow(&sc->r, 20000)) == 0);
            break;
        case GW_LOCK:
            SCHECK(weft_mutex_lock(&sc->m, -1) == 0);
            SCHECK(weft_pause() == 0);
            SCHECK(weft_mutex_unlock(&sc->m) == 0);
            break;
        case GW_NESTED: {
            weft_co *g = co_new(&sc->r, gen_inner, NULL);
            void *out;
            SCHECK(weft_co_send(g, NULL, &out) == 1 && (uintptr_t)out == 1);
            SCHECK(weft_co_send(g, NULL, &out) == 1 && (uintptr_t)out == 2);
            SCHECK(weft_co_send(g, NULL, &out) == 1 && (uintptr_t)out == 3);
            SCHECK(weft_co_send(g, NULL, &out) == 0 && (uintptr_t)out == 4);
            weft_co_free(g);
            break;
        }
        case GW_OFFLOAD: {
            job *j = calloc(1, sizeof *j);
            SCHECK(j != NULL);
            j->x = (uint64_t)i;
            void *res;
            SCHECK(weft_offload(job_run, j, &res) == 0 && (uintptr_t)res == mix64(j->x));
            free(j);
            break;
        }
        default:
            break;
        }
        OP();
        void *in = weft_co_yield((void *)(uintptr_t)(2 * i + 1));
        SCHECK((uintptr_t)in == (uintptr_t)(2 * i + 2));
    }
    return (void *)(uintptr_t)0xd0e;
}

typedef struct feed {
    gen_sc *sc;
    rng r;
} feed;

static void *gen_feeder(void *arg)
{
    feed *f = arg;
    for (int i = 0; i < f->sc->nrecv; i++) {
        unsigned char buf[ELEM_MAX];
        uint32_t id = id_new(SC_GEN);
        elem_fill(buf, 24, id);
        int rc = weft_chan_send(f->sc->ch, buf, -1);
        OP();
        if (rc != 0) {
            SCHECK(errno == EPIPE); /* the driver stopped the generator early */
            break;
        }
        id_sent(id);
        dawdle(&f->r);
    }
    free(f);
    return NULL;
}

static void *gen_contender(void *arg)
{
    work *w = arg;
    gen_sc *sc = w->sc;
    for (int i = 0; i < w->n; i++) {
        SCHECK(lock(w, &sc->m) == 0);
        dawdle(&w->r);
        unlock(&sc->m);
        dawdle(&w->r);
    }
    free(w);
    return NULL;
}

static void *sc_gen(void *arg)
{
    rng *r = arg;
    gen_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    sc->r = rsplit(r);
    sc->n = 1 + (int)rbelow(r, G.small ? 8 : 64);
    for (int i = 0; i < sc->n; i++) {
        sc->plan[i] = (uint8_t)rbelow(r, GW_COUNT);
        sc->nrecv += sc->plan[i] == GW_RECV;
    }
    SCHECK((sc->ch = weft_chan_new(24, rbelow(r, 3))) != NULL);
    SCHECK(weft_mutex_init(&sc->m) == 0);
    feed *f = calloc(1, sizeof *f);
    SCHECK(f != NULL);
    f->sc = sc;
    f->r = rsplit(r);
    weft_co *ft = spawn(r, "gen.feed", gen_feeder, f);
    weft_co *ct = spawn(r, "gen.contend", gen_contender, work_new(r, sc, 10, 0));
    /* A task is not a generator. */
    SCHECK(weft_co_send(ft, NULL, NULL) == -1 && errno == EINVAL);
    weft_co *g = co_new(r, gen_body, sc);
    int stop = rchance(r, 25) ? (int)rbelow(r, (unsigned)sc->n) : sc->n;
    void *out;
    SCHECK(weft_co_send(g, NULL, &out) == (sc->n ? 1 : 0));
    OP();
    int i = 0;
    for (; i < stop; i++) {
        SCHECK((uintptr_t)out == (uintptr_t)(2 * i + 1));
        SCHECK(weft_co_status(g) == WEFT_SUSPENDED);
        int rc = weft_co_send(g, (void *)(uintptr_t)(2 * i + 2), &out);
        OP();
        SCHECK(rc == (i + 1 < sc->n ? 1 : 0));
    }
    if (stop == sc->n) {
        SCHECK((uintptr_t)out == 0xd0e && weft_co_status(g) == WEFT_DEAD);
    }
    weft_co_free(g); /* a suspended one unwinds its cleanup handlers */
    SCHECK(sc->deferred == 1);
    SCHECK(weft_chan_close(sc->ch) == 0);
    join(r, ft);
    join(r, ct);
    unsigned char buf[ELEM_MAX];
    while (weft_chan_recv(sc->ch, buf, 0) == 0)
        id_got(elem_id(buf, 24));
    SCHECK(weft_chan_free(sc->ch) == 0 && weft_mutex_destroy(&sc->m) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- scenario: cancelling tasks blocked on every kind of wait ----------- */

enum {
    CW_SLEEP,
    CW_RECV,
    CW_SEND,
    CW_SELECT,
    CW_MUTEX,
    CW_COND,
    CW_SEM,
    CW_WG,
    CW_JOIN,
    CW_FUTURE,
    CW_FD,
    CW_GROUP,
    CW_COUNT
};

typedef struct cancel_sc {
    weft_chan *chr, *chs; /* nobody sends to chr, nobody receives from chs */
    weft_mutex held, m2;
    weft_cond c;
    weft_sem sem;
    weft_wg wg;
    weft_future *f;
    int rfd, wfd;
    weft_co *sleeper;
    int deferred, sdef;
} cancel_sc;

static void *forever(void *arg)
{
    int *deferred = arg;
    SCHECK(weft_co_defer(on_defer, deferred) == 0);
    SCHECK(weft_sleep(-1) == -1 && errno == ECANCELED);
    return NULL;
}

static void *cancel_victim(void *arg)
{
    work *w = arg;
    cancel_sc *sc = w->sc;
    SCHECK(weft_co_defer(on_defer, &sc->deferred) == 0);
    unsigned char buf[ELEM_MAX];
    int rc = 0;
    switch (w->idx) {
    case CW_SLEEP:
        rc = weft_sleep(-1);
        break;
    case CW_RECV:
        rc = weft_chan_recv(sc->chr, buf, -1);
        break;
    case CW_SEND:
        elem_fill(buf, 8, 0);
        rc = weft_chan_send(sc->chs, buf, -1);
        break;
    case CW_SELECT: {
        unsigned char out[ELEM_MAX];
        elem_fill(out, 8, 0);
        weft_case c[2] = {{.ch = sc->chr, .op = WEFT_RECV, .elem = buf, .err = -1},
                          {.ch = sc->chs, .op = WEFT_SEND, .elem = out, .err = -1}};
        rc = weft_select(c, 1 + rchance(&w->r, 50), -1);
        break;
    }
    case CW_MUTEX:
        rc = weft_mutex_lock(&sc->held, -1);
        break;
    case CW_COND:
        if ((rc = weft_mutex_lock(&sc->m2, -1)) != 0)
            break;
        rc = weft_cond_wait(&sc->c, &sc->m2, -1);
        SCHECK(rc == -1);
        {
            int e = errno;
            unlock(&sc->m2);
            errno = e;
        }
        break;
    case CW_SEM:
        rc = weft_sem_wait(&sc->sem, -1);
        break;
    case CW_WG:
        rc = weft_wg_wait(&sc->wg, -1);
        break;
    case CW_JOIN:
        rc = weft_join(sc->sleeper, NULL, -1);
        break;
    case CW_FUTURE:
        rc = weft_future_wait(sc->f, NULL, -1);
        break;
    case CW_FD:
        rc = (int)weft_read(sc->rfd, buf, sizeof buf, -1);
        break;
    case CW_GROUP: {
        weft_group *g = weft_group_new();
        SCHECK(g != NULL);
        int n = 1 + (int)rbelow(&w->r, 3);
        /* Counted off this stack: the group's tasks count while it waits. */
        int *gdef = calloc(1, sizeof *gdef);
        SCHECK(gdef != NULL);
        for (int i = 0; i < n; i++) {
            weft_opts o = opts_for(&w->r, "cancel.group");
            SCHECK(weft_group_spawn(g, forever, gdef, &o) != NULL);
        }
        rc = weft_group_wait(g, -1);
        int e = errno;
        SCHECK(weft_group_close(g) == 0);
        SCHECK(*gdef == n);
        free(gdef);
        errno = e;
        break;
    }
    }
    OP();
    SCHECK(rc == -1);
    int e = errno;
    free(w);
    return (void *)(intptr_t)e;
}

static void *sc_cancel(void *arg)
{
    rng *r = arg;
    cancel_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    SCHECK((sc->chr = weft_chan_new(8, 0)) != NULL && (sc->chs = weft_chan_new(8, 0)) != NULL);
    SCHECK(weft_mutex_init(&sc->held) == 0 && weft_mutex_init(&sc->m2) == 0 &&
           weft_cond_init(&sc->c) == 0 && weft_sem_init(&sc->sem, 0) == 0 &&
           weft_wg_init(&sc->wg) == 0 && weft_wg_add(&sc->wg, 1) == 0);
    SCHECK((sc->f = weft_future_new()) != NULL);
    int p[2];
    SCHECK(pipe2(p, O_CLOEXEC) == 0);
    sc->rfd = p[0];
    sc->wfd = p[1];
    sc->sleeper = spawn(r, "cancel.sleeper", forever, &sc->sdef);
    work self = {.r = rsplit(r)};
    SCHECK(lock(&self, &sc->held) == 0);
    int n = 1 + (int)rbelow(r, 8);
    unsigned once = 0;
    weft_co *v[8];
    for (int i = 0; i < n; i++) {
        work *w = work_new(r, sc, 0, 1);
        w->idx = (int)rbelow(r, CW_COUNT);
        /* One task at a time may join a task, wait on a future or read
         * an fd; the others would fail with EDEADLK or EBUSY. */
        if (w->idx == CW_JOIN || w->idx == CW_FUTURE || w->idx == CW_FD) {
            if (once & (1u << w->idx))
                w->idx = CW_SLEEP;
            once |= 1u << w->idx;
        }
        v[i] = w->idx == CW_FD ? spawn_here(r, "cancel.victim", cancel_victim, w)
                               : spawn(r, "cancel.victim", cancel_victim, w);
        if (rchance(r, 30))
            dawdle(r);
    }
    dawdle(r);
    for (int i = 0; i < n; i++) {
        SCHECK(weft_cancel(v[i]) == 0);
        OP();
        if (rchance(r, 30))
            dawdle(r);
    }
    for (int i = 0; i < n; i++) {
        void *res = join(r, v[i]);
        SCHECK((intptr_t)res == ECANCELED);
    }
    SCHECK(sc->deferred == n);
    SCHECK(weft_cancel(sc->sleeper) == 0);
    join(r, sc->sleeper);
    SCHECK(sc->sdef == 1);
    unlock(&sc->held);
    SCHECK(weft_wg_done(&sc->wg) == 0);
    SCHECK(weft_chan_free(sc->chr) == 0 && weft_chan_free(sc->chs) == 0 &&
           weft_mutex_destroy(&sc->held) == 0 && weft_mutex_destroy(&sc->m2) == 0 &&
           weft_cond_destroy(&sc->c) == 0 && weft_sem_destroy(&sc->sem) == 0 &&
           weft_wg_destroy(&sc->wg) == 0);
    weft_future_free(sc->f);
    SCHECK(weft_close(sc->rfd) == 0 && weft_close(sc->wfd) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- scenario: sleepers, timed joins, groups that finish --------------- */

static void *misc_sleeper(void *arg)
{
    work *w = arg;
    uintptr_t sum = 0;
    for (int i = 0; i < w->n; i++) {
        int64_t dl = weft_now() + (int64_t)rbelow(&w->r, 50000);
        SCHECK(weft_sleep(dl) == 0);
        SCHECK(weft_now() >= dl);
        OP();
        SCHECK(weft_co_status(weft_co_self()) == WEFT_RUNNING);
        sum += (uintptr_t)i;
    }
    free(w);
    return (void *)sum;
}

static void *sc_misc(void *arg)
{
    rng *r = arg;
    int n = 1 + (int)rbelow(r, 8), k = G.small ? 3 : 10;
    weft_co *t[8];
    for (int i = 0; i < n; i++)
        t[i] = spawn(r, "misc.sleep", misc_sleeper, work_new(r, NULL, k, 0));
    weft_group *g = weft_group_new();
    SCHECK(g != NULL);
    int ng = (int)rbelow(r, 5);
    for (int i = 0; i < ng; i++) {
        weft_opts o = opts_for(r, "misc.group");
        SCHECK(weft_group_spawn(g, misc_sleeper, work_new(r, NULL, k, 0), &o) != NULL);
        OP();
    }
    for (int i = 0; i < n; i++)
        SCHECK((uintptr_t)join(r, t[i]) == (uintptr_t)(k * (k - 1) / 2));
    int rc;
    while ((rc = weft_group_wait(g, rdl(r))) != 0) {
        OP();
        timed_out();
    }
    SCHECK(weft_group_close(g) == 0);
    OP();
    return NULL;
}

/* ---- scenario: tasks that hop across channels and workers --------------- */

/* Chains of short-lived carrier tasks: a carrier sends one value on a
 * random channel; a receiver there (long-lived, on a random worker) takes
 * it and spawns the chain's next carrier, on a random worker or its own
 * (where an idle worker may steal it), and detaches it, cancelling some
 * first. A cancelled carrier that did not send spawns its successor. The wait
 * group counts the chains and the carriers, so that it reaches zero only
 * once every chain has ended and every carrier has returned. Each value
 * sent must arrive once; a lost wake-up leaves the run hanging or
 * reported as a deadlock. */
#define HOP_CH 6

typedef struct hop_sc {
    weft_chan *ch[HOP_CH];
    int nch;
    weft_wg wg;
} hop_sc;

typedef struct hop_elem {
    uint32_t id, check, left, pad;
} hop_elem;

static void hop_spawn(rng *r, hop_sc *sc, uint32_t left, int victim);

static void *hop_carrier(void *arg)
{
    work *w = arg;
    hop_sc *sc = w->sc;
    hop_elem e = {id_new(SC_HOP), 0, (uint32_t)w->n, 0};
    e.check = id_hash(e.id);
    int rc;
    for (;;) {
        weft_chan *c = sc->ch[rbelow(&w->r, (unsigned)sc->nch)];
        if (rchance(&w->r, 80)) {
            rc = weft_chan_send(c, &e, rdl(&w->r));
        } else {
            /* Whichever of two channels takes it first. */
            weft_chan *d = sc->ch[rbelow(&w->r, (unsigned)sc->nch)];
            weft_case cs[2] = {{.ch = c, .op = WEFT_SEND, .elem = &e, .err = -1},
                               {.ch = d, .op = WEFT_SEND, .elem = &e, .err = -1}};
            rc = weft_select(cs, c == d ? 1 : 2, rdl(&w->r));
            if (rc >= 0) {
                SCHECK(cs[rc].err == 0);
                rc = 0;
            }
        }
        OP();
        if (rc == 0 || !LATE(errno))
            break;
        timed_out();
    }
    if (rc == 0) {
        id_sent(e.id);
    } else {
        /* Cancelled before it could send: a new carrier (spawning does
         * not block) goes on with the chain, as a value of its own. */
        CANCELED_OK(w);
        hop_spawn(&w->r, sc, (uint32_t)w->n, rchance(&w->r, 3));
    }
    free(w);
    SCHECK(weft_wg_done(&sc->wg) == 0); /* the carrier */
    return NULL;
}

static void *hop_receiver(void *arg)
{
    work *w = arg;
    hop_sc *sc = w->sc;
    weft_chan *c = sc->ch[w->idx];
    for (;;) {
        hop_elem e;
        int rc = weft_chan_recv(c, &e, rdl(&w->r));
        OP();
        if (rc != 0) {
            if (errno == EPIPE)
                break;
            timed_out();
            continue;
        }
        SCHECK(e.check == id_hash(e.id));
        id_got(e.id);
        if (e.left == 0)
            SCHECK(weft_wg_done(&sc->wg) == 0); /* the chain's last hop */
        else
            hop_spawn(&w->r, sc, e.left - 1, rchance(&w->r, 3));
    }
    free(w);
    return NULL;
}

static void hop_spawn(rng *r, hop_sc *sc, uint32_t left, int victim)
{
    work *w = work_new(r, sc, (int)left, victim);
    weft_opts o = opts_for(r, "hop.carrier");
    SCHECK(weft_wg_add(&sc->wg, 1) == 0);
    weft_co *t = rchance(r, 50)
                     ? weft_spawn(hop_carrier, w, &o)
                     : weft_spawn_on((int)rbelow(r, (unsigned)weft_workers()), hop_carrier, w, &o);
    SCHECK(t != NULL);
    OP();
    __atomic_add_fetch(&G.hopped, 1, __ATOMIC_RELAXED);
    if (victim) {
        dawdle(r);
        SCHECK(weft_cancel(t) == 0);
        OP();
    }
    SCHECK(weft_detach(t) == 0);
}

static void *sc_hop(void *arg)
{
    rng *r = arg;
    hop_sc *sc = calloc(1, sizeof *sc);
    SCHECK(sc != NULL);
    SCHECK(weft_wg_init(&sc->wg) == 0);
    sc->nch = 2 + (int)rbelow(r, HOP_CH - 1);
    for (int i = 0; i < sc->nch; i++)
        SCHECK((sc->ch[i] = weft_chan_new(sizeof(hop_elem), rbelow(r, 4))) != NULL);
    /* Receivers on random workers, at least one per channel. */
    weft_co *rt[3 * HOP_CH];
    int nr = 0;
    for (int i = 0; i < sc->nch; i++)
        for (int k = 1 + (int)rbelow(r, 3); k > 0; k--) {
            work *w = work_new(r, sc, 0, 0);
            w->idx = i;
            weft_opts o = opts_for(r, "hop.receiver");
            rt[nr] = weft_spawn_on((int)rbelow(r, (unsigned)weft_workers()), hop_receiver, w, &o);
            SCHECK(rt[nr++] != NULL);
        }
    unsigned long tasks = G.hop_tasks;
    unsigned chains = tasks < 64 ? 1 : 16 + rbelow(r, 48);
    uint32_t hops = (uint32_t)(tasks / chains);
    SCHECK(weft_wg_add(&sc->wg, chains) == 0);
    for (unsigned i = 0; i < chains; i++)
        hop_spawn(r, sc, hops - 1, 0);
    while (weft_wg_wait(&sc->wg, rdl(r)) != 0) {
        OP();
        timed_out();
    }
    for (int i = 0; i < sc->nch; i++)
        SCHECK(weft_chan_close(sc->ch[i]) == 0);
    for (int i = 0; i < nr; i++)
        join(r, rt[i]);
    for (int i = 0; i < sc->nch; i++)
        SCHECK(weft_chan_free(sc->ch[i]) == 0); /* every chain ended: nothing is left */
    SCHECK(weft_wg_destroy(&sc->wg) == 0);
    OP();
    free(sc);
    return NULL;
}

/* ---- a seed -------------------------------------------------------------- */

static weft_fn const scen_fns[SC_COUNT] = {sc_chan, sc_select, sc_sync, sc_io, sc_async,
                                           sc_gen,  sc_cancel, sc_misc, sc_hop};

static void *seed_main(void *arg)
{
    rng *r = arg;
    while (__atomic_load_n(&G.ops, __ATOMIC_RELAXED) < G.target) {
        /* A batch: a few scenarios at once, in a group or joined. */
        int n = 1 + (int)rbelow(r, (unsigned)G.batch);
        /* Each scenario's numbers are read while this task waits: off
         * its stack, which may be a shared one. */
        rng *rs = calloc(4, sizeof *rs);
        SCHECK(rs != NULL);
        weft_co *t[4];
        weft_group *g = rchance(r, 30) ? weft_group_new() : NULL;
        for (int i = 0; i < n; i++) {
            int s;
            do
                s = (int)rbelow(r, SC_COUNT);
            while (!(G.mask & (1u << s)));
            rs[i] = rsplit(r);
            weft_opts o = opts_for(r, scen_names[s]);
            t[i] = g ? weft_group_spawn(g, scen_fns[s], &rs[i], &o)
                     : weft_spawn(scen_fns[s], &rs[i], &o);
            SCHECK(t[i] != NULL);
            OP();
        }
        if (g) {
            SCHECK(weft_group_wait(g, -1) == 0);
            SCHECK(weft_group_close(g) == 0);
        } else {
            for (int i = 0; i < n; i++)
                join(r, t[i]);
        }
        free(rs);
        ids_check();
    }
    return (void *)(uintptr_t)0x5eed;
}

/* Runs one seed in this process; returns 0 when it passed. */
static int run_seed(uint64_t seed)
{
    G.seed = seed;
    G.ops = 0;
    G.nid = 0;
    G.hopped = 0;
    rng r = {seed * 0x9E3779B97F4A7C15ULL + 1};
    int fds = io_count_fds();
    void *res = NULL;
    int rc = G.workers < 0 ? weft_run(seed_main, &r, &res)
                           : weft_run_threads((unsigned)G.workers, seed_main, &r, &res);
    if (rc != 0) {
        fprintf(stderr, "stress: seed %" PRIu64 ": weft_run failed: %s\n", seed, strerror(errno));
        return -1;
    }
    if ((uintptr_t)res != 0x5eed) {
        fprintf(stderr, "stress: seed %" PRIu64 ": the main task did not finish\n", seed);
        return -1;
    }
    int now = io_count_fds();
    if (now != fds) {
        fprintf(stderr, "stress: seed %" PRIu64 ": %d fds open before, %d after\n", seed, fds, now);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: stress [-s SEED] [-n SEEDS] [-o OPS] [-k auto|private|shared|mixed] "
                    "[-m MASK] [-w WORKERS] [-b BATCH] [-H TASKS] [-t SECS] [-F] [-v]\n");
    exit(2);
}

/* How the seeds run, beside G's settings. */
typedef struct plan {
    uint64_t first, nseeds;
    unsigned long long ops;
    int secs, nofork, verbose;
    const char *kind_name;
} plan;

static unsigned long long *shared_ops; /* the children add their operation counts here */
static uint64_t nfailed, failed[32];

static void print_command(const plan *p, uint64_t seed)
{
    fprintf(stderr, "stress: reproduce with: stress -s %" PRIu64 " -n 1 -o %llu -k %s -m %#x", seed,
            p->ops, p->kind_name, G.mask);
    if (G.workers >= 0)
        fprintf(stderr, " -w %d", G.workers);
    fprintf(stderr, " -b %d -H %lu\n", G.batch, G.hop_tasks);
}

static void run_plan(const plan *p)
{
    printf("stress: seeds %" PRIu64 "..%" PRIu64 ", %llu operations each, stack %s, backend %s, ",
           p->first, p->first + p->nseeds - 1, p->ops, p->kind_name, weft_backend());
    if (G.workers < 0)
        printf("weft_run");
    else
        printf("%d workers", G.workers);
    printf(", scenarios %#x, %d at once, %lu tasks per hop\n", G.mask, G.batch, G.hop_tasks);
    fflush(stdout);
    G.target = p->ops;
    for (uint64_t seed = p->first; seed < p->first + p->nseeds; seed++) {
        int ok;
        if (p->nofork) {
            ok = run_seed(seed) == 0;
            *shared_ops += G.ops;
        } else {
            fflush(NULL);
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                struct rlimit no_core = {0, 0};
                setrlimit(RLIMIT_CORE, &no_core);
                alarm((unsigned)p->secs);
                int rc = run_seed(seed);
                if (rc == 0)
                    __atomic_add_fetch(shared_ops, G.ops, __ATOMIC_RELAXED);
                if (p->verbose && G.hopped)
                    printf("stress: seed %" PRIu64 ": %llu hop tasks\n", seed, G.hopped);
                free(G.sent);
                free(G.got);
                free(G.owner);
                exit(rc == 0 ? 0 : 1);
            }
            int status;
            while (waitpid(pid, &status, 0) < 0)
                CHECK(errno == EINTR);
            ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!ok) {
                if (WIFSIGNALED(status))
                    fprintf(stderr, "stress: seed %" PRIu64 ": killed by signal %d%s\n", seed,
                            WTERMSIG(status),
                            WTERMSIG(status) == SIGALRM ? " (hung: the alarm rang)" : "");
                else
                    fprintf(stderr, "stress: seed %" PRIu64 ": exit %d\n", seed,
                            WEXITSTATUS(status));
            }
        }
        if (!ok) {
            if (nfailed < sizeof failed / sizeof failed[0])
                failed[nfailed] = seed;
            nfailed++;
            print_command(p, seed);
        } else if (p->verbose) {
            printf("stress: seed %" PRIu64 " passed\n", seed);
        }
    }
}

int main(int argc, char **argv)
{
    plan p = {.first = 1, .nseeds = 20, .ops = 20000, .secs = 60, .kind_name = "auto"};
    int ci = argc == 1, hop_set = 0;
    G.kind = K_AUTO;
    G.mask = (1u << SC_COUNT) - 1;
    G.workers = -1;
    G.batch = 4;
    int opt;
    while ((opt = getopt(argc, argv, "s:n:o:k:m:w:b:H:t:Fv")) != -1) {
        switch (opt) {
        case 's':
            p.first = strtoull(optarg, NULL, 0);
            break;
        case 'n':
            p.nseeds = strtoull(optarg, NULL, 0);
            break;
        case 'o':
            p.ops = strtoull(optarg, NULL, 0);
            break;
        case 'k':
            p.kind_name = optarg;
            if (strcmp(optarg, "auto") == 0)
                G.kind = K_AUTO;
            else if (strcmp(optarg, "private") == 0)
                G.kind = K_PRIVATE;
            else if (strcmp(optarg, "shared") == 0)
                G.kind = K_SHARED;
            else if (strcmp(optarg, "mixed") == 0)
                G.kind = K_MIXED;
            else
                usage();
            break;
        case 'm':
            G.mask = (unsigned)strtoul(optarg, NULL, 0) & ((1u << SC_COUNT) - 1);
            if (!G.mask)
                usage();
            break;
        case 'w':
            G.workers = atoi(optarg);
            if (G.workers < 0 || G.workers > WEFT_WORKERS_MAX)
                usage();
            break;
        case 'b':
            G.batch = atoi(optarg);
            if (G.batch < 1)
                usage();
            break;
        case 'H':
            G.hop_tasks = strtoul(optarg, NULL, 0);
            if (G.hop_tasks < 1 || G.hop_tasks > UINT32_MAX)
                usage();
            hop_set = 1;
            break;
        case 't':
            p.secs = atoi(optarg);
            break;
        case 'F':
            p.nofork = 1;
            break;
        case 'v':
            p.verbose = 1;
            break;
        default:
            usage();
        }
    }
    G.small = io_slow_tool();
    if (!hop_set)
        G.hop_tasks = G.small ? 300 : 3000;
    shared_ops =
        mmap(NULL, sizeof *shared_ops, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_ops != MAP_FAILED);
    *shared_ops = 0;
    if (ci) {
        io_test_init();
        /* A few seconds natively; a handful of small seeds under a tool. */
        p.nseeds = G.small ? 3 : 12;
        p.ops = G.small ? 3000 : 20000;
        p.secs = G.small ? 250 : 60;
#ifdef WEFT_STRESS_WORKERS
        /* test_stress_mt: the seeds on more workers than CPUs, then one
         * hop scenario of a million tasks (fewer under a tool). */
        G.workers = WEFT_STRESS_WORKERS;
        p.nseeds = G.small ? 3 : 8;
        run_plan(&p);
        G.mask = 1u << SC_HOP;
        G.batch = 1;
        G.hop_tasks = G.small ? 20000 : 1000000;
        p.first = 1;
        p.nseeds = 1;
        p.ops = 1;
        p.secs = 250;
#endif
    }
    run_plan(&p);
    printf("stress: %llu operations; %" PRIu64 " seeds failed", *shared_ops, nfailed);
    for (uint64_t i = 0; i < nfailed && i < sizeof failed / sizeof failed[0]; i++)
        printf("%s%" PRIu64, i ? " " : ": ", failed[i]);
    printf("\n");
    munmap(shared_ops, sizeof *shared_ops);
    free(G.sent);
    free(G.got);
    free(G.owner);
    return nfailed ? 1 : 0;
}
