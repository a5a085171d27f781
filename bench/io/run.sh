#!/bin/sh
# The io benchmarks: weft's examples (examples/http and examples/echo, on
# each poller backend, and on epoll with 2 worker threads) against a
# hand-written single-threaded epoll server and a thread-per-connection
# server, in the same run. Each server is pinned to CPU 0 (the 2-worker one
# to CPUs 0 and 1), the load to CPU 1. Figures only: nothing here fails on
# a time.
#   bench/io/run.sh BUILD_DIR      (after building BUILD_DIR)
# Prints, per server: HTTP under wrk at 50 and 1,000 connections
# (requests/s, p99, server CPU time per request from /proc/PID/stat),
# echo with bench/io/load (100 connections of 64-byte ping-pong: messages/s,
# p99, CPU per message), RSS per idle keep-alive connection (10,000), and
# system calls per request (strace -c -f, short run); then the ratios
# weft/epoll peer, and N workers / 1 worker. Writes
# BUILD_DIR/bench/io/results.txt, and the medians (and the ratios of CPU
# per request to one worker's) as JSON records, one a line, to
# BUILD_DIR/bench/io/results.jsonl.
# Environment: SECONDS_WRK (10), SECONDS_ECHO (4), IDLE_N (10000),
# SERVERS (default: "weft-io_uring weft-epoll weft-epoll-2w epoll threads";
# weft-BACKEND-Nw: the examples on N workers, on CPUs 0..N-1), ROUNDS (2;
# with more, the HTTP and echo runs repeat, servers taking turns, and the
# summary takes the median of each figure; a shared machine needs it),
# SYSCALLS (1; 0 skips the strace run).
set -u
build=${1:-build}
dir="$build/bench/io"
ex="$build/examples"
[ -x "$dir/load" ] && [ -x "$ex/http" ] || {
    echo "run.sh: build $build first (make io_bench)" >&2
    exit 2
}
ulimit -n "$(ulimit -Hn)" 2>/dev/null
wrk_s=${SECONDS_WRK:-10}
echo_s=${SECONDS_ECHO:-4}
idle_n=${IDLE_N:-10000}
servers=${SERVERS:-"weft-io_uring weft-epoll weft-epoll-2w epoll threads"}
rounds=${ROUNDS:-2}
tck=$(getconf CLK_TCK)
# Below the ephemeral range (32768-60999), which the load's connections use.
port=$((12000 + $$ % 6000))
out="$dir/results.txt"
: >"$out"
have_wrk=1
command -v wrk >/dev/null 2>&1 || have_wrk=""
have_strace=1
command -v strace >/dev/null 2>&1 || have_strace=""
pin0="taskset -c 0"
pin1="taskset -c 1"
command -v taskset >/dev/null 2>&1 || { pin0=""; pin1=""; }
pid=""

# start NAME MODE: starts the server on a fresh port (the next free one);
# sets pid and port.
start() {
    tries=0
    while [ $tries -lt 10 ]; do
        port=$((port + 1))
        tries=$((tries + 1))
        case "$1" in
        weft-*-*w) # weft-BACKEND-Nw: N workers on CPUs 0..N-1, the load still on CPU 1
            w=${1##*-}
            w=${w%w}
            b=${1#weft-}
            pin=""
            [ -n "$pin0" ] && pin="taskset -c 0-$((w - 1))"
            WEFT_BACKEND=${b%-*} $pin "$ex/$2" "$port" "$w" 2>/dev/null &
            ;;
        weft-io_uring) WEFT_BACKEND=io_uring $pin0 "$ex/$2" "$port" 2>/dev/null & ;;
        weft-epoll) WEFT_BACKEND=epoll $pin0 "$ex/$2" "$port" 2>/dev/null & ;;
        epoll) $pin0 "$dir/epoll_server" "$2" "$port" 2>/dev/null & ;;
        threads) $pin0 "$dir/thread_server" "$2" "$port" 2>/dev/null & ;;
        esac
        pid=$!
        sleep 0.3
        kill -0 "$pid" 2>/dev/null && return 0
        wait "$pid" 2>/dev/null
    done
    echo "run.sh: $1 did not start" >&2
}

stop() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
}
trap 'stop; exit 1' INT TERM

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

# wrk's p99 ("99%  1.23ms") in microseconds.
p99_us() {
    awk '$1 == "99%" { v = $2; u = 1;
        if (v ~ /us$/) u = 1; else if (v ~ /ms$/) u = 1000; else if (v ~ /s$/) u = 1000000;
        sub(/[a-z]+$/, "", v); printf "%.0f", v * u }'
}

record() { echo "$*" >>"$out"; }

