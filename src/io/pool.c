/* The worker pool, the only hidden threads of weft: started lazily by the
 * first weft_offload, at most WEFT_WORKERS (default 4) threads that take
 * jobs from one locked queue. A job is the pool's, never on the stack of
 * the task that waits for it (a shared-stack task's frames move while it
 * waits, and the worker and the poller write into the job); the worker
 * runs it and posts the task's wake-up to that task's poller. At exit the
 * idle workers are joined and the busy ones left to end with the process
 * (stop_pool); a child of fork starts its own (after_fork_child). */
#include "io/io.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    struct job *next; /* in the queue, or the free list */
    struct job *prev_mine, *next_mine;
    weft_fn fn;
    void *arg;
    void *result;
    weft__poller *p;
    weft__post post;
    int forked; /* in flight at fork: the parent's, cancelled here */
} job;

/* The jobs that tasks of this thread wait for, for fork: only this
 * thread's tasks go on in a child. Touched by this thread only. */
static __thread job *mine;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static job *qhead, *qtail;
/* Records of finished jobs, for the next ones: an offload allocates only
 * when more calls are in flight than ever before (up to FREE_MAX kept). */
static job *freelist;
static int nfree;
#define FREE_MAX 256
static struct {
    pthread_t id;
    int busy; /* in a call */
} workers[64];
static int nthreads, nidle, maxw;
static int nqueued; /* jobs submitted and not yet taken */
/* Bumped at exit: the workers of an older epoch leave when they next look
 * (their slots may be reused by a later start). */
static unsigned epoch;

static void *worker(void *arg)
{
    int me = (int)((uintptr_t)arg & 63);
    unsigned ep = (unsigned)((uintptr_t)arg >> 6);
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!qhead && ep == epoch) {
            nidle++;
            pthread_cond_wait(&cv, &mu);
            nidle--;
        }
        if (ep != epoch)
            break;
        job *j = qhead;
        qhead = j->next;
        nqueued--;
        if (!qhead)
            qtail = NULL;
        workers[me].busy = 1;
        pthread_mutex_unlock(&mu);
        j->result = j->fn(j->arg);
        /* The job may be gone once the poller's lock is released in here
         * (its task saw the post delivered and returned). */
        weft__poll_post(j->p, &j->post);
        pthread_mutex_lock(&mu);
        if (ep == epoch)
            workers[me].busy = 0;
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* At exit: joins the idle workers, so that leak checkers see no thread
 * left behind, and detaches those still in a call, which may block for
 * ever (a read nobody answers): exit() must not wait for them, and they
 * end with the process. */
static void stop_pool(void)
{
    pthread_t idle[64];
    int n = 0;
    pthread_mutex_lock(&mu);
    epoch++;
    pthread_cond_broadcast(&cv);
    for (int i = 0; i < nthreads; i++) {
        if (workers[i].busy)
            pthread_detach(workers[i].id);
        else
            idle[n++] = workers[i].id;
    }
    nthreads = 0;
    job *f = freelist;
    freelist = NULL;
    nfree = 0;
    pthread_mutex_unlock(&mu);
    while (f) {
        job *n = f->next;
        free(f);
        f = n;
    }
    /* An idle worker of the old epoch takes no job: each leaves at once. */
    for (int i = 0; i < n; i++)
        pthread_join(idle[i], NULL);
}

/* Held across fork, so that the child's copy of the queue and free list
 * is whole. */
static void before_fork(void)
{
    pthread_mutex_lock(&mu);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&mu);
}

/* A child of fork has none of the workers: it starts its own. A job in
 * flight at fork (queued or running) is the parent's, which alone gets
 * its result; its task's copy here is woken with ECANCELED, rather than
 * running fn a second time. The poller's fork handler, registered before
 * this one (a poller is made before the first job), has already given the
 * thread's poller an eventfd of its own to post to. */
