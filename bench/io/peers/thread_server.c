/* Thread per connection, blocking calls: the other classic peer. Modes as
 * epoll_server ("http" keep-alive, "echo"). Threads have 64 KiB stacks.
 * Usage: thread_server http|echo PORT. Runs until killed. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELLO                                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

static int http;

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096], out[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        if (!http) {
            if (write_all(fd, buf, (size_t)n) != 0)
                break;
            continue;
        }
        have += (size_t)n;
        size_t olen = 0, used = 0;
        char *end;
        while ((end = memmem(buf + used, have - used, "\r\n\r\n", 4))) {
            if (olen + sizeof HELLO - 1 > sizeof out) {
                if (write_all(fd, out, olen) != 0)
                    goto out;
                olen = 0;
            }
            memcpy(out + olen, HELLO, sizeof HELLO - 1);
            olen += sizeof HELLO - 1;
            used = (size_t)(end + 4 - buf);
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        if (have == sizeof buf || (olen && write_all(fd, out, olen) != 0))
            break;
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: %s http|echo PORT\n", argv[0]), 2;
    http = strcmp(argv[1], "http") == 0;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, SOMAXCONN) != 0)
        return perror("thread_server"), 1;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000);
            continue;
        }
        pthread_t th;
        if (pthread_create(&th, &at, serve, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
}
