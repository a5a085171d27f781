#include "co/overflow.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "co/co.h"
#include "base/sys.h"

static struct sigaction previous;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

/* The alternate stack of this thread, when weft made it. */
static __thread void *alt_stack __attribute__((tls_model("initial-exec")));
static __thread size_t alt_size __attribute__((tls_model("initial-exec")));

/* How far below the bottom of a stack a fault still counts as its overflow:
 * a large local array moves the stack pointer past the guard page in one
 * step. */
#define BELOW_SLACK ((uintptr_t)256 << 20)
#define NEAR_SP ((uintptr_t)64 << 10)

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at < cap)
        buf[at++] = *s++;
    return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, uintmax_t v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && at < cap)
        buf[at++] = digits[--n];
    return at;
}

/* Only async-signal-safe calls from here on. */
static __attribute__((noreturn)) void report(const weft_co *co)
{
    char line[160];
    size_t n = 0, cap = sizeof line - 1;
    n = put_str(line, n, cap, "weft: stack overflow in coroutine '");
    n += weft__co_label(co, line + n, cap - n);
    n = put_str(line, n, cap, "' (stack ");
    n = put_num(line, n, cap, co->stack_size);
    n = put_str(line, n, cap, " bytes)");
    line[n++] = '\n';
    ssize_t w = weft__sys_write(STDERR_FILENO, line, n);
    (void)w;
    abort();
}

static int is_overflow(const weft_co *co, uintptr_t addr, uintptr_t sp)
{
    if (co == &weft__th.root)
        return 0;
    uintptr_t lo = (uintptr_t)weft__co_lo(co);
    if (addr < lo && addr >= lo - weft__guard_size())
        return 1; /* in the guard */
    /* The stack pointer went below the stack and the fault is near it. */
    return sp < lo && lo - sp <= BELOW_SLACK && addr < lo && addr + NEAR_SP >= sp;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    const weft_co *co = weft__th.cur;
    if (si->si_code > 0 && co != NULL &&
        is_overflow(co, (uintptr_t)si->si_addr, weft__arch_fault_sp(uc)))
        report(co);

    /* Not ours: behave as if weft were not here. */
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Ignored: a sent signal would have been dropped, so drop it. A fault
     * cannot be ignored: the kernel resets an ignored SIGSEGV to the
     * default for it, and so do we. */
    if (previous.sa_handler == SIG_IGN && si->si_code <= 0)
        return;
    /* Default action: restore it; a fault then recurs on return and kills
     * the process as it would have, a sent signal is sent again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous);
}

void weft__overflow_thread_init(void)
{
    pthread_once(&handler_once, install_handler);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the program (or a sanitizer) has one: keep it */
    long min = sysconf(_SC_MINSIGSTKSZ);
    size_t size = 64 * 1024;
    if (min > 0 && (size_t)min * 4 > size)
        size = (size_t)min * 4;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return; /* no report for overflows on this thread; the fault still kills */
    stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, size);
        return;
    }
    alt_stack = mem;
    alt_size = size;
}

void weft__overflow_thread_exit(void)
{
    if (alt_stack == NULL)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(alt_stack, alt_size);
    alt_stack = NULL;
}
