/* Name resolution on weft's worker pool in a task: getaddrinfo (through
 * weft_getaddrinfo), getnameinfo, and gethostbyname, gethostbyname2 and
 * their _r forms. The non-reentrant forms return a result that stays
 * valid until the next such call on the same thread, as libc's does
 * until the next call in the process. */
#include "hook/hook.h"

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

NEXT_DECL(getaddrinfo);
NEXT_DECL(getnameinfo);
NEXT_DECL(gethostbyname);
NEXT_DECL(gethostbyname2);
NEXT_DECL(gethostbyname_r);
NEXT_DECL(gethostbyname2_r);

WEFT_API int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                         struct addrinfo **res)
{
    if (!weft_task_self())
        return NEXT(getaddrinfo)(node, service, hints, res);
    return weft_getaddrinfo(node, service, hints, res);
}

typedef struct nameinfo_call {
    const struct sockaddr *sa;
    socklen_t salen;
    char *host, *serv;
    socklen_t hostlen, servlen;
    int flags, rc;
} nameinfo_call;

static void *nameinfo_run(void *arg)
{
    nameinfo_call *c = arg;
    c->rc = NEXT(getnameinfo)(c->sa, c->salen, c->host, c->hostlen, c->serv, c->servlen, c->flags);
    return NULL;
}

WEFT_API int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                         char *serv, socklen_t servlen, int flags)
{
    if (!weft_task_self())
        return NEXT(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    nameinfo_call c = {sa, salen, host, serv, hostlen, servlen, flags, 0};
    if (weft_offload(nameinfo_run, &c, NULL) != 0)
        return EAI_SYSTEM;
    return c.rc;
}

/* gethostbyname2_r on a worker, with the caller's buffers. */
typedef struct hostent_call {
    const char *name;
    int af;
    struct hostent *ret;
    char *buf;
    size_t len;
    struct hostent *result;
    int herr, rc;
} hostent_call;

static void *hostent_run(void *arg)
{
    hostent_call *c = arg;
    c->rc = NEXT(gethostbyname2_r)(c->name, c->af, c->ret, c->buf, c->len, &c->result, &c->herr);
    return NULL;
}

static int hostent_weft(hostent_call *c)
{
    if (weft_offload(hostent_run, c, NULL) != 0) {
        c->result = NULL;
        c->herr = NETDB_INTERNAL;
        return HERRNO;
    }
    return c->rc;
}

WEFT_API int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
                              struct hostent **result, int *h_errnop)
{
    if (!weft_task_self())
        return NEXT(gethostbyname2_r)(name, af, ret, buf, len, result, h_errnop);
    hostent_call c = {name, af, ret, buf, len, NULL, 0, 0};
    int rc = hostent_weft(&c);
    *result = c.result;
    *h_errnop = c.herr;
    return rc;
}

WEFT_API int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
                             struct hostent **result, int *h_errnop)
{
    if (!weft_task_self())
        return NEXT(gethostbyname_r)(name, ret, buf, len, result, h_errnop);
    return gethostbyname2_r(name, AF_INET, ret, buf, len, result, h_errnop);
}

/* The non-reentrant forms: one result per thread, in a buffer that grows
 * as needed and is freed when the thread ends. Tasks of one thread take
 * turns on it (mu): two lookups in flight on workers at once would fill
 * the one buffer together. As with libc's, the next call overwrites it. */
typedef struct last_host {
    struct hostent he;
    char *buf;
    size_t cap;
    weft_mutex mu;
} last_host;

static pthread_key_t last_key;
static pthread_once_t last_once = PTHREAD_ONCE_INIT;

static void last_free(void *p)
{
    last_host *l = p;
    free(l->buf);
    free(l);
}

static void last_init(void)
{
    pthread_key_create(&last_key, last_free);
}

static struct hostent *byname_locked(last_host *l, const char *name, int af);

static struct hostent *byname(const char *name, int af)
{
    pthread_once(&last_once, last_init);
    last_host *l = pthread_getspecific(last_key);
    if (!l) {
        if (!(l = calloc(1, sizeof *l)) || pthread_setspecific(last_key, l) != 0) {
            free(l);
            h_errno = NETDB_INTERNAL;
            return NULL;
        }
        weft_mutex_init(&l->mu);
    }
    if (weft_mutex_lock(&l->mu, -1) != 0) { /* cancelled */
        h_errno = NETDB_INTERNAL;
        return NULL;
    }
    struct hostent *r = byname_locked(l, name, af);
    weft_mutex_unlock(&l->mu);
    return r;
}

static struct hostent *byname_locked(last_host *l, const char *name, int af)
{
    for (;;) {
        if (!l->buf) {
            size_t cap = l->cap ? l->cap : 1024;
            if (!(l->buf = malloc(cap))) {
                h_errno = NETDB_INTERNAL;
                HERRNO = ENOMEM;
                return NULL;
            }
            l->cap = cap;
        }
        hostent_call c = {name, af, &l->he, l->buf, l->cap, NULL, 0, 0};
        int rc = hostent_weft(&c);
        if (rc == ERANGE && l->cap < ((size_t)1 << 24)) {
            free(l->buf);
            l->buf = NULL;
            l->cap *= 2;
            continue;
        }
        h_errno = c.herr;
        return c.result;
    }
}

WEFT_API struct hostent *gethostbyname(const char *name)
{
    if (!weft_task_self())
        return NEXT(gethostbyname)(name);
    return byname(name, AF_INET);
}

WEFT_API struct hostent *gethostbyname2(const char *name, int af)
{
    if (!weft_task_self())
        return NEXT(gethostbyname2)(name, af);
    return byname(name, af);
}
