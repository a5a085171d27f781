/* Shared stacks: coroutines of WEFT_STACK_SHARED keep their values and
 * frames while others run on the same stack, run their handlers when freed
 * suspended, can be many; weft_set_stack_defaults and its errors. */
#include <weft.h>

#include "check.h"

static void *counter(void *arg)
{
    long base = (long)(intptr_t)arg;
    char frame[3000]; /* frames that must be saved and restored */
    memset(frame, (int)(base & 0x7f), sizeof frame);
    for (long i = 0;; i++) {
        void *in = weft_co_yield((void *)(intptr_t)(base + i));
        for (size_t k = 0; k < sizeof frame; k += 100)
            CHECK_INT(frame[k], base & 0x7f);
        if (in == NULL)
            return (void *)(intptr_t)-base;
    }
}

static int handled;

static void handler(void *arg)
{
    CHECK_PTR(weft_co_self(), arg);
    handled++;
}

static void *with_handler(void *arg)
{
    (void)arg;
    CHECK_INT(weft_co_defer(handler, weft_co_self()), 0);
    weft_co_yield(NULL);
    return NULL;
}

int main(void)
{
    weft_opts sh = {.stack_kind = WEFT_STACK_SHARED, .stack_size = WEFT_STACK_MIN * 4};
    enum { K = 50 };
    weft_co *cos[K];
    for (long i = 0; i < K; i++) {
        cos[i] = weft_co_new(counter, (void *)(intptr_t)(i * 1000 + 1), &sh);
        CHECK(cos[i] != NULL);
        CHECK_INT(weft_co_status(cos[i]), WEFT_SUSPENDED);
    }
    void *out;
    for (long r = 0; r < 5; r++)
        for (long i = 0; i < K; i++) {
            CHECK_INT(weft_co_send(cos[i], r == 0 ? NULL : &out, &out), 1);
            CHECK_INT((intptr_t)out, i * 1000 + 1 + r);
        }
    for (long i = 0; i < K; i++) {
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 0);
        CHECK_INT((intptr_t)out, -(i * 1000 + 1));
        weft_co_free(cos[i]);
    }

    /* Freed while suspended: the handler runs as the coroutine. */
    weft_co *a = weft_co_new(with_handler, NULL, &sh);
    weft_co *b = weft_co_new(with_handler, NULL, &sh);
    CHECK_INT(weft_co_send(a, NULL, NULL), 1);
    CHECK_INT(weft_co_send(b, NULL, NULL), 1);
    weft_co_free(a);
    weft_co_free(b);
    CHECK_INT(handled, 2);

    /* Many suspended shared coroutines at once. */
    int many = test_under()[0] ? 2000 : 50000;
    weft_co **lots = calloc((size_t)many, sizeof *lots);
    CHECK(lots != NULL);
    for (int i = 0; i < many; i++) {
        lots[i] = weft_co_new(counter, (void *)(intptr_t)i, &sh);
        CHECK(lots[i] != NULL);
        CHECK_INT(weft_co_send(lots[i], NULL, &out), 1);
        CHECK_INT((intptr_t)out, i);
    }
    for (int i = 0; i < many; i++) {
        CHECK_INT(weft_co_send(lots[i], &out, &out), 1);
        CHECK_INT((intptr_t)out, i + 1);
        weft_co_free(lots[i]);
    }
    free(lots);

    /* Process defaults. */
    CHECK_ERR(weft_set_stack_defaults(7, 0), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(WEFT_STACK_SHARED, WEFT_STACK_MIN - 1), -1, EINVAL);
    CHECK_ERR(weft_set_stack_defaults(WEFT_STACK_PRIVATE, WEFT_STACK_MAX + 1), -1, EINVAL);
    CHECK_INT(weft_set_stack_defaults(WEFT_STACK_SHARED, 0), 0);
    weft_co *d = weft_co_new(counter, (void *)(intptr_t)5, NULL);
    CHECK(d != NULL);
    CHECK_INT(weft_co_send(d, NULL, &out), 1);
    CHECK_INT((intptr_t)out, 5);
    weft_co_free(d);
    CHECK_INT(weft_set_stack_defaults(WEFT_STACK_PRIVATE, 0), 0);
    return 0;
}
