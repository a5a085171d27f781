/* Stack overflow: a fault in a coroutine's guard page prints exactly
 * "weft: stack overflow in coroutine 'NAME' (stack N bytes)" and aborts,
 * whether it comes from deep recursion or from one large local array, on
 * the main thread or another, and even when the program installed its own
 * SIGSEGV handler first; faults that are not overflows still reach that
 * handler, and a SIGSEGV the program ignored stays ignored when sent (a
 * fault still kills). Every case runs in a forked child. Built with
 * -fstack-clash-protection so that a large array is probed page by page. */
#include <pthread.h>
#include <sys/mman.h>
#include <weft.h>

#include "check.h"

#define STACK 65536

/* ---- ways to overflow --------------------------------------------------- */

static volatile unsigned long sink;

static __attribute__((noinline)) void big_array(size_t n)
{
    char buf[n]; /* a VLA: the compiler probes it page by page */
    memset(buf, 1, n);
    __asm__ volatile("" : : "r"(buf) : "memory");
    sink += (unsigned long)buf[n / 2];
}

static __attribute__((noinline)) void big_fixed(void)
{
    char buf[1 << 20];
    /* The array escapes, so no compiler may shrink it (clang shrank a
     * volatile one to the two bytes used). */
    __asm__ volatile("" : : "r"(buf) : "memory");
    buf[0] = 1;
    buf[sizeof buf - 1] = 2;
    __asm__ volatile("" : : "r"(buf) : "memory");
    sink += (unsigned long)buf[0];
}

static void *large(void *arg)
{
    if (arg)
        big_fixed();
    else
        big_array(4u << 20);
    return NULL;
}

/* ---- cases -------------------------------------------------------------- */

typedef struct overflow_case {
    weft_fn fn;
    void *arg;
    const char *name; /* NULL: unnamed */
    size_t size;      /* 0: default */
    int own_handler;  /* install a SIGSEGV handler before any weft call */
    int thread;       /* overflow on a second thread */
} overflow_case;

static void marker_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    static const char m[] = "program handler\n";
    ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
    (void)w;
    _exit(42);
}

static void install_own_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = marker_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        _exit(5);
}

static void *overflow_now(void *arg)
{
    const overflow_case *c = arg;
    weft_opts o = {.stack_size = c->size, .name = c->name};
    weft_co *co = weft_co_new(c->fn, c->arg, &o);
    if (co == NULL)
        _exit(6);
    weft_co_send(co, NULL, NULL);
    _exit(7); /* not reached */
    return NULL;
}

static void run_case(void *arg)
{
    const overflow_case *c = arg;
    if (c->own_handler)
        install_own_handler();
    /* A coroutine that runs fine first: the handler is in place already. */
    if (c->thread) {
        pthread_t t;
        if (pthread_create(&t, NULL, overflow_now, arg) != 0)
            _exit(8);
        pthread_join(t, NULL);
        _exit(9);
    }
    overflow_now(arg);
}

static void expect_overflow(const overflow_case *c)
{
    char out[8192], line[512], expect[256];
    /* Shown only when the test fails: which case it was. */
    fprintf(stderr, "case '%s' (thread %d, own handler %d)\n", c->name ? c->name : "(unnamed)",
            c->thread, c->own_handler);
    test_expect_weft_abort(run_case, (void *)c, out, sizeof out, line, sizeof line);
    size_t size = c->size ? c->size : WEFT_STACK_DEFAULT;
    if (c->name) {
        snprintf(expect, sizeof expect, "weft: stack overflow in coroutine '%s' (stack %zu bytes)",
                 c->name, size);
        CHECK_STR(line, expect);
    } else {
        /* Unnamed: '#<id>'. */
        snprintf(expect, sizeof expect, "' (stack %zu bytes)", size);
        const char *head = "weft: stack overflow in coroutine '#";
        CHECK(strncmp(line, head, strlen(head)) == 0);
        CHECK(strlen(line) > strlen(expect));
        CHECK_STR(line + strlen(line) - strlen(expect), expect);
    }
    CHECK(strstr(out, "program handler") == NULL);
}

/* ---- faults that are not overflows ------------------------------------ */

static char *noaccess;

