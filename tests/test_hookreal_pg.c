/* libpq's blocking API inside weft tasks, against a PostgreSQL cluster that
 * the test makes with initdb and starts on a Unix socket in a scratch
 * folder: each task has its own PQconnectdb connection and runs
 * SELECT pg_sleep(...); the calls park, so all finish in about one sleep.
 * Before that, each connection runs a query with a result to check. */
#include "hook_fixture.h"
#include "hook_util.h"

#include <libpq-fe.h>

static hook_pg server;

static void *open_conn(int index, void *ctx)
{
    (void)ctx;
    PGconn *c = PQconnectdb(server.conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "PQconnectdb: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT %d + 1", index);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
             atoi(PQgetvalue(r, 0, 0)) == index + 1;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int held(void *state, void *ctx)
{
    (void)ctx;
    PGconn *c = state;
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_sleep(%.3f)", hook_hold_ms() / 1000.0);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static void close_conn(void *state, void *ctx)
{
    (void)ctx;
    PQfinish(state);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    hook_pg_start(&server, 4 * HOOK_PROBE_TASKS);
    /* The socket exists before the server takes queries. */
    int tries = 0;
    while (PQping(server.conninfo) != PQPING_OK) {
        if (++tries == 1500) {
            hook_print_log(server.log);
            FAIL("PostgreSQL did not accept connections");
        }
        hook_msleep(20);
    }
    const hook_probe_ops ops = {open_conn, held, close_conn};
    hook_probe_run("libpq pg_sleep", &ops, NULL);
    hook_pg_stop(&server);
    return 0;
}
