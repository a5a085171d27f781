/* Many shared-stack coroutines alive at once: each keeps distinct values in
 * frames of different depths (some images fit inline in the object, some
 * need the heap part), and survives being resumed in scrambled order,
 * several times, with every value checked; some are freed suspended and
 * the rest finish. Then the memory: after a million shared coroutines are
 * freed, the RSS falls back by most of what they added. */
#include <weft.h>

#include "check.h"

#define ROUNDS 3

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return x;
}

struct level {
    uint64_t vals[12];
    int depth;
    const struct level *up;
};

static void check_levels(const struct level *l, uint64_t id)
{
    int levels = 0, depth = l->depth;
    for (; l; l = l->up, levels++)
        for (int k = 0; k < 12; k++)
            if (l->vals[k] != mix(id * 64 + (uint64_t)l->depth * 12 + (uint64_t)k))
                FAIL("coroutine %llu: value %d at depth %d is wrong", (unsigned long long)id, k,
                     l->depth);
    CHECK_INT(levels, depth + 1);
}

/* Recurses `depth` levels, each with its own array of values, then yields
 * id + round for every round sent, checking every level on each return. */
static __attribute__((noinline)) void *levels(uint64_t id, int depth, int left,
                                              const struct level *up)
{
    struct level l;
    for (int k = 0; k < 12; k++)
        l.vals[k] = mix(id * 64 + (uint64_t)depth * 12 + (uint64_t)k);
    l.depth = depth;
    l.up = up;
    if (left > 0) {
        void *r = levels(id, depth + 1, left - 1, &l);
        check_levels(&l, id);
        return r;
    }
    for (;;) {
        void *in = weft_co_yield((void *)(uintptr_t)(id * 16));
        check_levels(&l, id);
        if (in == NULL)
            return (void *)(uintptr_t)(id + 1);
        uintptr_t round = (uintptr_t)in;
        /* Not a ladder of yields with the same value: each answer depends
         * on the round sent. */
        weft_co_yield((void *)(uintptr_t)(id * 16 + round));
        check_levels(&l, id);
    }
}

static void *body(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    return levels(id, 0, (int)(id % 5), NULL);
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void shuffle(uint32_t *p, size_t n)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(next_rand() % (i + 1));
        uint32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

static void scrambled(size_t n)
{
    weft_opts sh = {.stack_kind = WEFT_STACK_SHARED};
    weft_co **cos = calloc(n, sizeof *cos);
    uint32_t *order = malloc(n * sizeof *order);
    CHECK(cos != NULL && order != NULL);
    for (size_t i = 0; i < n; i++) {
        cos[i] = weft_co_new(body, (void *)(uintptr_t)i, &sh);
        if (cos[i] == NULL)
            FAIL("weft_co_new #%zu: %s", i, strerror(errno));
        order[i] = (uint32_t)i;
    }
    void *out;
    /* Started in scrambled order too. */
    shuffle(order, n);
    for (size_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 1);
        CHECK_INT((uintptr_t)out, (uintptr_t)i * 16);
    }
    for (uintptr_t round = 1; round <= ROUNDS; round++) {
        shuffle(order, n);
        for (size_t k = 0; k < n; k++) {
            uint32_t i = order[k];
            CHECK_INT(weft_co_status(cos[i]), WEFT_SUSPENDED);
            CHECK_INT(weft_co_send(cos[i], (void *)round, &out), 1);
            CHECK_INT((uintptr_t)out, (uintptr_t)i * 16 + round);
            /* Every other one, two sends in a row: it stays on its stack. */
            if (order[k] % 2 == 0) {
                CHECK_INT(weft_co_send(cos[i], (void *)round, &out), 1);
                CHECK_INT((uintptr_t)out, (uintptr_t)i * 16);
            }
        }
        /* The odd ones owe one yield: take it in another order. */
        shuffle(order, n);
        for (size_t k = 0; k < n; k++) {
            uint32_t i = order[k];
            if (i % 2 == 1) {
                CHECK_INT(weft_co_send(cos[i], (void *)round, &out), 1);
                CHECK_INT((uintptr_t)out, (uintptr_t)i * 16);
            }
        }
    }
    /* A third are freed while suspended, the rest return. */
    shuffle(order, n);
    for (size_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        if (i % 3 == 0) {
            weft_co_free(cos[i]);
            continue;
        }
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 0);
        CHECK_INT((uintptr_t)out, (uintptr_t)i + 1);
        CHECK_INT(weft_co_status(cos[i]), WEFT_DEAD);
        weft_co_free(cos[i]);
    }
    free(order);
    free(cos);
}

/* ---- memory given back ----------------------------------------------------- */

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    CHECK(kib >= 0);
    return kib * 1024;
}

static void *uses_200(void *arg)
{
    volatile char buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)((uintptr_t)arg + i);
    weft_co_yield(NULL);
    CHECK_INT(buf[199], (char)((uintptr_t)arg + 199));
    return NULL;
}

static void rss_falls_back(size_t n, int assert_rss)
{
    weft_opts sh = {.stack_kind = WEFT_STACK_SHARED};
    /* The bookkeeping array is in place before the baseline and freed
     * after the last reading. */
    weft_co **cos = calloc(n, sizeof *cos);
    CHECK(cos != NULL);
    memset(cos, 0, n * sizeof *cos);
    long before = rss_bytes();
    for (size_t i = 0; i < n; i++) {
        cos[i] = weft_co_new(uses_200, (void *)(uintptr_t)i, &sh);
        if (cos[i] == NULL)
            FAIL("weft_co_new #%zu: %s", i, strerror(errno));
        CHECK_INT(weft_co_send(cos[i], NULL, NULL), 1);
    }
    long full = rss_bytes();
    /* Half freed suspended, half finished first. */
    for (size_t i = 0; i < n; i++) {
        if (i % 2)
            CHECK_INT(weft_co_send(cos[i], NULL, NULL), 0);
        weft_co_free(cos[i]);
    }
    long after = rss_bytes();
    free(cos);
    long added = full - before, kept = after - before;
    printf("%zu shared coroutines: RSS +%ld KiB, %ld KiB kept after freeing\n", n, added / 1024,
           kept / 1024);
    if (!assert_rss)
        return;
    /* A few hundred bytes each at the very least: otherwise the figure
     * below measures nothing. */
    CHECK(added > (long)n * 200);
    if (kept > added / 4)
        FAIL("RSS kept %ld of the %ld bytes the coroutines added", kept, added);
}

int main(void)
{
    int tool = test_under()[0] != '\0';
    /* TSan: a fiber (with a shadow stack mapping) per live coroutine. */
    int slow = test_under_is("valgrind") || test_under_is("qemu") || test_under_is("tsan");
    scrambled(slow ? 3000 : tool ? 40000 : 200000);
    /* Under the tools RSS measures the tool, not weft: run, do not judge. */
    rss_falls_back(slow ? 20000 : tool ? 200000 : 1000000, !tool);
    return 0;
}
