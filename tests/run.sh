#!/bin/sh
# Runs every BUILD_DIR/tests/test_* program, each with a timeout, prefixed by
# the words of $WEFT_TEST_WRAPPER (e.g. valgrind or qemu). Exit code 77 from a
# test means skipped. Prints PASS/FAIL/SKIP per test, then a summary line
# "N passed, N failed, N skipped"; exits non-zero if anything failed or
# nothing ran.
#
# Environment:
#   WEFT_TEST_WRAPPER  words put before each test command (optional)
#   WEFT_TEST_UNDER    valgrind, qemu, asan, tsan or empty; exported to the tests
#   WEFT_TEST_TIMEOUT  seconds per test (default 300)
#   WEFT_TEST_FILTER   only run tests whose name contains this (optional)

build=${1:-build}
dir="$build/tests"
if [ ! -d "$dir" ]; then
    echo "run.sh: no directory $dir (build first)" >&2
    exit 2
fi

export WEFT_TEST_UNDER="${WEFT_TEST_UNDER:-}"
timeout_s=${WEFT_TEST_TIMEOUT:-300}
passed=0
failed=0
skipped=0
out=$(mktemp "${TMPDIR:-/tmp}/weft-test.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

for t in "$dir"/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    case "$name" in
    *.*) continue ;; # not a program (e.g. .o, .log)
    esac
    if [ -n "${WEFT_TEST_FILTER:-}" ]; then
        case "$name" in
        *"$WEFT_TEST_FILTER"*) ;;
        *) continue ;;
        esac
    fi
    # shellcheck disable=SC2086 # the wrapper is a list of words
    timeout -k 10 "$timeout_s" ${WEFT_TEST_WRAPPER:-} "$t" >"$out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
        echo "SKIP $name"
        skipped=$((skipped + 1))
    else
        if [ "$rc" -eq 124 ]; then
            echo "FAIL $name (exit $rc: timed out after ${timeout_s}s)"
        else
            echo "FAIL $name (exit $rc)"
        fi
        sed 's/^/    /' "$out"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + skipped)) -gt 0 ]
