/* An AddressSanitizer program (with UBSan) linked against an ordinary,
 * non-sanitized weft: nested coroutines, stack buffers, a coroutine freed
 * while suspended and its stack reused. It must run with nothing at all on
 * stderr: no false stack-buffer-overflow, no __asan_handle_no_return
 * warning. Built twice, against weft_static and weft_shared. test_asan
 * runs it and watches its stderr. */
#include <weft.h>

#include "check.h"

static volatile int sink;

/* Private stacks: this program uses a suspended coroutine's frames, which
 * only a private stack keeps in place (test_shared_hazard covers shared
 * ones). */
static const weft_opts priv = {.stack_kind = WEFT_STACK_PRIVATE};

static __attribute__((noinline)) void use_buffer(char *buf, size_t n, int v)
{
    memset(buf, v, n);
    sink += buf[n - 1];
}

static void handler(void *arg)
{
    char buf[300];
    use_buffer(buf, sizeof buf, 3);
    *(int *)arg += 1;
}

static void *leaf(void *arg)
{
    char buf[1000];
    use_buffer(buf, sizeof buf, 1);
    CHECK_INT(weft_co_defer(handler, arg), 0);
    for (int i = 0; i < 3; i++) {
        char more[128];
        use_buffer(more, sizeof more, i);
        weft_co_yield(buf);
        CHECK_INT(buf[999], 1);
    }
    return NULL;
}

static void free_inner(void *arg)
{
    weft_co **pc = arg;
    weft_co_free(*pc);
    *pc = NULL;
}

static void *middle(void *arg)
{
    char buf[2000];
    use_buffer(buf, sizeof buf, 2);
    weft_co *c = weft_co_new(leaf, arg, &priv);
    CHECK(c != NULL);
    /* If the middle one is freed while suspended, its handler frees the
     * leaf (nested unwinding). */
    CHECK_INT(weft_co_defer(free_inner, &c), 0);
    void *out;
    CHECK_INT(weft_co_send(c, NULL, &out), 1);
    ((char *)out)[5] = 1; /* the leaf's buffer, while it is suspended */
    weft_co_yield(NULL);
    CHECK_INT(weft_co_send(c, NULL, &out), 1);
    /* Freed while suspended: its handler runs on its stack. */
    weft_co_free(c);
    c = NULL;
    CHECK_INT(buf[1999], 2);
    return NULL;
}

static void child(void *arg)
{
    (void)arg;
    int handled = 0;
    for (int round = 0; round < 50; round++) {
        weft_co *m = weft_co_new(middle, &handled, &priv);
        CHECK(m != NULL);
        CHECK_INT(weft_co_send(m, NULL, NULL), 1);
        char local[512];
        use_buffer(local, sizeof local, 4);
        CHECK_INT(weft_co_send(m, NULL, NULL), 0);
        weft_co_free(m);

        /* Frames left behind by a freed suspended coroutine do not trouble
         * the next one on the same (pooled) stack. */
        weft_co *s = weft_co_new(leaf, &handled, &priv);
        CHECK_INT(weft_co_send(s, NULL, NULL), 1);
        weft_co_free(s);
        weft_co *t = weft_co_new(middle, &handled, &priv);
        CHECK_INT(weft_co_send(t, NULL, NULL), 1);
        weft_co_free(t);
    }
    CHECK_INT(handled, 150);
}

int main(void)
{
    child(NULL);
    return 0;
}
