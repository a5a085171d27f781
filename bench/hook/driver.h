/* The driver of the hook benchmarks: runs one client body, written with a
 * library's ordinary blocking API, on CONNS connections at once, either as
 * weft tasks on one thread (the program built with BENCH_HOOK_WEFT, linked
 * with libweft-hook) or as one pthread per connection (built without). The
 * body's code is the same in both. */
#ifndef WEFT_BENCH_HOOK_DRIVER_H
#define WEFT_BENCH_HOOK_DRIVER_H

typedef struct bench_client {
    /* Opens connection index to target; returns it, or NULL after saying
     * why on stderr. */
    void *(*open)(int index, const char *target);
    /* Makes iters round trips; returns the operations done (a command
     * counts as one), or -1 after saying why. */
    long (*work)(void *conn, long iters);
    void (*close)(void *conn);
} bench_client;

/* main() of a client program: "PROG CONNS ITERS TARGET". All connections
 * open first; then the timed phase, where each makes ITERS round trips;
 * then, with every connection still open, the figures. Prints one line:
 *   mode=weft|threads conns=N ops=N seconds=S ops_per_s=R cpu_us_per_op=C
 *   rss_kb_per_conn=K
 * where cpu is this process's user+sys time over the timed phase
 * (getrusage) and rss the peak resident set (VmHWM) less the one before the
 * first connection, divided by CONNS. Returns the exit code. */
int bench_hook_main(int argc, char **argv, const bench_client *client);

#endif
