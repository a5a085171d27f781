/* Time as int64_t nanoseconds, the unit of every deadline, and the
 * conversions to and from the kernel's timespec. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t weft__ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static inline struct timespec weft__timespec(int64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
}

/* The time on clock c. */
static inline int64_t weft__clock(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return weft__ns(&ts);
}

/* Nanoseconds from now (CLOCK_MONOTONIC) until deadline, 0 once past. */
static inline int64_t weft__until(int64_t deadline)
{
    int64_t rel = deadline - weft__clock(CLOCK_MONOTONIC);
    return rel < 0 ? 0 : rel;
}

#endif
