/* weft_select over kinds: fd readiness (POLLIN, POLLOUT, hang-up), a
 * future completed by a plain thread and an event channel fed by one,
 * mixed with channel cases; fairness among ready cases of different
 * kinds; bad cases (invalid fd, bad events, abandoned future, EBUSY on
 * an fd, a future or an event channel that another task waits on);
 * weft_close during the wait (the case reports EBADF); deadlines and
 * cancellation leave no slot behind. */
#include "io_util.h"

#include <poll.h>
#include <pthread.h>

static int pfd[2];

static void *pipe_writer(void *arg)
{
    weft_sleep(ms_from_now((intptr_t)arg));
    CHECK_INT(weft_write(pfd[1], "x", 1, -1), 1);
    return NULL;
}

static void *chan_sender(void *arg)
{
    int v = 7;
    weft_sleep(ms_from_now(5));
    CHECK_INT(weft_chan_send(arg, &v, -1), 0);
    return NULL;
}

static void *fd_closer(void *arg)
{
    (void)arg;
    weft_sleep(ms_from_now(5));
    CHECK_INT(weft_close(pfd[0]), 0);
    return NULL;
}

static void *fd_reader(void *arg)
{
    (void)arg;
    char c;
    return (void *)(intptr_t)weft_read(pfd[0], &c, 1, ms_from_now(200));
}

static void *complete_later(void *arg)
{
    usleep(10000);
    CHECK_INT(weft_future_complete(arg, (void *)42), 0);
    return NULL;
}

#define EVENTS 2000
static void *feed_events(void *arg)
{
    for (intptr_t i = 1; i <= EVENTS; i++)
        while (weft_events_post(arg, (void *)i) != 0) {
            CHECK_INT(errno, EAGAIN);
            usleep(100);
        }
    CHECK_INT(weft_events_close(arg), 0);
    return NULL;
}

