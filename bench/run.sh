#!/bin/sh
# Runs weft's benchmarks and the peers found on this machine (core, shared
# stacks, then bench/sched/run.sh and bench/io/run.sh), prints the figures
# and a closing table, writes every figure to BUILD/bench/results.json and,
# with gnuplot and jq, plots them (bench/plot.sh) into BUILD/bench/plots/.
# Benchmarks print figures; nothing here fails on a time.
#
# Usage: bench/run.sh [BUILD]    (BUILD defaults to "build")
# A full run takes about 10 minutes and up to 4.6 GiB of memory (ten
# million shared coroutines at once). QUICK=1 (make bench QUICK=1) takes
# under 2 minutes: fewer iterations and runs, smaller counts and skynet,
# no callgrind or strace runs. Every count may also be set through the
# environment (see README, Running the benchmarks), e.g. RUNS=3.
set -u

BUILD=${1:-build}
B=$BUILD/bench
START=$(date +%s)
QUICK=${QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
if [ "$QUICK" = 1 ]; then
    # Defaults of quick mode; what the environment sets wins.
    : "${RUNS:=3}" "${SWITCH_N:=1000000}" "${FUTEX_N:=20000}" "${SPLIT_N:=5000}"
    : "${CREATE_N:=200000}" "${CALLGRIND:=0}" "${THREADS_N:=2000}"
    : "${SHARED_N1:=10000}" "${SHARED_N2:=100000}" "${SHARED_MAX:=1000000}"
    : "${SHARED_PAIR_N:=200000}" "${SHARED_RING_N:=100}"
    # bench/sched/run.sh and bench/io/run.sh
    : "${SPAWN_N:=100000}" "${PING_N:=100000}" "${PTHREAD_SPAWN_N:=2000}" "${PTHREAD_PING_N:=10000}"
    : "${SLEEPERS_N:=10000}" "${SKYNET_N:=100000}" "${SKYNET_RUNS:=1}"
    : "${SECONDS_WRK:=2}" "${SECONDS_ECHO:=2}" "${ROUNDS:=1}" "${IDLE_N:=1000}" "${SYSCALLS:=0}"
    # bench/hook/run.sh
    export RUNS SPAWN_N PING_N PTHREAD_SPAWN_N PTHREAD_PING_N SLEEPERS_N SKYNET_N SKYNET_RUNS
    : "${HOOK_RUNS:=1}" "${HOOK_CONNS:=20}" "${HOOK_REDIS_ITERS:=500}" "${HOOK_PG_ITERS:=100}"
    : "${HOOK_BIG:=200}" "${HOOK_BIG_ITERS:=5}"
    export SECONDS_WRK SECONDS_ECHO ROUNDS IDLE_N SYSCALLS
    export HOOK_RUNS HOOK_CONNS HOOK_REDIS_ITERS HOOK_PG_ITERS HOOK_BIG HOOK_BIG_ITERS
    echo "bench: quick mode (QUICK=1): under 2 minutes, a few hundred MiB; figures are rougher"
else
    echo "bench: a full run takes about 10 minutes and up to 4.6 GiB of memory (QUICK=1: under 2 minutes)"
fi
RUNS=${RUNS:-5}
SWITCH_N=${SWITCH_N:-10000000}  # round trips for weft, swapcontext, fcontext
FUTEX_N=${FUTEX_N:-200000}      # round trips for the futex hand-off
SPLIT_N=${SPLIT_N:-20000}       # round trips for the cross-CPU futex figure
CREATE_N=${CREATE_N:-1000000}   # coroutines created, run and freed
CG_N1=${CG_N1:-100000}          # callgrind: two round-trip counts
CG_N2=${CG_N2:-200000}
CALLGRIND=${CALLGRIND:-1}       # 0: no instruction counts (callgrind runs)
export CALLGRIND                # bench/sched/run.sh reads it too
THREADS_N=${THREADS_N:-10000}   # blocked threads, for memory per thread

if [ ! -x "$B/weft_switch" ]; then
    echo "bench/run.sh: $B/weft_switch not found; build with WEFT_BENCH=ON first" >&2
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

# Pin to CPU 0 when taskset exists and works.
PIN=""
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
    PIN="taskset -c 0"
    PIN_DESC="taskset -c 0"
else
    PIN_DESC="not pinned (no taskset)"
fi

# The value of key=... in a program's output line.
field() {
    printf '%s\n' "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p" | head -n 1
}

# x / y with two decimals, or empty when either is missing.
ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print ""; else printf "%.2f", a / b }'
    fi
}

