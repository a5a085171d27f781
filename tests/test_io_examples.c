/* The echo and HTTP examples, run as programs: echo round trips; HTTP
 * keep-alive, pipelining, 404, HTTP/1.0 closing, a malformed head, a
 * request body skipped. Then both again on two workers ("echo PORT 2"):
 * two sockets listen on the port, and 16 connections to each server at
 * once are served right. Under qemu the examples are not run (skipped). */
#include "io_util.h"

#include <netinet/in.h>
#include <sys/socket.h>

#ifndef WEFT_EXAMPLE_ECHO
#error "WEFT_EXAMPLE_ECHO and WEFT_EXAMPLE_HTTP: paths of build/examples/echo and http"
#endif

static int port_of[4]; /* echo, http; then both on two workers */

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

/* ---- on two workers ---- */

/* The sockets that listen on port (/proc/net/tcp and tcp6), or -1 when
 * neither file can be read. */
static int listeners(int port)
{
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = -1;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        n = n < 0 ? 0 : n;
        char line[512];
        unsigned lport, st;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport, &st) == 2 &&
                lport == (unsigned)port && st == 0x0A) /* TCP_LISTEN */
                n++;
        fclose(f);
    }
    return n;
}

/* Waits until a server on two workers has its two sockets. */
static void wait_listeners(int port)
{
    int n = 0;
    for (int i = 0; i < 500 && (n = listeners(port)) >= 0 && n != 2; i++)
        usleep(10000);
    if (n < 0)
        puts("no /proc/net/tcp: listening sockets not counted");
    else if (n != 2)
        FAIL("%d sockets listen on port %d, expected 2", n, port);
}

#define CLIENTS 16

static void *echo_client(void *arg)
{
    int id = (int)(intptr_t)arg, fd = io_dial_server(port_of[2]);
    char msg[32], buf[32];
    for (int i = 0; i < 20; i++) {
        int n = snprintf(msg, sizeof msg, "client %d message %d", id, i);
        CHECK_INT(weft_write(fd, msg, (size_t)n, -1), n);
        CHECK_INT(read_n(fd, buf, (size_t)n), n);
        CHECK_STR(buf, msg);
    }
    weft_close(fd);
    return NULL;
}

static void *http_client(void *arg)
{
    (void)arg;
    int fd = io_dial_server(port_of[3]);
    char buf[1024];
    const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (int i = 0; i < 20; i++) {
        CHECK_INT(weft_write(fd, get, strlen(get), -1), (long long)strlen(get));
        CHECK_INT(read_n(fd, buf, strlen(HELLO)), strlen(HELLO));
        CHECK_STR(buf, HELLO);
    }
    weft_close(fd);
    return NULL;
}

/* Every client's connection is open while the others' are. */
static void *clients(void *arg)
{
    (void)arg;
    weft_co *t[2 * CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        t[2 * i] = weft_spawn(echo_client, (void *)(intptr_t)i, NULL);
        t[2 * i + 1] = weft_spawn(http_client, NULL, NULL);
        CHECK(t[2 * i] && t[2 * i + 1]);
    }
    for (int i = 0; i < 2 * CLIENTS; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    return NULL;
}

int main(void)
{
    io_test_init();
    if (test_under_is("qemu"))
        test_skip("examples are not run under qemu");
    for (int i = 0; i < 4; i++)
        port_of[i] = io_free_port();
    pid_t pid[4] = {io_start_server(WEFT_EXAMPLE_ECHO, port_of[0]),
                    io_start_server(WEFT_EXAMPLE_HTTP, port_of[1]),
                    io_start_server_with(WEFT_EXAMPLE_ECHO, port_of[2], "2"),
                    io_start_server_with(WEFT_EXAMPLE_HTTP, port_of[3], "2")};
    CHECK_INT(weft_run(client, NULL, NULL), 0);
    wait_listeners(port_of[2]);
    wait_listeners(port_of[3]);
    CHECK_INT(weft_run(clients, NULL, NULL), 0);
    for (int i = 0; i < 4; i++) {
        int st;
        kill(pid[i], SIGTERM);
        CHECK_INT(waitpid(pid[i], &st, 0), pid[i]);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    }
    puts("ok");
    return 0;
}
