/* Overflow on a shared stack: deep recursion in a shared coroutine with a
 * 64 KiB stack prints exactly the report of a private stack and dies of
 * SIGABRT; also when the kind and size come from the environment
 * (WEFT_STACK=shared WEFT_STACK_SIZE=64k, in a re-executed copy of this
 * test), and when the overflowing coroutine's stack holds suspended
 * neighbours. Every case runs in a forked child. */
#include <limits.h>
#include <weft.h>

#include "check.h"

static void *idle(void *arg)
{
    (void)arg;
    char buf[1000];
    memset(buf, 7, sizeof buf);
    weft_co_yield(buf);
    return NULL;
}

/* opts NULL: the process defaults (set by the environment). */
static void overflow(const weft_opts *opts, int neighbours)
{
    /* Suspended coroutines of the same size on every shared stack. */
    weft_opts sh = {.stack_kind = WEFT_STACK_SHARED, .stack_size = 65536};
    for (int i = 0; i < neighbours; i++) {
        weft_co *n = weft_co_new(idle, NULL, &sh);
        if (n == NULL || weft_co_send(n, NULL, NULL) != 1)
            _exit(5);
    }
    weft_co *co = weft_co_new(test_deep, NULL, opts);
    if (co == NULL)
        _exit(6);
    weft_co_send(co, NULL, NULL);
    _exit(7); /* not reached */
}

static void named(void *arg)
{
    weft_opts o = {.stack_kind = WEFT_STACK_SHARED, .stack_size = 65536, .name = "deep"};
    overflow(&o, (int)(intptr_t)arg);
}

static char self_path[PATH_MAX];

static void from_env(void *arg)
{
    (void)arg;
    setenv("WEFT_STACK", "shared", 1);
    setenv("WEFT_STACK_SIZE", "64k", 1);
    execl(self_path, self_path, "env-child", (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", self_path, strerror(errno));
    _exit(127);
}

static void expect(void (*fn)(void *), void *arg, const char *line_want, const char *prefix)
{
    char out[8192], line[512];
    test_expect_weft_abort(fn, arg, out, sizeof out, line, sizeof line);
    if (line_want)
        CHECK_STR(line, line_want);
    else if (strncmp(line, prefix, strlen(prefix)) != 0 ||
             strstr(line, "' (stack 65536 bytes)") == NULL)
        FAIL("unexpected report: %s", line);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "env-child") == 0) {
        /* Unnamed, all defaults: shared, 64 KiB, from the environment. */
        overflow(NULL, 0);
        return 8;
    }
    const char *want = "weft: stack overflow in coroutine 'deep' (stack 65536 bytes)";
    expect(named, (void *)0, want, NULL);
    expect(named, (void *)5, want, NULL);
    /* The test binary itself, through the name valgrind reports for it. */
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    CHECK(len > 0);
    self_path[len] = '\0';
    if (test_under_is("qemu"))
        return 0; /* /proc/self/exe is the emulator there */
    expect(from_env, NULL, NULL, "weft: stack overflow in coroutine '#");
    return 0;
}
