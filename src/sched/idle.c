/* What the thread does when no task is ready: sleep in the poller until an
 * fd is ready, another thread posts a wake-up, or the next deadline. Before
 * anything has used the io layer there is no poller, and a plain sleep
 * until the deadline serves. The poller hands waiters back through
 * wake_one, the only way up from the poll layer. */
#include "sched/sched.h"

#include <errno.h>
#include <time.h>

static void wake_one(void *ctx, void *waiter)
{
    (void)ctx;
    weft__wake(waiter, 0, WEFT__FIRED_EXT);
}

weft__poller *weft__idle_poller(weft__sched *s)
{
    if (!s->poller)
        s->poller = weft__poll_new(wake_one, s);
    return s->poller;
}

void weft__idle_fini(weft__sched *s)
{
    weft__poll_free(s->poller);
    s->poller = NULL;
}

void weft__idle(weft__sched *s, int64_t deadline)
{
    if (s->poller) {
        weft__poll_wait(s->poller, deadline);
        return;
    }
    if (deadline <= 0)
        return; /* without a poller nothing outside can wake us */
    struct timespec ts = weft__timespec(deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}
