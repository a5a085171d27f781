/* What the thread does when no task is ready: sleep until the next
 * deadline. The one place the I/O layer will replace with its poller. */
#include "sched/sched.h"

#include <errno.h>
#include <time.h>

void weft__idle(weft__sched *s, int64_t deadline)
{
    (void)s;
    if (deadline < 0)
        return; /* nothing outside can wake us before the I/O layer */
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}
