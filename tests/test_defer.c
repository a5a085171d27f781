/* Cleanup handlers: LIFO order, run on the coroutine's own stack when it
 * returns or is freed while suspended, more than fit inline, handlers that
 * register handlers, and the errors of weft_co_defer. */
#include <weft.h>

#include "check.h"

#define MAXLOG 256

static int order[MAXLOG];
static int norder;

static void record(void *arg)
{
    CHECK(norder < MAXLOG);
    order[norder++] = (int)(intptr_t)arg;
}

typedef struct frame_check {
    weft_co *expect_self;
    volatile int *local; /* points into the suspended frame */
    int seen_value;
    int ran;
} frame_check;

static void check_frame(void *arg)
{
    frame_check *f = arg;
    /* Runs on the coroutine's stack: it is the current coroutine, and the
     * frame that was suspended in weft_co_yield is still intact. */
    CHECK_PTR(weft_co_self(), f->expect_self);
    CHECK_INT(weft_co_status(f->expect_self), WEFT_RUNNING);
    char here;
    uintptr_t lo = (uintptr_t)f->local - 256 * 1024, hi = (uintptr_t)f->local;
    CHECK((uintptr_t)&here > lo && (uintptr_t)&here < hi); /* below the frame */
    f->seen_value = *f->local;
    *f->local = 0; /* and writable */
    f->ran = 1;
    record((void *)(intptr_t)-1);
}

static void *with_handlers(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++)
        CHECK_INT(weft_co_defer(record, (void *)(intptr_t)i), 0);
    weft_co_yield(NULL);
    return NULL;
}

static void test_lifo_on_return(int n)
{
    norder = 0;
    weft_co *co = weft_co_new(with_handlers, (void *)(intptr_t)n, NULL);
    CHECK_INT(weft_co_send(co, NULL, NULL), 1);
    CHECK_INT(norder, 0); /* nothing ran at the yield */
    CHECK_INT(weft_co_send(co, NULL, NULL), 0);
    CHECK_INT(norder, n);
    for (int i = 0; i < n; i++)
        CHECK_INT(order[i], n - 1 - i);
    weft_co_free(co); /* handlers do not run twice */
    CHECK_INT(norder, n);
}

static void test_lifo_on_free(int n)
{
    norder = 0;
    weft_co *co = weft_co_new(with_handlers, (void *)(intptr_t)n, NULL);
    CHECK_INT(weft_co_send(co, NULL, NULL), 1);
    CHECK_INT(norder, 0);
    weft_co_free(co);
    CHECK_INT(norder, n);
    for (int i = 0; i < n; i++)
        CHECK_INT(order[i], n - 1 - i);
    CHECK_PTR(weft_co_self(), NULL);
}

static void *suspended_frame(void *arg)
{
    frame_check *f = arg;
    volatile int local = 4242;
    f->local = &local;
    f->expect_self = weft_co_self();
    CHECK_INT(weft_co_defer(record, (void *)(intptr_t)1), 0);
    CHECK_INT(weft_co_defer(check_frame, f), 0);
    CHECK_INT(weft_co_defer(record, (void *)(intptr_t)2), 0);
    weft_co_yield(NULL);
    FAIL("a freed coroutine returned from its yield");
    return (void *)(intptr_t)local;
}

static void test_free_runs_on_stack(void)
{
    norder = 0;
    frame_check f = {NULL, NULL, 0, 0};
    weft_opts o = {.name = "suspended"};
    weft_co *co = weft_co_new(suspended_frame, &f, &o);
    CHECK_INT(weft_co_send(co, NULL, NULL), 1);
    CHECK_PTR(f.expect_self, co);
    weft_co_free(co);
    CHECK_INT(f.ran, 1);
    CHECK_INT(f.seen_value, 4242);
    CHECK_INT(norder, 3);
    CHECK_INT(order[0], 2);
    CHECK_INT(order[1], -1);
    CHECK_INT(order[2], 1);
}

/* The same from inside another coroutine: the freer is the resumer. */
static void *freer(void *arg)
{
    frame_check *f = arg;
    weft_co *inner = weft_co_new(suspended_frame, f, NULL);
    CHECK_INT(weft_co_send(inner, NULL, NULL), 1);
    weft_co *self = weft_co_self();
    weft_co_free(inner);
    CHECK_PTR(weft_co_self(), self);
    CHECK_INT(weft_co_status(self), WEFT_RUNNING);
    return weft_co_yield(&norder);
}

