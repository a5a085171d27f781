/* The hook's poll, ppoll, select, pselect, epoll_wait and epoll_pwait:
 * one park on all the fds, timeouts, and libc's own outside a task. */
#include "hook_util.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

#define MANY 32 /* HOOK_N tasks of MANY pipes stay below FD_SETSIZE */

typedef struct many {
    int fds[MANY][2];
    int which; /* the pipe written to */
} many;

static void *late_write(void *arg)
{
    many *m = arg;
    weft_sleep(weft_now() + (int64_t)HOOK_MS * 1000000);
    CHECK_INT(write(m->fds[m->which][1], "x", 1), 1);
    return NULL;
}

/* Each of HOOK_N tasks polls MANY pipes, one of which a task writes HOOK_MS
 * later; the call used varies with the task. */
static void *poll_many(void *arg)
{
    many *m = arg;
    for (int i = 0; i < MANY; i++)
        CHECK_INT(pipe(m->fds[i]), 0);
    m->which = (int)(weft_now() % MANY);
    weft_co *w = weft_spawn(late_write, m, NULL);
    struct pollfd p[MANY];
    for (int i = 0; i < MANY; i++)
        p[i] = (struct pollfd){m->fds[i][0], POLLIN, 0};
    int kind = (int)(((uintptr_t)arg / sizeof *m) % 4);
    int n;
    if (kind == 0) {
        n = poll(p, MANY, 10000);
    } else if (kind == 1) {
        struct timespec ts = {10, 0};
        n = ppoll(p, MANY, &ts, NULL);
    } else {
        fd_set rd;
        FD_ZERO(&rd);
        int top = 0;
        for (int i = 0; i < MANY; i++) {
            FD_SET(m->fds[i][0], &rd);
            if (m->fds[i][0] > top)
                top = m->fds[i][0];
        }
        if (kind == 2) {
            struct timeval tv = {10, 0};
            n = select(top + 1, &rd, NULL, NULL, &tv);
            CHECK(tv.tv_sec < 10); /* the time left */
        } else {
            struct timespec ts = {10, 0};
            n = pselect(top + 1, &rd, NULL, NULL, &ts, NULL);
        }
        for (int i = 0; i < MANY; i++)
            p[i].revents = FD_ISSET(m->fds[i][0], &rd) ? POLLIN : 0;
    }
    if (n != 1)
        FAIL("kind %d: %d, %s", kind, n, strerror(errno));
    for (int i = 0; i < MANY; i++)
        CHECK_INT(p[i].revents, i == m->which ? POLLIN : 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    for (int i = 0; i < MANY; i++) {
        close(m->fds[i][0]);
        close(m->fds[i][1]);
    }
    return NULL;
}

static void test_many(void)
{
    static many m[HOOK_N];
    long ticks;
    int64_t el = hook_together(HOOK_N, poll_many, m, sizeof m[0], &ticks);
    printf("%d polls of %d fds, one ready after %d ms: %.1f ms, %ld ticks beside\n", HOOK_N, MANY,
           HOOK_MS, el / 1e6, ticks);
    CHECK_TOGETHER(el, ticks);
}

/* Timeouts: nothing becomes ready. */
static void *poll_timeout(void *arg)
{
    int kind = *(int *)arg;
    int p[2];
    CHECK_INT(pipe(p), 0);
    struct pollfd f = {p[0], POLLIN, 0};
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    struct timespec ts = {0, HOOK_MS * 1000000};
    struct timeval tv = {0, HOOK_MS * 1000};
    switch (kind % 5) {
    case 0:
        CHECK_INT(poll(&f, 1, HOOK_MS), 0);
        break;
    case 1:
        CHECK_INT(ppoll(&f, 1, &ts, NULL), 0);
        break;
    case 2:
        CHECK_INT(select(p[0] + 1, &rd, NULL, NULL, &tv), 0);
        CHECK(!FD_ISSET(p[0], &rd));
        CHECK_INT(tv.tv_sec, 0);
        CHECK_INT(tv.tv_usec, 0);
        break;
    case 3:
        CHECK_INT(pselect(p[0] + 1, &rd, NULL, NULL, &ts, NULL), 0);
        break;
    default:
        CHECK_INT(poll(NULL, 0, HOOK_MS), 0); /* a sleep */
        break;
    }
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void test_timeouts(void)
{
    static int k[HOOK_N];
    for (int i = 0; i < HOOK_N; i++)
        k[i] = i;
    long ticks;
    int64_t el = hook_together(HOOK_N, poll_timeout, k, sizeof k[0], &ticks);
    CHECK_TOGETHER(el, ticks);
}

/* The user's own epoll fd. */
typedef struct ep {
    int fds[2];
    int ep;
} ep;

static void *ep_write(void *arg)
{
    ep *e = arg;
    weft_sleep(weft_now() + (int64_t)HOOK_MS * 1000000);
    CHECK_INT(write(e->fds[1], "x", 1), 1);
    return NULL;
}

static void *epoll_user(void *arg)
{
    ep *e = arg;
    CHECK_INT(pipe(e->fds), 0);
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(e->ep >= 0);
    struct epoll_event ev = {EPOLLIN, {.u64 = 42}};
    CHECK_INT(epoll_ctl(e->ep, EPOLL_CTL_ADD, e->fds[0], &ev), 0);
    struct epoll_event got[4];
    /* Nothing yet: a timeout. */
    CHECK_INT(epoll_wait(e->ep, got, 4, 20), 0);
    weft_co *w = weft_spawn(ep_write, e, NULL);
    int n =
        (intptr_t)arg % 2 ? epoll_wait(e->ep, got, 4, 10000) : epoll_pwait(e->ep, got, 4, -1, NULL);
    CHECK_INT(n, 1);
    CHECK_INT(got[0].data.u64, 42);
    CHECK(got[0].events & EPOLLIN);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    /* Level-triggered: still there, and timeout 0 is libc's. */
    CHECK_INT(epoll_wait(e->ep, got, 4, 0), 1);
    close(e->fds[0]);
    close(e->fds[1]);
    close(e->ep);
    return NULL;
}

static void test_epoll(void)
{
    static ep e[HOOK_N];
    long ticks;
    int64_t el = hook_together(HOOK_N, epoll_user, e, sizeof e[0], &ticks);
    printf("%d epoll_waits of %d ms: %.1f ms\n", HOOK_N, HOOK_MS, el / 1e6);
    CHECK(el < (int64_t)HOOK_MS * 1000000 * HOOK_N / 2);
    CHECK(ticks > 0);
}

/* Writable at once; several events; bad fds; bad arguments. */
static void *edges(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct pollfd p[3] = {{sv[0], POLLIN | POLLOUT, 0}, {-1, POLLIN, 0}, {999, POLLIN, 0}};
    CHECK_INT(poll(p, 3, 1000), 2);
    CHECK_INT(p[0].revents, POLLOUT);
    CHECK_INT(p[1].revents, 0);
    CHECK_INT(p[2].revents, POLLNVAL);
    /* A hang-up wakes a poll that asks for nothing. */
    struct pollfd h = {sv[0], 0, 0};
    close(sv[1]);
    CHECK_INT(poll(&h, 1, 1000), 1);
    CHECK(h.revents & POLLHUP);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(999, &rd);
    struct timeval tv = {1, 0};
    CHECK_ERR(select(1000, &rd, NULL, NULL, &tv), -1, EBADF);
    CHECK_ERR(select(-1, NULL, NULL, NULL, &tv), -1, EINVAL);
    struct timeval bad = {0, 2000000};
    CHECK_ERR(select(1, NULL, NULL, NULL, &bad), -1, EINVAL);
    struct timespec badts = {0, -1};
    CHECK_ERR(ppoll(p, 1, &badts, NULL), -1, EINVAL);
    struct pollfd *none = NULL;
    __asm__ volatile("" : "+r"(none)); /* a NULL the compiler cannot see */
    CHECK_ERR(poll(none, 1, 10), -1, EFAULT);
    struct epoll_event ev;
    CHECK_ERR(epoll_wait(999, &ev, 1, 10), -1, EBADF);
    CHECK_ERR(epoll_wait(sv[0], &ev, 1, 10), -1, EINVAL);
    close(sv[0]);
    return NULL;
}

static void test_edges(void)
{
    weft_co *t = weft_spawn(edges, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_many();
    test_timeouts();
    test_epoll();
    test_edges();
    return NULL;
}

static void test_outside(void)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    struct pollfd f = {p[0], POLLIN, 0};
    int64_t t0 = weft_now();
    CHECK_INT(poll(&f, 1, 30), 0);
    CHECK(weft_now() - t0 >= 25000000);
    CHECK_INT(write(p[1], "x", 1), 1);
    CHECK_INT(poll(&f, 1, -1), 1);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    CHECK_INT(select(p[0] + 1, &rd, NULL, NULL, NULL), 1);
    CHECK(!fd_nonblock(p[0]));
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    test_outside();
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    test_outside();
    printf("ok\n");
    return 0;
}