static void after_fork_child(void)
{
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&cv, NULL);
    qhead = qtail = NULL;
    nthreads = nidle = nqueued = 0;
    for (job *j = mine; j; j = j->next_mine)
        if (!j->post.posted) {
            j->forked = 1;
            weft__poll_post(j->p, &j->post);
        }
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static void register_handlers(void)
{
    atexit(stop_pool);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static int max_workers(void)
{
    if (!maxw) {
        const char *e = getenv("WEFT_WORKERS");
        int n = e ? atoi(e) : 4;
        maxw = n < 1 ? 1 : n > 64 ? 64 : n;
    }
    return maxw;
}

/* Queues a job for fn(arg) that posts t's wake-up to p, starting a worker
 * when the queued jobs outnumber the idle workers: an idle worker that has
 * been signalled but not yet woken takes one job, not the burst behind
 * it. NULL with errno EAGAIN when there is no worker and none can start,
 * ENOMEM when there is no memory for the job. */
static job *submit(weft_fn fn, void *arg, weft__poller *p, weft__task *t)
{
    /* Outside the lock: a fork in progress holds glibc's list of fork
     * handlers while it runs before_fork, which takes the lock. */
    pthread_once(&handlers_once, register_handlers);
    pthread_mutex_lock(&mu);
    job *j = freelist;
    if (j) {
        freelist = j->next;
        nfree--;
    } else if (!(j = malloc(sizeof *j))) {
        pthread_mutex_unlock(&mu);
        errno = ENOMEM;
        return NULL;
    }
    memset(j, 0, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->p = p;
    j->post.waiter = t;
    if (nqueued + 1 > nidle && nthreads < max_workers()) {
        /* Workers block every signal: signals are the program's business. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        void *warg = (void *)((uintptr_t)epoch << 6 | (uintptr_t)nthreads);
        int rc = pthread_create(&workers[nthreads].id, NULL, worker, warg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc == 0)
            workers[nthreads++].busy = 0;
        else if (nthreads == 0) {
            j->next = freelist;
            freelist = j;
            nfree++;
            pthread_mutex_unlock(&mu);
            errno = EAGAIN;
            return NULL;
        }
    }
    if (qtail)
        qtail->next = j;
    else
        qhead = j;
    qtail = j;
    nqueued++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return j;
}

/* The task is done with j. */
static void release(job *j)
{
    pthread_mutex_lock(&mu);
    if (nfree < FREE_MAX) {
        j->next = freelist;
        freelist = j;
        nfree++;
        j = NULL;
    }
    pthread_mutex_unlock(&mu);
    free(j);
}

int weft__offload(weft__task *t, weft_fn fn, void *arg, void **result)
{
    weft__sched *s = weft__sched_cur;
    weft__poller *p = s->poller ? s->poller : weft__idle_poller(s);
    if (!p)
        return -1;
    job *j = submit(fn, arg, p, t);
    if (!j)
        return -1;
    j->prev_mine = NULL;
    j->next_mine = mine;
    if (mine)
        mine->prev_mine = j;
    mine = j;
    /* fn may use arg until it returns: wait for it whatever happens, with
     * the frames of a shared-stack task in place. */
    /* Done when the worker's post is in and delivered, both seen under the
     * poller's lock, the last the worker takes holding the job: a flag set
     * before the post would let this release the job while the worker
     * still posts into it. */
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int done = j->post.posted && !j->post.queued;
        pthread_mutex_unlock(&p->mu);
        if (done)
            break;
        weft__park(t, WR_OFFLOAD, NULL, -1, PARK_EXTERNAL | PARK_NOCANCEL | PARK_PIN);
    }
    if (j->prev_mine)
        j->prev_mine->next_mine = j->next_mine;
    else
        mine = j->next_mine;
    if (j->next_mine)
        j->next_mine->prev_mine = j->prev_mine;
    int forked = j->forked;
    if (result && !forked)
        *result = j->result;
    release(j);
    if (forked) {
        errno = ECANCELED;
        return -1;
    }
    return 0;
}

int weft_offload(weft_fn fn, void *arg, void **result)
{
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    weft__sched *s = weft__sched_cur;
    if (!s || !s->current) {
        /* No task to park: the calling thread is the worker. */
        void *r = fn(arg);
        if (result)
            *result = r;
        return 0;
    }
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    return weft__offload(t, fn, arg, result);
}
