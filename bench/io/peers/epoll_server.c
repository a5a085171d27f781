/* The peer that sets the bar: a hand-written, single-threaded,
 * level-triggered epoll server, as tight as such a loop gets: per ready
 * connection one read, then the answers in one write. Modes: "http"
 * (keep-alive, answers every request head with Hello, World!) and "echo".
 * Usage: epoll_server http|echo PORT. Runs until killed. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELLO                                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

typedef struct conn {
    int fd;
    size_t have;
    char buf[4096];
} conn;

static int http;

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN)
            continue; /* rare with small answers; a peer may spin here */
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 0: keep, -1: close. */
static int on_read(conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
    if (n <= 0)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    if (!http)
        return write_all(c->fd, c->buf, (size_t)n);
    c->have += (size_t)n;
    char out[4096];
    size_t olen = 0, used = 0;
    char *end;
    while ((end = memmem(c->buf + used, c->have - used, "\r\n\r\n", 4))) {
        if (olen + sizeof HELLO - 1 > sizeof out) {
            if (write_all(c->fd, out, olen) != 0)
                return -1;
            olen = 0;
        }
        memcpy(out + olen, HELLO, sizeof HELLO - 1);
        olen += sizeof HELLO - 1;
        used = (size_t)(end + 4 - c->buf);
    }
    memmove(c->buf, c->buf + used, c->have - used);
    c->have -= used;
    if (c->have == sizeof c->buf)
        return -1;
    return olen ? write_all(c->fd, out, olen) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: %s http|echo PORT\n", argv[0]), 2;
    http = strcmp(argv[1], "http") == 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, SOMAXCONN) != 0)
        return perror("epoll_server"), 1;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    conn *nc = malloc(sizeof *nc);
                    nc->fd = fd;
                    nc->have = 0;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (on_read(c) != 0) {
                close(c->fd);
                free(c);
            }
        }
    }
}
