/* Stack pooling: once warm, creating, running and freeing coroutines makes
 * no new mappings (the count of lines in /proc/self/maps stays the same)
 * and reuses the same stacks. */
#include <sys/mman.h>
#include <weft.h>

#include "check.h"

static void *body(void *arg)
{
    char buf[2048]; /* touch a little stack */
    memset(buf, (int)(intptr_t)arg, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    void *in = weft_co_yield((void *)(intptr_t)buf[17]);
    return in;
}

static weft_co *cycle(const weft_opts *o, intptr_t i)
{
    weft_co *co = weft_co_new(body, (void *)(i & 0x3f), o);
    CHECK(co != NULL);
    void *out = NULL;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    CHECK_INT((intptr_t)out, i & 0x3f);
    CHECK_INT(weft_co_send(co, (void *)i, &out), 0);
    CHECK_INT((intptr_t)out, i);
    weft_co_free(co);
    return co;
}

int main(void)
{
    /* valgrind and TSan (a shadow stack per fiber) map memory of their own */
    int check_maps = !test_under_is("valgrind") && !test_under_is("tsan");
    /* Private stacks, whatever the process default: the pool tested is theirs. */
    weft_opts sizes[3] = {{.stack_kind = WEFT_STACK_PRIVATE},
                          {.stack_size = WEFT_STACK_MIN, .stack_kind = WEFT_STACK_PRIVATE},
                          {.stack_size = 1 << 20, .stack_kind = WEFT_STACK_PRIVATE}};

    /* Warm up: every size class, and several alive at once. */
    for (int s = 0; s < 3; s++) {
        weft_co *alive[8];
        for (int i = 0; i < 8; i++) {
            alive[i] = weft_co_new(body, NULL, &sizes[s]);
            CHECK(alive[i] != NULL);
        }
        for (int i = 0; i < 8; i++)
            weft_co_free(alive[i]);
        cycle(&sizes[s], 1);
    }
    test_count_maps();
    int before = test_count_maps();

    /* The same stack comes back for the same size. */
    weft_co *first = cycle(&sizes[0], 3);
    for (intptr_t i = 0; i < 10000; i++) {
        weft_co *co = cycle(&sizes[0], i);
        CHECK_PTR(co, first);
    }
    /* Sizes interleaved, and a few alive at once, still from the pool. */
    for (intptr_t i = 0; i < 3000; i++) {
        weft_co *a = weft_co_new(body, NULL, &sizes[i % 3]);
        weft_co *b = weft_co_new(body, NULL, &sizes[(i + 1) % 3]);
        CHECK(a && b && a != b);
        CHECK_INT(weft_co_send(b, NULL, NULL), 1);
        cycle(&sizes[(i + 2) % 3], i);
        weft_co_free(a);
        weft_co_free(b);
    }
    int after = test_count_maps();
    if (check_maps)
        CHECK_INT(after, before);
    printf("maps: %d before, %d after\n", before, after);

    /* Negative control of the measure: a mapping made by hand is seen. */
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (check_maps)
        CHECK(test_count_maps() >= after + 1); /* ASan's allocator may map more */
    munmap(m, 4096);
    return 0;
}
