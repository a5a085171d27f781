/* weft_backend and weft_backend_reason: the default, each WEFT_BACKEND,
 * io_uring asked for where it cannot start (a build without liburing; the
 * kernel refusing the ring, injected: io_uring_queue_init is wrapped at
 * link time to fail with a chosen errno), before the thread has a poller
 * and from the poller a task's wait made. Each case runs in a child of its
 * own, since the process-wide choice is probed once. */
#include "io_util.h"

#include <poll.h>

#ifdef WEFT_HAVE_URING
struct io_uring;
int __real_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);

static int inject; /* the errno that the ring's setup fails with, or 0 */

int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
    if (inject)
        return -inject;
    return __real_io_uring_queue_init(entries, ring, flags);
}
#endif

/* A task that waits on a readable pipe, so that its thread makes its
 * poller; it returns the backend and reason it saw there. */
static const char *task_backend, *task_reason;

static void *wait_pipe(void *arg)
{
    (void)arg;
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(weft_wait_fd(p[0], POLLIN, -1) == POLLIN);
    task_backend = weft_backend();
    task_reason = weft_backend_reason();
    weft_close(p[0]);
    weft_close(p[1]);
    return NULL;
}

/* In a child: sets WEFT_BACKEND to env (NULL: unset), then checks the
 * backend and that the reason starts with reason, before and in a task. */
static void expect(const char *env, int err, const char *backend, const char *reason)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
#ifdef WEFT_HAVE_URING
        inject = err;
#else
        (void)err;
#endif
        if (env)
            setenv("WEFT_BACKEND", env, 1);
        else
            unsetenv("WEFT_BACKEND");
        CHECK_STR(weft_backend(), backend);
        const char *why = weft_backend_reason();
        printf("WEFT_BACKEND=%s, errno %d: %s\n", env ? env : "(unset)", err, why);
        if (strncmp(why, reason, strlen(reason)) != 0)
            FAIL("reason \"%s\", expected it to start with \"%s\"", why, reason);
        CHECK(strncmp(why, backend, strlen(backend)) == 0 && why[strlen(backend)] == ':');
        CHECK(weft_run(wait_pipe, NULL, NULL) == 0);
        CHECK_STR(task_backend, backend);
        CHECK_STR(task_reason, why);
        fflush(NULL);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    expect(NULL, 0, "epoll", "epoll: the default");
    expect("kqueue", 0, "epoll", "epoll: the default");
    expect("epoll", 0, "epoll", "epoll: WEFT_BACKEND=epoll");
#ifdef WEFT_HAVE_URING
    /* The kernel's answer, where it can be had (valgrind and qemu do not
     * model io_uring). */
    if (!test_under_is("valgrind") && !test_under_is("qemu")) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            setenv("WEFT_BACKEND", "io_uring", 1);
            _exit(strcmp(weft_backend(), "io_uring") == 0 ? 0 : 1);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
        if (WEXITSTATUS(st) == 0)
            expect("io_uring", 0, "io_uring", "io_uring: WEFT_BACKEND=io_uring");
        else
            expect("io_uring", 0, "epoll", "epoll: the kernel refused io_uring (");
    }
    static const struct {
        int err;
        const char *reason;
    } refusals[] = {
        {EPERM, "epoll: the kernel refused io_uring (EPERM: "},
        {ENOSYS, "epoll: the kernel refused io_uring (ENOSYS: "},
        {ENOMEM, "epoll: the kernel refused io_uring (ENOMEM: "},
        {EMFILE, "epoll: the kernel refused io_uring (EMFILE or ENFILE: "},
        {ENFILE, "epoll: the kernel refused io_uring (EMFILE or ENFILE: "},
        {EINVAL, "epoll: the kernel refused io_uring (EINVAL: "},
        {EIO, "epoll: the kernel refused io_uring (io_uring_queue_init failed)"},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        expect("io_uring", refusals[i].err, "epoll", refusals[i].reason);
    /* The default does not ask for io_uring: its refusal is not tried. */
    expect(NULL, EPERM, "epoll", "epoll: the default");
#else
    expect("io_uring", 0, "epoll",
           "epoll: io_uring was asked for, but weft was built without liburing");
#endif
    return 0;
}