# Runs a program (pinned), prints its output line or a failure line, and
# leaves the output in OUT.
measure() {
    label=$1
    shift
    if OUT=$($PIN "$@" 2>"$TMP/err"); then
        printf '  %-34s %s\n' "$label" "$OUT"
    else
        OUT=""
        printf '  %-34s FAILED: %s\n' "$label" "$(tr '\n' ' ' <"$TMP/err")"
    fi
}

HAVE_FCONTEXT=0
FCONTEXT_SKIP=""
if [ -x "$B/peer_fcontext" ]; then
    HAVE_FCONTEXT=1
elif [ -f "$B/fcontext.skipped" ]; then
    FCONTEXT_SKIP=$(cat "$B/fcontext.skipped")
else
    FCONTEXT_SKIP="peer_fcontext was not built"
fi

echo "weft benchmarks ($(uname -m), $(nproc 2>/dev/null || echo '?') CPUs, $PIN_DESC; median of $RUNS runs)"
if command -v valgrind >/dev/null 2>&1 && [ "$CALLGRIND" = 0 ]; then
    NO_CALLGRIND="skipped (CALLGRIND=0)"
elif command -v valgrind >/dev/null 2>&1; then
    NO_CALLGRIND=""
else
    NO_CALLGRIND="valgrind not installed"
fi

echo
echo "ns per switch (send+yield round trip / 2; $SWITCH_N round trips):"
measure "weft send/yield" "$B/weft_switch" "$SWITCH_N" "$RUNS"
SW_WEFT=$(field "$OUT" ns_per_switch)
measure "glibc swapcontext" "$B/peer_swapcontext" "$SWITCH_N" "$RUNS"
SW_SWAP=$(field "$OUT" ns_per_switch)
SW_FCTX=""
if [ "$HAVE_FCONTEXT" = 1 ]; then
    measure "Boost.Context jump_fcontext" "$B/peer_fcontext" switch "$SWITCH_N" "$RUNS"
    SW_FCTX=$(field "$OUT" ns_per_switch)
else
    printf '  %-34s skipped: %s\n' "Boost.Context jump_fcontext" "$FCONTEXT_SKIP"