run_wrk() { # NAME CONNS
    start "$1" http
    c0=$(cpu)
    res=$($pin1 wrk -t1 -c"$2" -d"${wrk_s}s" --latency "http://127.0.0.1:$port/" 2>&1)
    c1=$(cpu)
    stop
    reqs=$(echo "$res" | awk '/requests in/ {print $1}')
    rps=$(echo "$res" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
    p99=$(echo "$res" | p99_us)
    cpr=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v t="$tck" 'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1e6 / t / n; else print "n/a" }')
    printf '%-14s http c=%-5s %9s req/s  p99 %7s us  cpu/req %6s us\n' "$1" "$2" "$rps" "$p99" "$cpr"
    record "$1 http$2 rps $rps p99 $p99 cpu $cpr"
}

run_echo() { # NAME
    start "$1" echo
    c0=$(cpu)
    res=$($pin1 "$dir/load" "$port" 100 "$echo_s" 64)
    c1=$(cpu)
    stop
    rate=$(echo "$res" | awk '{print $2}')
    p99=$(echo "$res" | awk '{print $6}')
    cpm=$(awk -v a="$c0" -v b="$c1" -v r="$rate" -v s="$echo_s" -v t="$tck" 'BEGIN { if (r > 0) printf "%.2f", (b - a) * 1e6 / t / (r * (s + 1)); else print "n/a" }')
    printf '%-14s echo c=100  %9s msg/s  p99 %7s us  cpu/msg %6s us\n' "$1" "$rate" "$p99" "$cpm"
    record "$1 echo rate $rate p99 $p99 cpu $cpm"
}

