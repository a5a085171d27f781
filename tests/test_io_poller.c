/* The poller under load: thousands of fds, each with a reader and a writer
 * waiting at once, all made readable together, then all writable. With
 * io_uring the completion ring is made small (WEFT_URING_ENTRIES), so that
 * it overflows and the kernel ends multishot polls: every waiter must
 * still wake, the writer of a poll that ended for its reader too. */
#include "io_util.h"

#include <sys/socket.h>

#define NPAIRS 2100

static int a[NPAIRS], b[NPAIRS];
static int woke_rd, woke_wr;

static void *reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    if (weft_read(a[i], &c, 1, ms_from_now(10000)) == 1)
        woke_rd++;
    return NULL;
}

static void *writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (weft_write(a[i], "w", 1, ms_from_now(10000)) == 1)
        woke_wr++;
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    static weft_co *rd[NPAIRS], *wr[NPAIRS];
    char fill[4096];
    memset(fill, 'f', sizeof fill);
    for (int i = 0; i < NPAIRS; i++) {
        int sv[2];
        CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        a[i] = sv[0];
        b[i] = sv[1];
        int small = 4096;
        setsockopt(a[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        while (write(a[i], fill, sizeof fill) > 0)
            ;
    }
    weft_opts o = {.stack_size = 16384};
    for (int i = 0; i < NPAIRS; i++) {
        CHECK((wr[i] = weft_spawn(writer, (void *)(intptr_t)i, &o)));
        CHECK((rd[i] = weft_spawn(reader, (void *)(intptr_t)i, &o)));
    }
    CHECK_INT(weft_pause(), 0); /* all of them wait now */
    CHECK_INT(woke_rd + woke_wr, 0);
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(write(b[i], "r", 1), 1);
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(weft_join(rd[i], NULL, -1), 0);
    CHECK_INT(woke_rd, NPAIRS);
    CHECK_INT(woke_wr, 0);
    for (int i = 0; i < NPAIRS; i++)
        while (read(b[i], fill, sizeof fill) > 0)
            ;
    for (int i = 0; i < NPAIRS; i++)
        CHECK_INT(weft_join(wr[i], NULL, -1), 0);
    CHECK_INT(woke_wr, NPAIRS);
    for (int i = 0; i < NPAIRS; i++) {
        weft_close(a[i]);
        weft_close(b[i]);
    }
    return NULL;
}

int main(void)
{
    setenv("WEFT_URING_ENTRIES", "16", 0);
    io_test_init();
    if (io_raise_nofile() < 2 * NPAIRS + 64)
        test_skip("RLIMIT_NOFILE cannot be raised enough");
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
