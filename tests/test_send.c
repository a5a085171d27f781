/* Values both ways, as with Python generators; status as in Lua; names,
 * options and the errors of weft_co_new, weft_co_send and weft_co_yield. */
#include <weft.h>

#include "check.h"

/* ---- generator protocol ------------------------------------------------- */

static int tag_a, tag_b, tag_c, tag_ret;

static void *echo(void *arg)
{
    CHECK_PTR(arg, &tag_a);
    /* First yield hands out arg; each later value sent in comes back out. */
    void *in = weft_co_yield(arg);
    CHECK_PTR(in, &tag_b);
    in = weft_co_yield(&tag_c);
    CHECK_PTR(in, NULL);
    in = weft_co_yield(NULL);
    CHECK_PTR(in, &tag_c);
    return &tag_ret;
}

static void test_protocol(void)
{
    weft_co *co = weft_co_new(echo, &tag_a, NULL);
    CHECK(co != NULL);
    CHECK_INT(weft_co_status(co), WEFT_SUSPENDED);

    /* A non-NULL value for a just-created coroutine is refused, and the
     * coroutine can still be started. */
    void *out = &tag_ret;
    CHECK_ERR(weft_co_send(co, &tag_b, &out), -1, EINVAL);
    CHECK_PTR(out, &tag_ret); /* untouched */
    CHECK_INT(weft_co_status(co), WEFT_SUSPENDED);

    /* Refused twice, then freed without ever starting. */
    weft_co *never = weft_co_new(echo, &tag_a, NULL);
    CHECK(never != NULL);
    CHECK_ERR(weft_co_send(never, &tag_b, NULL), -1, EINVAL);
    CHECK_ERR(weft_co_send(never, &tag_c, NULL), -1, EINVAL);
    CHECK_INT(weft_co_status(never), WEFT_SUSPENDED);
    weft_co_free(never);

    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    CHECK_PTR(out, &tag_a);
    CHECK_INT(weft_co_status(co), WEFT_SUSPENDED);
    CHECK_INT(weft_co_send(co, &tag_b, &out), 1);
    CHECK_PTR(out, &tag_c);
    CHECK_INT(weft_co_send(co, NULL, NULL), 1); /* out may be NULL */
    out = &tag_a;
    CHECK_INT(weft_co_send(co, &tag_c, &out), 0);
    CHECK_PTR(out, &tag_ret);
    CHECK_INT(weft_co_status(co), WEFT_DEAD);

    /* Dead: further sends fail and leave *out alone. */
    out = &tag_a;
    CHECK_ERR(weft_co_send(co, NULL, &out), -1, EINVAL);
    CHECK_ERR(weft_co_send(co, &tag_b, NULL), -1, EINVAL);
    CHECK_PTR(out, &tag_a);
    weft_co_free(co);
}

static void *ret_only(void *arg)
{
    return arg;
}

static void test_return_without_yield(void)
{
    weft_co *co = weft_co_new(ret_only, &tag_b, NULL);
    CHECK(co != NULL);
    void *out = NULL;
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    CHECK_PTR(out, &tag_b);
    CHECK_INT(weft_co_status(co), WEFT_DEAD);
    weft_co_free(co);

    /* Returning NULL is a return, not a yield. */
    co = weft_co_new(ret_only, NULL, NULL);
    out = &tag_a;
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    CHECK_PTR(out, NULL);
    weft_co_free(co);
}

/* A counter generator: sums what it is sent and yields the running total. */
static void *accumulate(void *arg)
{
    long total = (long)(intptr_t)arg;
    for (;;) {
        void *in = weft_co_yield((void *)(intptr_t)total);
        if (in == NULL)
            return (void *)(intptr_t)-total;
        total += (long)(intptr_t)in;
    }
}

