/* libcurl's easy API inside weft tasks, against an HTTP server in the test
 * process (a thread per connection) whose /slow URL answers after a hold:
 * each task has its own easy handle and fetches /slow with
 * curl_easy_perform; the transfers park in libcurl's poll, so all finish
 * in about one hold. Before that, each handle fetches /fast. */
#include "hook_fixture.h"
#include "hook_util.h"

#include <curl/curl.h>
#include <sys/socket.h>

static hook_tserver server;

/* Reads the request head, holds for /slow, answers and closes. */
static void serve_http(int fd, void *ctx)
{
    (void)ctx;
    char req[2048];
    size_t n = 0;
    while (n < sizeof req - 1 && !memmem(req, n, "\r\n\r\n", 4)) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
    }
    req[n] = '\0';
    int slow = strncmp(req, "GET /slow ", 10) == 0;
    if (slow)
        hook_msleep(hook_hold_ms());
    const char *body = slow ? "slow ok" : "fast ok";
    char resp[256];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       strlen(body), body);
    for (int off = 0; off < len;) {
        ssize_t w = send(fd, resp + off, (size_t)(len - off), MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (int)w;
    }
}

typedef struct transfer {
    CURL *h;
    char body[64];
    size_t len;
} transfer;

static size_t on_data(char *data, size_t size, size_t nmemb, void *p)
{
    transfer *t = p;
    size_t n = size * nmemb;
    size_t room = sizeof t->body - 1 - t->len;
    memcpy(t->body + t->len, data, n < room ? n : room);
    t->len += n < room ? n : room;
    t->body[t->len] = '\0';
    return n;
}

/* Fetches path; 0 when the answer is 200 with the body want. */
static int fetch(transfer *t, const char *path, const char *want)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server.port, path);
    t->len = 0;
    t->body[0] = '\0';
    curl_easy_setopt(t->h, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(t->h);
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || strcmp(t->body, want) != 0) {
        fprintf(stderr, "GET %s: %s, status %ld, body \"%s\"\n", url, curl_easy_strerror(rc),
                status, t->body);
        return -1;
    }
    return 0;
}

static void *open_handle(int index, void *ctx)
{
    (void)index;
    (void)ctx;
    transfer *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    t->h = curl_easy_init();
    CHECK(t->h != NULL);
    curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, 30000L);
    if (fetch(t, "/fast", "fast ok") != 0) {
        curl_easy_cleanup(t->h);
        free(t);
        return NULL;
    }
    return t;
}

static int held(void *state, void *ctx)
{
    (void)ctx;
    return fetch(state, "/slow", "slow ok");
}

static void close_handle(void *state, void *ctx)
{
    (void)ctx;
    transfer *t = state;
    curl_easy_cleanup(t->h);
    free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    CHECK_INT(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    hook_tserver_start(&server, serve_http, NULL);
    const hook_probe_ops ops = {open_handle, held, close_handle};
    hook_probe_run("libcurl GET /slow", &ops, NULL);
    hook_tserver_stop(&server);
    curl_global_cleanup();
    return 0;
}
