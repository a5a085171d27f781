/* Socket helpers: TCP listen and dial by name (IPv4 and IPv6), Unix stream
 * sockets, UDP, and getaddrinfo on the worker pool. */
#include "io/io.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct gai_call {
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo **res;
    int rc, err;
} gai_call;

static void *gai_run(void *arg)
{
    gai_call *c = arg;
    c->rc = getaddrinfo(c->node, c->service, c->hints, c->res);
    c->err = errno;
    return NULL;
}

int weft_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res)
{
    gai_call c = {node, service, hints, res, 0, 0};
    if (weft_offload(gai_run, &c, NULL) != 0)
        return EAI_SYSTEM;
    if (c.rc == EAI_SYSTEM)
        errno = c.err;
    return c.rc;
}

/* Numeric hosts resolve at once; names on the worker pool. */
static int resolve(const char *host, int port, int socktype, int passive, struct addrinfo **res)
{
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    hints.ai_flags |= AI_NUMERICHOST;
    int rc = host ? getaddrinfo(host, serv, &hints, res) : EAI_NONAME;
    if (rc == 0)
        return 0;
    hints.ai_flags &= ~AI_NUMERICHOST;
    if (host) {
        rc = weft_getaddrinfo(host, serv, &hints, res);
    } else {
        rc = getaddrinfo(NULL, serv, &hints, res);
    }
    if (rc == 0)
        return 0;
    if (rc != EAI_SYSTEM)
        errno = EADDRNOTAVAIL;
    return -1;
}

static int new_socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        weft__io_fresh(weft__sched_cur, fd,
                       K_SOCK | (type == SOCK_STREAM && family != AF_UNIX ? K_TCP : 0));
    return fd;
}

static void close_keep_errno(int fd)
{
    int e = errno;
    weft_close(fd);
    errno = e;
}

/* Binds (and listens, for streams) on the first address that works;
 * reuseport adds SO_REUSEPORT before the bind, where the kernel needs it. */
static int bind_any(const char *host, int port, int type, int backlog, int reuseport)
{
    struct addrinfo *res;
    if (resolve(host, port, type, 1, &res) != 0)
        return -1;
    /* With no host, one IPv6 socket that also takes IPv4 comes first. */
    struct addrinfo *order[16];
    int n = 0;
    for (struct addrinfo *a = res; a && n < 16; a = a->ai_next)
        if (a->ai_family == AF_INET6)
            order[n++] = a;
    for (struct addrinfo *a = res; a && n < 16; a = a->ai_next)
        if (a->ai_family != AF_INET6)
            order[n++] = a;
    int fd = -1;
    errno = EADDRNOTAVAIL;
    for (int i = 0; i < n && fd < 0; i++) {
        struct addrinfo *a = order[i];
        fd = new_socket(a->ai_family, type);
        if (fd < 0)
            continue;
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6 && !host)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        /* Unlike the two above, SO_REUSEPORT is what the caller asked for. */
        if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
            bind(fd, a->ai_addr, a->ai_addrlen) != 0 ||
            (type == SOCK_STREAM && listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0)) {
            close_keep_errno(fd);
            fd = -1;
        }
    }
    int e = errno;
    freeaddrinfo(res);
    errno = e;
    return fd;
}

int weft_tcp_listen(const char *host, int port, int backlog)
{
    return bind_any(host, port, SOCK_STREAM, backlog, 0);
}

int weft_tcp_listen_reuseport(const char *host, int port, int backlog)
{
    return bind_any(host, port, SOCK_STREAM, backlog, 1);
}

int weft_udp_bind(const char *host, int port)
{
    return bind_any(host, port, SOCK_DGRAM, 0, 0);
}

int weft_tcp_dial(const char *host, int port, int64_t deadline)
{
    if (!host) {
        errno = EINVAL;
        return -1;
    }
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    struct addrinfo *res;
    if (resolve(host, port, SOCK_STREAM, 0, &res) != 0)
        return -1;
    int fd = -1;
    errno = EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = new_socket(a->ai_family, SOCK_STREAM);
        if (fd < 0)
            continue;
        if (weft_connect(fd, a->ai_addr, a->ai_addrlen, deadline) != 0) {
            close_keep_errno(fd);
            fd = -1;
            if (errno == ETIMEDOUT || errno == ECANCELED)
                break;
        }
    }
    int e = errno;
    freeaddrinfo(res);
    errno = e;
    return fd;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    if (!path) {
        errno = EINVAL;
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof sa->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa->sun_path, path, len + 1);
    return 0;
}

int weft_unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) != 0)
        return -1;
    int fd = new_socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0) {
        close_keep_errno(fd);
        return -1;
    }
    return fd;
}

int weft_unix_dial(const char *path, int64_t deadline)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) != 0)
        return -1;
    weft__task *t;
    if (weft__enter(&t) != 0)
        return -1;
    int fd = new_socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return -1;
    if (weft_connect(fd, (struct sockaddr *)&sa, sizeof sa, deadline) != 0) {
        close_keep_errno(fd);
        return -1;
    }
    return fd;
}

int weft_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    errno = EAFNOSUPPORT;
    return -1;
}
