/* A thread-per-connection server inside the test process, for the hook
 * tests whose server is written here (HTTP for libcurl, TLS for OpenSSL).
 * Its threads run no weft task, so each of their calls is libc's own even
 * with the hook linked in or preloaded. */
#include "hook_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>

typedef struct conn_arg {
    hook_tserver *s;
    int fd;
} conn_arg;

static void *serve_conn(void *p)
{
    conn_arg *a = p;
    a->s->fn(a->fd, a->s->ctx);
    close(a->fd);
    free(a);
    return NULL;
}

static void *accept_loop(void *p)
{
    hook_tserver *s = p;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down by hook_tserver_stop */
        }
        conn_arg *a = malloc(sizeof *a);
        CHECK(a != NULL);
        a->s = s;
        a->fd = fd;
        pthread_mutex_lock(&s->mu);
        if (s->nconns == HOOK_TSERVER_MAX)
            FAIL("test server: more than %d connections", HOOK_TSERVER_MAX);
        CHECK_INT(pthread_create(&s->conns[s->nconns], NULL, serve_conn, a), 0);
        s->nconns++;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

void hook_tserver_start(hook_tserver *s, hook_conn_fn fn, void *ctx)
{
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->ctx = ctx;
    CHECK_INT(pthread_mutex_init(&s->mu, NULL), 0);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s->lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(s->lfd, 128) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(s->lfd, (struct sockaddr *)&a, &len) == 0);
    s->port = ntohs(a.sin_port);
    CHECK_INT(pthread_create(&s->acceptor, NULL, accept_loop, s), 0);
}

void hook_tserver_stop(hook_tserver *s)
{
    /* shutdown wakes the blocked accept (it fails with EINVAL). */
    CHECK(shutdown(s->lfd, SHUT_RDWR) == 0);
    CHECK_INT(pthread_join(s->acceptor, NULL), 0);
    close(s->lfd);
    for (int i = 0; i < s->nconns; i++)
        CHECK_INT(pthread_join(s->conns[i], NULL), 0);
    CHECK_INT(pthread_mutex_destroy(&s->mu), 0);
}
