/* The echo load: one thread, epoll, CONNS connections each in 64-byte
 * ping-pong (send, wait for all 64 bytes back, send again) for SECONDS
 * after a 1 s warm-up. Prints "msgs/s N p50_us N p99_us N".
 * Usage: load PORT [CONNS=100] [SECONDS=5] [SIZE=64]. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 100000 /* 1 us each, up to 100 ms */

typedef struct conn {
    int fd;
    size_t got;
    int64_t sent_at;
} conn;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t hist[BUCKETS + 1];

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s PORT [CONNS] [SECONDS] [SIZE]\n", argv[0]), 2;
    int port = atoi(argv[1]);
    int nconn = argc > 2 ? atoi(argv[2]) : 100;
    double secs = argc > 3 ? atof(argv[3]) : 5;
    size_t size = argc > 4 ? (size_t)atoi(argv[4]) : 64;
    char msg[4096], buf[4096];
    memset(msg, 'm', sizeof msg);
    int ep = epoll_create1(0);
    conn *cs = calloc((size_t)nconn, sizeof *cs);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            return perror("load: connect"), 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    int64_t start = now_ns(), warm = start + 1000000000, end = warm + (int64_t)(secs * 1e9);
    for (int i = 0; i < nconn; i++) {
        cs[i].sent_at = now_ns();
        if (write(cs[i].fd, msg, size) != (ssize_t)size)
            return perror("load: write"), 1;
    }
    uint64_t msgs = 0;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 100);
        int64_t t = now_ns();
        if (t >= end)
            break;
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0)
                return fprintf(stderr, "load: connection closed\n"), 1;
            c->got += (size_t)r;
            if (c->got < size)
                continue;
            c->got -= size;
            if (t >= warm) {
                int64_t us = (t - c->sent_at) / 1000;
                hist[us < BUCKETS ? us : BUCKETS]++;
                msgs++;
            }
            c->sent_at = t;
            if (write(c->fd, msg, size) != (ssize_t)size)
                return perror("load: write"), 1;
        }
    }
    uint64_t acc = 0;
    long p50 = -1, p99 = -1;
    for (long i = 0; i <= BUCKETS; i++) {
        acc += hist[i];
        if (p50 < 0 && acc * 100 >= msgs * 50)
            p50 = i;
        if (p99 < 0 && acc * 100 >= msgs * 99) {
            p99 = i;
            break;
        }
    }
    printf("msgs/s %.0f p50_us %ld p99_us %ld\n", (double)msgs / secs, p50, p99);
    return 0;
}