run_idle() { # NAME
    start "$1" http
    r0=$(rss_kb)
    ready="$dir/idle.ready.$$"
    rm -f "$ready"
    fifo="$dir/idle.fifo.$$"
    rm -f "$fifo"
    mkfifo "$fifo"
    $pin1 "$dir/idle" "$port" "$idle_n" <"$fifo" >"$ready" &
    holder=$!
    exec 9>"$fifo" # the client runs until this closes
    i=0
    while ! grep -q ready "$ready" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.3
    r1=$(rss_kb)
    per=$(awk -v a="$r0" -v b="$r1" -v n="$idle_n" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
    stop
    exec 9>&-
    wait "$holder" 2>/dev/null
    rm -f "$ready" "$fifo"
    printf '%-14s idle %s keep-alive connections: %s bytes of RSS each\n' "$1" "$idle_n" "$per"
    record "$1 idle bytes $per"
}

run_strace() { # NAME
    start "$1" http
    trace="$dir/strace.$$"
    strace -c -f -o "$trace" -p "$pid" 2>/dev/null &
    st=$!
    sleep 0.5
    res=$($pin1 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" 2>&1)
    kill -INT "$st" 2>/dev/null
    wait "$st" 2>/dev/null
    stop
    reqs=$(echo "$res" | awk '/requests in/ {print $1}')
    calls=$(awk '$NF == "total" {print $(NF - 2)}' "$trace")
    per=$(awk -v c="$calls" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.2f", c / n; else print "n/a" }')
    top=$(awk -v n="$reqs" 'NR > 2 && $1 !~ /^-/ && $NF != "total" && n > 0 && $4 / n >= 0.01 {
        printf "%s%s %.2f", sep, $NF, $4 / n; sep = ", " }' "$trace")
    rm -f "$trace"
    printf '%-14s system calls per request: %s  (%s)\n' "$1" "$per" "$top"
    record "$1 syscalls $per"
}

echo "== io: servers on CPU 0 (those on N workers on CPUs 0..N-1), load on CPU 1 =="
r=0
while [ $r -lt "$rounds" ]; do
    r=$((r + 1))
    if [ -n "$have_wrk" ]; then
        for c in 50 1000; do
            for s in $servers; do run_wrk "$s" "$c"; done
        done
    elif [ $r -eq 1 ]; then
        echo "wrk not found: HTTP figures skipped (apt install wrk)"
    fi
    for s in $servers; do run_echo "$s"; done
done
for s in $servers; do run_idle "$s"; done
if [ "${SYSCALLS:-1}" = 0 ]; then
    echo "system calls per request: skipped (SYSCALLS=0)"
elif [ -n "$have_wrk" ] && [ -n "$have_strace" ]; then
    for s in $servers; do run_strace "$s"; done
else
    echo "wrk or strace not found: system calls per request skipped"
fi

# Medians of the rounds, then the ratios weft/epoll peer and N workers /
# 1 worker (cpu: lower is better, rate: higher is better).
echo "== io: medians of $rounds round(s) =="
: >"$dir/results.jsonl"
awk -v jf="$dir/results.jsonl" '
function add(k, v) { n[k]++; val[k, n[k]] = v }
function med(k,    i, j, t, m) {
  m = n[k]; if (!m) return ""
  for (i = 1; i <= m; i++) a[i] = val[k, i] + 0
  for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
function r(x, y) { return (x + 0 > 0 && y + 0 > 0) ? sprintf("%.3f", x / y) : "n/a" }
function rec(name, s, k, unit, none,    v) {
  v = med(s SUBSEP k); if (none || v == "" || v !~ /^[0-9.]+$/) v = "null"
  printf "{\"name\": \"%s\", \"impl\": \"%s\", \"value\": %s, \"unit\": \"%s\"}\n", name, s, v, unit > jf }
{ names[$1] = 1
  if ($2 ~ /^http/) { add($1 SUBSEP $2 SUBSEP "rps", $4); add($1 SUBSEP $2 SUBSEP "p99", $6); add($1 SUBSEP $2 SUBSEP "cpu", $8) }
  if ($2 == "echo") { add($1 SUBSEP "echo" SUBSEP "rps", $4); add($1 SUBSEP "echo" SUBSEP "p99", $6); add($1 SUBSEP "echo" SUBSEP "cpu", $8) }
  if ($2 == "idle") add($1 SUBSEP "idle" SUBSEP "b", $4)
  if ($2 == "syscalls") add($1 SUBSEP "sys" SUBSEP "n", $3) }
END {
  printf "%-14s %-24s %-24s %-24s %-7s %s\n", "server", "http c=50 rps/p99us/cpu", "http c=1000 rps/p99us/cpu", "echo msg/s/p99us/cpu", "idle B", "syscalls/req"
  for (s in names) {
    line = sprintf("%-14s", s)
    for (i = 1; i <= 3; i++) {
      k = i == 1 ? "http50" : i == 2 ? "http1000" : "echo"
      line = line sprintf(" %-24s", med(s SUBSEP k SUBSEP "rps") "/" med(s SUBSEP k SUBSEP "p99") "/" med(s SUBSEP k SUBSEP "cpu"))
    }
    print line sprintf(" %-7s %s", med(s SUBSEP "idle" SUBSEP "b"), med(s SUBSEP "sys" SUBSEP "n"))
    for (i = 1; i <= 3; i++) {
      k = i == 1 ? "http50" : i == 2 ? "http1000" : "echo"
      if (!n[s SUBSEP k SUBSEP "rps"]) continue
      # No request served: no latency or CPU per request either.
      none = med(s SUBSEP k SUBSEP "rps") + 0 == 0
      rec(k "_rate", s, k SUBSEP "rps", k == "echo" ? "msg/s" : "req/s", 0)
      rec(k "_p99", s, k SUBSEP "p99", "us", none)
      rec(k "_cpu", s, k SUBSEP "cpu", "us", none)
    }
    if (n[s SUBSEP "idle" SUBSEP "b"]) rec("idle_bytes", s, "idle" SUBSEP "b", "B", 0)
    if (n[s SUBSEP "sys" SUBSEP "n"]) rec("syscalls_per_request", s, "sys" SUBSEP "n", "calls", 0)
  }
  print "== io: ratios weft / hand-written epoll server =="
  for (s in names) {
    if (s == "epoll") continue
    printf "%-14s cpu/req http50 %s http1000 %s echo %s | p99 http50 %s http1000 %s echo %s | echo rate %s\n", s,
      r(med(s SUBSEP "http50" SUBSEP "cpu"), med("epoll" SUBSEP "http50" SUBSEP "cpu")),
      r(med(s SUBSEP "http1000" SUBSEP "cpu"), med("epoll" SUBSEP "http1000" SUBSEP "cpu")),
      r(med(s SUBSEP "echo" SUBSEP "cpu"), med("epoll" SUBSEP "echo" SUBSEP "cpu")),
      r(med(s SUBSEP "http50" SUBSEP "p99"), med("epoll" SUBSEP "http50" SUBSEP "p99")),
      r(med(s SUBSEP "http1000" SUBSEP "p99"), med("epoll" SUBSEP "http1000" SUBSEP "p99")),
      r(med(s SUBSEP "echo" SUBSEP "p99"), med("epoll" SUBSEP "echo" SUBSEP "p99")),
      r(med(s SUBSEP "echo" SUBSEP "rps"), med("epoll" SUBSEP "echo" SUBSEP "rps"))
  }
  print "== io: N workers / 1 worker (the same server on one thread) =="
  for (s in names) {
    if (s !~ /^weft-.*-[0-9]+w$/) continue
    one = s; sub(/-[0-9]+w$/, "", one)
    if (!(one in names)) continue
    line = sprintf("%-14s", s)
    for (i = 1; i <= 3; i++) {
      k = i == 1 ? "http50" : i == 2 ? "http1000" : "echo"
      c = r(med(s SUBSEP k SUBSEP "cpu"), med(one SUBSEP k SUBSEP "cpu"))
      line = line sprintf(" cpu/req %s %s rate %s |", k, c, r(med(s SUBSEP k SUBSEP "rps"), med(one SUBSEP k SUBSEP "rps")))
      if (c != "n/a") printf "{\"name\": \"%s_cpu_per_1_worker\", \"impl\": \"%s\", \"value\": %s, \"unit\": \"ratio\"}\n", k, s, c > jf
    }
    print line
  }
}' "$out"
echo "(targets: weft cpu/req <= 1.053, echo rate >= 0.95, p99 <= 1.2; idle <= 8192 bytes;"
echo " N workers: cpu/req <= 1.1 times one worker's)"
