/* sleep, usleep, nanosleep, clock_nanosleep: weft_sleep in a task. A
 * sleep of zero lets the other ready tasks run (weft_pause). A sleep that
 * the task's cancellation ends fails with ECANCELED (sleep returns the
 * seconds left), so that the task unwinds. */
#include "hook/hook.h"

#include <time.h>
#include <unistd.h>

NEXT_DECL(sleep);
NEXT_DECL(usleep);
NEXT_DECL(nanosleep);
NEXT_DECL(clock_nanosleep);

/* Sleeps the task until deadline; 0, or -1 with errno ECANCELED (or
 * ENOMEM for the timer). */
static int sleep_until(int64_t deadline)
{
    if (deadline <= weft_now())
        return weft_pause();
    return weft_sleep(deadline);
}

static void left(struct timespec *rem, int64_t deadline)
{
    if (!rem)
        return;
    int64_t l = deadline - weft_now();
    if (l < 0)
        l = 0;
    rem->tv_sec = (time_t)(l / 1000000000);
    rem->tv_nsec = (long)(l % 1000000000);
}

WEFT_API unsigned sleep(unsigned s)
{
    if (!weft_task_self())
        return NEXT(sleep)(s);
    int64_t dl = weft_now() + (int64_t)s * 1000000000;
    if (sleep_until(dl) == 0)
        return 0;
    int64_t l = dl - weft_now();
    return l > 0 ? (unsigned)((l + 999999999) / 1000000000) : 0;
}

WEFT_API int usleep(useconds_t us)
{
    if (!weft_task_self())
        return NEXT(usleep)(us);
    return sleep_until(weft_now() + (int64_t)us * 1000);
}

static int valid(const struct timespec *ts)
{
    return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000 && ts->tv_sec >= 0;
}

WEFT_API int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!weft_task_self() || !req)
        return NEXT(nanosleep)(req, rem); /* EFAULT for NULL */
    if (!valid(req)) {
        HERRNO = EINVAL;
        return -1;
    }
    int64_t dl = weft_now() + (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
    if (sleep_until(dl) == 0)
        return 0;
    left(rem, dl);
    return -1;
}

/* Returns an error number, as clock_nanosleep does, and leaves errno. */
WEFT_API int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                             struct timespec *rem)
{
    /* The CPU-time clocks do not run while the thread sleeps in the
     * poller: libc's own for them (and for bad clocks, which it refuses). */
    if (!weft_task_self() || !req ||
        (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME &&
         clock != CLOCK_TAI))
        return NEXT(clock_nanosleep)(clock, flags, req, rem);
    if (!valid(req))
        return EINVAL;
    int64_t at = (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
    int64_t now = weft_now(), dl;
    if (flags & TIMER_ABSTIME) {
        struct timespec c;
        clock_gettime(clock, &c);
        dl = now + (at - ((int64_t)c.tv_sec * 1000000000 + c.tv_nsec));
    } else {
        dl = now + at;
    }
    int e = HERRNO;
    int rc = sleep_until(dl) == 0 ? 0 : HERRNO;
    if (rc && !(flags & TIMER_ABSTIME))
        left(rem, dl);
    HERRNO = e;
    return rc;
}
