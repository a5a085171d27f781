/* The generator of Python's coroutine example, in C:
 * next(co); co.send(None); next(co); co.send(233) -> StopIteration */
#include <stdio.h>
#include <weft.h>

static void *body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        puts("Coroutine running...");
        int *n = weft_co_yield(NULL);
        if (n)
            printf("Received value: %d\n", *n);
    }
    return NULL;
}

int main(void)
{
    weft_co *co = weft_co_new(body, NULL, NULL);
    if (co == NULL) {
        perror("weft_co_new");
        return 1;
    }
    int v = 233;
    weft_co_send(co, NULL, NULL);        /* next(co) */
    weft_co_send(co, NULL, NULL);        /* co.send(None) */
    weft_co_send(co, NULL, NULL);        /* next(co) */
    int rc = weft_co_send(co, &v, NULL); /* co.send(233): StopIteration */
    weft_co_free(co);
    return rc == 0 ? 0 : 1;
}
