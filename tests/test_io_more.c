/* The io calls the hook layer routes libc's calls to, called directly:
 * weft_poll, weft_accept4, weft_pread/weft_pwrite, weft_recvmsg/
 * weft_sendmsg, weft_fd_forget, and weft_task_self; their errnos. */
#include "io_util.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

static void *in_worker(void *arg)
{
    (void)arg;
    return weft_task_self();
}

static int pipe_fds[2];

static void *late_write(void *arg)
{
    (void)arg;
    weft_sleep(weft_now() + 50000000);
    CHECK_INT(weft_write(pipe_fds[1], "x", 1, -1), 1);
    return NULL;
}

static void *body(void *arg)
{
    (void)arg;
    weft_co *me = weft_task_self();
    CHECK(me != NULL);
    void *from_worker = (void *)1;
    CHECK_INT(weft_offload(in_worker, NULL, &from_worker), 0);
    CHECK(from_worker == NULL);

    /* weft_poll: a pipe made ready by another task; the deadline gives 0. */
    CHECK_INT(pipe(pipe_fds), 0);
    struct pollfd p[2] = {{pipe_fds[0], POLLIN, 0}, {-1, POLLIN, 0}};
    CHECK_INT(weft_poll(p, 2, weft_now() + 20000000), 0);
    weft_co *w = weft_spawn(late_write, NULL, NULL);
    CHECK_INT(weft_poll(p, 2, -1), 1);
    CHECK_INT(p[0].revents, POLLIN);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    struct pollfd *none = NULL;
    __asm__ volatile("" : "+r"(none));
    CHECK_ERR(weft_poll(none, 1, 0), -1, EFAULT);
    if (!test_under_is("valgrind")) /* which checks the whole array first */
        CHECK_ERR(weft_poll(p, (nfds_t)INT_MAX + 1, 0), -1, EINVAL);
    /* The byte that woke it is there to read. */
    char b[4];
    CHECK_INT(weft_read(pipe_fds[0], b, sizeof b, -1), 1);

    /* weft_recvmsg and weft_sendmsg. */
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct iovec v[2] = {{"ab", 2}, {"cd", 2}};
    struct msghdr m = {0};
    m.msg_iov = v;
    m.msg_iovlen = 2;
    CHECK_INT(weft_sendmsg(sv[0], &m, 0, -1), 4);
    char in[8];
    struct iovec iv = {in, sizeof in};
    struct msghdr r = {0};
    r.msg_iov = &iv;
    r.msg_iovlen = 1;
    CHECK_INT(weft_recvmsg(sv[1], &r, 0, -1), 4);
    CHECK(memcmp(in, "abcd", 4) == 0);
    CHECK_ERR(weft_recvmsg(sv[1], &r, 0, 0), -1, EAGAIN);
    CHECK_ERR(weft_recvmsg(sv[1], NULL, 0, 0), -1, EFAULT);
    CHECK_ERR(weft_sendmsg(sv[0], NULL, 0, 0), -1, EFAULT);
    m.msg_iovlen = IOV_MAX + 1;
    CHECK_ERR(weft_sendmsg(sv[0], &m, 0, 0), -1, EMSGSIZE);
    m.msg_iovlen = 1;
    CHECK_ERR(weft_sendmsg(pipe_fds[1], &m, 0, 0), -1, ENOTSOCK);

    /* weft_pread/weft_pwrite on a file, and a pipe. */
    char path[] = "/tmp/weft-io-more-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_INT(weft_pwrite(fd, "hello", 5, 3, -1), 5);
    CHECK_INT(weft_pread(fd, b, 4, 4, -1), 4);
    CHECK(memcmp(b, "ello", 4) == 0);
    CHECK_ERR(weft_pread(fd, b, 1, -1, -1), -1, EINVAL);
    CHECK_ERR(weft_pwrite(fd, b, 1, -1, -1), -1, EINVAL);
    CHECK_ERR(weft_pread(pipe_fds[0], b, 1, 0, -1), -1, ESPIPE);
    weft_close(fd);

    /* weft_accept4: SOCK_CLOEXEC as asked, always non-blocking. */
    int l = weft_tcp_listen("127.0.0.1", 0, 4);
    CHECK(l >= 0);
    int c = weft_tcp_dial("127.0.0.1", weft_local_port(l), -1);
    CHECK(c >= 0);
    int a = weft_accept4(l, NULL, NULL, 0, -1);
    CHECK(a >= 0);
    CHECK(!(fcntl(a, F_GETFD) & FD_CLOEXEC));
    CHECK(fcntl(a, F_GETFL) & O_NONBLOCK);
    CHECK_ERR(weft_accept4(l, NULL, NULL, 0x40000000, 0), -1, EINVAL);
    weft_close(a);
    weft_close(c);
    weft_close(l);

    /* weft_fd_forget. */
    CHECK_ERR(weft_fd_forget(-1), -1, EBADF);
    CHECK_INT(weft_fd_forget(sv[0]), 0);
    CHECK_INT(weft_write(sv[0], "z", 1, -1), 1); /* still usable: found again */
    weft_close(sv[0]);
    weft_close(sv[1]);
    weft_close(pipe_fds[0]);
    weft_close(pipe_fds[1]);
    return NULL;
}

int main(void)
{
    io_test_init();
    CHECK(weft_task_self() == NULL);
    struct pollfd p = {0, POLLIN, 0};
    CHECK_ERR(weft_poll(&p, 1, 0), -1, EPERM);
    CHECK_ERR(weft_recvmsg(0, NULL, 0, 0), -1, EPERM);
    CHECK_ERR(weft_sendmsg(0, NULL, 0, 0), -1, EPERM);
    CHECK_ERR(weft_pread(0, NULL, 0, 0, 0), -1, EPERM);
    CHECK_ERR(weft_pwrite(0, NULL, 0, 0, 0), -1, EPERM);
    CHECK_ERR(weft_accept4(0, NULL, NULL, 0, 0), -1, EPERM);
    CHECK_INT(weft_fd_forget(5), 0); /* no poller: nothing to do */
    CHECK_INT(weft_run(body, NULL, NULL), 0);
    printf("ok\n");
    return 0;
}
