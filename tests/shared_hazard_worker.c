/* Built with -fsanitize=address against an ordinary weft: a shared-stack
 * coroutine hands main a pointer to its local array and yields; main reads
 * through it while the coroutine is suspended. That is the documented
 * hazard of shared stacks: ASan must report the read (use-after-poison)
 * and stop the program. test_shared_hazard runs this and checks. */
#include <weft.h>

#include "check.h"

static volatile int sink;

static void *leaks_a_pointer(void *arg)
{
    (void)arg;
    char local[64];
    for (size_t i = 0; i < sizeof local; i++)
        local[i] = (char)i;
    weft_co_yield(local);
    sink += local[10];
    return NULL;
}

int main(void)
{
    weft_opts sh = {.stack_kind = WEFT_STACK_SHARED, .name = "leaker"};
    weft_co *co = weft_co_new(leaks_a_pointer, NULL, &sh);
    CHECK(co != NULL);
    void *out;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    /* The invalid use: the frames of co are suspended. */
    sink += ((volatile char *)out)[10];
    fprintf(stderr, "not reported: read %d\n", sink);
    return 0;
}
