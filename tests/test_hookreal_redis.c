/* hiredis's blocking API inside weft tasks, against a redis-server that the
 * test starts: each task has its own redisConnect connection and sends
 * BLPOP on an empty list, which the server holds for its timeout; the
 * calls park, so all finish in about one timeout. Before that, SET and GET
 * go through the same connections. */
#include "hook_fixture.h"
#include "hook_util.h"

#include <hiredis/hiredis.h>

static hook_redis server;

static void *open_conn(int index, void *ctx)
{
    (void)ctx;
    redisContext *c = redisConnect("127.0.0.1", server.port);
    if (!c || c->err) {
        fprintf(stderr, "redisConnect: %s\n", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    /* A round trip on the fresh connection: SET then GET of its own key. */
    redisReply *r = redisCommand(c, "SET hookreal:%d v%d", index, index);
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    freeReplyObject(r);
    r = ok ? redisCommand(c, "GET hookreal:%d", index) : NULL;
    char want[16];
    snprintf(want, sizeof want, "v%d", index);
    ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
    freeReplyObject(r);
    if (!ok) {
        fprintf(stderr, "SET/GET on connection %d failed: %s\n", index, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

static int held(void *state, void *ctx)
{
    (void)ctx;
    redisContext *c = state;
    /* BLPOP on a list nobody pushes to: nil after the timeout. */
    redisReply *r = redisCommand(c, "BLPOP hookreal:empty %.3f", hook_hold_ms() / 1000.0);
    int ok = r && r->type == REDIS_REPLY_NIL;
    if (!ok)
        fprintf(stderr, "BLPOP: %s (reply type %d)\n", r ? "unexpected reply" : c->errstr,
                r ? r->type : -1);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static void close_conn(void *state, void *ctx)
{
    (void)ctx;
    redisFree(state);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    hook_redis_start(&server);
    const hook_probe_ops ops = {open_conn, held, close_conn};
    hook_probe_run("hiredis BLPOP", &ops, NULL);
    hook_redis_stop(&server);
    return 0;
}
