/* A key-value server, one task per client, lines read with weft_buf:
 *   SET key value  -> OK            GET key -> VALUE value | NOTFOUND
 *   DEL key        -> OK | NOTFOUND anything else -> ERROR
 * A line longer than 255 bytes gets "ERROR line too long" and the
 * connection is closed; so is one idle for 60 s. Usage: kv PORT. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

typedef struct entry {
    struct entry *next;
    char *key, *value;
} entry;

static entry *table[4096]; /* one scheduler, one thread: no lock */

static entry **find(const char *key)
{
    unsigned h = 5381;
    for (const char *c = key; *c; c++)
        h = h * 33 + (unsigned char)*c;
    entry **e = &table[h % 4096];
    while (*e && strcmp((*e)->key, key) != 0)
        e = &(*e)->next;
    return e;
}

/* One command line: the answer (in out, for GET). */
static const char *command(char *line, char *out, size_t cap)
{
    char *cmd = strtok(line, " "), *key = strtok(NULL, " "), *value = strtok(NULL, "");
    if (!cmd || !key)
        return "ERROR\n";
    entry **e = find(key), *old = *e;
    if (!old && !value && (!strcmp(cmd, "GET") || !strcmp(cmd, "DEL")))
        return "NOTFOUND\n";
    if (!strcmp(cmd, "GET") && !value)
        return snprintf(out, cap, "VALUE %s\n", old->value), out;
    if (!strcmp(cmd, "SET") && value) {
        char *v = strdup(value);
        if (!old && v && (old = calloc(1, sizeof *old)) && !(old->key = strdup(key)))
            free(old), old = NULL;
        if (!v || !old)
            return free(v), "ERROR out of memory\n";
        free(old->value);
        old->value = v;
        *e = old; /* a new entry is linked at the end of its chain */
        return "OK\n";
    }
    if (!strcmp(cmd, "DEL") && !value) /* unlinked, then freed */
        return *e = old->next, free(old->key), free(old->value), free(old), "OK\n";
    return "ERROR\n";
}

static void *client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    weft_buf *b = weft_buf_new(fd, 0);
    char line[256], out[300];
    for (;;) {
        ssize_t n = weft_buf_read_line(b, line, sizeof line, weft_after(WEFT_S(60)));
        if (n < 0 && errno != EMSGSIZE)
            break; /* end of file, or idle too long */
        const char *answer = n >= 0 ? command(line, out, sizeof out) : "ERROR line too long\n";
        if (weft_buf_write(b, answer, strlen(answer), NULL, -1) != 0 || n < 0 ||
            (!weft_buf_buffered(b) && weft_buf_flush(b, weft_after(WEFT_S(10))) != 0))
            break; /* answers to pipelined commands go out together */
    }
    weft_buf_flush(b, weft_after(WEFT_S(10))); /* the answer to a line too long */
    weft_buf_free(b);
    weft_close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int lfd = weft_tcp_listen(NULL, *(int *)arg, 0);
    if (lfd < 0)
        return perror("kv: listen"), NULL;
    weft_group *g = weft_group_new(); /* frees each client task as it ends */
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL, -1);
        if (fd < 0) /* out of fds, say: back off */
            weft_sleep(weft_after(WEFT_MS(10)));
        else if (!weft_group_spawn(g, client, (void *)(intptr_t)fd, NULL))
            weft_close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s PORT\n", argv[0]), 2;
    return weft_run(server, &(int){atoi(argv[1])}, NULL) == 0 ? 0 : 1;
}
