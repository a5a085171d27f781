/* A TCP echo server: one task per connection, plain sequential code.
 * Usage: echo PORT (runs until killed). */
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
    int lfd = weft_tcp_listen(NULL, *(int *)arg, 0);
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    return weft_run(server, &port, NULL) == 0 ? 0 : 1;
}
