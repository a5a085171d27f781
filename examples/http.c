/* An HTTP/1.1 server with keep-alive: one task per connection, plain
 * sequential code; GET / answers "Hello, World!", other paths 404.
 * Pipelined requests are answered in order. An idle connection waits as
 * long as it likes, but once a request has begun its head (at most 2 KiB)
 * must be complete within 10 seconds. Reads lines with weft_buf.
 * Usage: http PORT [THREADS] (runs until killed); THREADS as for echo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weft.h>

#define HELLO                                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
#define NOTFOUND "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
#define BAD "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static int is(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* The request line: the response, or NULL when malformed; sets *close. */
static const char *request(char *l, size_t len, int *close)
{
    char *sp1 = memchr(l, ' ', len), *sp2;
    if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', (size_t)(l + len - sp1 - 1))))
        return NULL;
    if (l + len - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
        return NULL;
    *close = sp2[8] == '0'; /* HTTP/1.0 closes unless asked to keep alive */
    int get = sp1 - l == 3 && memcmp(l, "GET", 3) == 0;
    return get && sp2 - sp1 == 2 && sp1[1] == '/' ? HELLO : NOTFOUND;
}

/* One header line: 0 when malformed; sets *close and *body. */
static int header(char *l, size_t len, int *close, long *body)
{
    char *colon = memchr(l, ':', len), *v;
    if (!colon)
        return 0;
    for (v = colon + 1; *v == ' ' || *v == '\t';)
        v++;
    size_t n = (size_t)(colon - l), vn = (size_t)(l + len - v);
    if (is(l, n, "connection") && (is(v, vn, "close") || is(v, vn, "keep-alive")))
        *close = is(v, vn, "close");
    else if (is(l, n, "content-length") && (*body = strtol(v, NULL, 10)) < 0)
        return 0;
    return !is(l, n, "transfer-encoding"); /* chunked bodies are not supported */
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg, close = 0;
    weft_buf *b = weft_buf_new(fd, 1024);
    char line[2048]; /* a head (each of its lines, and all of them) fits */
    while (b && !close) {
        if (weft_buf_fill(b, -1) <= 0)
            break; /* idle as long as it likes; a begun head has 10 s */
        int64_t dl = weft_after(WEFT_S(10));
        ssize_t n = weft_buf_read_line(b, line, sizeof line, dl);
        long body = 0, head = n;
        const char *resp = n > 0 ? request(line, (size_t)n, &close) : NULL;
        while (n > 0 && (n = weft_buf_read_line(b, line, sizeof line, dl)) > 0)
            if ((head += n) >= (long)sizeof line ||
                (resp && !header(line, (size_t)n, &close, &body)))
                resp = NULL;
        if (n < 0 && errno != EMSGSIZE)
            break; /* end of file, deadline */
        if (n < 0 || !resp)
            resp = BAD, close = 1;
        for (ssize_t k = 1; body > 0 && k > 0; body -= k) /* the body is skipped */
            k = weft_buf_read(b, line, (size_t)body < sizeof line ? (size_t)body : sizeof line, dl);
        if (weft_buf_write(b, resp, strlen(resp), NULL, -1) < 0 ||
            ((close || !weft_buf_buffered(b)) && weft_buf_flush(b, -1) < 0))
            break; /* answers to pipelined requests go out together */
    }
    weft_buf_free(b);
    weft_close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int port = *(int *)arg;
    int lfd = weft_workers() > 1 ? weft_tcp_listen_reuseport(NULL, port, 0)
                                 : weft_tcp_listen(NULL, port, 0);
    if (lfd < 0)
        return perror("http: listen"), NULL;
    weft_group *g = weft_group_new(); /* frees each task when it ends */
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) /* out of fds: back off */
            weft_sleep(weft_after(WEFT_MS(10)));
        else if (fd >= 0 && !weft_group_spawn(g, serve, (void *)(intptr_t)fd, NULL))
            weft_close(fd);
    }
}

static void *servers(void *arg) /* one per worker, as in echo */
{
    for (int i = 1; i < weft_workers(); i++)
        if (!weft_spawn_on(i, server, arg, NULL))
            perror("http: spawn");
    return server(arg);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]), 2;
    int port = atoi(argv[1]), threads = argc > 2 ? atoi(argv[2]) : 1;
    int rc = threads == 1 ? weft_run(server, &port, NULL)
                          : weft_run_threads((unsigned)threads, servers, &port, NULL);
    return rc == 0 ? 0 : 1;
}
