/* Threads: each has its own current coroutine, stack pool and overflow
 * handler. Four threads run coroutines at the same time and are joined;
 * what weft set up on a thread is released when it exits. */
#include <malloc.h>
#include <pthread.h>
#include <weft.h>

#include "check.h"

#define THREADS 4

static void *counter(void *arg)
{
    long base = (long)(intptr_t)arg;
    for (long i = 0;; i++) {
        void *in = weft_co_yield((void *)(intptr_t)(base + i));
        if (in == NULL)
            return (void *)(intptr_t)(base * 2);
    }
}

static int token;

static void *nested(void *arg)
{
    /* Drives a counter of its own from inside a coroutine. */
    long base = (long)(intptr_t)arg;
    weft_co *inner = weft_co_new(counter, (void *)(intptr_t)(base * 10), NULL);
    CHECK(inner != NULL);
    void *out;
    for (long i = 0; i < 50; i++) {
        CHECK_INT(weft_co_send(inner, i == 0 ? NULL : &out, &out), 1);
        CHECK_INT((intptr_t)out, base * 10 + i);
        CHECK_PTR(weft_co_yield(out), &token);
    }
    CHECK_INT(weft_co_send(inner, NULL, &out), 0);
    weft_co_free(inner);
    return NULL;
}

static void *thread_main(void *arg)
{
    long id = (long)(intptr_t)arg;
    CHECK_PTR(weft_co_self(), NULL);
    CHECK_ERR(weft_co_yield(NULL), NULL, EPERM);
    for (int round = 0; round < 200; round++) {
        long base = id * 100000 + round * 100;
        weft_co *a = weft_co_new(counter, (void *)(intptr_t)base, NULL);
        weft_co *b = weft_co_new(nested, (void *)(intptr_t)base, NULL);
        CHECK(a && b);
        void *out;
        CHECK_INT(weft_co_send(a, NULL, &out), 1);
        CHECK_INT((intptr_t)out, base);
        void *back = NULL;
        for (long i = 0; i < 50; i++) {
            CHECK_INT(weft_co_send(b, i == 0 ? NULL : &token, &back), 1);
            CHECK_INT((intptr_t)back, base * 10 + i);
            CHECK_INT(weft_co_send(a, &out, &out), 1);
            CHECK_INT((intptr_t)out, base + i + 1);
            CHECK_INT(weft_co_status(a), WEFT_SUSPENDED);
        }
        CHECK_INT(weft_co_send(b, &token, &back), 0);
        CHECK_INT(weft_co_send(a, NULL, &out), 0);
        CHECK_INT((intptr_t)out, base * 2);
        weft_co_free(a);
        weft_co_free(b);
    }
    /* The thread has an alternate signal stack for overflow reports. */
    stack_t ss;
    CHECK_INT(sigaltstack(NULL, &ss), 0);
    CHECK(!(ss.ss_flags & SS_DISABLE));
    return (void *)(intptr_t)(id + 1);
}

static void run_threads(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i), 0);
    for (long i = 0; i < THREADS; i++) {
        void *r = NULL;
        CHECK_INT(pthread_join(t[i], &r), 0);
        CHECK_INT((intptr_t)r, i + 1);
    }
}

int main(void)
{
    /* One malloc arena: with shared stacks the threads allocate, and an
     * arena made in the second round would count as a map left behind. */
    mallopt(M_ARENA_MAX, 1);
    /* The main thread uses weft too, in between. */
    weft_co *co = weft_co_new(counter, (void *)(intptr_t)7, NULL);
    void *out;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    run_threads();
    test_count_maps();
    int before = test_count_maps();
    run_threads();
    int after = test_count_maps();
    /* Pools and signal stacks of exited threads are gone (glibc keeps the
     * thread stacks themselves in a cache, which the first round filled). */
    printf("maps: %d before, %d after a second round of threads\n", before, after);
    /* valgrind and TSan map memory of their own. Under qemu guards are
     * PROT_NONE ranges, and a slab that the main thread's coroutine keeps
     * keeps the guards of the stacks its threads freed, as many as were
     * alive at once, which varies from round to round there. */
    if (!test_under_is("valgrind") && !test_under_is("tsan") && !test_under_is("qemu"))
        CHECK_INT(after, before);
    CHECK_INT(weft_co_send(co, &out, &out), 1);
    CHECK_INT((intptr_t)out, 8);
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    weft_co_free(co);
    return 0;
}
