/* gdb can unwind a coroutine's stack: a breakpoint inside a coroutine's
 * function gives a backtrace that shows it and ends cleanly, without
 * "previous frame inner to this frame (corrupt stack?)". Skipped without
 * gdb or under a tool (valgrind, qemu, asan). */
#include <weft.h>

#include "check.h"

#ifndef WEFT_GDB_HELPER
#error "WEFT_GDB_HELPER: path of the helper program"
#endif

static char output[65536];

static void run_gdb(void *arg)
{
    (void)arg;
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execlp("gdb", "gdb", "-nx", "-batch", "-ex", "set debuginfod enabled off", "-ex",
           "break gdb_target", "-ex", "run", "-ex", "bt", "-ex", "continue", WEFT_GDB_HELPER,
           (char *)NULL);
    _exit(127);
}

int main(void)
{
    if (test_under()[0])
        test_skip("gdb runs only natively");
    if (!test_on_path("gdb"))
        test_skip("no gdb on PATH");
    int status = test_fork(run_gdb, NULL, output, sizeof output);
    CHECK_EXITED(status, 0, output);
    if (strstr(output, "ptrace") && strstr(output, "Operation not permitted"))
        test_skip("ptrace is not permitted here");
    const char *bt = strstr(output, "#0 ");
    if (bt == NULL)
        FAIL("no backtrace in gdb's output:\n%s", output);
    /* The frames of the coroutine, innermost first. */
    const char *frames[] = {"gdb_target", "gdb_inner", "gdb_co_body"};
    const char *at = bt;
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        const char *f = strstr(at, frames[i]);
        if (f == NULL)
            FAIL("frame %s missing from the backtrace:\n%s", frames[i], output);
        at = f;
    }
    const char *bad[] = {"previous frame inner", "corrupt stack", "Backtrace stopped",
                         "previous frame identical"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(output, bad[i]))
            FAIL("gdb said \"%s\":\n%s", bad[i], output);
    /* The program then ran to its end. */
    if (strstr(output, "helper done 0") == NULL)
        FAIL("the helper did not finish:\n%s", output);
    return 0;
}
