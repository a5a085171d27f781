/* The chat example, run as a program: 50 clients, one of which never
 * reads (and has a small receive buffer). Every other client gets every
 * line of every sender, in each sender's order; the slow one is dropped
 * (its connection ends) once it is QUEUE lines behind, and holds up no
 * one. Under qemu the example is not run (skipped). */
#include "io_util.h"

#ifndef WEFT_EXAMPLE_CHAT
#error "WEFT_EXAMPLE_CHAT: path of build/examples/chat"
#endif

#define CLIENTS 50
#define LINES 20 /* per active client */
#define ACTIVE (CLIENTS - 1)

static int port;

typedef struct conn {
    int fd, id;
    char buf[4096];
    size_t have;
    int got, next[CLIENTS]; /* lines received; next line expected of each */
    weft_chan *echo;        /* its own lines, as they come back */
} conn;

static conn conns[CLIENTS];

/* The next line of c into line (without its newline): its length, or -1
 * at end of file or error (errno). */
static ssize_t read_line(conn *c, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->have);
        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            CHECK(len < cap);
            memcpy(line, c->buf, len);
            line[len] = '\0';
            memmove(c->buf, nl + 1, c->have -= len + 1);
            return (ssize_t)len;
        }
        CHECK(c->have < sizeof c->buf);
        ssize_t n = weft_read(c->fd, c->buf + c->have, sizeof c->buf - c->have, ms_from_now(30000));
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        c->have += (size_t)n;
    }
}

/* A line of the test: "from <sender> <k> <padding>". */
static void take(conn *c, const char *line)
{
    int from, k;
    CHECK(sscanf(line, "from %d %d", &from, &k) == 2);
    CHECK(from >= 1 && from < CLIENTS);
    CHECK_INT(k, c->next[from]);
    c->next[from]++;
    c->got++;
    if (from == c->id)
        CHECK_INT(weft_chan_send(c->echo, &k, 0), 0);
}

static void *writer(void *arg)
{
    conn *c = arg;
    char line[256];
    for (int k = 0; k < LINES; k++) {
        int n = snprintf(line, sizeof line, "from %d %d %0180d\n", c->id, k, 0);
        if (weft_write(c->fd, line, (size_t)n, ms_from_now(30000)) != n)
            FAIL("client %d: write %d: %s", c->id, k, strerror(errno));
        /* As a person does: the next line once this one is seen, so that
         * what is in flight to each client is bounded, whatever the
         * scheduling of the processes. */
        int back;
        CHECK_INT(weft_chan_recv(c->echo, &back, ms_from_now(30000)), 0);
        CHECK_INT(back, k);
    }
    return NULL;
}

static void *reader(void *arg)
{
    conn *c = arg;
    char line[256];
    while (c->got < ACTIVE * LINES) {
        if (read_line(c, line, sizeof line) < 0)
            FAIL("client %d: connection ended after %d lines (errno %d)", c->id, c->got, errno);
        take(c, line);
    }
    return NULL;
}

static void *run(void *arg)
{
    (void)arg;
    char line[256];
    /* The slow client first, with a small receive buffer; it never reads
     * until the end. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1, small = 4096;
    for (int i = 0; i < 200 && fd < 0; i++) { /* the server may be starting */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd >= 0);
        CHECK_INT(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        if (weft_connect(fd, (struct sockaddr *)&sa, sizeof sa, ms_from_now(1000)) != 0) {
            weft_close(fd);
            fd = -1;
            weft_sleep(ms_from_now(10));
        }
    }
    CHECK(fd >= 0);
    conns[0].fd = fd;
    /* The others one by one, each once it is in: the last sees all. */
    for (int i = 1; i < CLIENTS; i++) {
        conns[i].id = i;
        conns[i].echo = weft_chan_new(sizeof(int), LINES);
        conns[i].fd = io_dial_server(port);
        CHECK(read_line(&conns[i], line, sizeof line) > 0);
        int online = 0;
        CHECK(sscanf(line, "* %d online", &online) == 1);
        if (i == ACTIVE)
            CHECK_INT(online, CLIENTS);
    }
    weft_co *w[CLIENTS], *r[CLIENTS];
    for (int i = 1; i < CLIENTS; i++) {
        r[i] = weft_spawn(reader, &conns[i], NULL);
        w[i] = weft_spawn(writer, &conns[i], NULL);
    }
    for (int i = 1; i < CLIENTS; i++) {
        CHECK_INT(weft_join(w[i], NULL, -1), 0);
        CHECK_INT(weft_join(r[i], NULL, -1), 0);
        CHECK_INT(conns[i].got, ACTIVE * LINES);
    }
    /* The slow client was dropped: what it was sent ends early. */
    conn *s = &conns[0];
    CHECK(read_line(s, line, sizeof line) > 0); /* its welcome */
    while (read_line(s, line, sizeof line) >= 0)
        take(s, line);
    CHECK(errno == 0 || errno == ECONNRESET);
    CHECK(s->got < ACTIVE * LINES);
    printf("the slow client got %d of %d lines before it was dropped\n", s->got, ACTIVE * LINES);
    for (int i = 0; i < CLIENTS; i++) {
        weft_close(conns[i].fd);
        if (conns[i].echo)
            CHECK_INT(weft_chan_free(conns[i].echo), 0);
    }
    return NULL;
}

int main(void)
{
    io_test_init();
    if (test_under_is("qemu"))
        test_skip("examples are not run under qemu");
    port = io_free_port();
    pid_t pid = io_start_server(WEFT_EXAMPLE_CHAT, port);
    CHECK_INT(weft_run(run, NULL, NULL), 0);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    puts("ok");
    return 0;
}
