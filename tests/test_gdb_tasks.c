/* The gdb extension (tools/gdb/weft.py), auto-loaded from beside
 * libweft.so: `info weft-tasks` lists the helper's tasks with what each
 * waits on (a channel, a sleep's deadline, an fd), and `weft-bt` shows a
 * suspended task's backtrace down to the function it is parked in and its
 * callers, and explains where a shared-stack task's frames are; the same
 * from a core file written by gcore. Skipped without gdb, without gdb's
 * Python, or under a tool (valgrind, qemu, asan). */
#include <weft.h>

#include "check.h"

#ifndef WEFT_GDB_HELPER
#error "WEFT_GDB_HELPER: path of the helper program"
#endif

static char output[1 << 17];

/* argv of the gdb to run, NULL-terminated. */
static void run_gdb(void *arg)
{
    char *const *argv = arg;
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execvp("gdb", argv);
    _exit(127);
}

/* Runs gdb in batch mode on the helper (and a core file, when not NULL)
 * with the commands of each NULL-terminated list in turn. The safe path
 * lets gdb auto-load the extension from the build tree, beside
 * libweft.so. */
static void gdb_batch(const char *core, const char *const *const *lists)
{
    const char *argv[64] = {"gdb",
                            "-nx",
                            "-batch",
                            "-iex",
                            "set auto-load safe-path /",
                            "-ex",
                            "set debuginfod enabled off"};
    size_t n = 7;
    for (; *lists; lists++)
        for (const char *const *c = *lists; *c; c++) {
            if (n + 5 > sizeof argv / sizeof argv[0])
                FAIL("too many gdb commands");
            argv[n++] = "-ex";
            argv[n++] = *c;
        }
    argv[n++] = WEFT_GDB_HELPER;
    if (core)
        argv[n++] = core;
    argv[n] = NULL;
    int status = test_fork(run_gdb, (void *)argv, output, sizeof output);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        FAIL("gdb did not run (status %d):\n%s", status, output);
}

/* The line of the listing for the task named `name`. */
static const char *task_line(const char *name, char *line, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, " %s ", name);
    for (const char *p = output; (p = strstr(p, "\n  #")) != NULL; p++) {
        const char *end = strchr(p + 1, '\n');
        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
        if (n >= cap)
            n = cap - 1;
        memcpy(line, p + 1, n);
        line[n] = '\0';
        if (strstr(line, key))
            return line;
    }
    FAIL("no task %s in the listing:\n%s", name, output);
}

static void expect_in(const char *line, const char *what)
{
    if (!strstr(line, what))
        FAIL("\"%s\" missing from \"%s\"; gdb said:\n%s", what, line, output);
}

/* The frames, innermost first, in order after `from`. */
static void expect_frames(const char *from, const char *const *frames, size_t n)
{
    const char *at = strstr(output, from);
    if (!at)
        FAIL("no \"%s\" in gdb's output:\n%s", from, output);
    for (size_t i = 0; i < n; i++) {
        const char *f = strstr(at, frames[i]);
        if (!f)
            FAIL("frame %s missing after \"%s\":\n%s", frames[i], from, output);
        at = f;
    }
}

static void check_listing(int live)
{
    if (strstr(output, "Undefined info command"))
        FAIL("the extension was not auto-loaded:\n%s", output);
    /* Per thread, in the order of gdb's thread numbers. */
    const char *t1 = strstr(output, "thread 1 (LWP "), *t2 = strstr(output, "thread 2 (LWP ");
    if (!t1 || !t2 || t2 < t1)
        FAIL("no listing for threads 1 and 2, in that order:\n%s", output);
    if (!strstr(t1, "scheduler 0x") || !strstr(t1, ": 11 tasks") || !strstr(t2, ": 2 tasks"))
        FAIL("no schedulers of 11 and 2 tasks listed:\n%s", output);
    if (strstr(t2, " far ") == NULL)
        FAIL("task far is not listed under thread 2:\n%s", output);
    char line[256];
    expect_in(task_line("rx", line, sizeof line), "waiting  chan recv 0x");
    expect_in(task_line("driver", line, sizeof line), "waiting  chan recv 0x");
    expect_in(task_line("sleeper", line, sizeof line),
              live ? "waiting  sleep, deadline in " : "waiting  sleep, deadline at ");
    expect_in(task_line("reader", line, sizeof line), "waiting  fd read ");
    expect_in(task_line("shared0", line, sizeof line), "shared ");
    expect_in(task_line("-", line, sizeof line), "running");
    /* rx, private: its whole backtrace, from the library's parking (the
     * innermost frames are the library's own, which vary with the
     * compiler's tail calls) through the function it is parked in and its
     * caller to the entry trampoline. */
    const char *rx[] = {"park", "rx_wait", "gdb_tasks_helper.c:", "rx_body", "ctx_start"};
    expect_frames("'rx', private stack:", rx, sizeof rx / sizeof rx[0]);
    /* far, on the other thread; the generator that driver drives, by its
     * address (a variable of the helper), then from driver's own id with
     * the driver's frames after the generator's. */
    const char *far[] = {"park", "far_body", "ctx_start"};
    expect_frames("'far', ", far, sizeof far / sizeof far[0]);
    const char *gen[] = {"'gen'", "park", "gen_body", "ctx_start"};
    expect_frames("weft-bt of gdb_gen", gen, sizeof gen / sizeof gen[0]);
    const char *chain[] = {"'gen'",        "gen_body",    "--- resumed by ",
                           "'driver' ---", "driver_body", "ctx_start"};
    expect_frames("weft-bt of driver", chain, sizeof chain / sizeof chain[0]);
    const char *bad[] = {"unwinding stopped", "previous frame inner", "corrupt stack",
                         "Python Exception"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(output, bad[i]))
            FAIL("gdb said \"%s\":\n%s", bad[i], output);
}

