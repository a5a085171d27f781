/* The hazard of shared stacks, made visible: shared_hazard_worker (built
 * with AddressSanitizer, linked against an ordinary weft) reads a local of
 * a suspended shared coroutine through a pointer; ASan must report
 * use-after-poison and the worker must fail. This launcher is not
 * sanitized, so that it can skip where a sanitized program cannot run. */
#include <weft.h>

#include "check.h"

#ifndef WEFT_HAZARD_WORKER
#error "WEFT_HAZARD_WORKER: path of the sanitized worker"
#endif

static void run_worker(void *arg)
{
    (void)arg;
    execl(WEFT_HAZARD_WORKER, WEFT_HAZARD_WORKER, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", WEFT_HAZARD_WORKER, strerror(errno));
    _exit(127);
}

int main(void)
{
    if (test_under()[0])
        test_skip("a sanitized program runs natively only");
    char out[32768];
    int status = test_fork(run_worker, NULL, out, sizeof out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 127)
        FAIL("the worker should fail with an ASan report; status %d, stderr:\n%s", status, out);
    if (strstr(out, "use-after-poison") == NULL)
        FAIL("no use-after-poison report in the worker's stderr:\n%s", out);
    CHECK(strstr(out, "not reported") == NULL);
    return 0;
}
