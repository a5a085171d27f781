/* Built with -O2 -D_FORTIFY_SOURCE=2 (tests/hook.cmake), as Debian builds
 * its libraries: read, pread, recv, recvfrom and poll into arrays of a
 * known size become __read_chk and the like, which the hook routes too. */
#include "hook_util.h"

#include <sys/socket.h>

static int sv[2];

static void *late(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        usleep(20000);
        CHECK_INT(send(sv[1], "abcd", 4, 0), 4);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_co *w = weft_spawn(late, NULL, NULL);
    ticker_start();
    char b[4];
    /* Sizes the compiler cannot see, so that the checks happen at run
     * time (a constant that fits needs none, and calls plain read). */
    size_t len = sizeof b;
    nfds_t one = 1;
    __asm__ volatile("" : "+r"(len), "+r"(one));
    struct pollfd p[1] = {{sv[0], POLLIN, 0}};
    CHECK_INT(poll(p, one, 5000), 1);
    CHECK_INT(read(sv[0], b, len), 4);
    CHECK_INT(recv(sv[0], b, len, 0), 4);
    CHECK_INT(recvfrom(sv[0], b, len, 0, NULL, NULL), 4);
    struct timespec ts = {5, 0};
    CHECK_INT(ppoll(p, one, &ts, NULL), 1);
    CHECK_INT(read(sv[0], b, len), 4);
    CHECK_ERR(pread(sv[0], b, len, 0), -1, ESPIPE);
    CHECK_INT(read(sv[0], b, len), 4);
    CHECK(ticker_stop() > 0);
    CHECK_INT(weft_join(w, NULL, -1), 0);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    printf("ok\n");
    return 0;
}
