/* Tiny assertion macros and helpers for the weft tests. Each test is its own
 * program: a failed check prints where and why, then exits 1. Exit code 77
 * means "skipped" to tests/run.sh. */
#ifndef WEFT_TEST_CHECK_H
#define WEFT_TEST_CHECK_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP_CODE 77

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL("check failed: %s", #cond);                                                       \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_)                                                                  \
            FAIL("%s == %lld, expected %s == %lld", #a, check_a_, #b, check_b_);                   \
    } while (0)

#define CHECK_PTR(a, b)                                                                            \
    do {                                                                                           \
        const void *check_a_ = (const void *)(a), *check_b_ = (const void *)(b);                   \
        if (check_a_ != check_b_)                                                                  \
            FAIL("%s == %p, expected %s == %p", #a, check_a_, #b, check_b_);                       \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ == NULL || strcmp(check_a_, check_b_) != 0)                                   \
            FAIL("%s == \"%s\", expected \"%s\"", #a, check_a_ ? check_a_ : "(null)", check_b_);   \
    } while (0)

/* A call that must fail with -1 (or NULL) and the given errno. */
#define CHECK_ERR(call, fail_value, err)                                                           \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long long check_r_ = (long long)(call);                                                    \
        int check_e_ = errno;                                                                      \
        if (check_r_ != (long long)(fail_value) || check_e_ != (err))                              \
            FAIL("%s returned %lld errno %d (%s), expected %lld errno %d (%s)", #call, check_r_,   \
                 check_e_, strerror(check_e_), (long long)(fail_value), (err), strerror(err));     \
    } while (0)

/* The tool the suite runs under ("valgrind", "qemu", "asan", "tsan" or ""). */
static inline const char *test_under(void)
{
    const char *u = getenv("WEFT_TEST_UNDER");
    return u ? u : "";
}

static inline int test_under_is(const char *what)
{
    return strcmp(test_under(), what) == 0;
}

static inline void test_skip(const char *why)
{
    printf("skipped: %s\n", why);
    fflush(stdout);
    exit(SKIP_CODE);
}

/* Is prog an executable in one of $PATH's directories? */
static inline int test_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char buf[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
        if (access(buf, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Runs fn(arg) in a forked child with its stderr captured into buf (NUL
 * terminated). Returns the child's wait status. The child exits 0 if fn
 * returns. */
static inline int test_fork(void (*fn)(void *), void *arg, char *buf, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0)
        FAIL("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            char sink[256];
            if (read(fds[0], sink, sizeof sink) <= 0)
                break;
            continue;
        }
        ssize_t r = read(fds[0], buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            FAIL("waitpid: %s", strerror(errno));
    return status;
}

/* Counts the lines of text that start with prefix; copies the first such
 * line (without its newline) into first when not NULL. */
/* Recursion that cannot be folded or turned into a loop: every level keeps
 * a live 256-byte array. */
static __attribute__((noinline, unused)) unsigned long test_recurse(unsigned long n)
{
    static volatile unsigned long sink __attribute__((unused));
    volatile char pad[256];
    pad[0] = (char)n;
    pad[255] = (char)(n >> 8);
    __asm__ volatile("" : : "r"(pad) : "memory");
    unsigned long r = n == 0 ? 0 : test_recurse(n - 1) + 1;
    sink += (unsigned long)pad[0] + (unsigned long)pad[255];
    return r;
}

/* A coroutine body that recurses until its stack overflows. */
static inline void *test_deep(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)test_recurse(1UL << 30);
}

/* The number of memory maps of this process. */
/* A "Field: N kB" line of /proc/self/status (VmRSS, VmSize), in kB; -1
 * when it cannot be read. */
static inline long test_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t n = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static inline int test_count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    int n = 0, c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static inline int test_count_lines(const char *text, const char *prefix, char *first, size_t cap)
{
    int count = 0;
    size_t plen = strlen(prefix);
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= plen && strncmp(p, prefix, plen) == 0) {
            if (count == 0 && first) {
                size_t m = len < cap - 1 ? len : cap - 1;
                memcpy(first, p, m);
                first[m] = '\0';
            }
            count++;
        }
        p += len + (end != NULL);
    }
    return count;
}

/* Checks that a forked child died of signal sig. */
#define CHECK_KILLED_BY(status, sig, output)                                                       \
    do {                                                                                           \
        int check_s_ = (status);                                                                   \
        if (!WIFSIGNALED(check_s_) || WTERMSIG(check_s_) != (sig))                                 \
            FAIL("child: expected signal %d, got %s %d; its stderr:\n%s", (sig),                   \
                 WIFSIGNALED(check_s_) ? "signal" : "exit",                                        \
                 WIFSIGNALED(check_s_) ? WTERMSIG(check_s_) : WEXITSTATUS(check_s_), (output));    \
    } while (0)

/* Runs fn(arg) in a child that must die of SIGABRT after printing exactly
 * one line starting "weft: "; its output goes to out, that line to line. */
static inline void test_expect_weft_abort(void (*fn)(void *), void *arg, char *out, size_t out_cap,
                                          char *line, size_t line_cap)
{
    int status = test_fork(fn, arg, out, out_cap);
    CHECK_KILLED_BY(status, SIGABRT, out);
    int n = test_count_lines(out, "weft: ", line, line_cap);
    if (n != 1)
        FAIL("expected one 'weft: ' line, got %d in:\n%s", n, out);
}

#define CHECK_EXITED(status, code, output)                                                         \
    do {                                                                                           \
        int check_s_ = (status);                                                                   \
        if (!WIFEXITED(check_s_) || WEXITSTATUS(check_s_) != (code))                               \
            FAIL("child: expected exit %d, got %s %d; its stderr:\n%s", (code),                    \
                 WIFSIGNALED(check_s_) ? "signal" : "exit",                                        \
                 WIFSIGNALED(check_s_) ? WTERMSIG(check_s_) : WEXITSTATUS(check_s_), (output));    \
    } while (0)

#endif
