/* Event channels: the multi-shot future, for callback streams. Any thread
 * posts pointers into a bounded ring without ever blocking (a callback
 * must not wait for the task); one task at a time takes them out. A post
 * that finds the ring full is refused and counted, so the producer learns
 * of the overflow and the consumer can see how much it missed. */
#include "io/io.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct weft_events {
    pthread_mutex_t mu;
    size_t cap, len, head;
    int closed;
    unsigned long dropped;
    weft__xwait x;
    void *ring[];
};

weft_events *weft_events_new(size_t capacity)
{
    if (capacity == 0 || capacity > (SIZE_MAX - sizeof(weft_events)) / sizeof(void *)) {
        errno = EINVAL;
        return NULL;
    }
    weft_events *e = calloc(1, sizeof *e + capacity * sizeof(void *));
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    e->cap = capacity;
    return e;
}

int weft_events_post(weft_events *e, void *value)
{
    if (!e) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    int err = e->closed ? EPIPE : e->len == e->cap ? EAGAIN : 0;
    if (err == EAGAIN)
        e->dropped++;
    if (!err) {
        e->ring[(e->head + e->len++) % e->cap] = value;
        weft__xwait_wake(&e->x);
    }
    pthread_mutex_unlock(&e->mu);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int weft_events_close(weft_events *e)
{
    if (!e) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    int was = e->closed;
    e->closed = 1;
    if (!was)
        weft__xwait_wake(&e->x);
    pthread_mutex_unlock(&e->mu);
    if (was) {
        errno = EPIPE;
        return -1;
    }
    return 0;
}

/* Under the lock: takes the next event into *value (when value is not
 * NULL). 1 taken, 0 none, -1 closed and drained. */
static int take(weft_events *e, void **value)
{
    if (!e->len)
        return e->closed ? -1 : 0;
    if (value)
        *value = e->ring[e->head];
    e->head = (e->head + 1) % e->cap;
    e->len--;
    return 1;
}

int weft_events_recv(weft_events *e, void **value, int64_t deadline)
{
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    if (!e) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    int r, why = 0;
    while (!(r = take(e, value)) &&
           !(why = weft__xwait_block(&e->x, &e->mu, t, WR_EVENTS, e, deadline)))
        ;
    pthread_mutex_unlock(&e->mu);
    if (r > 0)
        return 0;
    errno = r < 0 ? EPIPE : why;
    return -1;
}

unsigned long weft_events_dropped(weft_events *e)
{
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    unsigned long n = e->dropped;
    pthread_mutex_unlock(&e->mu);
    return n;
}

void weft_events_free(weft_events *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    pthread_mutex_unlock(&e->mu);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* ---- the WEFT_EVENT case of weft_select --------------------------------- */

static int case_ready(weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_events *e = c->ev;
    if (!e) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    int r = e->len || e->closed;
    pthread_mutex_unlock(&e->mu);
    return r;
}

static int case_take(weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_events *e = c->ev;
    pthread_mutex_lock(&e->mu);
    int r = take(e, c->elem);
    pthread_mutex_unlock(&e->mu);
    c->err = r < 0 ? EPIPE : 0;
    return r != 0;
}

static int case_arm(weft__task *t, weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_events *e = c->ev;
    pthread_mutex_lock(&e->mu);
    int r = e->len || e->closed ? 1 : weft__xwait_arm(&e->x, t);
    pthread_mutex_unlock(&e->mu);
    return r;
}

static void case_disarm(weft__task *t, weft_case *c, weft__waiter *w)
{
    (void)w;
    weft_events *e = c->ev;
    pthread_mutex_lock(&e->mu);
    weft__xwait_disarm(&e->x, t);
    pthread_mutex_unlock(&e->mu);
}

const weft__case_kind weft__event_case = {case_ready, case_take, case_arm, case_disarm};
