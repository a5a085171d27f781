#!/bin/sh
# Runs the sched benchmarks with their peers in the same run and prints the
# median of several runs of each, and the ratio weft/peer. Figures only:
# nothing here fails on a time.
#   bench/sched/run.sh BUILD_DIR      (after building BUILD_DIR)
# Environment: RUNS (default 5), SPAWN_N (1000000), PING_N (1000000),
# PTHREAD_SPAWN_N (20000), PTHREAD_PING_N (100000), SLEEPERS_N (100000),
# SKYNET_N (1000000), SKYNET_RUNS (3). Writes the figures, one JSON record
# a line, to BUILD_DIR/bench/sched/results.jsonl (bench/run.sh gathers them).
set -u
build=${1:-build}
dir="$build/bench/sched"
src=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
[ -x "$dir/spawn" ] || { echo "run.sh: build $build first (no $dir/spawn)" >&2; exit 2; }

# median of $runs runs of a command that prints one number
median() {
    i=0
    vals=""
    while [ $i -lt "$runs" ]; do
        v=$("$@") || { echo "nan"; return; }
        vals="$vals $v"
        i=$((i + 1))
    done
    echo $vals | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.3f", a / b; else print "n/a" }'; }

json="$dir/results.jsonl"
: >"$json"
# rec NAME IMPL VALUE UNIT: one figure (VALUE not a number: null).
rec() {
    v=$(printf '%s\n' "$3" | awk '/^[0-9.]+$/ { print; exit } { print "null"; exit }')
    printf '{"name": "%s", "impl": "%s", "value": %s, "unit": "%s"}\n' "$1" "$2" "${v:-null}" "$4" >>"$json"
}
# key=value of a line
kv() { printf '%s\n' "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }

go_ok=""
if command -v go >/dev/null 2>&1; then
    export GOCACHE="${GOCACHE:-$PWD/$build/bench/sched/gocache}" GOFLAGS=-mod=mod GO111MODULE=off
    if go build -o "$dir/go_spawn" "$src/peers/spawn.go" && go build -o "$dir/go_pingpong" "$src/peers/pingpong.go" &&
        go build -o "$dir/go_skynet" "$src/peers/skynet.go"; then
        go_ok=1
    fi
fi

echo "== sched: spawn + run + join (ns per task, median of $runs) =="
w=$(median "$dir/spawn" "${SPAWN_N:-1000000}")
p=$(median "$dir/peer_pthread_spawn" "${PTHREAD_SPAWN_N:-20000}")
echo "weft spawn+join           $w ns  (1M tasks, joined in batches of 100)"
echo "pthread create+join       $p ns  (ratio weft/pthread $(ratio "$w" "$p"))"
rec spawn weft "$w" ns
rec spawn pthread "$p" ns
if [ -n "$go_ok" ]; then
    g=$(median "$dir/go_spawn" "${SPAWN_N:-1000000}")
    echo "go f() + WaitGroup        $g ns  (ratio weft/go $(ratio "$w" "$g"); $(go version | cut -d' ' -f3), GOMAXPROCS default)"
    rec spawn go "$g" ns
else
    echo "go f() + WaitGroup        skipped: go not installed"
fi

echo "== sched: ping-pong over an unbuffered channel (ns per message, median of $runs) =="
w=$(median "$dir/pingpong" "${PING_N:-1000000}")
p=$(median "$dir/peer_pthread_pingpong" "${PTHREAD_PING_N:-100000}")
echo "weft channel              $w ns"
echo "pthread mutex+cond        $p ns  (ratio weft/pthread $(ratio "$w" "$p"))"
rec pingpong weft "$w" ns
rec pingpong pthread "$p" ns
if [ -n "$go_ok" ]; then
    g=$(GOMAXPROCS=1 median "$dir/go_pingpong" "${PING_N:-1000000}")
    echo "go chan (GOMAXPROCS=1)    $g ns  (ratio weft/go $(ratio "$w" "$g"))"
    rec pingpong go "$g" ns
else
    echo "go chan (GOMAXPROCS=1)    skipped: go not installed"
fi

echo "== sched: ${SLEEPERS_N:-100000} tasks sleeping to random deadlines within 1 s (one run each) =="
for k in private shared; do
    line=$("$dir/sleepers" "${SLEEPERS_N:-100000}" $k)
    echo "$line"
    rec sleepers_spawn "weft-$k" "$(kv "$line" spawn_ms)" ms
    rec sleepers_peak_rss "weft-$k" "$(kv "$line" peak_rss_mb)" MB
done

# skynet: the median by time of $SKYNET_RUNS runs of a line of key=value
# pairs, printed whole.
median_line() {
    i=0
    : >"$dir/skynet.runs"
    while [ $i -lt "${SKYNET_RUNS:-3}" ]; do
        "$@" >>"$dir/skynet.runs" 2>&1 || { echo "failed: $*"; return; }
        i=$((i + 1))
    done
    sort -t= -k5 -g "$dir/skynet.runs" | awk -F'ms=' '{split($2, a, " "); print a[1] "\t" $0}' |
        sort -g | awk -v n="${SKYNET_RUNS:-3}" 'NR == int((n + 1) / 2) { sub(/^[^\t]*\t/, ""); print }'
}
leaves=${SKYNET_N:-1000000}
echo "== sched: skynet, $leaves leaves ($((leaves + leaves / 9)) tasks), one CPU, median of ${SKYNET_RUNS:-3} =="
pin=""
taskset -c 0 true 2>/dev/null && pin="taskset -c 0"
# Then with every leaf held until all exist: all 1.1M tasks alive at once.
for alive in "" alive; do
    wp=$(median_line $pin "$dir/skynet" "$leaves" private $alive)
    ws=$(median_line $pin "$dir/skynet" "$leaves" shared $alive)
    echo "weft private stacks $alive      $wp"
    echo "weft shared stacks $alive       $ws"
    name=skynet${alive:+_alive}
    rec "$name" weft-private "$(kv "$wp" ms)" ms
    rec "$name" weft-shared "$(kv "$ws" ms)" ms
    rec "${name}_peak_rss" weft-private "$(kv "$wp" peak_rss_mb)" MB
    rec "${name}_peak_rss" weft-shared "$(kv "$ws" peak_rss_mb)" MB
    if [ -n "$go_ok" ]; then
        g=$(GOMAXPROCS=1 median_line $pin "$dir/go_skynet" "$leaves" $alive)
        echo "go (GOMAXPROCS=1) $alive        $g"
        rec "$name" go "$(kv "$g" ms)" ms
        rec "${name}_peak_rss" go "$(kv "$g" peak_rss_mb)" MB
        gms=$(printf '%s\n' "$g" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')
        for k in private shared; do
            line=$([ $k = private ] && echo "$wp" || echo "$ws")
            wms=$(printf '%s\n' "$line" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')
            echo "ratio weft $k / go $alive      $(ratio "$wms" "$gms")"
        done
    else
        echo "go (GOMAXPROCS=1)         skipped: go not installed"
    fi
done
if command -v strace >/dev/null 2>&1; then
    n=$((leaves / 10))
    for k in private shared; do
        calls=$(strace -f -c -o "$dir/skynet.strace" "$dir/skynet" "$n" $k >/dev/null 2>&1 &&
            awk '/total/ {print $3}' "$dir/skynet.strace")
        per=$(awk -v c="$calls" -v t="$((n + n / 9))" 'BEGIN { printf "%.4f", c / t }')
        echo "system calls per task, $k ($n leaves): $per"
        rec skynet_syscalls_per_task "weft-$k" "$per" calls
    done
else
    echo "system calls per task: skipped (no strace)"
fi
