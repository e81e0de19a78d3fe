#!/bin/sh
# Data-parallel training over MPI (rnn.distributed): samples per second of
# 2 ranks x 1 thread (batch 32 each) against 1 process x 1 thread (batch 64)
# on an LSTM of config B (input 128, hidden 512, T 50, float32) and a Linear
# head: forward + backward + average_gradients + Adam step, as
# experiments/data_parallel.lua runs it (the data generation is not timed).
# Each run reports the median step over the steps after its warm-up; runs of
# the setups alternate (the machine is shared and noisy) and the table gives
# the median over the runs.
#   bench/data_parallel.sh [REPEATS] [STEPS]    (5 runs of 12 steps, 2 warm-up)
# The third row is the same 2 ranks with OpenMPI's shared-memory transport
# copying through its buffers instead of its default single copy (CMA,
# process_vm_readv): --mca btl_vader_single_copy_mechanism none.
set -eu
cd "$(dirname "$0")/.."
repeats=${1:-5}
steps=${2:-12}
warmup=2
out=build/bench/data_parallel.txt
mkdir -p build/bench
: >"$out"

args="--input 128 --hidden 512 --batch 64 --T 50 --dtype float32 --steps $steps --warmup $warmup --log-every 0 --threads 1"
mpirun="mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1"

# time_of SETUP COMMAND...: appends "SETUP <median step ms>" from the run's time line
time_of() {
    setup=$1
    shift
    "$@" experiments/data_parallel.lua $args | awk -v s="$setup" '/^time: median step/ { print s, $4 }' >>"$out"
}

i=0
while [ "$i" -lt "$repeats" ]; do
    OPENBLAS_NUM_THREADS=1 time_of one ./rnnlua
    time_of two $mpirun -np 2 ./rnnlua
    time_of two_none $mpirun -np 2 --mca btl_vader_single_copy_mechanism none ./rnnlua
    i=$((i + 1))
done

echo "data parallel over MPI: LSTM config B (input 128, hidden 512, T 50, float32) + Linear head;"
echo "  forward + backward + average_gradients + Adam step; median step over $((steps - warmup)) steps after"
echo "  $warmup of warm-up, median of $repeats runs (alternating); global batch 64"
awk '
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n[$1]++; v[$1, n[$1]] = $2 }
END {
    split("one two two_none", keys, " ")
    label["one"] = "1 process"; label["two"] = "mpirun -np 2"; label["two_none"] = "mpirun -np 2, vader copy"
    ranks["one"] = 1; ranks["two"] = 2; ranks["two_none"] = 2
    printf "%-26s %5s %7s %10s %9s %10s %9s  %s\n", "setup", "ranks", "threads", "batch/rank", "step ms", "samples/s",
        "vs 1 proc", "runs (step ms)"
    for (k = 1; k <= 3; k++) {
        key = keys[k]
        if (!(key in n)) continue
        runs = ""
        for (i = 1; i <= n[key]; i++) { a[i] = v[key, i]; runs = runs (i > 1 ? " " : "") v[key, i] }
        m[key] = median(a, n[key])
        rate = 64 / (m[key] / 1000)
        printf "%-26s %5d %7d %10d %9.2f %10.1f %8.2fx  %s\n", label[key], ranks[key], 1, 64 / ranks[key], m[key], rate,
            ("one" in m) ? m["one"] / m[key] : 0, runs
    }
}' "$out"
