/* Channels and select: copies of any size, unbuffered and buffered, FIFO,
 * close, deadlines, random choice among ready cases, and bad input. */
#include "check.h"
#include "weft.h"

#define MS 1000000LL

typedef struct big {
    int a;
    char s[20];
    double d;
} big;

static void *big_sender(void *arg)
{
    weft_chan *ch = arg;
    for (int i = 0; i < 5; i++) {
        big b = {i, "hello", i * 0.5};
        CHECK_INT(weft_chan_send(ch, &b, -1), 0);
    }
    return NULL;
}

static void *int_sender(void *arg)
{
    weft_chan *ch = arg;
    for (int i = 0; i < 4; i++)
        CHECK_INT(weft_chan_send(ch, &i, -1), 0);
    return NULL;
}

static void *recv_until_closed(void *arg)
{
    weft_chan *ch = arg;
    int v, n = 0;
    while (weft_chan_recv(ch, &v, -1) == 0)
        n++;
    CHECK_INT(errno, EPIPE);
    return (void *)(intptr_t)n;
}

static void *send_blocked(void *arg)
{
    int v = 7;
    CHECK_ERR(weft_chan_send(arg, &v, -1), -1, EPIPE);
    return NULL;
}

static void *closer(void *arg)
{
    CHECK_INT(weft_chan_close(arg), 0);
    return NULL;
}

/* Takes the channel itself, not the spawner's array of them: a shared-stack
 * spawner's frames are copied away while it waits in the select. */
static void *select_sender(void *arg)
{
    int v = 99;
    CHECK_INT(weft_sleep(weft_now() + 2 * MS), 0);
    CHECK_INT(weft_chan_send(arg, &v, -1), 0);
    return NULL;
}

static void *select_receiver(void *arg)
{
    int v;
    CHECK_INT(weft_chan_recv(arg, &v, -1), 0);
    CHECK_INT(v, 5);
    return NULL;
}

static void test_unbuffered(void)
{
    weft_chan *ch = weft_chan_new(sizeof(big), 0);
    CHECK(ch);
    weft_co *t = weft_spawn(big_sender, ch, NULL);
    for (int i = 0; i < 5; i++) {
        big b;
        memset(&b, 0, sizeof b);
        CHECK_INT(weft_chan_recv(ch, &b, -1), 0);
        CHECK_INT(b.a, i);
        CHECK_STR(b.s, "hello");
        CHECK(b.d == i * 0.5);
    }
    CHECK_INT(weft_join(t, NULL, -1), 0);
    /* Nobody on the other side: 0 never blocks, a past deadline neither. */
    int v = 1;
    CHECK_ERR(weft_chan_send(ch, &v, 0), -1, EAGAIN);
    CHECK_ERR(weft_chan_recv(ch, &v, weft_now() - 1), -1, ETIMEDOUT);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_chan_recv(ch, &v, t0 + 5 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 5 * MS);
    CHECK_INT(weft_chan_free(ch), 0);
}

static void test_buffered(void)
{
    weft_chan *ch = weft_chan_new(sizeof(int), 3);
    CHECK(ch);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_chan_send(ch, &i, 0), 0);
    int v = 3;
    CHECK_ERR(weft_chan_send(ch, &v, 0), -1, EAGAIN);
    /* A blocked sender takes the slot a receive frees, in FIFO order. */
    weft_co *t = weft_spawn(int_sender, ch, NULL);
    CHECK_INT(weft_pause(), 0); /* it fills nothing: the buffer is full */
    int expect[] = {0, 1, 2, 0, 1, 2, 3};
    for (int i = 0; i < 7; i++) {
        CHECK_INT(weft_chan_recv(ch, &v, -1), 0);
        CHECK_INT(v, expect[i]);
    }
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* Close: receivers drain what is buffered, then get EPIPE. */
    for (int i = 0; i < 2; i++)
        CHECK_INT(weft_chan_send(ch, &i, 0), 0);
    CHECK_INT(weft_chan_close(ch), 0);
    CHECK_ERR(weft_chan_send(ch, &v, -1), -1, EPIPE);
    CHECK_ERR(weft_chan_close(ch), -1, EPIPE);
    t = weft_spawn(recv_until_closed, ch, NULL);
    void *n;
    CHECK_INT(weft_join(t, &n, -1), 0);
    CHECK_INT((intptr_t)n, 2);
    CHECK_INT(weft_chan_free(ch), 0);
}

