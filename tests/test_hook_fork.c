/* fork in a task under the hook: the child's weft is fresh (its own
 * poller, as weft gives a child of fork), its hooked calls park and let
 * its tasks run, and the parent's go on. */
#include "hook_util.h"

#include <sys/wait.h>

static int to_child[2], from_child[2];

static void *child_writer(void *arg)
{
    (void)arg;
    usleep(HOOK_MS * 1000);
    CHECK_INT(write(to_child[1], "ping", 4), 4);
    return NULL;
}

/* In the child: a hooked read that a task of the child satisfies, then a
 * report to the parent. */
static void child(void)
{
    weft_co *w = weft_spawn(child_writer, NULL, NULL);
    ticker_start();
    char b[8];
    ssize_t n = read(to_child[0], b, sizeof b);
    long ticks = ticker_stop();
    weft_join(w, NULL, -1);
    char msg[32];
    int len = snprintf(msg, sizeof msg, "%zd %ld", n, ticks);
    write(from_child[1], msg, (size_t)len);
    _exit(n == 4 && ticks > 0 ? 0 : 1);
}

static void *main_task(void *arg)
{
    (void)arg;
    CHECK_INT(pipe(to_child), 0);
    CHECK_INT(pipe(from_child), 0);
    /* The parent has used its pipes through weft before the fork. */
    struct pollfd p = {from_child[0], POLLIN, 0};
    CHECK_INT(poll(&p, 1, 10), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        child();
    /* The parent's hooked read parks until the child reports. */
    ticker_start();
    char b[32] = {0};
    ssize_t n = read(from_child[0], b, sizeof b - 1);
    long ticks = ticker_stop();
    CHECK(n > 0);
    printf("child said \"%s\"; %ld ticks in the parent meanwhile\n", b, ticks);
    CHECK(ticks > 0);
    int st;
    CHECK_INT(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    printf("ok\n");
    return 0;
}
