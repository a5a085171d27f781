/* Buffered streams over an fd: a read buffer that grows to what a call
 * needs (the limit of a delimited read, the size of an exact read), so
 * that a call that fails consumes nothing and the next one starts where
 * it stopped; and a write buffer of fixed size, flushed when full. */
#include "io/io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BUF_DEFAULT 4096

struct weft_buf {
    int fd;
    int eof; /* the last read returned end of file */
    char *r; /* read buffer: rlen bytes from rpos are unread */
    size_t rcap, rpos, rlen;
    char *w; /* write buffer: wlen bytes wait for a flush */
    size_t wcap, wlen;
};

weft_buf *weft_buf_new(int fd, size_t size)
{
    if (fd < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (size == 0)
        size = BUF_DEFAULT;
    weft_buf *b = calloc(1, sizeof *b);
    if (!b || !(b->r = malloc(size)) || !(b->w = malloc(size))) {
        if (b)
            free(b->r);
        free(b);
        errno = ENOMEM;
        return NULL;
    }
    b->fd = fd;
    b->rcap = b->wcap = size;
    return b;
}

void weft_buf_free(weft_buf *b)
{
    if (!b)
        return;
    free(b->r);
    free(b->w);
    free(b);
}

/* Reads once more into the buffer, which first makes room for `need`
 * unread bytes in all. Returns the bytes read, 0 at end of file, -1. */
static ssize_t fill(weft_buf *b, size_t need, int64_t deadline)
{
    if (need > b->rcap) {
        char *n = realloc(b->r, need);
        if (!n) {
            errno = ENOMEM;
            return -1;
        }
        b->r = n;
        b->rcap = need;
    }
    /* Unread bytes move to the front once the room behind them is short. */
    if (b->rpos && b->rcap - b->rpos - b->rlen < b->rcap / 2) {
        memmove(b->r, b->r + b->rpos, b->rlen);
        b->rpos = 0;
    }
    char *end = b->r + b->rpos + b->rlen;
    ssize_t n = weft_read(b->fd, end, b->rcap - b->rpos - b->rlen, deadline);
    if (n > 0)
        b->rlen += (size_t)n;
    else if (n == 0)
        b->eof = 1;
    return n;
}

/* Hands the first n unread bytes to dst. */
static void take(weft_buf *b, void *dst, size_t n)
{
    memcpy(dst, b->r + b->rpos, n);
    b->rpos += n;
    b->rlen -= n;
    if (!b->rlen)
        b->rpos = 0;
}

ssize_t weft_buf_fill(weft_buf *b, int64_t deadline)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    if (b->rlen || b->eof)
        return (ssize_t)b->rlen;
    ssize_t n = fill(b, 0, deadline);
    return n < 0 ? -1 : (ssize_t)b->rlen;
}

ssize_t weft_buf_read(weft_buf *b, void *dst, size_t len, int64_t deadline)
{
    if (!b || (len && !dst)) {
        errno = EINVAL;
        return -1;
    }
    if (!b->rlen && len) {
        if (b->eof)
            return 0;
        if (len >= b->rcap) { /* large: straight into dst */
            ssize_t n = weft_read(b->fd, dst, len, deadline);
            b->eof = n == 0;
            return n;
        }
        ssize_t n = fill(b, 0, deadline);
        if (n <= 0)
            return n;
    }
    size_t n = len < b->rlen ? len : b->rlen;
    take(b, dst, n);
    return (ssize_t)n;
}

ssize_t weft_buf_read_until(weft_buf *b, int delim, void *dst, size_t limit, int64_t deadline)
{
    if (!b || !dst || !limit || delim < 0 || delim > 255 || limit > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    size_t seen = 0; /* bytes already searched */
    for (;;) {
        size_t upto = b->rlen < limit ? b->rlen : limit;
        char *p = memchr(b->r + b->rpos + seen, delim, upto - seen);
        if (p) {
            size_t n = (size_t)(p - (b->r + b->rpos)) + 1;
            take(b, dst, n);
            return (ssize_t)n;
        }
        seen = upto;
        if (b->rlen >= limit) {
            errno = EMSGSIZE;
            return -1;
        }
        if (b->eof) { /* the last piece, without its delimiter */
            size_t n = b->rlen;
            take(b, dst, n);
            return (ssize_t)n;
        }
        if (fill(b, limit, deadline) < 0)
            return -1;
    }
}

ssize_t weft_buf_read_line(weft_buf *b, char *line, size_t size, int64_t deadline)
{
    ssize_t n = weft_buf_read_until(b, '\n', line, size, deadline);
    if (n < 0)
        return -1;
    if (n == 0) {
        errno = ENODATA;
        return -1;
    }
    if (line[n - 1] == '\n' && --n && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return n;
}

ssize_t weft_buf_read_full(weft_buf *b, void *dst, size_t n, int64_t deadline)
{
    if (!b || (n && !dst) || n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    while (b->rlen < n) {
        if (b->eof) {
            if (b->rlen == 0)
                return 0;
            errno = EPROTO;
            return -1;
        }
        if (fill(b, n, deadline) < 0)
            return -1;
    }
    take(b, dst, n);
    return (ssize_t)n;
}

int weft_buf_flush(weft_buf *b, int64_t deadline)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    size_t done = 0;
    int rc = b->wlen ? weft_writen(b->fd, b->w, b->wlen, &done, deadline) : 0;
    /* What was not written stays, for the next flush. */
    memmove(b->w, b->w + done, b->wlen - done);
    b->wlen -= done;
    return rc;
}

int weft_buf_write(weft_buf *b, const void *src, size_t len, size_t *done, int64_t deadline)
{
    size_t dummy;
    if (!done)
        done = &dummy;
    *done = 0;
    if (!b || (len && !src)) {
        errno = EINVAL;
        return -1;
    }
    const char *s = src;
    while (*done < len) {
        size_t left = len - *done;
        if (!b->wlen && left >= b->wcap) { /* large: straight out */
            size_t n = 0;
            int rc = weft_writen(b->fd, s + *done, left, &n, deadline);
            *done += n;
            return rc;
        }
        size_t room = b->wcap - b->wlen;
        if (!room) {
            if (weft_buf_flush(b, deadline) != 0)
                return -1;
            continue;
        }
        size_t k = left < room ? left : room;
        memcpy(b->w + b->wlen, s + *done, k);
        b->wlen += k;
        *done += k;
    }
    return 0;
}

size_t weft_buf_buffered(const weft_buf *b)
{
    return b ? b->rlen : 0;
}
