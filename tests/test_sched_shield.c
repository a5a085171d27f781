/* Shields, deadline helpers and the deadline-0 rule, and channels that
 * refuse to drop elements: a cancelled task cleans up inside a shield; a
 * shield that exceeds its deadline gets ETIMEDOUT inside; shields nest; a
 * cancellation that comes during a shield is seen after it; deadline 0 is
 * EAGAIN and a passed deadline ETIMEDOUT; weft_chan_free says ENOTEMPTY
 * and weft_chan_drain empties. */
#include <signal.h>
#include <weft.h>

#include "check.h"

/* ---- deadline helpers ---------------------------------------------------- */

static void helpers(void)
{
    CHECK_INT(WEFT_US(3), 3000);
    CHECK_INT(WEFT_MS(3), 3000000);
    CHECK_INT(WEFT_S(3), 3000000000LL);
    /* A negative duration is a moment ago, never "no deadline". */
    CHECK(weft_after(-5) >= 1 && weft_after(-5) <= weft_now());
    CHECK_INT(weft_after(INT64_MIN), 1);
    CHECK_INT(weft_after(INT64_MAX), INT64_MAX);
    int64_t now = weft_now(), d = weft_after(WEFT_S(10));
    CHECK(d >= now + WEFT_S(10));
    CHECK(weft_after(0) <= weft_now());
    CHECK_INT(weft_expired(0), 1);
    CHECK_INT(weft_expired(-1), 0);
    CHECK_INT(weft_expired(weft_after(0)), 1);
    CHECK_INT(weft_expired(d), 0);
}

/* ---- deadline 0 is EAGAIN, a passed one ETIMEDOUT ---------------------- */

static void *nothing(void *arg)
{
    return arg;
}

static void deadline_zero(void)
{
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    int v = 0;
    CHECK_ERR(weft_chan_recv(ch, &v, 0), -1, EAGAIN);
    CHECK_ERR(weft_chan_recv(ch, &v, weft_after(0)), -1, ETIMEDOUT);
    CHECK_ERR(weft_chan_send(ch, &v, weft_after(WEFT_MS(2))), -1, ETIMEDOUT);
    weft_mutex mu;
    weft_mutex_init(&mu);
    weft_sem sem;
    weft_sem_init(&sem, 0);
    CHECK_ERR(weft_sem_wait(&sem, 0), -1, EAGAIN);
    CHECK_ERR(weft_sem_wait(&sem, weft_after(0)), -1, ETIMEDOUT);
    weft_co *t = weft_spawn(nothing, NULL, NULL);
    CHECK_ERR(weft_join(t, NULL, 0), -1, EAGAIN);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    int p[2];
    CHECK_INT(pipe(p), 0);
    char c;
    CHECK_ERR(weft_read(p[0], &c, 1, 0), -1, EAGAIN);
    CHECK_ERR(weft_read(p[0], &c, 1, weft_after(0)), -1, ETIMEDOUT);
    CHECK_ERR(weft_wait_fd(p[0], POLLIN, 0), -1, EAGAIN);
    weft_close(p[0]);
    weft_close(p[1]);
    weft_sem_destroy(&sem);
    weft_mutex_destroy(&mu);
    CHECK_INT(weft_chan_free(ch), 0);
}

/* ---- cleanup of a cancelled task ----------------------------------------- */

typedef struct shared {
    weft_chan *ch;
    int phase;
    int end_rc;
} shared;

static void *cleaner(void *arg)
{
    shared *sh = arg;
    CHECK_ERR(weft_sleep(-1), -1, ECANCELED); /* cancelled here */
    weft_shield s;
    CHECK_INT(weft_shield_begin(&s, weft_after(WEFT_S(30))), 0);
    /* Blocking calls work again. */
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(1))), 0);
    CHECK_INT(weft_pause(), 0);
    int v = 0;
    CHECK_INT(weft_chan_recv(sh->ch, &v, -1), 0); /* waits for the sender */
    CHECK_INT(v, 42);
    sh->phase = 1;
    sh->end_rc = weft_shield_end(&s);
    /* The cancellation is back. */
    CHECK_ERR(weft_pause(), -1, ECANCELED);
    CHECK_ERR(weft_chan_recv(sh->ch, &v, -1), -1, ECANCELED);
    return NULL;
}

