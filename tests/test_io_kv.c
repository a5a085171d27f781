/* The key-value and fetch examples, run as programs. kv: 100 clients
 * connected at once, each setting, getting and deleting its own keys and
 * one shared key, with pipelined commands; bad commands get ERROR, a line
 * too long gets "ERROR line too long" and the connection closed. fetch:
 * paths from the HTTP example with a connection limit, every result in
 * order, at most LIMIT connections at once; fetching from a closed port
 * fails; bad usage. */
#include <netinet/in.h>
#include <weft.h>

#include "check.h"
#include "io_util.h"

#if !defined(WEFT_EXAMPLE_KV) || !defined(WEFT_EXAMPLE_FETCH) || !defined(WEFT_EXAMPLE_HTTP)
#error "WEFT_EXAMPLE_KV, WEFT_EXAMPLE_FETCH and WEFT_EXAMPLE_HTTP: paths of the examples"
#endif

enum { CLIENTS = 100, ROUNDS = 10 };

static int free_port(void)
{
    int fd = weft_tcp_listen("127.0.0.1", 0, 1);
    CHECK(fd >= 0);
    int port = weft_local_port(fd);
    close(fd);
    return port;
}

static pid_t start(const char *path, int port)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", port);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl(path, path, arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int kv_port;

static int dial(int port)
{
    for (int i = 0; i < 500; i++) {
        int fd = weft_tcp_dial("127.0.0.1", port, weft_after(WEFT_S(2)));
        if (fd >= 0)
            return fd;
        weft_sleep(weft_after(WEFT_MS(10)));
    }
    FAIL("cannot connect to port %d", port);
}

/* Sends a command, checks the answer line. */
static void ask(int fd, weft_buf *b, const char *cmd, const char *want)
{
    CHECK_INT(weft_write(fd, cmd, strlen(cmd), -1), (long long)strlen(cmd));
    char line[512];
    if (weft_buf_read_line(b, line, sizeof line, weft_after(WEFT_S(20))) < 0)
        FAIL("'%s': no answer: %s", cmd, strerror(errno));
    if (strcmp(line, want) != 0)
        FAIL("'%s' got '%s', expected '%s'", cmd, line, want);
}

static weft_wg all_connected;

static void *client(void *arg)
{
    int i = (int)(intptr_t)arg, fd = dial(kv_port);
    weft_buf *b = weft_buf_new(fd, 0);
    weft_wg_done(&all_connected);
    CHECK_INT(weft_wg_wait(&all_connected, weft_after(WEFT_S(60))), 0);
    char cmd[128], want[128];
    for (int r = 0; r < ROUNDS; r++) {
        snprintf(cmd, sizeof cmd, "SET k%d.%d value %d %d\n", i, r, i, r);
        ask(fd, b, cmd, "OK");
        snprintf(cmd, sizeof cmd, "GET k%d.%d\n", i, r);
        snprintf(want, sizeof want, "VALUE value %d %d", i, r);
        ask(fd, b, cmd, want);
        weft_pause();
    }
    for (int r = 0; r < ROUNDS; r += 2) {
        snprintf(cmd, sizeof cmd, "DEL k%d.%d\n", i, r);
        ask(fd, b, cmd, "OK");
        snprintf(cmd, sizeof cmd, "GET k%d.%d\n", i, r);
        ask(fd, b, cmd, "NOTFOUND");
        snprintf(cmd, sizeof cmd, "GET k%d.%d\n", i, r + 1);
        snprintf(want, sizeof want, "VALUE value %d %d", i, r + 1);
        ask(fd, b, cmd, want);
    }
    /* Everyone writes one key; whoever reads it sees someone's value. */
    snprintf(cmd, sizeof cmd, "SET shared from %d\n", i);
    ask(fd, b, cmd, "OK");
    char line[128];
    CHECK_INT(weft_write(fd, "GET shared\n", 11, -1), 11);
    CHECK(weft_buf_read_line(b, line, sizeof line, weft_after(WEFT_S(20))) > 0);
    CHECK(strncmp(line, "VALUE from ", 11) == 0);
    /* Pipelined: three commands in one write, three answers in order. */
    snprintf(cmd, sizeof cmd, "SET p%d x\r\nGET p%d\nDEL p%d\n", i, i, i);
    CHECK_INT(weft_write(fd, cmd, strlen(cmd), -1), (long long)strlen(cmd));
    const char *answers[] = {"OK", "VALUE x", "OK"};
    for (int k = 0; k < 3; k++) {
        CHECK(weft_buf_read_line(b, line, sizeof line, weft_after(WEFT_S(20))) >= 0);
        CHECK_STR(line, answers[k]);
    }
    weft_buf_free(b);
    weft_close(fd);
    return NULL;
}

