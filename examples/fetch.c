/* A fan-out fetcher: GETs every PATH from HOST:PORT over HTTP/1.0, a
 * task per path, with at most LIMIT connections open at once (a
 * semaphore), each fetch within 10 s. Prints "PATH STATUS BYTES" per path,
 * in the order given (the group keeps each task's result), then the
 * number fetched and the most connections that were open at once.
 * Usage: fetch HOST PORT LIMIT PATH... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static const char *host;
static int port, open_now, open_max;
static weft_sem limit;

typedef struct job {
    const char *path;
    int status;
    long bytes;
} job;

/* One fetch: fills in j; returns NULL, or j->path on failure. */
static void *fetch(void *arg)
{
    job *j = arg;
    int64_t dl = weft_after(WEFT_S(10));
    if (weft_sem_wait(&limit, dl) != 0)
        return (void *)j->path;
    int fd = weft_tcp_dial(host, port, dl);
    weft_buf *b = fd >= 0 ? weft_buf_new(fd, 0) : NULL;
    open_now++;
    open_max = open_now > open_max ? open_now : open_max;
    char line[1024];
    int n = snprintf(line, sizeof line, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", j->path, host);
    if (b && weft_buf_write(b, line, (size_t)n, NULL, dl) == 0 && weft_buf_flush(b, dl) == 0 &&
        weft_buf_read_line(b, line, sizeof line, dl) >= 0 &&
        sscanf(line, "HTTP/1.%*d %d", &j->status) == 1) {
        while (weft_buf_read_line(b, line, sizeof line, dl) > 0)
            ; /* the headers; the body runs to end of file */
        ssize_t k;
        while ((k = weft_buf_read(b, line, sizeof line, dl)) > 0)
            j->bytes += k;
    }
    open_now--;
    weft_buf_free(b);
    if (fd >= 0)
        weft_close(fd);
    weft_sem_post(&limit);
    return j->status ? NULL : (void *)j->path;
}

static int failed(void *result, void *arg)
{
    (void)arg;
    return result ? 1 : 0;
}

static void *run(void *arg)
{
    char **paths = arg;
    size_t n = 0;
    weft_group_opts o = {WEFT_GROUP_RESULTS, failed, NULL};
    weft_group *g = weft_group_new_opts(&o);
    job *jobs = calloc(1024, sizeof *jobs);
    for (; g && jobs && paths[n] && n < 1024; n++) {
        jobs[n].path = paths[n];
        if (!weft_group_spawn(g, fetch, &jobs[n], NULL))
            break;
    }
    int rc = g ? weft_group_wait(g, -1) : -1;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int bad = weft_group_result(g, i, NULL);
        printf("%s %d %ld%s\n", jobs[i].path, jobs[i].status, jobs[i].bytes, bad ? " failed" : "");
        ok += !bad;
    }
    printf("fetched %zu of %zu, at most %d at once\n", ok, n, open_max);
    weft_group_close(g);
    free(jobs);
    return (void *)(intptr_t)(rc != 0);
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return fprintf(stderr, "usage: %s HOST PORT LIMIT PATH...\n", argv[0]), 2;
    host = argv[1], port = atoi(argv[2]);
    weft_sem_init(&limit, (unsigned)atoi(argv[3]));
    void *failed_any = NULL;
    if (weft_run(run, argv + 4, &failed_any) != 0)
        return 1;
    return failed_any ? 1 : 0;
}