static void cleanup_after_cancel(void)
{
    static shared sh; /* not on this stack: it may be shared */
    sh = (shared){weft_chan_new(sizeof(int), 0), 0, -1};
    weft_co *t = weft_spawn(cleaner, &sh, NULL);
    weft_pause();
    CHECK_INT(weft_cancel(t), 0);
    weft_sleep(weft_after(WEFT_MS(5)));
    int v = 42;
    CHECK_INT(weft_chan_send(sh.ch, &v, weft_after(WEFT_S(30))), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(sh.phase, 1);
    CHECK_INT(sh.end_rc, 1);
    weft_chan_free(sh.ch);
}

/* ---- a shield that exceeds its deadline -------------------------------- */

static void *overrun(void *arg)
{
    weft_chan *ch = arg;
    weft_cancel(weft_co_self());
    weft_shield s;
    CHECK_INT(weft_shield_begin(&s, weft_after(WEFT_MS(20))), 0);
    int v;
    int64_t t0 = weft_now();
    CHECK_ERR(weft_chan_recv(ch, &v, -1), -1, ETIMEDOUT); /* the shield's */
    CHECK(weft_now() >= t0 + WEFT_MS(20));
    /* Past the shield's deadline every wait fails at once; deadline 0
     * still says EAGAIN. */
    CHECK_ERR(weft_chan_recv(ch, &v, -1), -1, ETIMEDOUT);
    CHECK_ERR(weft_sleep(-1), -1, ETIMEDOUT);
    CHECK_ERR(weft_sleep(weft_after(WEFT_S(10))), -1, ETIMEDOUT);
    CHECK_ERR(weft_chan_recv(ch, &v, 0), -1, EAGAIN);
    CHECK_INT(weft_pause(), 0); /* pausing is not waiting */
    CHECK_INT(weft_shield_end(&s), 1);
    CHECK_ERR(weft_chan_recv(ch, &v, -1), -1, ECANCELED);
    return NULL;
}

/* ---- nesting ------------------------------------------------------------ */

static void *nested(void *arg)
{
    weft_chan *ch = arg;
    int v;
    weft_shield outer, inner;
    CHECK_INT(weft_shield_begin(&outer, weft_after(WEFT_MS(40))), 0);
    /* An inner shield with no deadline keeps the outer one's. */
    CHECK_INT(weft_shield_begin(&inner, -1), 0);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_chan_recv(ch, &v, -1), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + WEFT_MS(30));
    CHECK_INT(weft_shield_end(&inner), 0); /* not cancelled */
    CHECK_INT(weft_shield_end(&outer), 0);

    /* An inner shield with an earlier deadline ends first; the outer one
     * then still works with its own. */
    CHECK_INT(weft_shield_begin(&outer, weft_after(WEFT_S(30))), 0);
    CHECK_INT(weft_shield_begin(&inner, weft_after(WEFT_MS(5))), 0);
    CHECK_ERR(weft_sleep(-1), -1, ETIMEDOUT);
    CHECK_INT(weft_shield_end(&inner), 0);
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(2))), 0);
    CHECK_INT(weft_shield_end(&outer), 0);
    /* Without shields a call's own deadline is back. */
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(1))), 0);
    return NULL;
}

/* ---- cancellation during a shield ---------------------------------------- */

static void *sleeps_shielded(void *arg)
{
    int *state = arg;
    weft_shield s;
    CHECK_INT(weft_shield_begin(&s, -1), 0);
    *state = 1;
    /* Cancelled during this sleep, which goes on to its end. */
    CHECK_INT(weft_sleep(weft_after(WEFT_MS(20))), 0);
    *state = 2;
    CHECK_INT(weft_shield_end(&s), 1);
    CHECK_ERR(weft_sleep(weft_after(WEFT_MS(1))), -1, ECANCELED);
    *state = 3;
    return NULL;
}

