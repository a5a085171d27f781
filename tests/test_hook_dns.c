/* The hook's name resolution: getaddrinfo, getnameinfo, gethostbyname,
 * gethostbyname2 and the _r forms run on weft's worker pool in a task
 * (worker threads appear; the other tasks go on), and are libc's outside. */
#include "hook_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

static void *resolve(void *arg)
{
    int i = *(int *)arg;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    CHECK_INT(getaddrinfo("localhost", "80", &hints, &res), 0);
    CHECK(res != NULL);
    struct sockaddr_in *sa = (struct sockaddr_in *)res->ai_addr;
    CHECK_INT(ntohl(sa->sin_addr.s_addr), INADDR_LOOPBACK);
    CHECK_INT(ntohs(sa->sin_port), 80);
    char host[64], serv[16];
    CHECK_INT(getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof host, serv, sizeof serv,
                          NI_NUMERICHOST | NI_NUMERICSERV),
              0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(serv, "80");
    freeaddrinfo(res);
    if (i % 2) {
        struct hostent *h = gethostbyname("localhost");
        CHECK(h != NULL);
        CHECK_INT(h->h_addrtype, AF_INET);
        CHECK_INT(ntohl(*(uint32_t *)h->h_addr_list[0]), INADDR_LOOPBACK);
    } else {
        struct hostent he, *r = NULL;
        char buf[1024];
        int herr = 0;
        CHECK_INT(gethostbyname_r("localhost", &he, buf, sizeof buf, &r, &herr), 0);
        CHECK(r == &he);
        CHECK_INT(ntohl(*(uint32_t *)he.h_addr_list[0]), INADDR_LOOPBACK);
    }
    return NULL;
}

static void test_concurrent(void)
{
    static int k[HOOK_N];
    for (int i = 0; i < HOOK_N; i++)
        k[i] = i;
    int before = thread_count();
    long ticks;
    int64_t el = hook_together(HOOK_N, resolve, k, sizeof k[0], &ticks);
    printf("%d resolutions of localhost: %.1f ms, threads %d -> %d\n", HOOK_N, el / 1e6, before,
           thread_count());
    /* They ran on workers: the pool started threads. */
    CHECK(thread_count() > before);
}

static void *failures(void *arg)
{
    (void)arg;
    struct addrinfo *res = NULL;
    struct addrinfo hints = {0};
    hints.ai_flags = AI_NUMERICHOST;
    CHECK_INT(getaddrinfo("not-an-address", NULL, &hints, &res), EAI_NONAME);
    CHECK_INT(getaddrinfo(NULL, NULL, NULL, &res), EAI_NONAME);
    h_errno = 0;
    CHECK(gethostbyname("no-such-host.invalid") == NULL);
    CHECK(h_errno != 0);
    struct hostent *h = gethostbyname2("::1", AF_INET6);
    CHECK(h != NULL);
    CHECK_INT(h->h_addrtype, AF_INET6);
    /* A small buffer: ERANGE, as libc says it. */
    struct hostent he, *r = NULL;
    char tiny[4];
    int herr = 0;
    CHECK_INT(gethostbyname2_r("localhost", AF_INET, &he, tiny, sizeof tiny, &r, &herr), ERANGE);
    return NULL;
}

static void test_failures(void)
{
    weft_co *t = weft_spawn(failures, NULL, NULL);
    CHECK_INT(weft_join(t, NULL, -1), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_concurrent();
    test_failures();
    return NULL;
}

static void test_outside(void)
{
    struct addrinfo *res = NULL;
    CHECK_INT(getaddrinfo("127.0.0.1", "7", NULL, &res), 0);
    freeaddrinfo(res);
    CHECK(gethostbyname("localhost") != NULL);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    test_outside();
    if (!test_under_is("qemu"))       /* qemu-user has threads of its own */
        CHECK_INT(thread_count(), 1); /* libc's own: no worker */
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    printf("ok\n");
    return 0;
}
