/* A TCP echo server: one task per connection, plain sequential code.
 * Usage: echo PORT [THREADS] (runs until killed). THREADS (default 1)
 * worker threads, 0 for one per CPU, each with its own listening socket
 * on PORT and its own accept loop. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[2048];
    for (;;) {
        ssize_t n = weft_read(fd, buf, sizeof buf, -1);
        if (n <= 0 || weft_write(fd, buf, (size_t)n, -1) < 0)
            break;
    }
    weft_close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int port = *(int *)arg; /* several workers share the port: the kernel spreads connections */
    int lfd = weft_workers() > 1 ? weft_tcp_listen_reuseport(NULL, port, 0)
                                 : weft_tcp_listen(NULL, port, 0);
    if (lfd < 0) {
        perror("echo: listen");
        return NULL;
    }
    weft_group *g = weft_group_new(); /* frees each task when it ends */
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) /* out of fds: back off */
                weft_sleep(weft_now() + 10 * 1000000);
            continue;
        }
        if (!weft_group_spawn(g, serve, (void *)(intptr_t)fd, NULL))
            weft_close(fd);
    }
}

/* One server per worker, each serving its connections on its worker:
 * this first task, on worker 0, starts the others and is the first. */
static void *servers(void *arg)
{
    for (int i = 1; i < weft_workers(); i++)
        if (!weft_spawn_on(i, server, arg, NULL))
            perror("echo: spawn");
    return server(arg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), threads = argc > 2 ? atoi(argv[2]) : 1;
    int rc = threads == 1 ? weft_run(server, &port, NULL)
                          : weft_run_threads((unsigned)threads, servers, &port, NULL);
    return rc == 0 ? 0 : 1;
}
