#!/bin/sh
# Checks that the tree keeps the layers of DESIGN.md: a file under
# src/<layer>/ includes headers of its own layer and of those below it,
# never of one above. Prints one line per layer and a summary line
# "N passed, N failed, 0 skipped"; exits non-zero on a violation.
cd "$(dirname "$0")/.." || exit 2
order="base arch stack co poll sched io hook"
rank() {
    i=0
    for l in $order; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}
passed=0
failed=0
for dir in src/*/; do
    layer=$(basename "$dir")
    me=$(rank "$layer")
    if [ "$me" -lt 0 ]; then
        echo "FAIL $layer: not a layer of DESIGN.md ($order)"
        failed=$((failed + 1))
        continue
    fi
    bad=""
    for f in "$dir"*; do
        for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f"); do
            them=$(rank "$inc")
            if [ "$them" -lt 0 ] || [ "$them" -gt "$me" ]; then
                bad="$bad $(basename "$f")->$inc"
            fi
        done
    done
    if [ -n "$bad" ]; then
        echo "FAIL $layer: includes from above:$bad"
        failed=$((failed + 1))
    else
        echo "PASS $layer"
        passed=$((passed + 1))
    fi
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
