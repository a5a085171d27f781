/* The generator example of DESIGN.md prints what Python prints. */
#include <weft.h>

#include "check.h"

#ifndef WEFT_EXAMPLE_GENERATOR
#error "WEFT_EXAMPLE_GENERATOR: path of build/examples/generator"
#endif

int main(void)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(WEFT_EXAMPLE_GENERATOR, "generator", (char *)NULL);
        _exit(errno == ENOEXEC ? 126 : 127);
    }
    close(fds[1]);
    char out[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r > 0);
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126 && test_under_is("qemu"))
        test_skip("the emulator cannot exec the example");
    CHECK_EXITED(status, 0, "");
    CHECK_STR(out, "Coroutine running...\nCoroutine running...\nCoroutine running...\n"
                   "Received value: 233\n");
    return 0;
}
