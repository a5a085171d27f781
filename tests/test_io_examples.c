/* The echo and HTTP examples, run as programs: echo round trips; HTTP
 * keep-alive, pipelining, 404, HTTP/1.0 closing, a malformed head, a
 * request body skipped. Under qemu the examples are not run (skipped). */
#include "io_util.h"

#include <netinet/in.h>
#include <sys/socket.h>

#ifndef WEFT_EXAMPLE_ECHO
#error "WEFT_EXAMPLE_ECHO and WEFT_EXAMPLE_HTTP: paths of build/examples/echo and http"
#endif

static int port_of[2];

/* Reads until want bytes came or end of file; returns the count. */
static size_t read_n(int fd, char *buf, size_t want)
{
    size_t got = 0;
    while (got < want) {
        ssize_t n = weft_read(fd, buf + got, want - got, ms_from_now(5000));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

#define HELLO                                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
#define NOTFOUND "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
#define BAD "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static void *client(void *arg)
{
    (void)arg;
    char buf[1024];
    /* echo */
    int fd = io_dial_server(port_of[0]);
    CHECK_INT(weft_write(fd, "hello echo", 10, -1), 10);
    CHECK_INT(read_n(fd, buf, 10), 10);
    CHECK_STR(buf, "hello echo");
    weft_close(fd);

    /* HTTP: two requests in one write, then a 404, on one connection. */
    fd = io_dial_server(port_of[1]);
    const char *two = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_INT(weft_write(fd, two, strlen(two), -1), (long long)strlen(two));
    CHECK_INT(read_n(fd, buf, 2 * strlen(HELLO)), 2 * strlen(HELLO));
    CHECK_STR(buf, HELLO HELLO);
    const char *post = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeGET /x HTTP/1.1\r\n\r\n";
    CHECK_INT(weft_write(fd, post, strlen(post), -1), (long long)strlen(post));
    CHECK_INT(read_n(fd, buf, 2 * strlen(NOTFOUND)), 2 * strlen(NOTFOUND));
    CHECK_STR(buf, NOTFOUND NOTFOUND);
    /* Connection: close ends it after the answer. */
    const char *cl = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    CHECK_INT(weft_write(fd, cl, strlen(cl), -1), (long long)strlen(cl));
    CHECK_INT(read_n(fd, buf, sizeof buf - 1), strlen(HELLO));
    weft_close(fd);
    /* HTTP/1.0 closes by default. */
    fd = io_dial_server(port_of[1]);
    const char *old = "GET / HTTP/1.0\r\n\r\n";
    CHECK_INT(weft_write(fd, old, strlen(old), -1), (long long)strlen(old));
    CHECK_INT(read_n(fd, buf, sizeof buf - 1), strlen(HELLO));
    weft_close(fd);
    /* A malformed head: 400, closed. */
    fd = io_dial_server(port_of[1]);
    const char *bad = "NONSENSE\r\n\r\n";
    CHECK_INT(weft_write(fd, bad, strlen(bad), -1), (long long)strlen(bad));
    CHECK_INT(read_n(fd, buf, sizeof buf - 1), strlen(BAD));
    CHECK_STR(buf, BAD);
    weft_close(fd);
    return NULL;
}

int main(void)
{
    io_test_init();
    if (test_under_is("qemu"))
        test_skip("examples are not run under qemu");
    port_of[0] = io_free_port();
    port_of[1] = io_free_port();
    pid_t e = io_start_server(WEFT_EXAMPLE_ECHO, port_of[0]);
    pid_t h = io_start_server(WEFT_EXAMPLE_HTTP, port_of[1]);
    CHECK_INT(weft_run(client, NULL, NULL), 0);
    kill(e, SIGTERM);
    kill(h, SIGTERM);
    int st;
    waitpid(e, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    waitpid(h, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    puts("ok");
    return 0;
}
