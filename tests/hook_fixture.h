/* Fixtures of the hook tests against real servers (test_hookreal_*.c): server
 * processes that a test starts itself in a scratch folder and stops at the
 * end, a thread-per-connection server inside the test process, and the
 * probe that shows N held blocking calls running at once on one thread.
 * Everything here but the probe runs outside weft tasks, where every call
 * is libc's own. A missing server program skips the test (exit 77). */
#ifndef WEFT_TEST_HOOK_FIXTURE_H
#define WEFT_TEST_HOOK_FIXTURE_H

#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- processes (hook_fixture.c) ---- */

/* A scratch folder under /tmp (reachable by an unprivileged user), made
 * with mode 0700; FAILs when it cannot be made. */
void hook_tmpdir(char *path, size_t cap);
/* Removes path and everything under it. */
void hook_rmtree(const char *path);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int hook_free_port(void);

/* The first of the given paths (glob patterns, the last match of each
 * taken, so the newest version) that is an executable file, or NULL. The
 * list ends with NULL. */
const char *hook_find_program(char *buf, size_t cap, ...);

/* Starts argv (argv[0] a path) with stdout and stderr to log, without
 * LD_PRELOAD, as user (NULL: as the caller) and in its own process group.
 * Returns its pid; FAILs when fork fails. */
pid_t hook_spawn(char *const argv[], const char *user, const char *log);
/* Runs argv as hook_spawn does and waits; returns its wait status. */
int hook_run(char *const argv[], const char *user, const char *log);
/* Sends sig to pid and waits for it. */
void hook_stop(pid_t pid, int sig);
/* Waits until connect() to path (a Unix socket) or, with path NULL, to
 * 127.0.0.1:port succeeds, for up to timeout_ms; FAILs with the log's
 * tail when pid exits first or time runs out. */
void hook_wait_listening(pid_t pid, const char *path, int port, int timeout_ms, const char *log);
/* Prints the last lines of a log file on stderr. */
void hook_print_log(const char *log);

/* The user servers that refuse root (PostgreSQL) run as: NULL when the
 * caller is not root, else "nobody". */
const char *hook_server_user(void);
/* Gives path to user (no-op for NULL). */
void hook_chown(const char *path, const char *user);

/* ---- servers started as processes (hook_fixture.c) ---- */

typedef struct hook_redis {
    char dir[128];
    char log[192];
    int port;
    pid_t pid;
} hook_redis;

/* Starts redis-server on 127.0.0.1 in a scratch folder, without
 * persistence; skips the test when redis-server is not installed. */
void hook_redis_start(hook_redis *r);
void hook_redis_stop(hook_redis *r);

typedef struct hook_pg {
    char dir[128]; /* scratch folder: data/ and the Unix socket */
    char log[192];
    char conninfo[256]; /* for PQconnectdb */
    pid_t pid;
} hook_pg;

/* Makes a cluster with initdb (as an unprivileged user when run as root)
 * and starts postgres on a Unix socket in its folder only, with up to
 * max_conn connections; skips the test when PostgreSQL's server is not
 * installed. The caller waits for it to accept queries (PQping). */
void hook_pg_start(hook_pg *p, int max_conn);
void hook_pg_stop(hook_pg *p);

/* ---- a thread-per-connection server in this process (hook_tserver.c) ---- */

#define HOOK_TSERVER_MAX 64

typedef void (*hook_conn_fn)(int fd, void *ctx);

typedef struct hook_tserver {
    int lfd;
    int port;
    hook_conn_fn fn;
    void *ctx;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_t conns[HOOK_TSERVER_MAX];
    int nconns;
} hook_tserver;

/* Listens on 127.0.0.1 (any free port, in s->port) and serves each
 * connection on a thread of its own: fn(fd, ctx), then close. At most
 * HOOK_TSERVER_MAX connections over its life. */
void hook_tserver_start(hook_tserver *s, hook_conn_fn fn, void *ctx);
/* Stops accepting and joins every thread. */
void hook_tserver_stop(hook_tserver *s);
/* Sleeps ms on the calling (server) thread. */
void hook_msleep(int ms);

/* ---- the probe (hook_probe.c) ---- */

/* What each of the probe's tasks does: open its connection (returning its
 * state, or NULL after printing why), make the held call (0 on success),
 * and close. state and ctx are heap or static memory. */
typedef struct hook_probe_ops {
    void *(*open)(int index, void *ctx);
    int (*held)(void *state, void *ctx);
    void (*close)(void *state, void *ctx);
} hook_probe_ops;

/* The number of tasks of the probe. */
#define HOOK_PROBE_TASKS 10

/* How long the servers hold each call: 100 ms, and 400 ms under valgrind,
 * TSan and qemu, where the libraries' own work between the calls (a
 * libcurl transfer's set-up, under valgrind, is most of 100 ms) would
 * otherwise eat the margin that proves the calls overlapped. */
static inline int hook_hold_ms(void)
{
    return test_under_is("valgrind") || test_under_is("tsan") || test_under_is("qemu") ? 400 : 100;
}

/* Inside weft_run on this thread: HOOK_PROBE_TASKS tasks each open their
 * connection; once all are open they make their held call at the same
 * time, while a ticker task counts its 2 ms sleeps. FAILs unless every call
 * succeeds, all were in progress at once (they parked: a call that blocked
 * the thread would let none other start), the ticker ran meanwhile, and
 * the calls took less than half the time they take one after another
 * (HOOK_PROBE_TASKS holds). Prints the figures. what names the call. */
void hook_probe_run(const char *what, const hook_probe_ops *ops, void *ctx);

#endif