static void fd_cases(void)
{
    CHECK_INT(pipe(pfd), 0);
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    int v = 0;
    weft_case c[2] = {{.op = WEFT_FD, .fd = pfd[0], .events = POLLIN},
                      {.ch = ch, .op = WEFT_RECV, .elem = &v}};
    /* Nothing ready: the deadline. */
    CHECK_ERR(weft_select(c, 2, 0), -1, EAGAIN);
    CHECK_ERR(weft_select(c, 2, ms_from_now(5)), -1, ETIMEDOUT);
    /* The fd becomes readable while the select waits. */
    weft_co *t = weft_spawn(pipe_writer, (void *)5, NULL);
    CHECK_INT(weft_select(c, 2, ms_from_now(5000)), 0);
    CHECK_INT(c[0].err, 0);
    CHECK_INT(c[0].revents, POLLIN);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    char b;
    CHECK_INT(weft_read(pfd[0], &b, 1, 0), 1);
    /* A channel message while the fd is not ready. */
    t = weft_spawn(chan_sender, ch, NULL);
    CHECK_INT(weft_select(c, 2, ms_from_now(5000)), 1);
    CHECK_INT(c[1].err, 0);
    CHECK_INT(v, 7);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    /* After a select the fd's slot is free again for plain calls. */
    t = weft_spawn(pipe_writer, (void *)1, NULL);
    CHECK_INT(weft_wait_fd(pfd[0], POLLIN, ms_from_now(5000)), POLLIN);
    CHECK_INT(weft_read(pfd[0], &b, 1, 0), 1);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* Fairness across kinds: both ready every time, both chosen. */
    weft_chan *full = weft_chan_new(sizeof(int), 1);
    CHECK_INT(weft_write(pfd[1], "y", 1, -1), 1);
    c[1].ch = full;
    int count[2] = {0, 0};
    for (int i = 0; i < 400; i++) {
        int one = 1;
        if (weft_chan_send(full, &one, 0) != 0)
            CHECK_INT(errno, EAGAIN); /* still full from the last round */
        int r = weft_select(c, 2, 0);
        CHECK(r == 0 || r == 1);
        count[r]++;
    }
    CHECK(count[0] > 100 && count[1] > 100);
    CHECK_INT(weft_read(pfd[0], &b, 1, 0), 1);
    (void)weft_chan_recv(full, &v, 0); /* empty it, if the last round did not */
    c[1].ch = ch;

    /* POLLOUT: a pipe with room is writable at once. */
    weft_case w = {.op = WEFT_FD, .fd = pfd[1], .events = POLLIN | POLLOUT};
    CHECK_INT(weft_select(&w, 1, -1), 0);
    CHECK_INT(w.revents, POLLOUT);
    /* Hang-up: the writer goes; the reader is ready with POLLHUP. */
    int q[2];
    CHECK_INT(pipe(q), 0);
    CHECK_INT(weft_close(q[1]), 0);
    weft_case h = {.op = WEFT_FD, .fd = q[0], .events = POLLIN};
    CHECK_INT(weft_select(&h, 1, -1), 0);
    CHECK(h.revents & POLLHUP);
    CHECK(h.revents & POLLIN);
    CHECK_INT(weft_close(q[0]), 0);

    /* Bad cases. */
    weft_case bad = {.op = WEFT_FD, .fd = -1, .events = POLLIN};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EBADF);
    int dead = dup(pfd[0]);
    CHECK_INT(close(dead), 0);
    bad.fd = dead;
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EBADF);
    bad.fd = pfd[0];
    bad.events = 0;
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad.events = POLLIN | POLLPRI;
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad = (weft_case){.op = 99};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad = (weft_case){.op = WEFT_FUTURE};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad = (weft_case){.op = WEFT_EVENT};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    /* An invalid case fails the select before any case is performed. */
    int one = 1;
    CHECK_INT(weft_chan_send(full, &one, 0), 0);
    weft_case mix[2] = {{.ch = full, .op = WEFT_RECV, .elem = &v},
                        {.op = WEFT_FD, .fd = -5, .events = POLLIN}};
    CHECK_ERR(weft_select(mix, 2, 0), -1, EBADF);
    CHECK_INT(weft_chan_recv(full, &v, 0), 0);
    /* EBUSY: another task reads the fd, or two cases want its read side. */
    t = weft_spawn(fd_reader, NULL, NULL);
    weft_pause();
    CHECK_ERR(weft_select(c, 2, ms_from_now(10)), -1, EBUSY);
    void *res;
    CHECK_INT(weft_join(t, &res, -1), 0);
    CHECK_INT((intptr_t)res, -1);
    weft_case twice[2] = {{.op = WEFT_FD, .fd = pfd[0], .events = POLLIN},
                          {.op = WEFT_FD, .fd = pfd[0], .events = POLLIN | POLLOUT}};
    CHECK_ERR(weft_select(twice, 2, ms_from_now(10)), -1, EBUSY);
    /* And nothing was left armed by the failed arming. */
    CHECK_ERR(weft_wait_fd(pfd[0], POLLIN, ms_from_now(1)), -1, ETIMEDOUT);

    /* A select that timed out leaves the slot free. */
    CHECK_ERR(weft_select(c, 2, ms_from_now(1)), -1, ETIMEDOUT);
    CHECK_ERR(weft_wait_fd(pfd[0], POLLIN, ms_from_now(1)), -1, ETIMEDOUT);

    /* weft_close during the wait: the case is performed with EBADF. */
    t = weft_spawn(fd_closer, NULL, NULL);
    CHECK_INT(weft_select(c, 2, ms_from_now(5000)), 0);
    CHECK_INT(c[0].err, EBADF);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    CHECK_INT(weft_close(pfd[1]), 0);
    CHECK_INT(weft_chan_free(ch), 0);
    CHECK_INT(weft_chan_free(full), 0);
}

static void *select_forever(void *arg)
{
    weft_case c = {.op = WEFT_FD, .fd = (int)(intptr_t)arg, .events = POLLIN};
    return (void *)(intptr_t)(weft_select(&c, 1, -1) == -1 ? errno : 0);
}

static void cancel_case(void)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    weft_co *t = weft_spawn(select_forever, (void *)(intptr_t)p[0], NULL);
    weft_pause();
    CHECK_INT(weft_cancel(t), 0);
    void *res;
    CHECK_INT(weft_join(t, &res, -1), 0);
    CHECK_INT((intptr_t)res, ECANCELED);
    CHECK_ERR(weft_wait_fd(p[0], POLLIN, ms_from_now(1)), -1, ETIMEDOUT);
    weft_close(p[0]);
    weft_close(p[1]);
}