fi
# The futex peer pins its own threads: not run under taskset.
echo "  (pthread futex hand-off: $FUTEX_N round trips, both threads pinned to CPU 0)"
out=$("$B/peer_futex" "$FUTEX_N" "$RUNS" same 2>"$TMP/err") || out=""
printf '  %-34s %s\n' "pthread futex hand-off, same CPU" "${out:-FAILED: $(cat "$TMP/err")}"
SW_FUTEX=$(field "$out" ns_per_switch)
SW_SPLIT=""
if [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
    out=$("$B/peer_futex" "$SPLIT_N" 3 split 2>"$TMP/err") || out=""
    printf '  %-34s %s\n' "pthread futex hand-off, CPU 0<->1" "${out:-FAILED: $(cat "$TMP/err")}"
    echo "  (cross-CPU figure for information only: $SPLIT_N round trips, median of 3)"
    SW_SPLIT=$(field "$out" ns_per_switch)
fi

echo
echo "ns to create, run to completion and free one coroutine ($CREATE_N of them):"
measure "weft (default opts, pooled stack)" "$B/weft_create" "$CREATE_N" "$RUNS"
CR_WEFT=$(field "$OUT" ns_per_coroutine)
CR_FCTX=""
if [ "$HAVE_FCONTEXT" = 1 ]; then
    measure "fcontext (malloc'd stack)" "$B/peer_fcontext" create "$CREATE_N" "$RUNS"
    CR_FCTX=$(field "$OUT" ns_per_coroutine)
else
    printf '  %-34s skipped: %s\n' "fcontext (malloc'd stack)" "$FCONTEXT_SKIP"
fi

# Instructions per round trip: (Ir(N2) - Ir(N1)) / (N2 - N1) under callgrind,
# which cancels start-up and the fixed warm-up.
total_ir() {
    f="$TMP/callgrind.out"
    rm -f "$f"
    $PIN valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >/dev/null 2>"$TMP/err" || return 1
    awk '/^summary:/ { print $2; found = 1; exit } END { if (!found) exit 1 }' "$f" 2>/dev/null ||
        awk '/^totals:/ { print $2; exit }' "$f"
}

# Prints the instructions per round trip of a program and leaves them in IR.
instr() {
    label=$1
    shift
    IR=""
    if a=$(total_ir "$@" "$CG_N1" 1) && b=$(total_ir "$@" "$CG_N2" 1) && [ -n "$a" ] && [ -n "$b" ]; then
        IR=$(awk -v a="$a" -v b="$b" -v n1="$CG_N1" -v n2="$CG_N2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
        printf '  %-34s %s (Ir %s at %s, %s at %s)\n' "$label" "$IR" "$a" "$CG_N1" "$b" "$CG_N2"
    else
        printf '  %-34s FAILED under valgrind: %s\n' "$label" "$(head -c 300 "$TMP/err" | tr '\n' ' ')"
    fi
}

echo
IR_WEFT=""
IR_SWAP=""
IR_FCTX=""
IR_SKIP=""
if [ -z "$NO_CALLGRIND" ]; then
    echo "instructions per round trip (callgrind, user space only; (Ir($CG_N2)-Ir($CG_N1))/$((CG_N2 - CG_N1))):"
    instr "weft send/yield" "$B/weft_switch"
    IR_WEFT=$IR
    instr "glibc swapcontext" "$B/peer_swapcontext"
    IR_SWAP=$IR
    if [ "$HAVE_FCONTEXT" = 1 ]; then
        instr "Boost.Context jump_fcontext" "$B/peer_fcontext" switch
        IR_FCTX=$IR
    else
        printf '  %-34s skipped: %s\n' "Boost.Context jump_fcontext" "$FCONTEXT_SKIP"
    fi
else
    IR_SKIP=$NO_CALLGRIND
    echo "instructions per round trip: $IR_SKIP"
fi

# ---- shared stacks --------------------------------------------------------
# Memory per suspended coroutine (shared, private, Go goroutines), the
# largest count of shared coroutines that fits, and switches with shared
# and private stacks in the same run. Each memory figure is its own process:
# (peak RSS - RSS before the first coroutine) / count.
SH_N1=${SHARED_N1:-100000}
SH_N2=${SHARED_N2:-1000000}
SH_MAX=${SHARED_MAX:-10000000}
SH_PAIR=${SHARED_PAIR_N:-2000000} # round trips, generator and consumer
SH_RING=${SHARED_RING_N:-1000}    # rounds of the 1,000 coroutines
SS=$B/weft_sharedstack

GO_MEM=""
GO_SKIP=""
if command -v go >/dev/null 2>&1; then
    # A lone main package: no module, a cache in the build directory.
    if ! (GOCACHE="${GOCACHE:-$PWD/$B/gocache}" GOFLAGS=-mod=mod GO111MODULE=off \
        go build -o "$B/go_goroutines" "$(dirname "$0")/peers/goroutines.go") 2>"$TMP/err"; then
        GO_SKIP="go build failed: $(head -c 200 "$TMP/err" | tr '\n' ' ')"
    else
        GO_MEM="$B/go_goroutines"
    fi
else
    GO_SKIP="go not installed"
fi

echo
echo "shared stacks: bytes of RSS per suspended coroutine ((peak - baseline) / count):"
for n in $SH_N1 $SH_N2; do
    for live in 200 0; do
        desc="$live B live"
        [ "$live" = 0 ] && desc="empty stack"
        measure "weft shared, $n, $desc" "$SS" mem shared "$n" "$live"
        eval "MEM_SH_${n}_${live}=\$(field \"\$OUT\" bytes_per_co)"
        if [ "$n" = "$SH_N2" ] && [ "$live" = 0 ]; then
            # A private stack costs whole pages with or without 200 live
            # bytes (compare at $SH_N1); one run at $SH_N2 is enough.
            printf '  %-34s not run: same pages as with 200 B (see %s); saves ~20 s\n' \
                "weft private, $n, $desc" "$SH_N1"
            eval "MEM_PR_${n}_${live}="
        else
            measure "weft private, $n, $desc" "$SS" mem private "$n" "$live"
            eval "MEM_PR_${n}_${live}=\$(field \"\$OUT\" bytes_per_co)"
        fi
        if [ -n "$GO_MEM" ]; then
            if OUT=$("$GO_MEM" "$n" "$live" 2>"$TMP/err"); then
                printf '  %-34s %s\n' "Go goroutines, $n, $desc" "$OUT"
            else
                OUT=""
                printf '  %-34s FAILED: %s\n' "Go goroutines, $n, $desc" "$(tr '\n' ' ' <"$TMP/err")"
            fi
            eval "MEM_GO_${n}_${live}=\$(field \"\$OUT\" bytes_per_co)"
        else
            printf '  %-34s skipped: %s\n' "Go goroutines, $n, $desc" "$GO_SKIP"
            eval "MEM_GO_${n}_${live}="
        fi
    done
done

measure "pthreads, $THREADS_N, 200 B live" "$B/peer_threads_mem" "$THREADS_N" 200
MEM_TH=$(field "$OUT" bytes_per_co)

echo
echo "shared stacks: the largest count alive at once (200 B live each, up to $SH_MAX, one run):"
measure "weft shared" "$SS" max "$SH_MAX"
MAX_COUNT=$(field "$OUT" count)

echo
echo "shared stacks: ns per switch (median of $RUNS; ratio shared/private):"
for mode in pair ring; do
    if [ "$mode" = pair ]; then
        what="generator+consumer"
        n=$SH_PAIR
    else
        what="1,000 take turns"
        n=$SH_RING
    fi
    for live in 200 2048; do
        measure "shared, $what, $live B" "$SS" "$mode" shared "$live" "$n" "$RUNS"
        s=$(field "$OUT" ns_per_switch)
        measure "private, $what, $live B" "$SS" "$mode" private "$live" "$n" "$RUNS"
        p=$(field "$OUT" ns_per_switch)
        printf '  %-34s %s\n' "ratio shared/private" "$(ratio "$s" "$p")"
        eval "SWS_${mode}_${live}=\$s; SWP_${mode}_${live}=\$p"
    done
done

SH_IR_SKIP=""
if [ -z "$NO_CALLGRIND" ]; then
    echo
    echo "shared stacks: instructions per switch, 1,000 take turns, 200 B (callgrind; (Ir(200 rounds)-Ir(100 rounds))/200,000):"
    ir_ring() {
        IR=""
        if a=$(total_ir "$SS" ring "$1" 200 100 1) && b=$(total_ir "$SS" ring "$1" 200 200 1) &&
            [ -n "$a" ] && [ -n "$b" ]; then
            IR=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 200000 }')
            printf '  %-34s %s\n' "$1" "$IR"
        else
            printf '  %-34s FAILED under valgrind\n' "$1"
        fi
    }
    ir_ring shared
    SH_IR_S=$IR
    ir_ring private
    SH_IR_P=$IR
else
    SH_IR_SKIP=$NO_CALLGRIND
    SH_IR_S=""
    SH_IR_P=""
fi

# ---- closing table and JSON ----------------------------------------------

RT_WEFT=$(awk -v s="$SW_WEFT" 'BEGIN { if (s != "") printf "%.2f", 2 * s }')
RT_FCTX=$(awk -v s="$SW_FCTX" 'BEGIN { if (s != "") printf "%.2f", 2 * s }')

ROWS="$TMP/rows"
: >"$ROWS"
# row metric peer weft peer_value skip_reason
row() {
    printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ROWS"
}
row "ns per switch" "swapcontext" "$SW_WEFT" "$SW_SWAP" ""
row "ns per switch" "fcontext" "$SW_WEFT" "$SW_FCTX" "$FCONTEXT_SKIP"
row "ns per switch" "futex hand-off (same CPU)" "$SW_WEFT" "$SW_FUTEX" ""
if [ -n "$SW_SPLIT" ]; then
    row "ns per switch" "futex hand-off (CPU 0<->1)" "$SW_WEFT" "$SW_SPLIT" ""
fi
ir_skip_fctx=$IR_SKIP
[ -z "$ir_skip_fctx" ] && ir_skip_fctx=$FCONTEXT_SKIP
row "instructions per round trip" "swapcontext" "$IR_WEFT" "$IR_SWAP" "$IR_SKIP"
row "instructions per round trip" "fcontext" "$IR_WEFT" "$IR_FCTX" "$ir_skip_fctx"
row "ns create+run+free" "fcontext" "$CR_WEFT" "$CR_FCTX" "$FCONTEXT_SKIP"
for n in $SH_N1 $SH_N2; do
    for live in 200 0; do
        sh_v=$(eval echo "\$MEM_SH_${n}_${live}")
        row "B/co, $n, $live B live" "weft private stacks" "$sh_v" "$(eval echo "\$MEM_PR_${n}_${live}")" "$([ "$n" = "$SH_N2" ] && [ "$live" = 0 ] && echo "not run")"
        row "B/co, $n, $live B live" "Go goroutines" "$sh_v" "$(eval echo "\$MEM_GO_${n}_${live}")" "$GO_SKIP"
    done
done
row "B/co, $SH_N1 vs $THREADS_N threads, 200 B live" "pthreads (blocked)" "$(eval echo "\$MEM_SH_${SH_N1}_200")" "$MEM_TH" ""
for mode in pair ring; do
    for live in 200 2048; do
        row "sh. ns/switch, $mode, $live B" "weft private stacks" "$(eval echo "\$SWS_${mode}_${live}")" "$(eval echo "\$SWP_${mode}_${live}")" ""
    done
done
row "sh. instr/switch, ring, 200 B" "weft private stacks" "$SH_IR_S" "$SH_IR_P" "$SH_IR_SKIP"

echo
echo "summary (ratio = peer / weft; above 1 means weft is cheaper):"
printf '%-28s | %-27s | %10s | %10s | %8s\n' "name" "peer" "weft" "peer value" "ratio"
printf '%s\n' "-----------------------------+-----------------------------+------------+------------+---------"
while IFS='|' read -r metric peer w p skip; do
    if [ -z "$p" ] && [ -n "$skip" ]; then
        printf '%-28s | %-27s | %10s | %10s | %8s\n' "$metric" "$peer" "${w:--}" "skipped" "-"
    else
        r=$(ratio "$p" "$w")
        printf '%-28s | %-27s | %10s | %10s | %8s\n' "$metric" "$peer" "${w:--}" "${p:--}" "${r:--}"
    fi
done <"$ROWS"

# Targets: reported, never asserted.
verdict() { # verdict value op limit -> met / missed / unknown
    if [ -z "$1" ] || [ -z "$3" ]; then
        echo "unknown"
    else
        awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
            ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "met" : "missed" }'
    fi
}
FUTEX_RATIO=$(ratio "$SW_FUTEX" "$SW_WEFT")
T1=$(verdict "$IR_WEFT" "<=" "$IR_FCTX")
T2=$(verdict "$RT_WEFT" "<=" "$RT_FCTX")
T3=$(verdict "$FUTEX_RATIO" ">=" 100)
T4=$(verdict "$CR_WEFT" "<=" 40)
echo
echo "targets (reported, not asserted):"
echo "  round trip instructions <= fcontext pair: weft ${IR_WEFT:-?}, fcontext ${IR_FCTX:-?}: $T1"
echo "  round trip ns <= fcontext pair:           weft ${RT_WEFT:-?}, fcontext ${RT_FCTX:-?}: $T2"
echo "  >= 100x faster than futex hand-off:       ${FUTEX_RATIO:-?}x: $T3"
echo "  create+run+free <= 40 ns:                 weft ${CR_WEFT:-?}: $T4"
SH_T1=$(verdict "$(eval echo "\$MEM_SH_${SH_N2}_200")" "<=" 512)
SH_T2=$(verdict "$(eval echo "\$MEM_SH_${SH_N2}_0")" "<=" 264)
SH_T3=$(verdict "$MAX_COUNT" ">=" 10000000)
SH_RATIO=$(ratio "$SWS_ring_200" "$SWP_ring_200")
SH_T4=$(verdict "$SH_RATIO" "<=" 3)
SH_RATIO_P=$(ratio "$SWS_pair_200" "$SWP_pair_200")
SH_T5=$(verdict "$SH_RATIO_P" "<=" 3)
echo "shared stack targets:"
echo "  <= 512 B per coroutine at $SH_N2, 200 B live: $(eval echo "\$MEM_SH_${SH_N2}_200"): $SH_T1"
echo "  <= 264 B (libaco) at $SH_N2, empty stack:     $(eval echo "\$MEM_SH_${SH_N2}_0"): $SH_T2"
echo "  10,000,000 alive at once:                   ${MAX_COUNT:-?}: $SH_T3"
echo "  switch <= 3x private, 200 B, 1,000 take turns: ${SH_RATIO:-?}x: $SH_T4"
echo "  switch <= 3x private, 200 B, generator+consumer: ${SH_RATIO_P:-?}x: $SH_T5"

