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

echo
# 3. one training step of the fused recurrent layers (rnn._recurrent) against
#    torch.nn.RNN/LSTM/GRU, threads 1 and 2, each side in its own process per
#    thread count with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set before
#    start-up; PyTorch with glibc's malloc tuned (its best setting). Then an
#    LSTM cell looped in Lua against nn.LSTMCell looped in Python (1 thread),
#    and the peak memory of a training step on B (1 thread, own process).
#    At more than 1 thread PyTorch runs with OpenMP's default wait policy,
#    OMP_WAIT_POLICY=PASSIVE or ACTIVE, whichever a probe (an LSTM step on
#    A) finds fastest: spinning OpenMP waits lose up to 25x when another
#    process holds a core.
#    BENCH_RECURRENT_THREADS (default "1 2") picks the thread counts.
#    Then two tables from one process each (bench/recurrent.lua): threads,
#    1 against 2 threads alternating batch by batch on the cases of issue
#    15 (B and A LSTM/GRU, C, an elementwise chain), with PyTorch's
#    2-thread time from above; and "C after B", a config-C RNN's step fresh
#    against right after a config-B LSTM trained and was dropped (CPU time,
#    1 thread), with and without collectgarbage() in between.
out=build/bench/recurrent.txt
: >"$out"
have_torch=0
"$python" -c 'import torch' 2>/dev/null && have_torch=1
torch_env="MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296"
rthreads=${BENCH_RECURRENT_THREADS:-1 2}
echo "recurrent layers: one training step (forward + backward of sum(out*G)), median of $repeats batches;"
echo "  machine GEMM rate: cblas 1024x1024 NN at the same thread count, measured now"
for t in $rthreads; do
    ./build/bench/matmul_cblas "$t" 3 | awk -v t="$t" '$3 == 1024 && $4 == "NN" { print "gemm", $2, t, $5 }' >>"$out"
    cells=0; tcells=0
    [ "$t" = 1 ] && { cells=A,B,C; tcells=A,C; }
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t ./rnnlua bench/recurrent.lua "$t" "$repeats" "$cells" >>"$out"
    if [ "$have_torch" = 1 ]; then
        wait_env=
        if [ "$t" -gt 1 ]; then
            spin=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" $torch_env \
                "$python" bench/recurrent_torch.py probe "$t")
            passive=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" OMP_WAIT_POLICY=PASSIVE $torch_env \
                "$python" bench/recurrent_torch.py probe "$t")
            active=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" OMP_WAIT_POLICY=ACTIVE $torch_env \
                "$python" bench/recurrent_torch.py probe "$t")
            wait_env=$(awk -v d="$spin" -v p="$passive" -v a="$active" 'BEGIN {
                if (p < d && p <= a) print "OMP_WAIT_POLICY=PASSIVE"; else if (a < d && a < p) print "OMP_WAIT_POLICY=ACTIVE" }')
            echo "  torch at $t threads: OpenMP wait policy ${wait_env:-default} (probe, ms per LSTM step on A:" \
                "default $spin, PASSIVE $passive, ACTIVE $active)"
        fi
        env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" $wait_env $torch_env \
            "$python" bench/recurrent_torch.py "$t" "$repeats" "$tcells" >>"$out"
    fi
done
# 1 against 2 threads in one process, alternating (the per-thread-count
# processes above run minutes apart on a shared machine): the thread table
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 ./rnnlua bench/recurrent.lua threads "$repeats" >>"$out"
# a small model's step fresh and right after a big model trained, 1 thread
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ./rnnlua bench/recurrent.lua after_b "$repeats" >>"$out"
for m in rnn_tanh lstm gru; do
    for d in float32 float64; do
        OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ./rnnlua bench/recurrent.lua mem "$m" "$d" 2 >>"$out"
        if [ "$have_torch" = 1 ]; then
            env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $torch_env \
                "$python" bench/recurrent_torch.py mem "$m" "$d" 2 >>"$out"
        fi
    done
done
[ "$have_torch" = 1 ] || echo "(python3-torch not importable by $python: PyTorch columns left empty)"

