/* An HTTP/1.1 server with keep-alive: one task per connection, plain
 * sequential code; GET / answers "Hello, World!", other paths 404.
 * Pipelined requests are answered in order. An idle connection waits as
 * long as it likes, but once a request has begun its head (at most 2 KiB)
 * must be complete within 10 seconds. Usage: http PORT (runs until
 * killed). */
#define _GNU_SOURCE /* memmem */
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

/* One request head h[0..len) ending in CRLF CRLF: the response, or NULL
 * when malformed; sets *close and *body (bytes of body to skip). */
static const char *handle(char *h, size_t len, int *close, long *body)
{
    char *eol = memchr(h, '\r', len), *sp1 = memchr(h, ' ', len), *sp2;
    if (!eol || !sp1 || sp1 > eol || !(sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))))
        return NULL;
    if (eol - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
        return NULL;
    *close = sp2[8] == '0'; /* HTTP/1.0 closes unless asked to keep alive */
    *body = 0;
    for (char *l = eol + 2, *e; l < h + len - 2; l = e + 2) {
        e = memchr(l, '\r', (size_t)(h + len - l));
        char *colon = memchr(l, ':', (size_t)(e - l)), *v;
        if (!colon || e[1] != '\n')
            return NULL;
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = (size_t)(colon - l), vn = (size_t)(e - v);
        if (is(l, n, "connection") && (is(v, vn, "close") || is(v, vn, "keep-alive")))
            *close = is(v, vn, "close");
        else if (is(l, n, "content-length") && (*body = strtol(v, NULL, 10)) < 0)
            return NULL;
        else if (is(l, n, "transfer-encoding"))
            return NULL; /* chunked request bodies are not supported */
    }
    int get = sp1 - h == 3 && memcmp(h, "GET", 3) == 0;
    return get && sp2 - sp1 == 2 && sp1[1] == '/' ? HELLO : NOTFOUND;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg, close = 0;
    char buf[2048], out[1024]; /* small: an idle connection costs one page */
    size_t have = 0, olen;
    long skip = 0;
    int64_t begun = 0;                    /* when the request being read began */
    while (!close && have < sizeof buf) { /* a full buffer: a head too large */
        ssize_t n = weft_read(fd, buf + have, sizeof buf - have, have ? begun + 10000000000 : -1);
        if (n <= 0)
            break;
        begun = have ? begun : weft_now();
        size_t used = 0, drop;
        for (have += (size_t)n, olen = 0; !close; used += drop) {
            drop = (size_t)skip < have - used ? (size_t)skip : have - used;
            skip -= (long)drop, used += drop;
            char *end = memmem(buf + used, have - used, "\r\n\r\n", 4);
            if (skip || !end)
                break;
            drop = (size_t)(end + 4 - (buf + used));
            const char *resp = handle(buf + used, drop, &close, &skip);
            if (!resp)
                resp = BAD, close = 1;
            size_t rl = strlen(resp);
            if (olen + rl > sizeof out && weft_write(fd, out, olen, -1) < 0)
                close = 1;
            olen = olen + rl > sizeof out ? 0 : olen;
            memcpy(out + olen, resp, rl), olen += rl;
        }
        if (olen && weft_write(fd, out, olen, -1) < 0)
            break;
        memmove(buf, buf + used, have - used), have -= used;
        begun = used && have ? weft_now() : begun; /* the next request has begun */
    }
    weft_close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int lfd = weft_tcp_listen(NULL, *(int *)arg, 0);
    if (lfd < 0)
        return perror("http: listen"), NULL;
    weft_group *g = weft_group_new(); /* frees each task when it ends */
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) /* out of fds: back off */
            weft_sleep(weft_now() + 10 * 1000000);
        else if (fd >= 0 && !weft_group_spawn(g, serve, (void *)(intptr_t)fd, NULL))
            weft_close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s PORT\n", argv[0]), 2;
    int port = atoi(argv[1]);
    return weft_run(server, &port, NULL) == 0 ? 0 : 1;
}