static void *bad_client(void *arg)
{
    (void)arg;
    int fd = dial(kv_port);
    weft_buf *b = weft_buf_new(fd, 0);
    ask(fd, b, "FROB x\n", "ERROR");
    ask(fd, b, "GET\n", "ERROR");
    ask(fd, b, "\n", "ERROR");
    ask(fd, b, "SET onlykey\n", "ERROR");
    ask(fd, b, "GET a b\n", "ERROR");
    ask(fd, b, "DEL nosuchkey\n", "NOTFOUND");
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\n';
    CHECK_INT(weft_write(fd, big, sizeof big, -1), (long long)sizeof big);
    char line[128];
    CHECK(weft_buf_read_line(b, line, sizeof line, weft_after(WEFT_S(20))) > 0);
    CHECK_STR(line, "ERROR line too long");
    /* Then the server closes (what it had not read is discarded). */
    char rest[512];
    ssize_t n;
    while ((n = weft_buf_read(b, rest, sizeof rest, weft_after(WEFT_S(20)))) > 0)
        ;
    CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
    weft_buf_free(b);
    weft_close(fd);
    return NULL;
}

static void *kv_main(void *arg)
{
    (void)arg;
    weft_wg_init(&all_connected);
    weft_wg_add(&all_connected, CLIENTS);
    weft_group *g = weft_group_new();
    for (int i = 0; i < CLIENTS; i++)
        CHECK(weft_group_spawn(g, client, (void *)(intptr_t)i, NULL));
    CHECK(weft_group_spawn(g, bad_client, NULL, NULL));
    CHECK_INT(weft_group_wait(g, -1), 0);
    CHECK_INT(weft_group_close(g), 0);
    return NULL;
}

/* Runs fetch with args, its output into out; returns its exit status. */
static int run_fetch(const char *const *args, char *out, size_t cap)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(WEFT_EXAMPLE_FETCH, (char *const *)args);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(p[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void *wait_http(void *arg)
{
    weft_close(dial(*(int *)arg));
    return NULL;
}

static void fetches(void)
{
    int port = free_port();
    pid_t h = start(WEFT_EXAMPLE_HTTP, port);
    CHECK_INT(weft_run(wait_http, &port, NULL), 0);
    char ps[8], out[8192];
    snprintf(ps, sizeof ps, "%d", port);
    const char *args[40] = {"fetch", "127.0.0.1", ps, "3"};
    int n = 4;
    for (int i = 0; i < 24; i++)
        args[n++] = i % 6 == 5 ? "/missing" : "/";
    CHECK_INT(run_fetch(args, out, sizeof out), 0);
    /* One line per path, in order: "/ 200 <bytes>" (the head and
     * "Hello, World!") or "/missing 404 ...". */
    char *line = out;
    for (int i = 0; i < 24; i++) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        *nl = '\0';
        if (i % 6 == 5)
            CHECK(strncmp(line, "/missing 404 ", 13) == 0);
        else
            CHECK(strncmp(line, "/ 200 ", 6) == 0 && atol(line + 6) == 13);
        line = nl + 1;
    }
    int most = 0;
    CHECK(sscanf(line, "fetched 24 of 24, at most %d at once", &most) == 1);
    CHECK(most >= 1 && most <= 3);
    kill(h, SIGTERM);
    int st;
    waitpid(h, &st, 0);
    /* Nobody listens now: every fetch fails. */
    const char *none[] = {"fetch", "127.0.0.1", ps, "2", "/", "/a", NULL};
    CHECK_INT(run_fetch(none, out, sizeof out), 1);
    CHECK(strstr(out, "/ 0 0 failed\n/a 0 0 failed\nfetched 0 of 2") != NULL);
    const char *usage[] = {"fetch", "127.0.0.1", NULL};
    CHECK_INT(run_fetch(usage, out, sizeof out), 2);
}

int main(void)
{
    io_test_init();
    if (test_under_is("qemu"))
        test_skip("examples are not run under qemu");
    kv_port = free_port();
    pid_t kv = start(WEFT_EXAMPLE_KV, kv_port);
    CHECK_INT(weft_run(kv_main, NULL, NULL), 0);
    kill(kv, SIGTERM);
    int st;
    waitpid(kv, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    fetches();
    puts("ok");
    return 0;
}
