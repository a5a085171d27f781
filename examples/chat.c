/* A chat server: each line a client sends goes to all. A task per client
 * selects on its socket and its outbound channel. The broadcaster never
 * waits: a client QUEUE lines behind (kernel buffers full too) is dropped,
 * channel closed, socket shut down; a slow reader holds up no one.
 * Usage: chat [PORT] (7000 by default; runs until killed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h> /* with poll.h and sys/socket.h */

enum { LINE = 256, QUEUE = 256 };
typedef struct client {
    int fd;
    weft_chan *out; /* lines to write, LINE bytes each */
    struct client *next;
} client;
static client *all;
static int online;

static void unlink_client(client *c) /* one thread: no lock */
{
    client **p = &all;
    while (*p != c)
        p = &(*p)->next;
    *p = c->next, online--;
}

static void broadcast(const char *line)
{
    for (client *c = all, *next; c; c = next) {
        next = c->next;
        if (weft_chan_send(c->out, line, 0) != 0) { /* too slow: dropped */
            unlink_client(c);
            weft_chan_close(c->out);
            shutdown(c->fd, SHUT_RDWR); /* its task's write fails now */
        }
    }
}

static void *session(void *arg)
{
    client *c = calloc(1, sizeof *c);
    char in[LINE], out[LINE];
    size_t have = 0;
    if (!c || !(c->out = weft_chan_new(LINE, QUEUE)))
        return free(c), weft_close((int)(intptr_t)arg), NULL;
    c->fd = (int)(intptr_t)arg;
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &(int){16384}, sizeof(int)); /* bounds a laggard */
    c->next = all, all = c;
    snprintf(out, LINE, "* %d online\n", ++online);
    weft_chan_send(c->out, out, 0);
    weft_case cs[2] = {{.op = WEFT_FD, .fd = c->fd, .events = POLLIN},
                       {.ch = c->out, .op = WEFT_RECV, .elem = out}};
    /* Queued lines go out first: a client that talks waits for its output. */
    for (int i;
         (i = weft_select(&cs[1], 1, 0) == 0 ? 1 : weft_select(cs, 2, -1)) >= 0 && !cs[i].err;) {
        if (i == 1 && weft_write(c->fd, out, strlen(out), -1) < 0)
            break;
        if (i == 1)
            continue;
        ssize_t n = weft_read(c->fd, in + have, LINE - 1 - have, 0); /* too long a line: 0 */
        if (n == 0 || (n < 0 && errno != ETIMEDOUT && errno != EAGAIN))
            break;
        have += n > 0 ? (size_t)n : 0;
        for (char *nl; (nl = memchr(in, '\n', have)); memmove(in, nl + 1, have)) {
            size_t len = (size_t)(nl + 1 - in);
            memcpy(out, in, len), out[len] = '\0', have -= len;
            broadcast(out);
            weft_pause(); /* the others write it before this one reads on */
        }
    }
    if (weft_chan_close(c->out) == 0) /* else it was dropped */
        unlink_client(c);
    weft_close(c->fd);
    while (weft_chan_recv(c->out, out, 0) == 0) /* what is still queued */
        ;
    weft_chan_free(c->out);
    free(c);
    return NULL;
}

static void *server(void *arg)
{
    int lfd = weft_tcp_listen(NULL, *(int *)arg, 0);
    if (lfd < 0)
        return perror("chat"), NULL;
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0)
            weft_sleep(weft_now() + 10 * 1000000); /* e.g. out of fds: back off */
        else if (weft_detach(weft_spawn(session, (void *)(intptr_t)fd, NULL)) != 0)
            weft_close(fd);
    }
}

int main(int argc, char **argv)
{
    return weft_run(server, &(int){argc > 1 ? atoi(argv[1]) : 7000}, NULL) ? 1 : 0;
}
