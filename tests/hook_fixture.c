/* Server processes for the hook tests: scratch folders, programs found on
 * the machine, started in their own process group with their output in a
 * log, waited for until they listen, and stopped. Runs outside weft. */
#include "hook_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

void hook_tmpdir(char *path, size_t cap)
{
    CHECK(cap > 32);
    snprintf(path, cap, "/tmp/weft-hookreal.XXXXXX");
    if (!mkdtemp(path))
        FAIL("mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void hook_rmtree(const char *path)
{
    if (path[0] && nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "hook fixture: could not remove %s: %s\n", path, strerror(errno));
}

int hook_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

const char *hook_find_program(char *buf, size_t cap, ...)
{
    va_list ap;
    va_start(ap, cap);
    const char *pattern;
    const char *found = NULL;
    while (!found && (pattern = va_arg(ap, const char *)) != NULL) {
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            const char *last = g.gl_pathv[g.gl_pathc - 1];
            if (access(last, X_OK) == 0 && strlen(last) < cap) {
                snprintf(buf, cap, "%s", last);
                found = buf;
            }
        }
        globfree(&g);
    }
    va_end(ap);
    return found;
}

/* In the child: becomes user, or exits 126 saying why. */
static void become(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "hook fixture: cannot become %s\n", user);
        _exit(126);
    }
}

pid_t hook_spawn(char *const argv[], const char *user, const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        unsetenv("LD_PRELOAD");
        if (user)
            become(user);
        /* Ends with the test, even one killed by its timeout (set after
         * the change of user, which clears it). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execv(argv[0], argv);
        fprintf(stderr, "hook fixture: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int hook_run(char *const argv[], const char *user, const char *log)
{
    pid_t pid = hook_spawn(argv, user, log);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        CHECK(errno == EINTR);
    return status;
}

void hook_stop(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

void hook_print_log(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    /* The last 4 KiB is enough to say why a server did not start. */
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > 4096)
        fseek(f, -4096, SEEK_END);
    else
        rewind(f);
    char buf[512];
    fprintf(stderr, "---- %s ----\n", log);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "----\n");
    fclose(f);
}

static int try_connect(const char *path, int port)
{
    int fd;
    int ok;
    if (path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t n = strlen(path);
        if (n >= sizeof a.sun_path)
            FAIL("socket path too long: %s", path);
        memcpy(a.sun_path, path, n + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

void hook_wait_listening(pid_t pid, const char *path, int port, int timeout_ms, const char *log)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (try_connect(path, port))
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            hook_print_log(log);
            FAIL("server exited before it listened (status %d)", status);
        }
        hook_msleep(20);
    }
    hook_print_log(log);
    FAIL("server did not listen within %d ms", timeout_ms);
}

void hook_msleep(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *hook_server_user(void)
{
    return geteuid() == 0 ? "nobody" : NULL;
}

void hook_chown(const char *path, const char *user)
{
    if (!user)
        return;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        test_skip("running as root and there is no user 'nobody' for the server");
    if (chown(path, pw->pw_uid, pw->pw_gid) != 0)
        FAIL("chown %s: %s", path, strerror(errno));
}

/* The servers still running when the test exits, a failed check's
 * exit(1) included. */
static hook_redis *live_redis;
static hook_pg *live_pg;

static void stop_live(void)
{
    if (live_redis)
        hook_redis_stop(live_redis);
    if (live_pg)
        hook_pg_stop(live_pg);
}

static void stop_at_exit(void)
{
    static int registered;
    if (!registered++)
        atexit(stop_live);
}

/* ---- redis-server ---- */

void hook_redis_start(hook_redis *r)
{
    char prog[256];
    if (!hook_find_program(prog, sizeof prog, "/usr/bin/redis-server", "/usr/sbin/redis-server",
                           "/usr/local/bin/redis-server", NULL))
        test_skip("redis-server not installed (Debian package redis-server)");
    hook_tmpdir(r->dir, sizeof r->dir);
    live_redis = r;
    stop_at_exit();
    snprintf(r->log, sizeof r->log, "%s/redis.log", r->dir);
    /* A port free a moment ago can be taken meanwhile: try a few. */
    for (int tries = 0; tries < 5; tries++) {
        r->port = hook_free_port();
        char port[16];
        snprintf(port, sizeof port, "%d", r->port);
        char *argv[] = {prog, "--port",       port,  "--bind",       "127.0.0.1", "--save",
                        "",   "--appendonly", "no",  "--dir",        r->dir,      "--daemonize",
                        "no", "--hz",         "100", "--maxclients", "10000",     NULL};
        r->pid = hook_spawn(argv, NULL, r->log);
        for (int waited = 0; waited < 10000; waited += 20) {
            if (try_connect(NULL, r->port))
                return;
            int status;
            if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
                r->pid = 0;
                break;
            }
            hook_msleep(20);
        }
        if (r->pid > 0) {
            hook_print_log(r->log);
            FAIL("redis-server did not listen on port %d", r->port);
        }
    }
    hook_print_log(r->log);
    FAIL("redis-server did not start");
}

void hook_redis_stop(hook_redis *r)
{
    live_redis = NULL;
    hook_stop(r->pid, SIGTERM);
    r->pid = 0;
    hook_rmtree(r->dir);
}

/* ---- PostgreSQL ---- */

void hook_pg_start(hook_pg *p, int max_conn)
{
    char initdb[256], postgres[256];
    if (!hook_find_program(initdb, sizeof initdb, "/usr/lib/postgresql/*/bin/initdb", NULL) ||
        !hook_find_program(postgres, sizeof postgres, "/usr/lib/postgresql/*/bin/postgres", NULL))
        test_skip("PostgreSQL's server not installed (Debian package postgresql)");
    const char *user = hook_server_user();
    hook_tmpdir(p->dir, sizeof p->dir);
    live_pg = p;
    stop_at_exit();
    hook_chown(p->dir, user);
    snprintf(p->log, sizeof p->log, "%s/postgres.log", p->dir);
    char data[192];
    snprintf(data, sizeof data, "%s/data", p->dir);

    char *init_argv[] = {initdb,
                         "-D",
                         data,
                         "-A",
                         "trust",
                         "-U",
                         "weft",
                         "-E",
                         "UTF8",
                         "--no-sync",
                         "--no-instructions",
                         NULL};
    int status = hook_run(init_argv, user, p->log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        hook_print_log(p->log);
        FAIL("initdb failed (status %d)", status);
    }

    /* Only the Unix socket in the scratch folder: no TCP port to collide
     * with; fsync off, as nothing here must survive. */
    char conns[32];
    snprintf(conns, sizeof conns, "max_connections=%d", max_conn);
    char *argv[] = {postgres,
                    "-D",
                    data,
                    "-k",
                    p->dir,
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    conns,
                    "-c",
                    "shared_buffers=16MB",
                    NULL};
    p->pid = hook_spawn(argv, user, p->log);
    char sock[192];
    snprintf(sock, sizeof sock, "%s/.s.PGSQL.5432", p->dir);
    hook_wait_listening(p->pid, sock, 0, 30000, p->log);
    snprintf(p->conninfo, sizeof p->conninfo, "host=%s dbname=postgres user=weft", p->dir);
}

void hook_pg_stop(hook_pg *p)
{
    live_pg = NULL;
    /* SIGINT: fast shutdown (sessions ended, no checkpoint wait). */
    hook_stop(p->pid, SIGINT);
    p->pid = 0;
    hook_rmtree(p->dir);
}
