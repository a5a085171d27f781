/* Helper of test_gdb: a coroutine stops at a breakpoint in gdb_target. Not
 * a test by itself (its name does not start with test_). */
#include <stdio.h>
#include <weft.h>

volatile int gdb_sink;

__attribute__((noinline)) void gdb_target(int n)
{
    gdb_sink += n; /* the breakpoint */
}

__attribute__((noinline)) static void gdb_inner(int n)
{
    gdb_target(n);
    gdb_sink++;
}

static void *gdb_co_body(void *arg)
{
    (void)arg;
    weft_co_yield(NULL);
    gdb_inner(5);
    return NULL;
}

int main(void)
{
    weft_opts o = {.name = "gdb"};
    weft_co *co = weft_co_new(gdb_co_body, NULL, &o);
    if (co == NULL)
        return 1;
    weft_co_send(co, NULL, NULL);
    int rc = weft_co_send(co, NULL, NULL);
    weft_co_free(co);
    printf("helper done %d\n", rc);
    return rc == 0 ? 0 : 1;
}
