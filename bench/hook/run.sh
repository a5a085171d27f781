#!/bin/sh
# The hook's benchmarks: unmodified blocking client code (hiredis, libpq)
# run as weft tasks on one thread with libweft-hook linked in, against the
# same code on a pthread per connection and, for redis, redis-benchmark (a
# hand-written event-loop client), in the same run against one real server
# that this script starts (redis-server, PostgreSQL) and stops. Clients
# are pinned to CPU 0 and the server to CPU 1 when there are two. Figures
# only: nothing here fails on a time.
#   bench/hook/run.sh BUILD_DIR
# Prints per run and as medians: ops/s; the client's CPU per op (user+sys:
# the client's own getrusage over its timed phase, and wait4's rusage for
# redis-benchmark); at BIG connections, the client's RSS per connection
# ((peak RSS - RSS before the first connection) / connections); then the
# ratios and the issue's targets. Writes BUILD_DIR/bench/hook/results.txt.
# Environment: HOOK_RUNS (3), HOOK_CONNS (100), HOOK_REDIS_ITERS (2000
# SET+GET pairs per connection), HOOK_PG_ITERS (500 queries per
# connection), HOOK_BIG (1000 connections for the RSS figure),
# HOOK_BIG_ITERS (20), HOOK_PG_BIG (HOOK_BIG; PostgreSQL forks a backend
# per connection).
set -u
build=${1:-build}
dir="$build/bench/hook"
runs=${HOOK_RUNS:-3}
conns=${HOOK_CONNS:-100}
redis_iters=${HOOK_REDIS_ITERS:-2000}
pg_iters=${HOOK_PG_ITERS:-500}
big=${HOOK_BIG:-1000}
big_iters=${HOOK_BIG_ITERS:-20}
pg_big=${HOOK_PG_BIG:-$big}
out="$dir/results.txt"

echo "hook: blocking clients unchanged, weft tasks on one thread vs a pthread per connection (median of $runs runs)"
if [ ! -x "$dir/cpu_of" ]; then
    echo "  skipped: $dir/cpu_of not built (build $build with WEFT_BENCH=ON)"
    exit 0
fi
mkdir -p "$dir"
: >"$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-hookbench.XXXXXX") || exit 1
chmod 755 "$tmp"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pin0=""
pin1=""
pin_desc="not pinned"
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
    pin0="taskset -c 0"
    pin_desc="clients on CPU 0"
    if [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
        pin1="taskset -c 1"
        pin_desc="clients on CPU 0, server on CPU 1"
    fi
fi
echo "  ($pin_desc)"

# The value of key=... in a line.
field() {
    printf '%s\n' "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p" | head -n 1
}
# The median of the numbers given (empty ones left out).
median() {
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# a / b with two decimals, or empty.
ratio() {
    [ -n "$1" ] && [ -n "$2" ] &&
        awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 != 0) printf "%.2f", a / b }'
}
# verdict VALUE OP LIMIT: met, missed or unknown.
verdict() {
    if [ -z "$1" ]; then
        echo unknown
    else
        awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
            if (op == ">=") ok = v + 0 >= l + 0; else if (op == "<=") ok = v + 0 <= l + 0; else ok = v + 0 < l + 0
            print ok ? "met" : "missed" }'
    fi
}
# client NAME PROGRAM ARGS...: runs a client pinned; prints and leaves its
# line in LINE (empty when it failed).
client() {
    name=$1
    shift
    if LINE=$($pin0 "$@" 2>"$tmp/err"); then
        printf '    %-22s %s\n' "$name" "$LINE"
    else
        LINE=""
        printf '    %-22s FAILED: %s\n' "$name" "$(head -c 300 "$tmp/err" | tr '\n' ' ')"
    fi
}
record() {
    echo "$1=$2" >>"$out"
}
# both CLIENT CONNS ITERS TARGET: runs CLIENT_weft, then CLIENT_threads,
# adding their ops/s and CPU per op to W_OPS, W_CPU, T_OPS and T_CPU.
both() {
    client "weft tasks" "$dir/$1_weft" "$2" "$3" "$4"
    W_OPS="$W_OPS $(field "$LINE" ops_per_s)"
    W_CPU="$W_CPU $(field "$LINE" cpu_us_per_op)"
    client "threads" "$dir/$1_threads" "$2" "$3" "$4"
    T_OPS="$T_OPS $(field "$LINE" ops_per_s)"
    T_CPU="$T_CPU $(field "$LINE" cpu_us_per_op)"
}