static void test_close_wakes(void)
{
    /* Blocked receivers and senders wake with EPIPE. */
    weft_chan *ch = weft_chan_new(sizeof(int), 0), *ch2 = weft_chan_new(sizeof(int), 0);
    weft_co *r = weft_spawn(recv_until_closed, ch, NULL);
    weft_co *s = weft_spawn(send_blocked, ch2, NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_chan_free(ch), -1, EBUSY);
    CHECK_ERR(weft_chan_free(ch2), -1, EBUSY);
    weft_co *c = weft_spawn(closer, ch, NULL);
    weft_co *c2 = weft_spawn(closer, ch2, NULL);
    void *n;
    CHECK_INT(weft_join(r, &n, -1), 0);
    CHECK_INT((intptr_t)n, 0);
    CHECK_INT(weft_join(s, NULL, -1), 0);
    CHECK_INT(weft_join(c, NULL, -1), 0);
    CHECK_INT(weft_join(c2, NULL, -1), 0);
    CHECK_INT(weft_chan_free(ch), 0);
    CHECK_INT(weft_chan_free(ch2), 0);
}

static void test_select(void)
{
    weft_chan *a = weft_chan_new(sizeof(int), 1), *b = weft_chan_new(sizeof(int), 1);
    int va, vb;
    weft_case cs[2] = {{.ch = a, .op = WEFT_RECV, .elem = &va, .err = 0},
                       {.ch = b, .op = WEFT_RECV, .elem = &vb, .err = 0}};
    /* Both ready every time: both get chosen. */
    int count[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        int one = 1;
        if (count[0] + count[1] == i) {
            weft_chan_send(a, &one, 0);
            weft_chan_send(b, &one, 0);
        }
        int k = weft_select(cs, 2, 0);
        CHECK(k == 0 || k == 1);
        CHECK_INT(cs[k].err, 0);
        count[k]++;
        /* refill the one that was taken */
        weft_chan_send(k ? b : a, &one, 0);
    }
    CHECK(count[0] > 50 && count[1] > 50);
    int x;
    CHECK_INT(weft_chan_recv(a, &x, 0), 0);
    CHECK_INT(weft_chan_recv(b, &x, 0), 0);

    /* Nothing ready: deadline 0 and past deadlines fail at once. */
    CHECK_ERR(weft_select(cs, 2, 0), -1, EAGAIN);
    CHECK_ERR(weft_select(cs, 2, weft_now() - MS), -1, ETIMEDOUT);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_select(cs, 2, t0 + 3 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 3 * MS);

    /* Blocking: woken by a send on the second channel. */
    weft_chan *u[2] = {weft_chan_new(sizeof(int), 0), weft_chan_new(sizeof(int), 0)};
    weft_case cu[2] = {{.ch = u[0], .op = WEFT_RECV, .elem = &va, .err = 0},
                       {.ch = u[1], .op = WEFT_RECV, .elem = &vb, .err = 0}};
    weft_co *t = weft_spawn(select_sender, u[1], NULL);
    CHECK_INT(weft_select(cu, 2, -1), 1);
    CHECK_INT(vb, 99);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* A send case, blocking until a receiver comes. */
    int five = 5;
    weft_case cs2[2] = {{.ch = u[0], .op = WEFT_SEND, .elem = &five, .err = 0},
                        {.ch = u[1], .op = WEFT_RECV, .elem = &vb, .err = 0}};
    t = weft_spawn(select_receiver, u[0], NULL);
    CHECK_INT(weft_select(cs2, 2, -1), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    /* And a ready send case. */
    t = weft_spawn(select_receiver, u[0], NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(weft_select(cs2, 1, 0), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* A closed channel is ready and reports EPIPE; also while waiting. */
    weft_chan_close(u[0]);
    CHECK_INT(weft_select(cu, 2, -1), 0);
    CHECK_INT(cu[0].err, EPIPE);
    t = weft_spawn(closer, u[1], NULL);
    weft_case one[1] = {{.ch = u[1], .op = WEFT_SEND, .elem = &five, .err = 0}};
    CHECK_INT(weft_select(one, 1, -1), 0);
    CHECK_INT(one[0].err, EPIPE);
    CHECK_INT(weft_join(t, NULL, -1), 0);

    /* Many cases (more than are kept on the stack). */
    enum { N = 40 };
    weft_chan *many[N];
    weft_case cm[N];
    int vals[N];
    for (int i = 0; i < N; i++) {
        many[i] = weft_chan_new(sizeof(int), 0);
        cm[i] = (weft_case){.ch = many[i], .op = WEFT_RECV, .elem = &vals[i], .err = 0};
    }
    t = weft_spawn(select_sender, many[37], NULL);
    CHECK_INT(weft_select(cm, N, -1), 37);
    CHECK_INT(vals[37], 99);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    for (int i = 0; i < N; i++)
        CHECK_INT(weft_chan_free(many[i]), 0);

    /* Bad cases. */
    weft_case bad = {.ch = NULL, .op = WEFT_RECV, .elem = &x, .err = 0};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad = (weft_case){.ch = a, .op = 7, .elem = &x, .err = 0};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    bad = (weft_case){.ch = a, .op = WEFT_SEND, .elem = NULL, .err = 0};
    CHECK_ERR(weft_select(&bad, 1, 0), -1, EINVAL);
    CHECK_ERR(weft_select(NULL, 1, 0), -1, EINVAL);
    CHECK_ERR(weft_select(NULL, 0, 0), -1, EAGAIN);

    weft_chan_free(a);
    weft_chan_free(b);
    weft_chan_free(u[0]);
    weft_chan_free(u[1]);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_unbuffered();
    test_buffered();
    test_close_wakes();
    test_select();

    int v = 0;
    CHECK_ERR(weft_chan_send(NULL, &v, 0), -1, EINVAL);
    CHECK_ERR(weft_chan_recv(NULL, &v, 0), -1, EINVAL);
    weft_chan *ch = weft_chan_new(sizeof v, 1);
    CHECK_ERR(weft_chan_send(ch, NULL, 0), -1, EINVAL);
    CHECK_ERR(weft_chan_recv(ch, NULL, 0), -1, EINVAL);
    weft_chan_free(ch);
    return NULL;
}

int main(void)
{
    CHECK_ERR(weft_chan_new(0, 4), NULL, EINVAL);
    CHECK_ERR(weft_chan_new(0, 0), NULL, EINVAL);
    CHECK_ERR(weft_chan_new(SIZE_MAX / 2, 3), NULL, EINVAL);
    CHECK_ERR(weft_chan_free(NULL), -1, EINVAL);
    CHECK_ERR(weft_chan_close(NULL), -1, EINVAL);
    /* Outside weft_run: blocking calls are refused. */
    weft_chan *ch = weft_chan_new(sizeof(int), 1);
    int v = 1;
    CHECK_ERR(weft_chan_send(ch, &v, 0), -1, EPERM);
    CHECK_ERR(weft_chan_recv(ch, &v, 0), -1, EPERM);
    weft_case c = {.ch = ch, .op = WEFT_RECV, .elem = &v, .err = 0};
    CHECK_ERR(weft_select(&c, 1, 0), -1, EPERM);
    CHECK_INT(weft_chan_close(ch), 0);
    CHECK_INT(weft_chan_free(ch), 0);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    return 0;
}
