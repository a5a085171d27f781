/* The watchdog: a thread that reports a task that keeps its thread longer
 * than a limit (a plain sleep(3), a blocking system call, a CPU loop), as
 * asyncio's debug mode does. It looks at every running scheduler a few
 * times per limit: when the marks of progress that the switch path
 * publishes anyway (sched.h: runs, budget, current) have not moved for the
 * limit while a task is current, it sends the stuck thread SIGURG once;
 * the handler, on that thread, prints the task's id and name, how long it
 * has run, and a backtrace(3) of where it is. Nothing is added to the
 * switch path: when the watchdog is off, no thread looks. */
#include "sched/sched.h"

#include "base/sys.h"

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t wd_call = PTHREAD_MUTEX_INITIALIZER; /* turning on, off */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;   /* what it looks at */
static pthread_cond_t wd_cv;
static weft__sched *wd_list;
static int64_t wd_limit;        /* ns; 0: off */
static pthread_t wd_thread;     /* while wd_running */
static int wd_running;          /* the thread exists (not yet joined) */
static int wd_installed;        /* the handler is */
static struct sigaction wd_old; /* SIGURG's action before ours */

static void report(int sig, siginfo_t *si, void *uc)
{
    weft__sched *s = weft__sched_cur;
    if (si->si_code != SI_TKILL || si->si_pid != getpid()) {
        /* Not ours (e.g. out-of-band data on a socket with F_SETOWN). */
        if (wd_old.sa_flags & SA_SIGINFO)
            wd_old.sa_sigaction(sig, si, uc);
        else if (wd_old.sa_handler != SIG_IGN && wd_old.sa_handler != SIG_DFL)
            wd_old.sa_handler(sig);
        return;
    }
    weft__task *t = s ? s->current : NULL;
    if (!t)
        return; /* it moved on meanwhile */
    int saved = errno;
    char line[256];
    const char *name = t->co->name ? t->co->name : "";
    int64_t ran = __atomic_load_n(&s->wd.ran, __ATOMIC_RELAXED);
    int n = snprintf(line, sizeof line,
                     "weft: task #%u '%s' has run for %lld ms without giving the thread back; "
                     "where it is:\n",
                     (unsigned)t->co->id, name, (long long)(ran / 1000000));
    if (n > 0 && weft__sys_write(2, line, (size_t)n) < 0)
        n = 0;
    void *frames[32];
    backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    errno = saved;
}

/* Under wd_mu: looks at every scheduler once. */
static void look(int64_t now)
{
    for (weft__sched *s = wd_list; s; s = s->wd.next) {
        uint64_t runs = __atomic_load_n(&s->runs, __ATOMIC_RELAXED);
        unsigned budget = __atomic_load_n(&s->budget, __ATOMIC_RELAXED);
        const void *cur = __atomic_load_n(&s->current, __ATOMIC_RELAXED);
        struct weft__wd *w = &s->wd;
        if (!cur || runs != w->runs || budget != w->budget || cur != w->current) {
            w->runs = runs;
            w->budget = budget;
            w->current = cur;
            w->since = now;
            w->reported = 0;
            continue;
        }
        if (!w->reported && now - w->since >= wd_limit) {
            w->reported = 1;
            __atomic_store_n(&w->ran, now - w->since, __ATOMIC_RELAXED);
            pthread_kill(w->thread, SIGURG);
        }
    }
}

static void *watch(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&wd_mu);
    while (wd_limit > 0) {
        int64_t now = weft__clock(CLOCK_MONOTONIC);
        look(now);
        /* Four looks per limit: a report comes within 1.25 limits. */
        struct timespec ts = weft__timespec(now + wd_limit / 4);
        pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
    }
    pthread_mutex_unlock(&wd_mu);
    return NULL;
}

static void cv_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void at_exit(void)
{
    weft_watchdog(0); /* joins the thread, so that nothing is left */
}

/* Under wd_call and wd_mu: the handler, once, and the thread. */
static int start(void)
{
    if (!wd_installed) {
        /* backtrace's first call may load the unwinder (malloc, dlopen):
         * not in a signal handler. */
        void *f[2];
        backtrace(f, 2);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = report;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGURG, &sa, &wd_old) != 0)
            return -1;
        cv_init();
        atexit(at_exit);
        wd_installed = 1;
    }
    if (wd_running)
        return 0;
    if (pthread_create(&wd_thread, NULL, watch, NULL) != 0) {
        errno = EAGAIN;
        return -1;
    }
    wd_running = 1;
    return 0;
}

int weft_watchdog(long ms)
{
    if (ms < 0 || ms > INT64_MAX / 1000000) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&wd_call);
    pthread_mutex_lock(&wd_mu);
    int64_t was = wd_limit;
    wd_limit = (int64_t)ms * 1000000;
    int rc = ms ? start() : 0;
    if (rc != 0)
        wd_limit = was;
    if (wd_installed)
        pthread_cond_broadcast(&wd_cv); /* the new limit, or stop */
    pthread_mutex_unlock(&wd_mu);
    if (!ms && wd_running) {
        pthread_join(wd_thread, NULL);
        wd_running = 0;
    }
    pthread_mutex_unlock(&wd_call);
    return rc;
}

/* WEFT_DEBUG=slow:MS (among comma-separated words), read once. */
static void from_env(void)
{
    const char *e = getenv("WEFT_DEBUG");
    while (e && *e) {
        if (strncmp(e, "slow:", 5) == 0) {
            char *end;
            long ms = strtol(e + 5, &end, 10);
            if (end != e + 5 && (*end == ',' || !*end) && ms > 0 && weft_watchdog(ms) != 0)
                fprintf(stderr, "weft: WEFT_DEBUG=slow:%ld: no watchdog (%s)\n", ms,
                        strerror(errno));
        }
        e = strchr(e, ',');
        if (e)
            e++;
    }
}

/* fork: the lock is taken across it; in the child only the forking
 * thread's scheduler is left, and the watchdog's thread is gone (made
 * again by the next weft_run while the watchdog is on). */
static void fork_prepare(void)
{
    pthread_mutex_lock(&wd_call);
    pthread_mutex_lock(&wd_mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&wd_mu);
    pthread_mutex_unlock(&wd_call);
}

static void fork_child(void)
{
    weft__sched *s = weft__sched_cur;
    wd_list = s;
    if (s) {
        s->wd.prev = s->wd.next = NULL;
        s->wd.thread = pthread_self();
    }
    wd_running = 0;
    if (wd_installed)
        cv_init(); /* the parent's waiter is not here */
    pthread_mutex_unlock(&wd_mu);
    pthread_mutex_unlock(&wd_call);
}

static void first_use(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    from_env();
}

void weft__wd_enter(weft__sched *s)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, first_use);
    pthread_mutex_lock(&wd_call);
    pthread_mutex_lock(&wd_mu);
    if (wd_limit > 0 && !wd_running && start() != 0)
        wd_limit = 0; /* a child of fork that cannot start it: off */
    s->wd.thread = pthread_self();
    s->wd.prev = NULL;
    s->wd.next = wd_list;
    if (wd_list)
        wd_list->wd.prev = s;
    wd_list = s;
    pthread_mutex_unlock(&wd_mu);
    pthread_mutex_unlock(&wd_call);
}

void weft__wd_leave(weft__sched *s)
{
    pthread_mutex_lock(&wd_mu);
    if (s->wd.prev)
        s->wd.prev->wd.next = s->wd.next;
    else
        wd_list = s->wd.next;
    if (s->wd.next)
        s->wd.next->wd.prev = s->wd.prev;
    pthread_mutex_unlock(&wd_mu);
}
