/* The task list, on demand (weft_dump), on a deadlock, and on SIGQUIT for
 * programs that opt in. Lines are formatted into a buffer and written with
 * write(2), so that the signal handler does not touch stdio's locks. */
#include "sched/sched.h"

#include "base/sys.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *state_name(const weft__task *t)
{
    switch (t->state) {
    case T_READY:
        return "ready";
    case T_RUNNING:
        return "running";
    case T_WAITING:
        return "waiting";
    default:
        return "done";
    }
}

const char *const weft__reason_names[WR__COUNT] = {
    [WR_SLEEP] = "sleep",         [WR_JOIN] = "join",
    [WR_CHAN_SEND] = "chan send", [WR_CHAN_RECV] = "chan recv",
    [WR_SELECT] = "select",       [WR_MUTEX] = "mutex",
    [WR_COND] = "cond",           [WR_COND_RELOCK] = "mutex (cond relock)",
    [WR_WG] = "wait group",       [WR_SEM] = "semaphore",
    [WR_GROUP] = "group",         [WR_GROUP_CLOSE] = "group close",
    [WR_FD_READ] = "fd read",     [WR_FD_WRITE] = "fd write",
    [WR_FD] = "fd read/write",    [WR_OFFLOAD] = "offload",
    [WR_FUTURE] = "future",       [WR_EVENTS] = "events",
};

static void put(int fd, const char *buf, int n)
{
    if (n <= 0)
        return;
    size_t len = (size_t)n;
    while (len) {
        ssize_t w = weft__sys_write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

void weft__dump_fd(weft__sched *s, int fd)
{
    int saved = errno;
    char line[256];
    int64_t now = weft__clock(CLOCK_MONOTONIC_COARSE);
    size_t n = 0;
    for (weft__task *t = s->all; t; t = t->next_all)
        n += t->state != T_DONE;
    put(fd, line, snprintf(line, sizeof line, "weft: %zu tasks\n", n));
    /* Oldest first: tasks are linked newest first. */
    weft__task *last = s->all;
    while (last && last->next_all)
        last = last->next_all;
    for (weft__task *t = last; t; t = t->prev_all) {
        if (t->state == T_DONE)
            continue;
        const weft_co *co = t->co;
        int k = snprintf(line, sizeof line, "weft:   #%u '%s' %s", (unsigned)co->id,
                         weft_co_name(co), state_name(t));
        if (t->state == T_WAITING && k > 0 && (size_t)k < sizeof line) {
            int64_t ms = (now - t->since) / 1000000;
            const char *what = weft__reason_names[t->reason];
            if (t->reason == WR_JOIN)
                k += snprintf(line + k, sizeof line - (size_t)k, " on join #%u",
                              (unsigned)((const weft_co *)t->obj)->id);
            else if (t->reason == WR_SELECT)
                k += snprintf(line + k, sizeof line - (size_t)k, " on select of %zu cases",
                              t->nwaiters);
            else if (t->reason >= WR_FD_READ && t->reason <= WR_FD)
                k += snprintf(line + k, sizeof line - (size_t)k, " on %s %d", what,
                              (int)(intptr_t)t->obj);
            else if (t->obj)
                k += snprintf(line + k, sizeof line - (size_t)k, " on %s %p", what, t->obj);
            else
                k += snprintf(line + k, sizeof line - (size_t)k, " on %s", what);
            if (k > 0 && (size_t)k < sizeof line)
                k += snprintf(line + k, sizeof line - (size_t)k, " for %lld ms", (long long)ms);
        }
        if (t->cancelled && k > 0 && (size_t)k < sizeof line)
            k += snprintf(line + k, sizeof line - (size_t)k, " (cancelled)");
        if (k > 0 && (size_t)k >= sizeof line - 1)
            k = (int)sizeof line - 2;
        if (k > 0)
            line[k++] = '\n';
        put(fd, line, k);
    }
    errno = saved;
}

int weft_dump(void)
{
    weft__sched *s = weft__sched_cur;
    if (!s) {
        errno = EPERM;
        return -1;
    }
    if (s->mt)
        return weft__dump_all(s);
    fflush(stderr);
    weft__dump_fd(s, 2);
    return 0;
}

static void on_sigquit(int sig)
{
    (void)sig;
    weft__sched *s = weft__sched_cur;
    if (s)
        weft__dump_fd(s, 2);
}

int weft_dump_on_sigquit(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_sigquit : SIG_DFL;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGQUIT, &sa, NULL);
}
