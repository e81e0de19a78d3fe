#!/bin/sh
# make bench: in one run, against PyTorch with the same thread count:
#   1. rnn.matmul against a direct cblas call and torch.matmul (GFLOP/s)
#   2. the autograd tape's per-op cost from Lua against PyTorch's from Python
#   BENCH_THREADS (default: what rnnlua reports), BENCH_REPEATS (default 5)
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L $(pkg-config --cflags openblas) bench/matmul_cblas.c \
    -o build/bench/matmul_cblas $(pkg-config --libs openblas)

threads=${BENCH_THREADS:-$(./rnnlua -e 'print(rnn.get_num_threads())')}
repeats=${BENCH_REPEATS:-5}
# Debian's python3-torch lives under the system interpreter
python=/usr/bin/python3
out=build/bench/matmul.txt

echo "matmul benchmark: $threads threads, median of $repeats batches (GFLOP/s)"
./build/bench/matmul_cblas "$threads" "$repeats" >"$out"
./rnnlua bench/matmul.lua "$threads" "$repeats" >>"$out"
if "$python" -c 'import torch' 2>/dev/null; then
    "$python" bench/matmul_torch.py "$threads" "$repeats" >>"$out"
else
    echo "(python3-torch not importable by $python: PyTorch column left empty)"
fi

awk '
{ rate[$1 " " $2 " " $3 " " $4] = $5; key[$2 " " $3 " " $4] = 1 }
END {
    printf "%-8s %5s %3s %9s %9s %9s %11s %11s\n", "dtype", "n", "op", "rnnlua", "cblas", "torch", "rnn/cblas", "rnn/torch"
    split("float32 float64", dts, " "); split("128 512 1024", ns, " "); split("NN NT", ts, " ")
    for (d = 1; d <= 2; d++) for (i = 1; i <= 3; i++) for (t = 1; t <= 2; t++) {
        k = dts[d] " " ns[i] " " ts[t]
        r = rate["rnnlua " k]; c = rate["cblas " k]; p = rate["torch " k]
        printf "%-8s %5s %3s %9.2f %9.2f %9s %10.1f%% %11s\n", dts[d], ns[i], ts[t], r, c,
            (p == "" ? "-" : sprintf("%.2f", p)), 100 * r / c, (p == "" ? "-" : sprintf("%.2fx", r / p))
    }
}' "$out"

echo
echo "autograd overhead: 1 thread, median of $repeats batches (microseconds per op or per graph)"
out=build/bench/autograd.txt
./rnnlua bench/autograd.lua "$repeats" >"$out"
if "$python" -c 'import torch' 2>/dev/null; then
    "$python" bench/autograd_torch.py "$repeats" >>"$out"
fi
awk '
{ us[$1 " " $2] = $3 }
END {
    printf "%-10s %10s %10s %12s\n", "case", "rnnlua", "torch", "torch/rnnlua"
    n = split("add_grad add_plain graph5", cs, " ")
    for (i = 1; i <= n; i++) {
        r = us["rnnlua " cs[i]]; p = us["torch " cs[i]]
        printf "%-10s %10.3f %10s %12s\n", cs[i], r, (p == "" ? "-" : sprintf("%.3f", p)),
            (p == "" ? "-" : sprintf("%.1fx", p / r))
    }
}' "$out"
