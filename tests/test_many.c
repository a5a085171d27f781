/* Many coroutines alive at once: 10,000 suspended coroutines with default
 * private stacks, each resumed in turn several times, then freed. */
#include <weft.h>

#include "check.h"

#define N 10000
#define ROUNDS 5

static void *body(void *arg)
{
    long id = (long)(intptr_t)arg;
    char mark[512]; /* a frame that must survive the other 9,999 */
    memset(mark, (int)(id & 0x7f), sizeof mark);
    long sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        void *in = weft_co_yield((void *)(intptr_t)(id * ROUNDS + r));
        CHECK_INT((intptr_t)in, r);
        for (size_t i = 0; i < sizeof mark; i += 64)
            CHECK_INT(mark[i], id & 0x7f);
        sum += r;
    }
    return (void *)(intptr_t)(id + sum);
}

int main(void)
{
    weft_co **cos = calloc(N, sizeof *cos);
    CHECK(cos != NULL);
    for (long i = 0; i < N; i++) {
        cos[i] = weft_co_new(body, (void *)(intptr_t)i, NULL);
        if (cos[i] == NULL)
            FAIL("weft_co_new #%ld: %s", i, strerror(errno));
    }
    void *out;
    for (long i = 0; i < N; i++) {
        CHECK_INT(weft_co_send(cos[i], NULL, &out), 1);
        CHECK_INT((intptr_t)out, i * ROUNDS);
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (long i = 0; i < N; i++) {
            int rc = weft_co_send(cos[i], (void *)(intptr_t)r, &out);
            if (r < ROUNDS - 1) {
                CHECK_INT(rc, 1);
                CHECK_INT((intptr_t)out, i * ROUNDS + r + 1);
            } else {
                CHECK_INT(rc, 0);
                CHECK_INT((intptr_t)out, i + ROUNDS * (ROUNDS - 1) / 2);
                CHECK_INT(weft_co_status(cos[i]), WEFT_DEAD);
            }
        }
    }
    /* Half freed dead, and the other half made again and freed suspended. */
    for (long i = 0; i < N; i += 2)
        weft_co_free(cos[i]);
    for (long i = 1; i < N; i += 2) {
        weft_co_free(cos[i]);
        cos[i] = weft_co_new(body, (void *)(intptr_t)i, NULL);
        CHECK(cos[i] != NULL);
        CHECK_INT(weft_co_send(cos[i], NULL, NULL), 1);
    }
    for (long i = 1; i < N; i += 2)
        weft_co_free(cos[i]);
    free(cos);
    return 0;
}
