/* Buffered streams and weft_writen: lines, delimited pieces and exact
 * reads across many small writes; a delimiter never found within the
 * limit (EMSGSIZE, data kept); a deadline in the middle (data kept);
 * end of file in the middle (EPROTO) and at the start; buffered writes
 * and flush; a write that fails reports what it wrote; bad input. */
#include <fcntl.h>
#include <weft.h>

#include "check.h"

/* Writes the pieces of arg (a NULL-terminated list) one by one with a
 * pause between, then closes its end. */
typedef struct feed {
    int fd;
    const char *const *pieces;
} feed;

static void *feeder(void *arg)
{
    feed *f = arg;
    for (const char *const *p = f->pieces; *p; p++) {
        CHECK_INT(weft_write(f->fd, *p, strlen(*p), -1), (long long)strlen(*p));
        weft_sleep(weft_after(WEFT_MS(1)));
    }
    weft_close(f->fd);
    return NULL;
}

static weft_buf *pair_with(const char *const *pieces, feed *f, weft_co **t, int *rfd)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->fd = sv[1];
    f->pieces = pieces;
    *t = weft_spawn(feeder, f, NULL);
    *rfd = sv[0];
    return weft_buf_new(sv[0], 8); /* tiny: every call crosses refills */
}

static void lines(void)
{
    static const char *const pieces[] = {"hel", "lo\r", "\nwor", "ld\n\nlast line", "!", NULL};
    static feed f; /* not on this stack: it may be shared */
    weft_co *t;
    int fd;
    weft_buf *b = pair_with(pieces, &f, &t, &fd);
    char line[32];
    CHECK_INT(weft_buf_read_line(b, line, sizeof line, -1), 5);
    CHECK_STR(line, "hello");
    CHECK_INT(weft_buf_read_line(b, line, sizeof line, -1), 5);
    CHECK_STR(line, "world");
    CHECK_INT(weft_buf_read_line(b, line, sizeof line, -1), 0);
    CHECK_STR(line, "");
    /* The last line has no "\n": it comes at end of file. */
    CHECK_INT(weft_buf_read_line(b, line, sizeof line, -1), 10);
    CHECK_STR(line, "last line!");
    CHECK_ERR(weft_buf_read_line(b, line, sizeof line, -1), -1, ENODATA);
    CHECK_INT(weft_buf_read_until(b, '\n', line, sizeof line, -1), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    weft_buf_free(b);
    weft_close(fd);
}

static void limits(void)
{
    static const char *const pieces[] = {"0123456789", "abcdef;", "tail", NULL};
    static feed f; /* not on this stack: it may be shared */
    weft_co *t;
    int fd;
    weft_buf *b = pair_with(pieces, &f, &t, &fd);
    char got[32];
    /* No ';' within 12 bytes: EMSGSIZE, and the 12 bytes stay. */
    CHECK_ERR(weft_buf_read_until(b, ';', got, 12, -1), -1, EMSGSIZE);
    CHECK(weft_buf_buffered(b) >= 12);
    /* A larger limit finds it, from the first byte. */
    CHECK_INT(weft_buf_read_until(b, ';', got, sizeof got, -1), 17);
    CHECK(memcmp(got, "0123456789abcdef;", 17) == 0);
    /* A line that does not fit its buffer. */
    char small[3];
    CHECK_ERR(weft_buf_read_line(b, small, sizeof small, -1), -1, EMSGSIZE);
    CHECK_INT(weft_buf_read(b, got, sizeof got, -1), 4);
    CHECK(memcmp(got, "tail", 4) == 0);
    CHECK_INT(weft_buf_read(b, got, sizeof got, -1), 0);
    CHECK_INT(weft_join(t, NULL, -1), 0);
    weft_buf_free(b);
    weft_close(fd);
}

static void deadlines_and_eof(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_buf *b = weft_buf_new(sv[0], 0);
    char got[64];
    CHECK_ERR(weft_buf_read_line(b, got, sizeof got, 0), -1, EAGAIN);
    CHECK_INT(weft_write(sv[1], "partial", 7, -1), 7);
    CHECK_ERR(weft_buf_read_line(b, got, sizeof got, weft_after(WEFT_MS(10))), -1, ETIMEDOUT);
    CHECK_INT(weft_buf_buffered(b), 7); /* kept */
    CHECK_ERR(weft_buf_read_full(b, got, 10, weft_after(WEFT_MS(5))), -1, ETIMEDOUT);
    CHECK_INT(weft_write(sv[1], " line\nabc", 9, -1), 9);
    CHECK_INT(weft_buf_read_line(b, got, sizeof got, -1), 12);
    CHECK_STR(got, "partial line");
    /* Exactly n: 3 buffered, 1000 more in pieces; the buffer grows. */
    static char big[1000];
    memset(big, 'z', sizeof big);
    CHECK_INT(weft_write(sv[1], big, sizeof big, -1), (long long)sizeof big);
    static char whole[1003];
    CHECK_INT(weft_buf_read_full(b, whole, sizeof whole, -1), (long long)sizeof whole);
    CHECK(memcmp(whole, "abc", 3) == 0 && whole[1002] == 'z');
    /* End of file after some bytes: EPROTO, and they stay. */
    CHECK_INT(weft_write(sv[1], "xy", 2, -1), 2);
    weft_close(sv[1]);
    CHECK_ERR(weft_buf_read_full(b, got, 5, -1), -1, EPROTO);
    CHECK_INT(weft_buf_buffered(b), 2);
    CHECK_INT(weft_buf_read_full(b, got, 2, -1), 2);
    CHECK_INT(weft_buf_read_full(b, got, 5, -1), 0); /* end of file, nothing left */
    weft_buf_free(b);
    weft_close(sv[0]);
}

static void writes(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_buf *b = weft_buf_new(sv[0], 16);
    size_t done = 99;
    CHECK_INT(weft_buf_write(b, "abc", 3, &done, -1), 0);
    CHECK_INT(done, 3);
    char got[64];
    CHECK_ERR(weft_read(sv[1], got, sizeof got, 0), -1, EAGAIN); /* still buffered */
    CHECK_INT(weft_buf_flush(b, -1), 0);
    CHECK_INT(weft_read(sv[1], got, sizeof got, -1), 3);
    /* Past the buffer's size: written out as it fills, and large writes
     * go straight. */
    CHECK_INT(weft_buf_write(b, "0123456789", 10, NULL, -1), 0);
    CHECK_INT(weft_buf_write(b, "0123456789", 10, NULL, -1), 0);
    CHECK_INT(weft_buf_write(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, NULL, -1), 0);
    CHECK_INT(weft_buf_flush(b, -1), 0);
    CHECK_INT(weft_buf_flush(b, 0), 0); /* nothing to do */
    size_t total = 0;
    while (total < 46) {
        ssize_t n = weft_read(sv[1], got + total, sizeof got - total, -1);
        CHECK(n > 0);
        total += (size_t)n;
    }
    CHECK(memcmp(got, "01234567890123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 46) == 0);

    /* Nobody reads: the write stops at its deadline and says how much of
     * src it took; the reader then finds exactly that (less what is
     * still buffered). */
    enum { BIG = 8 << 20 };
    char *data = calloc(1, BIG);
    CHECK_ERR(weft_buf_write(b, data, BIG, &done, weft_after(WEFT_MS(20))), -1, ETIMEDOUT);
    CHECK(done > 0 && done < BIG);
    size_t got_n = 0;
    for (;;) {
        ssize_t n = weft_read(sv[1], data, BIG, 0);
        if (n < 0) {
            CHECK_INT(errno, EAGAIN);
            break;
        }
        got_n += (size_t)n;
    }
    CHECK_INT(got_n, done);
    /* weft_writen: the same report. */
    size_t w = 0;
    CHECK_ERR(weft_writen(sv[0], data, BIG, &w, weft_after(WEFT_MS(20))), -1, ETIMEDOUT);
    CHECK(w > 0 && w < BIG);
    CHECK_INT(weft_writen(sv[0], "", 0, &w, -1), 0);
    CHECK_INT(w, 0);
    weft_close(sv[1]);
    /* The peer is gone: EPIPE, with what was written before. */
    CHECK_ERR(weft_writen(sv[0], data, BIG, &w, -1), -1, EPIPE);
    free(data);
    weft_buf_free(b);
    weft_close(sv[0]);
}

static void bad_input(void)
{
    CHECK_ERR(weft_buf_new(-1, 0), NULL, EINVAL);
    int p[2];
    CHECK_INT(pipe(p), 0);
    weft_buf *b = weft_buf_new(p[0], 0);
    char c[4];
    CHECK_ERR(weft_buf_read_until(NULL, '\n', c, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_until(b, '\n', NULL, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_until(b, '\n', c, 0, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_until(b, 256, c, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_until(b, -1, c, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_line(b, NULL, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read_full(b, NULL, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_read(NULL, c, 4, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_write(NULL, c, 1, NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_write(b, NULL, 1, NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_buf_flush(NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_writen(p[1], NULL, 1, NULL, -1), -1, EINVAL);
    CHECK_INT(weft_buf_buffered(NULL), 0);
    weft_buf_free(NULL);
    weft_buf_free(b);
    weft_close(p[0]);
    weft_close(p[1]);
}

/* weft_buf_fill: waits for something to read, consumes nothing. */
static void fills(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_buf *b = weft_buf_new(sv[0], 0);
    char got[8];
    CHECK_ERR(weft_buf_fill(b, 0), -1, EAGAIN);
    CHECK_ERR(weft_buf_fill(b, weft_after(WEFT_MS(5))), -1, ETIMEDOUT);
    CHECK_INT(weft_write(sv[1], "abc", 3, -1), 3);
    CHECK_INT(weft_buf_fill(b, -1), 3);
    CHECK_INT(weft_buf_buffered(b), 3);
    CHECK_INT(weft_write(sv[1], "d", 1, -1), 1);
    CHECK_INT(weft_buf_fill(b, 0), 3); /* something is buffered: no read */
    CHECK_INT(weft_buf_read(b, got, sizeof got, -1), 3);
    CHECK(memcmp(got, "abc", 3) == 0);
    weft_close(sv[1]);
    CHECK_INT(weft_buf_fill(b, -1), 1);
    CHECK_INT(weft_buf_read(b, got, sizeof got, -1), 1);
    CHECK_INT(weft_buf_fill(b, -1), 0); /* end of file */
    CHECK_INT(weft_buf_fill(b, -1), 0);
    CHECK_ERR(weft_buf_fill(NULL, -1), -1, EINVAL);
    weft_buf_free(b);
    weft_close(sv[0]);
}

static void *main_task(void *arg)
{
    (void)arg;
    lines();
    fills();
    limits();
    deadlines_and_eof();
    writes();
    bad_input();
    return NULL;
}

int main(void)
{
    printf("backend: %s\n", weft_backend());
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    puts("ok");
    return 0;
}
