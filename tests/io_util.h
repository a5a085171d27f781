/* Helpers of the io tests: the backend each run uses, fd counting, and
 * small servers. WEFT_BACKEND=epoll or io_uring in the environment picks
 * the backend the whole suite runs on (CI runs it once with each); a test
 * asked for io_uring where it cannot run skips. Under valgrind and qemu,
 * which do not model io_uring, epoll is forced. */
#ifndef WEFT_TEST_IO_UTIL_H
#define WEFT_TEST_IO_UTIL_H

#include "check.h"
#include "weft.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>

static inline void io_test_init(void)
{
    const char *want = getenv("WEFT_BACKEND");
    if (test_under_is("valgrind") || test_under_is("qemu")) {
        if (want && strcmp(want, "io_uring") == 0)
            test_skip("io_uring is not modelled under valgrind or qemu");
        setenv("WEFT_BACKEND", "epoll", 1);
        want = "epoll";
    }
    const char *got = weft_backend();
    printf("backend: %s\n", got);
    if (want && (strcmp(want, "epoll") == 0 || strcmp(want, "io_uring") == 0) &&
        strcmp(want, got) != 0)
        test_skip("the requested backend is not available here");
}

static inline int io_slow_tool(void)
{
    return test_under_is("valgrind") || test_under_is("qemu") || test_under_is("asan") ||
           test_under_is("tsan");
}

static inline int io_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
static inline long io_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

static inline int64_t ms_from_now(int64_t ms)
{
    return weft_now() + ms * 1000000;
}

/* ---- example programs, run as servers ---- */

/* A loopback TCP port that was free a moment ago. */
static inline int io_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_INT(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Runs the program at path with the port as its argument, and then extra
 * when it is not NULL. */
static inline pid_t io_start_server_with(const char *path, int port, const char *extra)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", port);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl(path, path, arg, extra, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static inline pid_t io_start_server(const char *path, int port)
{
    return io_start_server_with(path, port, NULL);
}

/* Connects to a server that may still be starting (in a task). */
static inline int io_dial_server(int port)
{
    for (int i = 0; i < 200; i++) {
        int fd = weft_tcp_dial("127.0.0.1", port, ms_from_now(1000));
        if (fd >= 0)
            return fd;
        weft_sleep(ms_from_now(10));
    }
    FAIL("cannot connect to port %d", port);
}

#endif
