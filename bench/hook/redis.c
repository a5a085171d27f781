/* The redis client of the hook benchmark: each connection has its own
 * hiredis context (redisConnect, redisCommand: the blocking API, unchanged)
 * and does SET then GET of its own key with a 3-byte value, as
 * redis-benchmark's default. TARGET is HOST:PORT. */
#include "driver.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conn {
    redisContext *c;
    char key[32];
} conn;

static void *open_conn(int index, const char *target)
{
    char host[64];
    int port;
    if (sscanf(target, "%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "target: HOST:PORT, not %s\n", target);
        return NULL;
    }
    conn *k = malloc(sizeof *k);
    if (!k)
        return NULL;
    k->c = redisConnect(host, port);
    if (!k->c || k->c->err) {
        fprintf(stderr, "redisConnect: %s\n", k->c ? k->c->errstr : "out of memory");
        redisFree(k->c);
        free(k);
        return NULL;
    }
    snprintf(k->key, sizeof k->key, "key:%d", index);
    return k;
}

static long work(void *p, long iters)
{
    conn *k = p;
    for (long i = 0; i < iters; i++) {
        redisReply *r = redisCommand(k->c, "SET %s xxx", k->key);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        r = ok ? redisCommand(k->c, "GET %s", k->key) : NULL;
        ok = r && r->type == REDIS_REPLY_STRING && r->len == 3;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "SET/GET: %s\n", k->c->err ? k->c->errstr : "unexpected reply");
            return -1;
        }
    }
    return 2 * iters;
}

static void close_conn(void *p)
{
    conn *k = p;
    redisFree(k->c);
    free(k);
}

int main(int argc, char **argv)
{
    static const bench_client client = {open_conn, work, close_conn};
    return bench_hook_main(argc, argv, &client);
}