json_str() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}
json_num() {
    if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi
}
JSON=$B/results.json
{
    printf '{\n'
    printf '  "machine": {"arch": %s, "cpus": %s, "pinning": %s},\n' \
        "$(json_str "$(uname -m)")" "$(json_num "$(nproc 2>/dev/null)")" "$(json_str "$PIN_DESC")"
    printf '  "config": {"quick": %s, "runs": %s, "switch_round_trips": %s, "futex_round_trips": %s, "create_count": %s, "callgrind_round_trips": [%s, %s], "shared_counts": [%s, %s], "threads_count": %s, "skynet_leaves": %s},\n' \
        "$([ "$QUICK" = 1 ] && echo true || echo false)" "$RUNS" "$SWITCH_N" "$FUTEX_N" "$CREATE_N" "$CG_N1" "$CG_N2" "$SH_N1" "$SH_N2" "$THREADS_N" "${SKYNET_N:-1000000}"
    printf '  "ratio": "peer / weft",\n'
    printf '  "results": [\n'
    first=1
    while IFS='|' read -r metric peer w p skip; do
        [ "$first" = 1 ] || printf ',\n'
        first=0
        printf '    {"name": %s, "peer": %s, "weft": %s, "peer_value": %s, "ratio": %s' \
            "$(json_str "$metric")" "$(json_str "$peer")" "$(json_num "$w")" "$(json_num "$p")" \
            "$(json_num "$(ratio "$p" "$w")")"
        if [ -z "$p" ] && [ -n "$skip" ]; then
            printf ', "skipped": %s' "$(json_str "$skip")"
        fi
        printf '}'
    done <"$ROWS"
    printf '\n  ],\n'
    printf '  "targets": {"round_trip_instructions_le_fcontext": %s, "round_trip_ns_le_fcontext": %s, "futex_ratio_ge_100": %s, "create_run_free_le_40ns": %s},\n' \
        "$(json_str "$T1")" "$(json_str "$T2")" "$(json_str "$T3")" "$(json_str "$T4")"
} >"$TMP/core.json"