static void test_many_values(void)
{
    weft_co *co = weft_co_new(accumulate, (void *)(intptr_t)5, NULL);
    void *out;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    CHECK_INT((intptr_t)out, 5);
    long expect = 5;
    for (long i = 1; i <= 1000; i++) {
        CHECK_INT(weft_co_send(co, (void *)(intptr_t)i, &out), 1);
        expect += i;
        CHECK_INT((intptr_t)out, expect);
    }
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    CHECK_INT((intptr_t)out, -expect);
    weft_co_free(co);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors_outside(void)
{
    /* Before any coroutine exists on this thread, and after. */
    CHECK_PTR(weft_co_self(), NULL);
    CHECK_ERR(weft_co_yield(&tag_a), NULL, EPERM);
    CHECK_ERR(weft_co_send(NULL, NULL, NULL), -1, EINVAL);
    CHECK_ERR(weft_co_status(NULL), -1, EINVAL);
    CHECK_ERR(weft_co_name(NULL), NULL, EINVAL);

    weft_co *co = weft_co_new(ret_only, NULL, NULL);
    CHECK(co != NULL);
    CHECK_PTR(weft_co_self(), NULL);
    CHECK_ERR(weft_co_yield(NULL), NULL, EPERM);
    CHECK_INT(weft_co_send(co, NULL, NULL), 0);
    CHECK_PTR(weft_co_self(), NULL);
    CHECK_ERR(weft_co_yield(NULL), NULL, EPERM);
    weft_co_free(co);
}

static void test_new_errors(void)
{
    CHECK_ERR(weft_co_new(NULL, NULL, NULL), NULL, EINVAL);
    weft_opts o = {0};
    CHECK_ERR(weft_co_new(NULL, NULL, &o), NULL, EINVAL);

    o.stack_kind = 7;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);
    o.stack_kind = -1;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);
    o.stack_kind = WEFT_STACK_PRIVATE;

    o.stack_size = WEFT_STACK_MIN - 1;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);
    o.stack_size = 1;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);
    o.stack_size = WEFT_STACK_MAX + 1;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);
    o.stack_size = (size_t)-1;
    CHECK_ERR(weft_co_new(ret_only, NULL, &o), NULL, EINVAL);

    /* The bounds themselves are accepted, and so is a size that is not a
     * whole number of pages. */
    size_t ok_sizes[] = {WEFT_STACK_MIN, WEFT_STACK_MIN + 1, 100000, WEFT_STACK_MAX};
    for (size_t i = 0; i < sizeof ok_sizes / sizeof ok_sizes[0]; i++) {
        o.stack_size = ok_sizes[i];
        weft_co *co = weft_co_new(ret_only, &tag_a, &o);
        if (co == NULL && ok_sizes[i] == WEFT_STACK_MAX && errno == ENOMEM)
            continue; /* 1 GiB of address space may be refused (RLIMIT_AS) */
        CHECK(co != NULL);
        void *out = NULL;
        CHECK_INT(weft_co_send(co, NULL, &out), 0);
        CHECK_PTR(out, &tag_a);
        weft_co_free(co);
    }
}

/* ---- status, self, EBUSY, nesting --------------------------------------- */

typedef struct chain {
    weft_co *co[4]; /* co[0] drives co[1] drives co[2] */
    int reached;
} chain;

static void *level(void *arg)
{
    chain *c = arg;
    weft_co *self = weft_co_self();
    int depth = 0;
    while (depth < 3 && c->co[depth] != self)
        depth++;
    CHECK(depth < 3);
    CHECK_INT(weft_co_status(self), WEFT_RUNNING);
    /* Everything up the chain is normal, everything below suspended. */
    for (int i = 0; i < depth; i++) {
        CHECK_INT(weft_co_status(c->co[i]), WEFT_NORMAL);
        /* Sending to the resumer chain: "generator already executing". */
        CHECK_ERR(weft_co_send(c->co[i], NULL, NULL), -1, EBUSY);
        CHECK_ERR(weft_co_send(c->co[i], &tag_a, NULL), -1, EBUSY);
    }
    CHECK_ERR(weft_co_send(self, NULL, NULL), -1, EBUSY);
    for (int i = depth + 1; i < 3; i++)
        CHECK_INT(weft_co_status(c->co[i]), WEFT_SUSPENDED);

    if (depth < 2) {
        void *out = NULL;
        CHECK_INT(weft_co_send(c->co[depth + 1], NULL, &out), 1);
        CHECK_INT((intptr_t)out, depth + 2);
        CHECK_INT(weft_co_status(self), WEFT_RUNNING);
        CHECK_INT(weft_co_status(c->co[depth + 1]), WEFT_SUSPENDED);
    } else {
        c->reached = 1;
    }
    CHECK_PTR(weft_co_yield((void *)(intptr_t)(depth + 1)), &tag_b);
    CHECK_PTR(weft_co_self(), self);
    if (depth < 2) {
        void *out = NULL;
        CHECK_INT(weft_co_send(c->co[depth + 1], &tag_b, &out), 0);
        CHECK_INT((intptr_t)out, 100 + depth + 1);
        CHECK_INT(weft_co_status(c->co[depth + 1]), WEFT_DEAD);
    }
    return (void *)(intptr_t)(100 + depth);
}

static void test_status_chain(void)
{
    chain c = {{NULL}, 0};
    weft_opts o = {0};
    char names[3][8] = {"lvl0", "lvl1", "lvl2"};
    for (int i = 0; i < 3; i++) {
        o.name = names[i];
        c.co[i] = weft_co_new(level, &c, &o);
        CHECK(c.co[i] != NULL);
    }
    void *out = NULL;
    CHECK_INT(weft_co_send(c.co[0], NULL, &out), 1);
    CHECK_INT((intptr_t)out, 1);
    CHECK_INT(c.reached, 1);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_co_status(c.co[i]), WEFT_SUSPENDED);
    CHECK_INT(weft_co_send(c.co[0], &tag_b, &out), 0);
    CHECK_INT((intptr_t)out, 100);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(weft_co_status(c.co[i]), WEFT_DEAD);
        weft_co_free(c.co[i]);
    }
}

