#!/bin/sh
# The sweep speedup of `make bench`: bench/sweep.lua (16 runs of a small
# LSTM) with --jobs 1 and with --jobs 2, alternating, BENCH_SWEEP_REPEATS
# times (default 3); wall seconds, medians, and whether the two wrote the
# same files (cmp).
#   bench/sweep.sh [RNNLUA]
set -eu
RNNLUA=${1:-./rnnlua}
repeats=${BENCH_SWEEP_REPEATS:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-bench-sweep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
times="$tmp/times"
: >"$times"
for i in $(seq 1 "$repeats"); do
    for j in 1 2; do
        rm -rf "$tmp/out$j"
        t0=$("$RNNLUA" -e 'io.write(string.format("%.3f", rnn.clock()))')
        "$RNNLUA" bench/sweep.lua --out "$tmp/out$j" --jobs "$j" --quiet
        t1=$("$RNNLUA" -e 'io.write(string.format("%.3f", rnn.clock()))')
        echo "$j $t0 $t1" >>"$times"
    done
done
same=yes
for f in $(cd "$tmp/out1" && find bench_sweep -type f ! -path '*/.locks/*' | sort); do
    cmp -s "$tmp/out1/$f" "$tmp/out2/$f" || { same="no ($f differs)"; break; }
done
steps=$(sed -n 's/.*steps = \([0-9]*\),.*/\1/p' bench/sweep.lua)
echo "sweep: bench/sweep.lua, 16 runs of an LSTM (H 64, T 50, batch 32, $steps steps) on $(nproc) cores;"
echo "  wall seconds of the whole command, median of $repeats (each run one BLAS thread)"
awk -v same="$same" '
{ t[$1, ++n[$1]] = $3 - $2 }
function median(j,   i, k, tmp, m) {
    m = n[j]
    for (i = 1; i <= m; i++) tmp[i] = t[j, i]
    for (i = 1; i <= m; i++) for (k = i + 1; k <= m; k++) if (tmp[k] < tmp[i]) { x = tmp[i]; tmp[i] = tmp[k]; tmp[k] = x }
    return (m % 2) ? tmp[(m + 1) / 2] : (tmp[m / 2] + tmp[m / 2 + 1]) / 2
}
END {
    m1 = median(1); m2 = median(2)
    printf "%-8s %10s %10s %10s\n", "jobs", "seconds", "runs/min", "speedup"
    printf "%-8s %10.2f %10.1f %10s\n", 1, m1, 16 * 60 / m1, "1.00x"
    printf "%-8s %10.2f %10.1f %9.2fx\n", 2, m2, 16 * 60 / m2, m1 / m2
    printf "files of --jobs 2 equal to --jobs 1: %s\n", same
}' "$times"