static void *wait_future(void *arg)
{
    return (void *)(intptr_t)weft_future_wait(arg, NULL, ms_from_now(30));
}

static void *recv_event(void *arg)
{
    return (void *)(intptr_t)weft_events_recv(arg, NULL, ms_from_now(30));
}

/* One waiter per future and per event channel: a select finds the other. */
static void busy_cases(void)
{
    weft_future *f = weft_future_new();
    weft_events *e = weft_events_new(1);
    weft_co *t = weft_spawn(wait_future, f, NULL);
    weft_pause();
    weft_case c = {.op = WEFT_FUTURE, .future = f};
    CHECK_ERR(weft_select(&c, 1, ms_from_now(10)), -1, EBUSY);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    t = weft_spawn(recv_event, e, NULL);
    weft_pause();
    c = (weft_case){.op = WEFT_EVENT, .ev = e};
    CHECK_ERR(weft_select(&c, 1, ms_from_now(10)), -1, EBUSY);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    /* And a select that waited leaves them free for the next waiter. */
    CHECK_ERR(weft_select(&c, 1, ms_from_now(1)), -1, ETIMEDOUT);
    CHECK_ERR(weft_events_recv(e, NULL, ms_from_now(1)), -1, ETIMEDOUT);
    c = (weft_case){.op = WEFT_FUTURE, .future = f};
    CHECK_ERR(weft_select(&c, 1, ms_from_now(1)), -1, ETIMEDOUT);
    CHECK_ERR(weft_future_wait(f, NULL, ms_from_now(1)), -1, ETIMEDOUT);
    weft_future_free(f);
    weft_events_free(e);
}

static void future_cases(void)
{
    weft_future *f = weft_future_new();
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    void *val = NULL;
    int v;
    weft_case c[2] = {{.ch = ch, .op = WEFT_RECV, .elem = &v},
                      {.op = WEFT_FUTURE, .future = f, .elem = &val}};
    CHECK_ERR(weft_select(c, 2, 0), -1, EAGAIN);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, complete_later, f), 0);
    CHECK_INT(weft_select(c, 2, ms_from_now(5000)), 1);
    CHECK_INT(c[1].err, 0);
    CHECK_INT((intptr_t)val, 42);
    pthread_join(th, NULL);
    /* A completed future stays ready. */
    val = NULL;
    CHECK_INT(weft_select(&c[1], 1, 0), 0);
    CHECK_INT((intptr_t)val, 42);
    weft_future_free(f);
    /* An abandoned future is refused while it lives. */
    f = weft_future_new();
    CHECK_INT(weft_future_abandon(f), 0);
    c[1].future = f;
    CHECK_ERR(weft_select(&c[1], 1, 0), -1, EINVAL);
    CHECK_INT(weft_future_complete(f, NULL), 0); /* frees it */
    CHECK_INT(weft_chan_free(ch), 0);
}

static void event_cases(void)
{
    weft_events *e = weft_events_new(16);
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    int v;
    void *val;
    weft_case c[2] = {{.ch = ch, .op = WEFT_RECV, .elem = &v},
                      {.op = WEFT_EVENT, .ev = e, .elem = &val}};
    CHECK_ERR(weft_select(c, 2, 0), -1, EAGAIN);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, feed_events, e), 0);
    for (intptr_t want = 1; want <= EVENTS; want++) {
        CHECK_INT(weft_select(c, 2, ms_from_now(10000)), 1);
        CHECK_INT(c[1].err, 0);
        CHECK_INT((intptr_t)val, want);
    }
    CHECK_INT(weft_select(c, 2, ms_from_now(10000)), 1);
    CHECK_INT(c[1].err, EPIPE);
    pthread_join(th, NULL);
    weft_events_free(e);
    CHECK_INT(weft_chan_free(ch), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    fd_cases();
    cancel_case();
    future_cases();
    event_cases();
    busy_cases();
    return NULL;
}

int main(void)
{
    io_test_init();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    weft_case c = {.op = WEFT_FD, .fd = 0, .events = POLLIN};
    CHECK_ERR(weft_select(&c, 1, 0), -1, EPERM);
    puts("ok");
    return 0;
}
