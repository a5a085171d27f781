/* Runs asan_worker, an AddressSanitizer program linked against an ordinary
 * weft, and checks that it exits 0 with nothing on stderr (no false
 * stack-buffer-overflow report, no __asan_handle_no_return warning). This
 * launcher is not sanitized itself, so that it can skip where a sanitized
 * program cannot run (under valgrind or an emulator). */
#include <weft.h>

#include "check.h"

#ifndef WEFT_ASAN_WORKER
#error "WEFT_ASAN_WORKER: path of the sanitized worker"
#endif

static void run_worker(void *arg)
{
    (void)arg;
    execl(WEFT_ASAN_WORKER, WEFT_ASAN_WORKER, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", WEFT_ASAN_WORKER, strerror(errno));
    _exit(127);
}

int main(void)
{
    if (test_under()[0])
        test_skip("a sanitized program runs natively only");
    char out[16384];
    int status = test_fork(run_worker, NULL, out, sizeof out);
    CHECK_EXITED(status, 0, out);
    if (out[0] != '\0')
        FAIL("stderr of %s is not empty:\n%s", WEFT_ASAN_WORKER, out);
    return 0;
}
