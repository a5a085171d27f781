/* 10,000 idle connections (500 under valgrind, qemu or ASan), one task
 * each: all stay served, and the memory per idle connection is printed.
 * The clients live in a child process, so that each side has its own
 * RLIMIT_NOFILE (raised to the hard limit). */
#include "io_util.h"

#include <netinet/in.h>
#include <sys/socket.h>

static int nconn, port, ready_pipe[2], go_pipe[2];
static long served;
static weft_group *conns;

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[64];
    ssize_t n;
    while ((n = weft_read(fd, buf, sizeof buf, -1)) > 0) {
        if (weft_write(fd, buf, (size_t)n, -1) < 0)
            break;
        served++;
    }
    weft_close(fd);
    return NULL;
}

/* Takes the listening fd by value, not a pointer to the spawner's local:
 * a shared-stack spawner's frames are copied away while it waits. */
static void *acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0)
            return NULL; /* cancelled */
        if (!weft_group_spawn(conns, serve, (void *)(intptr_t)fd, NULL))
            FAIL("spawn: %s", strerror(errno));
    }
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void client(void)
{
    io_raise_nofile();
    int *fds = malloc((size_t)nconn * sizeof *fds);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0) {
            perror("client connect");
            _exit(2);
        }
    }
    char c = 'r';
    if (write(ready_pipe[1], &c, 1) != 1 || read(go_pipe[0], &c, 1) != 1)
        _exit(3);
    for (int i = 0; i < nconn; i++) {
        char buf[8];
        if (write(fds[i], "ping", 4) != 4 || read(fds[i], buf, sizeof buf) != 4)
            _exit(4);
        close(fds[i]);
    }
    free(fds);
    _exit(0);
}

static void *main_task(void *arg)
{
    (void)arg;
    conns = weft_group_new();
    int lfd = weft_tcp_listen("127.0.0.1", 0, 4096);
    CHECK(lfd >= 0);
    port = weft_local_port(lfd);
    long rss0 = rss_kb();
    weft_co *acc = weft_spawn(acceptor, (void *)(intptr_t)lfd, NULL);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        client();
    /* The pipe from the child is waited on like any fd. */
    char c;
    CHECK_INT(weft_read(ready_pipe[0], &c, 1, ms_from_now(60000)), 1);
    /* Every connection accepted and its task parked in its first read. */
    while (weft_pause() == 0 && served == 0 && weft_wait_fd(lfd, POLLIN, 0) > 0)
        ;
    weft_sleep(ms_from_now(50));
    long rss1 = rss_kb();
    printf("%d idle connections: %.0f bytes of RSS each (%ld KiB in all)\n", nconn,
           (double)(rss1 - rss0) * 1024 / nconn, rss1 - rss0);
    CHECK_INT(weft_write(go_pipe[1], "g", 1, -1), 1);
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0)
        weft_sleep(ms_from_now(5));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(served, nconn);
    weft_cancel(acc);
    weft_join(acc, NULL, -1);
    CHECK_INT(weft_group_close(conns), 0);
    weft_close(lfd);
    return NULL;
}

int main(void)
{
    io_test_init();
    long lim = io_raise_nofile();
    nconn = io_slow_tool() ? 500 : 10000;
    if (lim < nconn + 64) {
        printf("RLIMIT_NOFILE hard limit %ld: %ld connections\n", lim, lim - 64);
        nconn = (int)(lim - 64);
    }
    if (nconn < 100)
        test_skip("too few fds");
    CHECK_INT(pipe(ready_pipe), 0);
    CHECK_INT(pipe(go_pipe), 0);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