static void cancel_during(void)
{
    static int state;
    state = 0;
    weft_co *t = weft_spawn(sleeps_shielded, &state, NULL);
    weft_pause();
    CHECK_INT(state, 1);
    CHECK_INT(weft_cancel(t), 0);
    weft_pause();
    CHECK_INT(state, 1); /* still asleep */
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(state, 3);
}

/* ---- misuse ------------------------------------------------------------- */

static void *ends_outer_first(void *arg)
{
    (void)arg;
    weft_shield a, b;
    weft_shield_begin(&a, -1);
    weft_shield_begin(&b, -1);
    weft_shield_end(&a);
    return NULL;
}

static void misordered(void *arg)
{
    (void)arg;
    weft_run(ends_outer_first, NULL, NULL);
}

static void *returns_shielded(void *arg)
{
    (void)arg;
    weft_shield a;
    weft_shield_begin(&a, -1);
    return NULL; /* a's frame is gone, the task record still points to it */
}

static void left_open(void *arg)
{
    (void)arg;
    weft_run(returns_shielded, NULL, NULL);
}

static void bad_input(void)
{
    CHECK_ERR(weft_shield_begin(NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_shield_end(NULL), -1, EINVAL);
}

/* Outside weft_run: the child runs a scheduler of its own. */
static void misuse_aborts(void)
{
    char buf[512];
    int st = test_fork(misordered, NULL, buf, sizeof buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "weft: weft_shield_end of a shield that is not the task's innermost") !=
          NULL);
    st = test_fork(left_open, NULL, buf, sizeof buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "weft: a task returned with a shield open") != NULL);
}

/* ---- channels refuse to drop elements ------------------------------------ */

static void free_elem(void *elem, void *arg)
{
    int *freed = arg;
    free(*(char **)elem);
    (*freed)++;
}

static void *sends_one(void *arg)
{
    char *p = strdup("late");
    CHECK_INT(weft_chan_send(arg, &p, -1), 0);
    return NULL;
}

static void chan_free_and_drain(void)
{
    weft_chan *ch = weft_chan_new(sizeof(char *), 2);
    for (int i = 0; i < 2; i++) {
        char *p = strdup("x");
        CHECK_INT(weft_chan_send(ch, &p, 0), 0);
    }
    weft_co *t = weft_spawn(sends_one, ch, NULL);
    weft_pause(); /* t blocks: the buffer is full */
    CHECK_ERR(weft_chan_free(ch), -1, EBUSY);
    int freed = 0;
    /* Two buffered, and the blocked sender's element moves in. */
    CHECK_INT(weft_chan_drain(ch, free_elem, &freed), 3);
    CHECK_INT(freed, 3);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(weft_chan_free(ch), 0);

    ch = weft_chan_new(sizeof(int), 4);
    int v = 1;
    weft_chan_send(ch, &v, 0);
    CHECK_ERR(weft_chan_free(ch), -1, ENOTEMPTY);
    CHECK_INT(weft_chan_drain(ch, NULL, NULL), 1);
    CHECK_INT(weft_chan_drain(ch, NULL, NULL), 0);
    CHECK_INT(weft_chan_free(ch), 0);
    CHECK_ERR(weft_chan_drain(NULL, NULL, NULL), -1, EINVAL);
}

static void *main_task(void *arg)
{
    (void)arg;
    deadline_zero();
    cleanup_after_cancel();
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    weft_co *t = weft_spawn(overrun, ch, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    t = weft_spawn(nested, ch, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    weft_chan_free(ch);
    cancel_during();
    bad_input();
    chan_free_and_drain();
    return NULL;
}

int main(void)
{
    helpers();
    CHECK_ERR(weft_shield_begin(&(weft_shield){0}, -1), -1, EPERM);
    CHECK_ERR(weft_shield_end(&(weft_shield){0}), -1, EPERM);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    misuse_aborts();
    puts("ok");
    return 0;
}
