/* The PostgreSQL client of the hook benchmark: each connection has its own
 * libpq connection (PQconnectdb, PQexec: the blocking API, unchanged) and
 * runs the simple query SELECT 1. TARGET is a conninfo string. */
#include "driver.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

static void *open_conn(int index, const char *target)
{
    (void)index;
    PGconn *c = PQconnectdb(target);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "PQconnectdb: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static long work(void *p, long iters)
{
    PGconn *c = p;
    for (long i = 0; i < iters; i++) {
        PGresult *r = PQexec(c, "SELECT 1");
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (!ok) {
            fprintf(stderr, "SELECT 1: %s", PQerrorMessage(c));
            return -1;
        }
    }
    return iters;
}

static void close_conn(void *p)
{
    PQfinish(p);
}

int main(int argc, char **argv)
{
    static const bench_client client = {open_conn, work, close_conn};
    return bench_hook_main(argc, argv, &client);
}