/* 100 levels: each coroutine creates the next, drives it to the end. */
#define DEPTH 100

static void *nest(void *arg)
{
    intptr_t n = (intptr_t)arg;
    weft_co *self = weft_co_self();
    CHECK(self != NULL);
    if (n == DEPTH) {
        CHECK_PTR(weft_co_yield((void *)n), NULL);
        return (void *)n;
    }
    weft_co *child = weft_co_new(nest, (void *)(n + 1), NULL);
    CHECK(child != NULL);
    void *out = NULL;
    int r;
    intptr_t yields = 0;
    while ((r = weft_co_send(child, NULL, &out)) == 1) {
        /* Pass each yield up the chain unchanged. */
        CHECK_INT(weft_co_status(child), WEFT_SUSPENDED);
        CHECK_INT(weft_co_status(self), WEFT_RUNNING);
        CHECK_PTR(weft_co_yield(out), NULL);
        yields++;
    }
    CHECK_INT(r, 0);
    CHECK_INT(yields, 1);
    CHECK_INT((intptr_t)out, n + 1 + (DEPTH - n - 1)); /* DEPTH */
    weft_co_free(child);
    CHECK_PTR(weft_co_self(), self);
    return (void *)(intptr_t)DEPTH;
}

static void test_deep_nesting(void)
{
    weft_co *co = weft_co_new(nest, (void *)(intptr_t)1, NULL);
    void *out = NULL;
    CHECK_INT(weft_co_send(co, NULL, &out), 1);
    CHECK_INT((intptr_t)out, DEPTH);
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    CHECK_INT((intptr_t)out, DEPTH);
    weft_co_free(co);
}

/* ---- names -------------------------------------------------------------- */

static void *name_self(void *arg)
{
    (void)arg;
    return (void *)weft_co_name(weft_co_self());
}

static void test_names(void)
{
    weft_co *co = weft_co_new(ret_only, NULL, NULL);
    CHECK_STR(weft_co_name(co), "");
    weft_co_free(co);

    weft_opts o = {0};
    o.name = NULL;
    co = weft_co_new(ret_only, NULL, &o);
    CHECK_STR(weft_co_name(co), "");
    weft_co_free(co);

    /* Copied: the caller's buffer may change afterwards. */
    char buf[64];
    strcpy(buf, "reader");
    o.name = buf;
    co = weft_co_new(name_self, NULL, &o);
    memset(buf, 'X', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    CHECK_STR(weft_co_name(co), "reader");
    void *out = NULL;
    CHECK_INT(weft_co_send(co, NULL, &out), 0);
    CHECK_STR((const char *)out, "reader");
    CHECK_STR(weft_co_name(co), "reader"); /* still there when dead */
    weft_co_free(co);

    /* Truncated at WEFT_NAME_MAX bytes; a name of exactly that length is
     * kept whole. */
    char longname[WEFT_NAME_MAX + 20];
    for (size_t i = 0; i < sizeof longname - 1; i++)
        longname[i] = (char)('a' + i % 26);
    longname[sizeof longname - 1] = '\0';
    o.name = longname;
    co = weft_co_new(ret_only, NULL, &o);
    CHECK_INT(strlen(weft_co_name(co)), WEFT_NAME_MAX);
    CHECK(strncmp(weft_co_name(co), longname, WEFT_NAME_MAX) == 0);
    weft_co_free(co);

    longname[WEFT_NAME_MAX] = '\0';
    co = weft_co_new(ret_only, NULL, &o);
    CHECK_STR(weft_co_name(co), longname);
    weft_co_free(co);
}

/* ---- free ----------------------------------------------------------------- */

static void test_free(void)
{
    weft_co_free(NULL);
    /* Freeing a coroutine that never started, one suspended, one dead. */
    weft_co *a = weft_co_new(echo, &tag_a, NULL);
    weft_co *b = weft_co_new(echo, &tag_a, NULL);
    weft_co *c = weft_co_new(ret_only, NULL, NULL);
    CHECK(a && b && c);
    CHECK_INT(weft_co_send(b, NULL, NULL), 1);
    CHECK_INT(weft_co_send(c, NULL, NULL), 0);
    weft_co_free(a);
    weft_co_free(b);
    weft_co_free(c);
}

int main(void)
{
    test_errors_outside();
    test_protocol();
    test_return_without_yield();
    test_many_values();
    test_new_errors();
    test_status_chain();
    test_deep_nesting();
    test_names();
    test_free();
    return 0;
}