static void *touch_noaccess(void *arg)
{
    (void)arg;
    noaccess[10] = 1;
    return NULL;
}

static void foreign_fault(void *arg)
{
    int in_coroutine = (int)(intptr_t)arg;
    install_own_handler();
    noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (noaccess == MAP_FAILED)
        _exit(5);
    /* weft is set up (its handler installed) before the fault. */
    weft_co *warm = weft_co_new(touch_noaccess, NULL, NULL);
    if (warm == NULL)
        _exit(6);
    if (in_coroutine) {
        weft_co_send(warm, NULL, NULL);
    } else {
        weft_co_free(warm);
        touch_noaccess(NULL);
    }
    _exit(7);
}

static void expect_program_handler(int in_coroutine)
{
    char out[8192];
    int status = test_fork(foreign_fault, (void *)(intptr_t)in_coroutine, out, sizeof out);
    CHECK_EXITED(status, 42, out);
    CHECK(strstr(out, "program handler") != NULL);
    CHECK_INT(test_count_lines(out, "weft: ", NULL, 0), 0);
}

/* Without a program handler, a fault that is not an overflow kills the
 * process with SIGSEGV as it would without weft. */
static void foreign_default(void *arg)
{
    (void)arg;
    noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    weft_co *co = weft_co_new(touch_noaccess, NULL, NULL);
    weft_co_send(co, NULL, NULL);
    _exit(7);
}

/* SIGSEGV ignored before weft's handler came: a sent SIGSEGV is ignored,
 * a fault outside any guard still kills (the kernel does not let a fault
 * be ignored), and an overflow is still reported. */
static void ignore_segv(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        _exit(5);
}

static void ignored_sent(void *arg)
{
    (void)arg;
    ignore_segv();
    weft_co *co = weft_co_new(test_deep, NULL, NULL);
    if (co == NULL)
        _exit(6);
    if (kill(getpid(), SIGSEGV) != 0 || raise(SIGSEGV) != 0)
        _exit(8);
    fputs("survived\n", stderr);
    /* Still weft's handler: the overflow is reported. */
    weft_co_send(co, NULL, NULL);
    _exit(7);
}

static void ignored_fault(void *arg)
{
    (void)arg;
    ignore_segv();
    foreign_default(NULL);
}

int main(void)
{
    overflow_case cases[] = {
        {test_deep, NULL, "recursive", STACK, 0, 0},
        {test_deep, NULL, "recursive-default", 0, 0, 0},
        {test_deep, NULL, NULL, STACK, 0, 0},
        {large, NULL, "vla", STACK, 0, 0},
        {large, (void *)1, "fixed-array", STACK, 0, 0},
        {test_deep, NULL, "own-handler", STACK, 1, 0},
        {large, NULL, "own-handler-vla", STACK, 1, 0},
        {test_deep, NULL, "on-thread", STACK, 0, 1},
        {large, NULL, "on-thread-vla", STACK, 1, 1},
        {test_deep, NULL, "0123456789012345678901234567890", STACK, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_overflow(&cases[i]);
    /* valgrind reports the deliberate bad write as an error and turns the
     * handler's exit code into its own. */
    if (!test_under_is("valgrind")) {
        expect_program_handler(1);
        expect_program_handler(0);
    }

    /* (ASan and TSan report such a fault themselves and exit.) */
    if (!test_under_is("asan") && !test_under_is("tsan")) {
        char out[8192];
        int status = test_fork(foreign_default, NULL, out, sizeof out);
        CHECK_KILLED_BY(status, SIGSEGV, out);
        CHECK_INT(test_count_lines(out, "weft: ", NULL, 0), 0);
        status = test_fork(ignored_fault, NULL, out, sizeof out);
        CHECK_KILLED_BY(status, SIGSEGV, out);
        CHECK_INT(test_count_lines(out, "weft: ", NULL, 0), 0);
    }
    char out[8192], line[512];
    test_expect_weft_abort(ignored_sent, NULL, out, sizeof out, line, sizeof line);
    CHECK(strstr(out, "survived") != NULL);
    CHECK(strstr(line, "weft: stack overflow in coroutine") == line);
    return 0;
}