static void test_free_from_coroutine(void)
{
    norder = 0;
    frame_check f = {NULL, NULL, 0, 0};
    weft_co *co = weft_co_new(freer, &f, NULL);
    void *out = NULL;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    CHECK_PTR(out, &norder);
    CHECK_INT(f.ran, 1);
    CHECK_INT(f.seen_value, 4242);
    CHECK_INT(weft_co_send(co, &f, &out), 0);
    CHECK_PTR(out, &f);
    weft_co_free(co);
}

/* A handler that registers another: the new one runs too, after it. */
static void chained(void *arg)
{
    int left = (int)(intptr_t)arg;
    record((void *)(intptr_t)(100 + left));
    CHECK(weft_co_self() != NULL);
    if (left > 0)
        CHECK_INT(weft_co_defer(chained, (void *)(intptr_t)(left - 1)), 0);
}

static void *registers_in_handler(void *arg)
{
    CHECK_INT(weft_co_defer(record, (void *)(intptr_t)7), 0);
    CHECK_INT(weft_co_defer(chained, (void *)(intptr_t)3), 0);
    if (arg)
        weft_co_yield(NULL);
    return NULL;
}

static void test_handler_registers(int suspend)
{
    norder = 0;
    weft_co *co = weft_co_new(registers_in_handler, (void *)(intptr_t)suspend, NULL);
    CHECK_INT(weft_co_send(co, NULL, NULL), suspend ? 1 : 0);
    weft_co_free(co);
    int expect[] = {103, 102, 101, 100, 7};
    CHECK_INT(norder, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(order[i], expect[i]);
}

static void *defer_errors(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_co_defer(NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_co_defer(NULL, &norder), -1, EINVAL);
    return NULL;
}

static void test_errors(void)
{
    CHECK_ERR(weft_co_defer(record, NULL), -1, EPERM);
    weft_co *co = weft_co_new(defer_errors, NULL, NULL);
    CHECK_INT(weft_co_send(co, NULL, NULL), 0);
    weft_co_free(co);
    CHECK_ERR(weft_co_defer(record, NULL), -1, EPERM); /* after init too */
    CHECK_ERR(weft_co_defer(NULL, NULL), -1, EPERM);
}

static void *never(void *arg)
{
    (void)arg;
    FAIL("a coroutine that was never started ran");
    return NULL;
}

static void test_never_started(void)
{
    norder = 0;
    weft_co *co = weft_co_new(never, NULL, NULL);
    weft_co_free(co);
    CHECK_INT(norder, 0);
    weft_co_free(NULL);
}

/* Nested: a handler of an inner coroutine freed from inside its resumer's
 * handler. */
static weft_co *inner_for_handler;

static void free_inner(void *arg)
{
    (void)arg;
    record((void *)(intptr_t)50);
    weft_co_free(inner_for_handler);
    record((void *)(intptr_t)51);
}

static void *outer_with_inner(void *arg)
{
    (void)arg;
    inner_for_handler = weft_co_new(with_handlers, (void *)(intptr_t)2, NULL);
    CHECK_INT(weft_co_send(inner_for_handler, NULL, NULL), 1);
    CHECK_INT(weft_co_defer(free_inner, NULL), 0);
    weft_co_yield(NULL);
    return NULL;
}

static void test_nested_free(void)
{
    norder = 0;
    weft_co *co = weft_co_new(outer_with_inner, NULL, NULL);
    CHECK_INT(weft_co_send(co, NULL, NULL), 1);
    weft_co_free(co);
    int expect[] = {50, 1, 0, 51};
    CHECK_INT(norder, 4);
    for (int i = 0; i < 4; i++)
        CHECK_INT(order[i], expect[i]);
}

int main(void)
{
    test_errors();
    int counts[] = {0, 1, 4, 5, 16, 17, 21, 40, 100};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        test_lifo_on_return(counts[i]);
        test_lifo_on_free(counts[i]);
    }
    test_free_runs_on_stack();
    test_free_from_coroutine();
    test_handler_registers(0);
    test_handler_registers(1);
    test_never_started();
    test_nested_free();
    return 0;
}