# ---- redis ------------------------------------------------------------------

redis_bench() {
    echo
    echo "redis: $conns connections, each SET then GET of its own key ($redis_iters pairs each); redis-benchmark -c $conns -t set,get:"
    for p in redis-server redis-benchmark redis-cli; do
        if ! command -v $p >/dev/null 2>&1; then
            echo "  skipped: $p not installed (Debian packages redis-server, redis-tools)"
            return
        fi
    done
    if [ ! -x "$dir/redis_weft" ] || [ ! -x "$dir/redis_threads" ]; then
        echo "  skipped: $dir/redis_weft or redis_threads not built (libhiredis-dev and libweft-hook needed)"
        return
    fi
    port=$((20000 + $$ % 10000))
    mkdir -p "$tmp/redis"
    tries=0
    while :; do
        port=$((port + 1))
        $pin1 redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$tmp/redis" --daemonize no --maxclients 10000 >"$tmp/redis/log" 2>&1 &
        server_pid=$!
        n=0
        while [ $n -lt 100 ] && [ "$(redis-cli -p $port ping 2>/dev/null)" != PONG ]; do
            sleep 0.05
            n=$((n + 1))
        done
        [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ] && break
        kill $server_pid 2>/dev/null
        wait $server_pid 2>/dev/null
        server_pid=""
        tries=$((tries + 1))
        if [ $tries -ge 5 ]; then
            echo "  skipped: redis-server did not start: $(tail -n 3 "$tmp/redis/log" | tr '\n' ' ')"
            return
        fi
    done
    target=127.0.0.1:$port
    rb_n=$((conns * redis_iters)) # requests per redis-benchmark test
    W_OPS="" W_CPU="" T_OPS="" T_CPU="" R_OPS="" R_CPU="" E_OPS="" E_CPU=""
    r=1
    while [ $r -le "$runs" ]; do
        echo "  run $r:"
        both redis "$conns" "$redis_iters" "$target"
        # The other poller backend, for information (the default is
        # io_uring where the kernel has it).
        client "weft tasks, epoll" env WEFT_BACKEND=epoll "$dir/redis_weft" "$conns" "$redis_iters" "$target"
        E_OPS="$E_OPS $(field "$LINE" ops_per_s)"
        E_CPU="$E_CPU $(field "$LINE" cpu_us_per_op)"
        if $pin0 "$dir/cpu_of" redis-benchmark -h 127.0.0.1 -p $port -c "$conns" -n $rb_n \
            -t set,get -q >"$tmp/rb" 2>"$tmp/rbcpu"; then
            tr '\r' '\n' <"$tmp/rb" >"$tmp/rb.lines"
            set_rps=$(sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' "$tmp/rb.lines" | tail -n 1)
            get_rps=$(sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' "$tmp/rb.lines" | tail -n 1)
            cpu=$(field "$(cat "$tmp/rbcpu")" cpu_s)
            # Both tests in one figure: 2n requests over the two tests' time.
            ops=$(awk -v s="$set_rps" -v g="$get_rps" 'BEGIN { if (s > 0 && g > 0) printf "%.0f", 2 / (1 / s + 1 / g) }')
            cpu_op=$(awk -v c="$cpu" -v n=$rb_n 'BEGIN { if (c != "") printf "%.2f", c * 1e6 / (2 * n) }')
            printf '    %-22s ops_per_s=%s cpu_us_per_op=%s (SET %s/s, GET %s/s)\n' "redis-benchmark" \
                "$ops" "$cpu_op" "$set_rps" "$get_rps"
            R_OPS="$R_OPS $ops"
            R_CPU="$R_CPU $cpu_op"
        else
            printf '    %-22s FAILED: %s\n' "redis-benchmark" "$(head -c 300 "$tmp/rbcpu" | tr '\n' ' ')"
        fi
        r=$((r + 1))
    done

    echo "  RSS at $big connections ($big_iters pairs each):"
    WR="" TR="" SR=""
    r=1
    while [ $r -le "$runs" ]; do
        client "weft tasks" "$dir/redis_weft" "$big" "$big_iters" "$target"
        WR="$WR $(field "$LINE" rss_kb_per_conn)"
        client "weft, shared stacks" env WEFT_STACK=shared "$dir/redis_weft" "$big" "$big_iters" "$target"
        SR="$SR $(field "$LINE" rss_kb_per_conn)"
        client "threads" "$dir/redis_threads" "$big" "$big_iters" "$target"
        TR="$TR $(field "$LINE" rss_kb_per_conn)"
        r=$((r + 1))
    done
    kill $server_pid 2>/dev/null
    wait $server_pid 2>/dev/null
    server_pid=""

    w_ops=$(median $W_OPS) t_ops=$(median $T_OPS) r_ops=$(median $R_OPS)
    w_cpu=$(median $W_CPU) t_cpu=$(median $T_CPU) r_cpu=$(median $R_CPU)
    w_rss=$(median $WR) s_rss=$(median $SR) t_rss=$(median $TR)
    e_ops=$(median $E_OPS) e_cpu=$(median $E_CPU)
    echo "  medians:"
    printf '    %-22s %10s ops/s  %6s us CPU/op  %8s KiB RSS/conn at %s\n' "weft tasks" "$w_ops" "$w_cpu" "$w_rss" "$big"
    printf '    %-22s %10s ops/s  %6s us CPU/op\n' "weft tasks, epoll" "$e_ops" "$e_cpu"
    printf '    %-22s %10s        %6s           %8s\n' "weft, shared stacks" "" "" "$s_rss"
    printf '    %-22s %10s ops/s  %6s us CPU/op  %8s KiB RSS/conn at %s\n' "threads" "$t_ops" "$t_cpu" "$t_rss" "$big"
    printf '    %-22s %10s ops/s  %6s us CPU/op\n' "redis-benchmark" "$r_ops" "$r_cpu"
    q1=$(ratio "$w_ops" "$r_ops") q2=$(ratio "$w_ops" "$t_ops") q3=$(ratio "$w_cpu" "$t_cpu")
    q4=$(ratio "$w_rss" "$t_rss") q5=$(ratio "$s_rss" "$t_rss")
    echo "  ratios and targets:"
    echo "    weft/redis-benchmark ops/s:    ${q1:-?} (target >= 0.9: $(verdict "$q1" ">=" 0.9))"
    echo "    weft/threads ops/s:            ${q2:-?} (target >= 1: $(verdict "$q2" ">=" 1))"
    echo "    weft/threads CPU per op:       ${q3:-?} (target <= 1: $(verdict "$q3" "<=" 1))"
    echo "    weft/threads RSS per conn:     ${q4:-?} (target < 0.5: $(verdict "$q4" "<" 0.5))"
    echo "    weft shared/threads RSS/conn:  ${q5:-?} (same target: $(verdict "$q5" "<" 0.5))"
    record redis_weft_ops_per_s "$w_ops"
    record redis_weft_epoll_ops_per_s "$e_ops"
    record redis_weft_epoll_cpu_us_per_op "$e_cpu"
    record redis_threads_ops_per_s "$t_ops"
    record redis_benchmark_ops_per_s "$r_ops"
    record redis_weft_cpu_us_per_op "$w_cpu"
    record redis_threads_cpu_us_per_op "$t_cpu"
    record redis_benchmark_cpu_us_per_op "$r_cpu"
    record redis_weft_rss_kb_per_conn "$w_rss"
    record redis_weft_shared_rss_kb_per_conn "$s_rss"
    record redis_threads_rss_kb_per_conn "$t_rss"
}

# ---- PostgreSQL ------------------------------------------------------------

pg_bench() {
    echo
    echo "PostgreSQL: $conns connections, each running SELECT 1 ($pg_iters queries each):"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "  skipped: PostgreSQL's server not installed (Debian package postgresql)"
        return
    fi
    if [ ! -x "$dir/pg_weft" ] || [ ! -x "$dir/pg_threads" ]; then
        echo "  skipped: $dir/pg_weft or pg_threads not built (libpq-dev and libweft-hook needed)"
        return
    fi
    # initdb and postgres refuse root: run them as nobody then.
    as=""
    pgdir="$tmp/pg"
    mkdir -p "$pgdir"
    if [ "$(id -u)" = 0 ]; then
        as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
        chown nobody:nogroup "$pgdir"
    fi
    if ! $as "$bin/initdb" -D "$pgdir/data" -A trust -U weft --no-sync >"$pgdir/initdb.log" 2>&1; then
        echo "  skipped: initdb failed: $(tail -n 3 "$pgdir/initdb.log" | tr '\n' ' ')"
        return
    fi
    max=$((pg_big + 20))
    [ $max -lt $((conns + 20)) ] && max=$((conns + 20))
    $pin1 $as "$bin/postgres" -D "$pgdir/data" -k "$pgdir" -c listen_addresses= -c fsync=off \
        -c max_connections=$max -c shared_buffers=32MB >"$pgdir/log" 2>&1 &
    server_pid=$!
    n=0
    until "$bin/pg_isready" -q -h "$pgdir" 2>/dev/null; do
        n=$((n + 1))
        if [ $n -ge 300 ]; then
            echo "  skipped: postgres did not start: $(tail -n 3 "$pgdir/log" | tr '\n' ' ')"
            return
        fi
        sleep 0.1
    done
    target="host=$pgdir dbname=postgres user=weft"
    W_OPS="" W_CPU="" T_OPS="" T_CPU=""
    r=1
    while [ $r -le "$runs" ]; do
        echo "  run $r:"
        both pg "$conns" "$pg_iters" "$target"
        r=$((r + 1))
    done
    echo "  RSS at $pg_big connections ($big_iters queries each):"
    WR="" TR=""
    r=1
    while [ $r -le "$runs" ]; do
        client "weft tasks" "$dir/pg_weft" "$pg_big" "$big_iters" "$target"
        WR="$WR $(field "$LINE" rss_kb_per_conn)"
        client "threads" "$dir/pg_threads" "$pg_big" "$big_iters" "$target"
        TR="$TR $(field "$LINE" rss_kb_per_conn)"
        r=$((r + 1))
    done
    kill -INT $server_pid 2>/dev/null
    wait $server_pid 2>/dev/null
    server_pid=""

    w_ops=$(median $W_OPS) t_ops=$(median $T_OPS)
    w_cpu=$(median $W_CPU) t_cpu=$(median $T_CPU)
    w_rss=$(median $WR) t_rss=$(median $TR)
    echo "  medians:"
    printf '    %-22s %10s ops/s  %6s us CPU/op  %8s KiB RSS/conn at %s\n' "weft tasks" "$w_ops" "$w_cpu" "$w_rss" "$pg_big"
    printf '    %-22s %10s ops/s  %6s us CPU/op  %8s KiB RSS/conn at %s\n' "threads" "$t_ops" "$t_cpu" "$t_rss" "$pg_big"
    q2=$(ratio "$w_ops" "$t_ops") q3=$(ratio "$w_cpu" "$t_cpu") q4=$(ratio "$w_rss" "$t_rss")
    echo "  ratios and targets:"
    echo "    weft/threads ops/s:            ${q2:-?} (target >= 1: $(verdict "$q2" ">=" 1))"
    echo "    weft/threads CPU per op:       ${q3:-?} (target <= 1: $(verdict "$q3" "<=" 1))"
    echo "    weft/threads RSS per conn:     ${q4:-?} (target < 0.5: $(verdict "$q4" "<" 0.5))"
    record pg_weft_ops_per_s "$w_ops"
    record pg_threads_ops_per_s "$t_ops"
    record pg_weft_cpu_us_per_op "$w_cpu"
    record pg_threads_cpu_us_per_op "$t_cpu"
    record pg_weft_rss_kb_per_conn "$w_rss"
    record pg_threads_rss_kb_per_conn "$t_rss"
}

redis_bench
pg_bench
echo
echo "results written to $out"
