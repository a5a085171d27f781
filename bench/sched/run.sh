#!/bin/sh
# Runs the sched benchmarks with their peers in the same run and prints the
# median of several runs of each, and the ratio weft/peer. Figures only:
# nothing here fails on a time.
#   bench/sched/run.sh BUILD_DIR      (after building BUILD_DIR)
# Environment: RUNS (default 5), SPAWN_N (1000000), PING_N (1000000),
# PTHREAD_SPAWN_N (20000), PTHREAD_PING_N (100000), SLEEPERS_N (100000),
# SKYNET_N (1000000), SKYNET_RUNS (3), CALLGRIND (1: mtpaths' instruction
# counts under valgrind). The multi-worker programs scale from these:
# xping sends PING_N/20 round trips across workers, mtpaths wakes
# PING_N/100 times, steals SPAWN_N/10 tasks and sends PING_N/10 per
# sender. Writes the figures, one JSON record a line, to
# BUILD_DIR/bench/sched/results.jsonl (bench/run.sh gathers them).
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
        go build -o "$dir/go_skynet" "$src/peers/skynet.go" && go build -o "$dir/go_xping" "$src/peers/xping.go"; then
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

# ---- several workers (weft_run_threads) ------------------------------------
ncpu=$(nproc 2>/dev/null || echo 1)
# cpus K: taskset's prefix for the first K CPUs (empty when taskset fails)
cpus() {
    taskset -c 0-$(($1 - 1)) true 2>/dev/null && echo "taskset -c 0-$(($1 - 1))"
}
# Worker counts: 1, 2, and every CPU on a larger machine.
counts="1 2"
[ "$ncpu" -gt 2 ] && counts="1 2 $ncpu"
mtruns=${SKYNET_RUNS:-3}
echo "== sched: skynet on several workers, $leaves leaves, private stacks, median of $mtruns rounds =="
echo "   (each round runs every case once, so that the load of the machine falls on all alike;"
echo "   K workers run on CPUs 0..K-1; one worker is weft_run, \"mt\" weft_run_threads(1))"
# msof LINE: its ms= value
msof() { printf '%s\n' "$1" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p'; }
# median of the numbers in a file
median_file() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
rm -f "$dir"/mt_skynet.*
r=0
while [ $r -lt "$mtruns" ]; do
    for k in $counts mt; do
        if [ "$k" = mt ]; then
            line=$($(cpus 1) "$dir/skynet" "$leaves" private threads 1 mt 2>&1)
        else
            line=$($(cpus "$k") "$dir/skynet" "$leaves" private threads "$k" 2>&1)
        fi
        echo "$line" >>"$dir/mt_skynet.weft$k.lines"
        msof "$line" >>"$dir/mt_skynet.weft$k"
        if [ -n "$go_ok" ] && [ "$k" != mt ]; then
            line=$(GOMAXPROCS=$k $(cpus "$k") "$dir/go_skynet" "$leaves" 2>&1)
            msof "$line" >>"$dir/mt_skynet.go$k"
        fi
    done
    r=$((r + 1))
done
for k in $counts mt; do
    w=$(median_file "$dir/mt_skynet.weft$k")
    eval "sk_w_$k=\$w"
    last=$(tail -n 1 "$dir/mt_skynet.weft$k.lines" | sed -n 's/.*\(ran=[0-9,]*\).*/\1/p')
    if [ "$k" = mt ]; then
        echo "weft_run_threads(1)          $w ms  (what the multi-worker paths cost one worker: $(ratio "$w" "$sk_w_1") x weft_run)"
        rec skynet_workers weft-mt1 "$w" ms
        continue
    fi
    rec skynet_workers "weft-$k" "$w" ms
    if [ -n "$go_ok" ]; then
        g=$(median_file "$dir/mt_skynet.go$k")
        eval "sk_g_$k=\$g"
        rec skynet_workers "go-$k" "$g" ms
        echo "weft $k worker(s)             $w ms  go GOMAXPROCS=$k $g ms  ratio weft/go $(ratio "$w" "$g")  (last weft run: $last)"
    else
        echo "weft $k worker(s)             $w ms  (last run: $last)  go: skipped"
    fi
done
for k in $counts; do
    [ "$k" = 1 ] && continue
    sp=$(eval ratio "\$sk_w_1" "\$sk_w_$k")
    rec "skynet_speedup_$k" weft "$sp" x
    tgt=""
    if [ "$k" = 2 ]; then
        tgt=$(awk -v s="$sp" 'BEGIN { if (s + 0 > 0) print (s >= 1.6 ? "target >= 1.6: met" : "target >= 1.6: missed"); else print "target >= 1.6: unknown" }')
    fi
    if [ -n "$go_ok" ]; then
        gs=$(eval ratio "\$sk_g_1" "\$sk_g_$k")
        rec "skynet_speedup_$k" go "$gs" x
        echo "speedup 1 -> $k workers: weft $sp ($tgt), go $gs"
    else
        echo "speedup 1 -> $k workers: weft $sp ($tgt)"
    fi
done

pin2=$(cpus 2)
xn=$((${PING_N:-1000000} / 20))
echo "== sched: ping-pong between two workers (xping; ns per message, median of $runs) =="
if [ "$ncpu" -lt 2 ]; then
    echo "   (one CPU: the two workers share it)"
fi
wx=$(median $pin2 "$dir/xping" "$xn" cross)
# An idle worker that looks for work a while before it sleeps (off by
# default) takes the next message without a kernel wake-up.
wxs=$(WEFT_SPIN_US=50 median $pin2 "$dir/xping" "$xn" cross)
ws=$(median $pin2 "$dir/xping" "${PING_N:-1000000}" same)
wo=$(median $(cpus 1) "$dir/xping" "${PING_N:-1000000}" one)
echo "weft, tasks on workers 0 and 1      $wx ns  ($xn round trips)"
echo "  the same, WEFT_SPIN_US=50         $wxs ns"
echo "weft, both on worker 0 of two       $ws ns"
echo "weft, weft_run                      $wo ns  (ratio across/one $(ratio "$wx" "$wo"))"
rec xping weft-cross "$wx" ns
rec xping weft-cross-spin50 "$wxs" ns
rec xping weft-same "$ws" ns
rec xping weft-one "$wo" ns
if [ -n "$go_ok" ]; then
    g=$(GOMAXPROCS=2 median $pin2 "$dir/go_xping" "${PING_N:-1000000}")
    gl=$(GOMAXPROCS=2 median $pin2 "$dir/go_xping" "$((${PING_N:-1000000} / 200))" locked)
    echo "go, GOMAXPROCS=2                    $g ns  (ratio weft across/go $(ratio "$wx" "$g"), weft same/go $(ratio "$ws" "$g"))"
    echo "go, GOMAXPROCS=2, LockOSThread each $gl ns  ($((${PING_N:-1000000} / 200)) round trips; ratio weft across/go $(ratio "$wx" "$gl"))"
    rec xping go "$g" ns
    rec xping go-locked "$gl" ns
else
    echo "go                                  skipped: go not installed"
fi

echo "== sched: paths between workers (mtpaths; one run each) =="
wn=$((${PING_N:-1000000} / 100))
for m in busy idle local one; do
    line=$($pin2 "$dir/mtpaths" wake $m "$wn" 2>&1)
    echo "$line"
    rec "mt_wake_waker_ns_p50" "weft-$m" "$(kv "$line" waker_ns_p50)" ns
    rec "mt_wake_latency_ns_p50" "weft-$m" "$(kv "$line" latency_ns_p50)" ns
done
tn=$((${SPAWN_N:-1000000} / 10))
for work in 0 1000; do
    for k in $counts; do
        line=$($(cpus "$k") "$dir/mtpaths" steal "$tn" $work "$k" 2>&1)
        echo "$line"
        rec "mt_steal_ns_per_task_work$work" "weft-$k" "$(kv "$line" ns_per_task)" ns
        rec "mt_steal_stolen_share_work$work" "weft-$k" "$(kv "$line" stolen_share)" share
    done
done
cn=$((${PING_N:-1000000} / 10))
for cap in 0 64; do
    for k in $counts; do
        line=$($(cpus "$k") "$dir/mtpaths" contend "$k" "$cn" $cap 2>&1)
        echo "$line"
        rec "mt_contend_ns_per_msg_cap$cap" "weft-$k" "$(kv "$line" ns_per_msg)" ns
    done
done
if [ "${CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null 2>&1; then
    # Instructions per send that wakes, (Ir(N2) - Ir(N1)) / (N2 - N1):
    # only the sends are counted (mtpaths' cg mode), so it repeats exactly.
    echo "instructions per waking send (callgrind, the sends only; (Ir(2000)-Ir(1000))/1000):"
    cgir() {
        f="$dir/mtpaths.callgrind"
        rm -f "$f"
        valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$f" \
            "$dir/mtpaths" cg "$1" "$2" >/dev/null 2>&1 || return 1
        awk '/^summary:|^totals:/ { print $2; exit }' "$f"
    }
    for m in busy idle local one; do
        if a=$(cgir $m 1000) && b=$(cgir $m 2000) && [ -n "$a" ] && [ -n "$b" ]; then
            ir=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
        else
            ir="failed"
        fi
        printf '  %-6s %s\n' "$m" "$ir"
        rec mt_wake_instructions "weft-$m" "$ir" instructions
    done
    # What the multi-worker paths add to one worker, in instructions per
    # skynet task (repeatable, unlike the times on a shared machine).
    n=$((leaves / 10))
    for k in run mt; do
        f="$dir/skynet.callgrind"
        rm -f "$f"
        extra=""
        [ $k = mt ] && extra="threads 1 mt"
        if valgrind --tool=callgrind --callgrind-out-file="$f" "$dir/skynet" "$n" private $extra >/dev/null 2>&1; then
            ir=$(awk -v t="$((n + n / 9))" '/^summary:|^totals:/ { printf "%.1f", $2 / t; exit }' "$f")
        else
            ir="failed"
        fi
        label=$([ $k = mt ] && echo "weft_run_threads(1)" || echo "weft_run")
        printf '  skynet, %s leaves, %-20s %s instructions per task\n' "$n" "$label" "$ir"
        rec skynet_instructions_per_task "weft-$k" "$ir" instructions
    done
    rm -f "$dir/mtpaths.callgrind" "$dir/skynet.callgrind"
else
    echo "instructions per waking send: skipped ($([ "${CALLGRIND:-1}" = 0 ] && echo CALLGRIND=0 || echo no valgrind))"
fi
