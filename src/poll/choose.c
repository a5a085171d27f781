/* Choosing a poller's backend, and saying why it is the one in use
 * (weft_backend_reason). The default is epoll: in bench/io/run.sh it
 * took less server CPU per request than io_uring's poll mode, in the same
 * runs (include/weft.h, before weft_backend, has the figures);
 * WEFT_BACKEND=io_uring asks for io_uring, which falls back to epoll when
 * weft was built without liburing or the kernel refuses a ring. */
#include "poll/poll.h"

#include "base/tools.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 1: io_uring when nothing is asked for; 0: epoll. */
#define PREFER_URING 0

/* "epoll", "io_uring", or NULL: nothing (or something else) asked for. */
static const char *forced(void)
{
    const char *b = getenv("WEFT_BACKEND");
    if (b && (strcmp(b, "epoll") == 0 || strcmp(b, "io_uring") == 0))
        return b;
    return NULL;
}

const char *weft__poll_refused(int e)
{
    switch (e) {
    case EPERM:
        return "epoll: the kernel refused io_uring (EPERM: disabled by the "
               "kernel.io_uring_disabled sysctl or not permitted here)";
    case ENOSYS:
        return "epoll: the kernel refused io_uring (ENOSYS: a kernel without io_uring, or a "
               "seccomp filter that blocks it)";
    case ENOMEM:
        return "epoll: the kernel refused io_uring (ENOMEM: no memory for the ring, or "
               "RLIMIT_MEMLOCK too low)";
    case EMFILE:
    case ENFILE:
        return "epoll: the kernel refused io_uring (EMFILE or ENFILE: no fd for the ring)";
    case EINVAL:
        return "epoll: the kernel refused io_uring (EINVAL: no ring setup that it supports)";
    default:
        return "epoll: the kernel refused io_uring (io_uring_queue_init failed)";
    }
}

/* io_uring on p if it is wanted (asked for, or the default) and can
 * start: 0, or -1 for epoll; *why says which and why. */
static int try_uring(weft__poller *p, const char **why)
{
    const char *f = forced();
    /* Under valgrind, only when asked for: valgrind keeps its one lock
     * through io_uring_enter, so a wait for completions stops the threads
     * (workers, callbacks) that would end it. */
    int want = f ? strcmp(f, "io_uring") == 0 : PREFER_URING && !weft__tools_valgrind;
    if (!want) {
        *why = f ? "epoll: WEFT_BACKEND=epoll" : "epoll: the default";
        return -1;
    }
#ifdef WEFT_HAVE_URING
    p->ops = &weft__poll_uring;
    if (weft__poll_uring.init(p) == 0) {
        *why = f ? "io_uring: WEFT_BACKEND=io_uring" : "io_uring: the default";
        return 0;
    }
    p->ops = NULL;
    *why = weft__poll_refused(errno);
#else
    (void)p;
    *why = "epoll: io_uring was asked for, but weft was built without liburing";
#endif
    return -1;
}

int weft__poll_pick(weft__poller *p)
{
    if (try_uring(p, &p->why) == 0)
        return 0;
    p->ops = &weft__poll_epoll;
    if (weft__poll_epoll.init(p) == 0)
        return 0;
    p->ops = NULL;
    return -1;
}

/* What a new poller of this process would use, probed once. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static const char *probe_name, *probe_why;

static void probe_default(void)
{
    weft__poller probe;
    memset(&probe, 0, sizeof probe);
    probe.evfd = -1;
    probe.epfd = -1;
    probe_name = weft__poll_epoll.name;
    if (try_uring(&probe, &probe_why) == 0) {
        probe_name = probe.ops->name;
        probe.ops->fini(&probe);
    }
}

const char *weft__poll_default(void)
{
    pthread_once(&probe_once, probe_default);
    return probe_name;
}

const char *weft__poll_default_why(void)
{
    pthread_once(&probe_once, probe_default);
    return probe_why;
}