/* The six shared tasks: more than the thread's shared stacks of their size,
 * so some are away from their stack (their image is scanned), and each
 * backtrace names the helper's functions. */
static void check_shared(void)
{
    if (!strstr(output, "saved in its image"))
        FAIL("no shared task with its frames in its image:\n%s", output);
    for (int i = 0; i < 6; i++) {
        char from[32];
        snprintf(from, sizeof from, "'shared%d', shared stack:", i);
        const char *frames[] = {"park", "rx_wait", "rx_body"};
        expect_frames(from, frames, 3);
    }
}

/* What is looked at, live and in the core. */
static const char *const inspect[] = {"info weft-tasks", "weft-bt rx",
                                      "weft-bt far",     "echo weft-bt of gdb_gen\\n",
                                      "weft-bt gdb_gen", "echo weft-bt of driver\\n",
                                      "weft-bt driver",  "weft-bt shared0",
                                      "weft-bt shared1", "weft-bt shared2",
                                      "weft-bt shared3", "weft-bt shared4",
                                      "weft-bt shared5", NULL};

int main(void)
{
    if (test_under()[0])
        test_skip("gdb runs only natively");
    if (!test_on_path("gdb"))
        test_skip("no gdb on PATH");
    const char *const probe[] = {"python print('weft' + '-python-ok')", NULL};
    gdb_batch(NULL, (const char *const *const[]){probe, NULL});
    if (!strstr(output, "weft-python-ok"))
        test_skip("this gdb has no Python");

    /* Live, with the default guards. */
    const char *const stop[] = {"break gdb_tasks_ready", "run", NULL};
    const char *const end[] = {"weft-bt nosuch", "kill", NULL};
    gdb_batch(NULL, (const char *const *const[]){stop, inspect, end, NULL});
    if (strstr(output, "ptrace") && strstr(output, "Operation not permitted"))
        test_skip("ptrace is not permitted here");
    if (!strstr(output, "Breakpoint 1, gdb_tasks_ready"))
        FAIL("the helper did not stop at gdb_tasks_ready:\n%s", output);
    check_listing(1);
    check_shared();
    if (!strstr(output, "no task is named nosuch"))
        FAIL("weft-bt of an unknown task did not say so:\n%s", output);

    /* A core file. gcore reads each mapping whole, and a slab's guard
     * regions (Linux 6.13) cannot be read: the helper uses PROT_NONE
     * guards, one mapping each, for this run. */
    char core[64], gcore[96];
    snprintf(core, sizeof core, "/tmp/weft-gdb-core.%d", (int)getpid());
    snprintf(gcore, sizeof gcore, "gcore %s", core);
    const char *const dump[] = {
        "set environment WEFT_GUARD mprotect", "break gdb_tasks_ready", "run", gcore, "kill", NULL};
    gdb_batch(NULL, (const char *const *const[]){dump, NULL});
    if (!strstr(output, "Saved corefile")) {
        unlink(core);
        FAIL("gcore wrote no core:\n%s", output);
    }
    gdb_batch(core, (const char *const *const[]){inspect, NULL});
    unlink(core);
    check_listing(0);
    check_shared();
    return 0;
}
