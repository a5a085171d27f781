#!/bin/sh
# Plots the figures of a results.json that bench/run.sh wrote, as SVG,
# with gnuplot (jq reads the JSON):
#   switch.svg   ns per switch: weft, Boost.Context, swapcontext, threads
#   memory.svg   bytes per suspended coroutine: weft shared and private
#                stacks, Go goroutines, blocked threads
#   server.svg   server CPU per request: weft on each backend, the
#                hand-written epoll loop, a thread per connection
#   skynet.svg   skynet's time: weft private and shared, Go; as it runs and
#                with every task alive at once
# Usage: bench/plot.sh RESULTS.json OUTDIR
# Prints a line and exits 0 when gnuplot or jq is missing.
set -u
json=${1:?usage: bench/plot.sh RESULTS.json OUTDIR}
out=${2:?usage: bench/plot.sh RESULTS.json OUTDIR}
for tool in gnuplot jq; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "plot.sh: $tool not installed: no plots (apt install gnuplot-nox jq)"
        exit 0
    fi
done
jq -e .results "$json" >/dev/null || {
    echo "plot.sh: $json is not a results.json of bench/run.sh" >&2
    exit 1
}
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-plot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# jq FILTER over the results; null comes out as "?", gnuplot's missing.
q() { jq -r "($1) // \"?\"" "$json" | head -n 1; }
core() { # NAME PEER FIELD: a field of a row of the core table
    q ".results[] | select(.name == \"$1\" and .peer == \"$2\") | .$3"
}
rec() { # PART NAME IMPL: the value of a record of sched or io
    q ".$1[] | select(.name == \"$2\" and .impl == \"$3\") | .value"
}

what="$(q .machine.arch), $(q .machine.cpus) CPUs"
[ "$(q .config.quick)" = true ] && what="$what, quick run"

# Labels: "value" over each bar; "-" where the figure is missing.
{
    echo "weft $(core 'ns per switch' swapcontext weft)"
    echo "Boost.Context $(core 'ns per switch' fcontext peer_value)"
    echo "swapcontext $(core 'ns per switch' swapcontext peer_value)"
    echo "\"threads (futex)\" $(core 'ns per switch' 'futex hand-off (same CPU)' peer_value)"
} >"$tmp/switch.dat"

n2=$(q '.config.shared_counts[1]')
nt=$(q '.config.threads_count')
{
    echo "weft-shared $(core "B/co, $n2, 200 B live" 'weft private stacks' weft)"
    echo "weft-private $(core "B/co, $n2, 200 B live" 'weft private stacks' peer_value)"
    echo "Go $(core "B/co, $n2, 200 B live" 'Go goroutines' peer_value)"
    echo "threads $(q ".results[] | select(.peer == \"pthreads (blocked)\") | .peer_value")"
} >"$tmp/memory.dat"

servers="weft-epoll weft-io_uring epoll threads"
{
    echo 'load "weft, epoll" "weft, io_uring" "epoll loop" "thread per connection"'
    for load in http50 http1000 echo; do
        line=$load
        for s in $servers; do
            line="$line $(rec io "${load}_cpu" "$s")"
        done
        echo "$line"
    done
} | sed 's/^http50 /"HTTP, 50 conns" /; s/^http1000 /"HTTP, 1,000 conns" /; s/^echo /"echo, 100 conns" /' >"$tmp/server.dat"

# skynet as it runs, then with every leaf held until all exist.
{
    echo 'walk "weft, private stacks" "weft, shared stacks" "Go, GOMAXPROCS=1"'
    for name in skynet skynet_alive; do
        label='"as it runs"'
        [ $name = skynet_alive ] && label='"all tasks alive at once"'
        echo "$label $(rec sched $name weft-private) $(rec sched $name weft-shared) $(rec sched $name go)"
    done
} >"$tmp/skynet.dat"
leaves=$(q '.config.skynet_leaves')

gnuplot <<GP
set terminal svg size 640,400 dynamic noenhanced font "sans,12" background rgb "white"
set datafile missing "?"
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key off
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xrange [-0.6:3.6]
colours = "#4477aa #66ccee #228833 #ccbb44 #ee6677 #aa3377"
rgb(i) = int(i) % 4 == 0 ? 0x4477aa : int(i) % 4 == 1 ? 0x66ccee : int(i) % 4 == 2 ? 0x228833 : 0xccbb44

set output "$out/switch.svg"
set title "Time per switch ($what): lower is better"
set ylabel "ns per switch (log scale)"
set logscale y
set yrange [1:*]
plot "$tmp/switch.dat" using 0:2:(0.6):(rgb(\$0)):xtic(1) with boxes lc rgb variable, \
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8
unset logscale y
set yrange [0:*]

set output "$out/memory.svg"
set title "Memory per suspended coroutine, 200 B live ($what): lower is better"
set ylabel "bytes of RSS each"
set xlabel "weft and Go: $n2 each; threads: $nt"
plot "$tmp/memory.dat" using 0:2:(0.6):(rgb(\$0)):xtic(1) with boxes lc rgb variable, \
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8
unset xlabel


set output "$out/server.svg"
set title "Server CPU per request ($what): lower is better"
set ylabel "us of server CPU per request"
set key outside bottom center horizontal maxrows 1
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9 relative
set xrange [*:*]
plot for [i=2:5] "$tmp/server.dat" using i:xtic(1) title columnheader(i) lc rgb word(colours, i - 1), \
     for [i=2:5] "" skip 1 using (\$0 + (i - 3.5) * 0.2):i:(sprintf("%.1f", column(i))) with labels offset 0,0.7 font ",10" notitle

set output "$out/skynet.svg"
set title "skynet, $leaves leaves, one CPU ($what): lower is better"
set ylabel "ms"
plot for [i=2:4] "$tmp/skynet.dat" using i:xtic(1) title columnheader(i) lc rgb word(colours, i - 1), \
     for [i=2:4] "" skip 1 using (\$0 + (i - 3) * 0.25):i:(sprintf("%.0f", column(i))) with labels offset 0,0.7 notitle
GP
rc=$?
[ $rc -eq 0 ] && echo "plots written to $out: switch.svg memory.svg server.svg skynet.svg"
exit $rc