# The other layers' benchmarks, each with its peers in the same run; each
# leaves its figures as JSON records, one a line, in its results.jsonl.
here=$(dirname "$0")
for part in sched io; do
    rm -f "$B/$part/results.jsonl"
    if [ -f "$here/$part/run.sh" ]; then
        echo
        sh "$here/$part/run.sh" "$BUILD"
    fi
done

# ---- hook: unmodified blocking clients against real servers -------------
# bench/hook/run.sh starts redis-server and PostgreSQL itself and skips
# what is not installed.
if [ -f "$here/hook/run.sh" ]; then
    echo
    sh "$here/hook/run.sh" "$BUILD"
fi

# A file of records, one a line, as a JSON array.
json_array() {
    if [ -s "$1" ]; then
        awk 'BEGIN { printf "[\n" } { printf "%s    %s", (NR > 1 ? ",\n" : ""), $0 } END { printf "\n  ]" }' "$1"
    else
        printf '[]'
    fi
}
{
    cat "$TMP/core.json"
    printf '  "sched": %s,\n' "$(json_array "$B/sched/results.jsonl")"
    printf '  "io": %s,\n' "$(json_array "$B/io/results.jsonl")"
    printf '  "seconds": %s\n}\n' "$(($(date +%s) - START))"
} >"$JSON"
echo
echo "all figures written to $JSON"

# Plots: gnuplot and jq, when present.
if command -v gnuplot >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
    sh "$here/plot.sh" "$JSON" "$B/plots"
else
    echo "plots skipped: they need gnuplot and jq (apt install gnuplot-nox jq)"
fi
echo "bench: done in $(($(date +%s) - START)) s"