awk '
function cell(v, f) { return v == "" ? "-" : sprintf(f, v) }
$1 == "gemm" { gemm[$2 " " $3] = $4; next }
$2 == "step" { ms[$1 " " $3 " " $4 " " $5 " " $6] = $7; next }
$2 == "cell" || $2 == "nncell" { ms[$1 "-" $2 " " $4 " " $5 " " $6] = $7; next }
$2 == "pair" || $2 == "threads" {
    k = $3 " " $4 " " $5; pair1[k] = $6; pair2[k] = $7
    if ($2 == "threads") rows[++nrows] = k
    next
}
$2 == "after_b" { fresh[$3] = $4; after[$3] = $5; ffresh[$3] = $6; fafter[$3] = $7; next }
$2 == "mem" { base[$1 " " $3 " " $4] = $6; peak[$1 " " $3 " " $4] = $7; next }
END {
    I["A"] = 64; H["A"] = 128; Bs["A"] = 32; T["A"] = 100
    I["B"] = 128; H["B"] = 512; Bs["B"] = 64; T["B"] = 50
    I["C"] = 1; H["C"] = 128; Bs["C"] = 1; T["C"] = 200
    gates["rnn_tanh"] = 1; gates["lstm"] = 4; gates["gru"] = 3
    nm = split("rnn_tanh lstm gru", modes, " "); split("float32 float64", dts, " "); split("A B C", cfgs, " ")
    nt = split("1 2", ths, " ")
    printf "GEMM%% = 2*T*B*GH*(2I+3H) FLOPs per step (GH = gate rows: H, 4H, 3H) / cblas 1024^2 NN rate:"
    for (d = 1; d <= 2; d++) for (t = 1; t <= nt; t++)
        if ((dts[d] " " ths[t]) in gemm) printf " %s %sT %.1f GF/s;", dts[d], ths[t], gemm[dts[d] " " ths[t]]
    printf "\n"
    printf "%-8s %-7s %3s %3s %10s %10s %12s %7s %7s %9s %10s\n", "mode", "dtype", "cfg", "thr", "rnnlua ms", "torch ms",
        "torch/rnnlua", "GEMM%", "torch%", "1T/2T", "same-proc"
    for (m = 1; m <= nm; m++) for (d = 1; d <= 2; d++) for (c = 1; c <= 3; c++) for (t = 1; t <= nt; t++) {
        k = modes[m] " " dts[d] " " cfgs[c] " " ths[t]
        if (!(("rnnlua " k) in ms)) continue
        r = ms["rnnlua " k]; p = ms["torch " k]; g = gemm[dts[d] " " ths[t]]
        cf = cfgs[c]; fl = 2 * T[cf] * Bs[cf] * gates[modes[m]] * H[cf] * (2 * I[cf] + 3 * H[cf])
        one = ms["rnnlua " modes[m] " " dts[d] " " cf " 1"]
        pk = modes[m] " " dts[d] " " cf
        printf "%-8s %-7s %3s %3s %10.2f %10s %12s %6.1f%% %7s %9s %10s\n", modes[m], dts[d], cf, ths[t], r,
            cell(p, "%.2f"), (p == "" ? "-" : sprintf("%.2fx", p / r)),
            (g == "" ? 0 : 100 * fl / (r * 1e-3) / (g * 1e9)),
            (p == "" || g == "" ? "-" : sprintf("%.1f%%", 100 * fl / (p * 1e-3) / (g * 1e9))),
            (ths[t] == 1 || one == "" ? "" : sprintf("%.2fx", one / r)),
            (ths[t] == 1 || !(pk in pair2) ? "" : sprintf("%.2fx", pair1[pk] / pair2[pk]))
    }
    printf "1T/2T: the 1-thread time over the 2-thread time, from the two processes above; same-proc: the same\n"
    printf "ratio measured in one process, 1 and 2 threads alternating batch by batch (medians)\n"

    printf "\nthreads: one process, 1 and 2 threads alternating batch by batch (medians); training steps as above;\n"
    printf "chain: z = tanh(sigmoid(x)*x) + exp(x)*0.5 on 4M float32 elements (six elementwise ops), fwd: no tape,\n"
    printf "fwdbwd: x requires grad, then sum(z):backward(); torch 2T: the 2-thread process above, best wait policy\n"
    printf "%-12s %-7s %3s %9s %9s %8s %8s %8s %10s %14s\n", "row", "dtype", "cfg", "1T ms", "2T ms", "speedup",
        "GEMM%1T", "GEMM%2T", "torch 2T", "torch/rnn 2T"
    for (i = 1; i <= nrows; i++) {
        split(rows[i], fld, " "); md = fld[1]; dt = fld[2]; cf = fld[3]
        r1 = pair1[rows[i]]; r2 = pair2[rows[i]]
        g1 = ""; g2 = ""
        if (md in gates) {
            fl = 2 * T[cf] * Bs[cf] * gates[md] * H[cf] * (2 * I[cf] + 3 * H[cf])
            if ((dt " 1") in gemm) g1 = sprintf("%.1f%%", 100 * fl / (r1 * 1e-3) / (gemm[dt " 1"] * 1e9))
            if ((dt " 2") in gemm) g2 = sprintf("%.1f%%", 100 * fl / (r2 * 1e-3) / (gemm[dt " 2"] * 1e9))
        }
        p = ms["torch " md " " dt " " cf " 2"]
        printf "%-12s %-7s %3s %9.2f %9.2f %7.2fx %8s %8s %10s %14s\n", md, dt, cf, r1, r2, r1 / r2,
            (g1 == "" ? "-" : g1), (g2 == "" ? "-" : g2), cell(p, "%.2f"), (p == "" ? "-" : sprintf("%.2fx", p / r2))
    }

    if ("collected" in fresh) {
        printf "\nC after B: a config-C RNN (float64, rnn.nn.RNN + rnn.optim.SGD), CPU ms per step over 20 steps, 1 thread:\n"
        printf "fresh (before anything else ran) against right after a config-B LSTM was built, trained 3 steps and\n"
        printf "dropped, with collectgarbage() (as rnn.experiment between runs) and without (medians; target: within 10%%)\n"
        printf "and minor page faults per step, mean over the batches (load does not blur them)\n"
        printf "%-12s %10s %10s %8s %13s %13s\n", "after B", "C fresh", "C after B", "ratio", "faults fresh",
            "faults after"
        split("collected uncollected", kinds, " ")
        for (i = 1; i <= 2; i++)
            if (kinds[i] in fresh)
                printf "%-12s %10.3f %10.3f %7.2fx %13.1f %13.1f\n", kinds[i], fresh[kinds[i]], after[kinds[i]],
                    after[kinds[i]] / fresh[kinds[i]], ffresh[kinds[i]], fafter[kinds[i]]
    }
    printf "\nLSTM cell loop over T, forward + backward, 1 thread: rnn.nn.LSTMCell looped in Lua (cell), the same step\n"
    printf "written with tape ops in Lua (ops), nn.LSTMCell looped in Python (torch); fused: the lstm row above\n"
    printf "%-7s %3s %10s %10s %10s %12s %12s %12s\n", "dtype", "cfg", "cell ms", "ops ms", "torch ms", "torch/cell",
        "cell/fused", "ops/fused"
    for (d = 1; d <= 2; d++) for (c = 1; c <= 3; c++) {
        k = dts[d] " " cfgs[c] " 1"
        if (!(("rnnlua-nncell " k) in ms)) continue
        r = ms["rnnlua-nncell " k]; o = ms["rnnlua-cell " k]; p = ms["torch-cell " k]; f = ms["rnnlua lstm " k]
        printf "%-7s %3s %10.2f %10s %10s %12s %12s %12s\n", dts[d], cfgs[c], r, cell(o, "%.2f"), cell(p, "%.2f"),
            (p == "" ? "-" : sprintf("%.2fx", p / r)), (f == "" ? "-" : sprintf("%.2fx", r / f)),
            (f == "" || o == "" ? "-" : sprintf("%.2fx", o / f))
    }
    printf "\npeak memory of a training step on B, 1 thread, own process (MB; base = VmRSS before the step, peak = VmHWM)\n"
    printf "%-8s %-7s %10s %10s %10s %10s %10s %10s %14s\n", "mode", "dtype", "rnn base", "rnn peak", "rnn step",
        "torch base", "torch peak", "torch step", "step rnn/torch"
    for (m = 1; m <= nm; m++) for (d = 1; d <= 2; d++) {
        k = modes[m] " " dts[d]
        if (!(("rnnlua " k) in peak)) continue
        rb = base["rnnlua " k] / 1024; rp = peak["rnnlua " k] / 1024
        tb = base["torch " k]; tp = peak["torch " k]
        if (tb != "") { tb /= 1024; tp /= 1024 }
        printf "%-8s %-7s %10.1f %10.1f %10.1f %10s %10s %10s %14s\n", modes[m], dts[d], rb, rp, rp - rb,
            cell(tb, "%.1f"), cell(tp, "%.1f"), (tb == "" ? "-" : sprintf("%.1f", tp - tb)),
            (tb == "" ? "-" : sprintf("%.2fx", (rp - rb) / (tp - tb)))
    }
}' "$out"

# ------------------------------------------------------------------------
# 4. Data-parallel training over MPI (rnn.distributed): samples per second
#    of 2 ranks x 1 thread (batch 32 each) against 1 process x 1 thread
#    (batch 64) on an LSTM of config B, forward + backward +
#    average_gradients + Adam step (bench/data_parallel.sh, which runs
#    experiments/data_parallel.lua under mpirun).
echo
if command -v mpirun >/dev/null 2>&1; then
    sh bench/data_parallel.sh "$repeats"
else
    echo "data parallel over MPI: mpirun not found (Debian: openmpi-bin), skipped"
fi

# ------------------------------------------------------------------------
# 5. A sweep on every core (rnn.experiment --jobs): 16 small runs with
#    --jobs 1 and --jobs 2, wall time of the whole command, and whether the
#    files are the same (bench/sweep.sh).
echo
sh bench/sweep.sh ./rnnlua
