"""One training step of torch.nn.RNN/LSTM/GRU, the PyTorch side of the
recurrent section of bench/run.sh, beside bench/recurrent.lua.

    python3 bench/recurrent_torch.py THREADS REPEATS [CELLS]
        prints "torch step MODE DTYPE CFG THREADS MS" and
        "torch cell lstm DTYPE CFG THREADS MS" (a loop over T of nn.LSTMCell)
        for the configurations in CELLS (comma-separated; default A,C; 0: none)
    python3 bench/recurrent_torch.py probe THREADS
        prints the median ms of an LSTM float32 step on A (run.sh uses it to
        pick OpenMP's wait policy at THREADS > 1, whichever is faster)
    python3 bench/recurrent_torch.py mem MODE DTYPE STEPS
        prints "torch mem MODE DTYPE B BASE_KB PEAK_KB" (VmRSS before the
        first step, VmHWM after the last, from /proc/self/status)

The same steps as bench/recurrent.lua: one layer, one direction, weights
with torch's default initialisation, x requiring its gradient, a zero
initial state, loss = sum(out * G) for a fixed random G, backward, the
gradients cleared (set to None). MS: the median over REPEATS batches of the
time per step (batches of about 0.1 s, after one warm-up step; fewer
batches, at least 3, when a case would pass ~2 s, ~4 s on configuration B).

PyTorch gets its best setting: run.sh exports OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS (set here too, before torch is imported, when missing)
and glibc's MALLOC_MMAP_THRESHOLD_=1073741824
MALLOC_TRIM_THRESHOLD_=4294967296, and the script calls
torch.set_num_threads."""
import math
import os
import sys

if len(sys.argv) > 1 and sys.argv[1] not in ("mem", "probe"):
    os.environ.setdefault("OMP_NUM_THREADS", sys.argv[1])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", sys.argv[1])
elif len(sys.argv) > 2 and sys.argv[1] == "probe":
    os.environ.setdefault("OMP_NUM_THREADS", sys.argv[2])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", sys.argv[2])
else:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import torch  # noqa: E402

CONFIGS = {
    "A": dict(I=64, H=128, B=32, T=100),
    "B": dict(I=128, H=512, B=64, T=50),
    "C": dict(I=1, H=128, B=1, T=200),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def budget(name):
    """seconds per case (at least 3 batches are run whatever it takes)"""
    return 4 if name == "B" else 2


def make_module(mode, dtype, cfg):
    I, H = cfg["I"], cfg["H"]
    if mode == "rnn_tanh":
        m = torch.nn.RNN(I, H, nonlinearity="tanh")
    elif mode == "lstm":
        m = torch.nn.LSTM(I, H)
    elif mode == "gru":
        m = torch.nn.GRU(I, H)
    else:
        raise ValueError(mode)
    return m.to(dtype)


class Setup:
    def __init__(self, mode, dtype, cfg, cell=False):
        T, B, I, H = cfg["T"], cfg["B"], cfg["I"], cfg["H"]
        self.x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
        self.G = torch.randn(T, B, H, dtype=dtype)
        if cell:
            self.m = torch.nn.LSTMCell(I, H).to(dtype)
            self.h0 = torch.zeros(B, H, dtype=dtype)
            self.c0 = torch.zeros(B, H, dtype=dtype)
        else:
            self.m = make_module(mode, dtype, cfg)


def step(s):
    out, _ = s.m(s.x)
    loss = (out * s.G).sum()
    loss.backward()
    s.m.zero_grad(set_to_none=True)
    s.x.grad = None


def cell_step(s):
    h, c = s.h0, s.c0
    hs = []
    for t in range(s.x.shape[0]):
        h, c = s.m(s.x[t], (h, c))
        hs.append(h)
    loss = (torch.stack(hs) * s.G).sum()
    loss.backward()
    s.m.zero_grad(set_to_none=True)
    s.x.grad = None


def time_ms(fn, s, repeats, budget):
    """median ms per step over `repeats` batches of about 0.1 s; fewer
    batches (at least 3) when they would take more than `budget` seconds;
    warm-up as in recurrent.lua: at least 3 calls and 0.2 s, the last one
    timed to size the batches"""
    start = time.perf_counter()
    calls = 0
    while True:
        t0 = time.perf_counter()
        fn(s)
        one = time.perf_counter() - t0
        calls += 1
        if calls >= 3 and time.perf_counter() - start >= min(0.2, budget / 4):
            break
    iters = max(1, int(math.floor(0.1 / one + 0.5)))
    repeats = max(min(3, repeats), min(repeats, int(budget / (one * iters))))
    r = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn(s)
        r.append((time.perf_counter() - t0) / iters * 1e3)
    r.sort()
    return r[len(r) // 2]


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main():
    if sys.argv[1] == "probe":
        torch.set_num_threads(int(sys.argv[2]))
        torch.manual_seed(0)
        print(f"{time_ms(step, Setup('lstm', torch.float32, CONFIGS['A']), 5, 2):.4f}")
        return
    if sys.argv[1] == "mem":
        mode, dtype, steps = sys.argv[2], sys.argv[3], int(sys.argv[4])
        torch.set_num_threads(1)
        torch.manual_seed(0)
        s = Setup(mode, DTYPES[dtype], CONFIGS["B"])
        base = status_kb("VmRSS")
        for _ in range(steps):
            step(s)
        print(f"torch mem {mode} {dtype} B {base} {status_kb('VmHWM')}")
        return

    threads, repeats = int(sys.argv[1]), int(sys.argv[2])
    cells = sys.argv[3] if len(sys.argv) > 3 else "A,C"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for mode in ("rnn_tanh", "lstm", "gru"):
        for dtype in DTYPES:
            for name in ("A", "B", "C"):
                s = Setup(mode, DTYPES[dtype], CONFIGS[name])
                ms = time_ms(step, s, repeats, budget(name))
                print(f"torch step {mode} {dtype} {name} {threads} {ms:.4f}", flush=True)
    for dtype in DTYPES:
        for name in cells.split(","):
            if not name or name == "0":
                continue
            s = Setup("lstm", DTYPES[dtype], CONFIGS[name], cell=True)
            ms = time_ms(cell_step, s, repeats, budget(name))
            print(f"torch cell lstm {dtype} {name} {threads} {ms:.4f}", flush=True)

if __name__ == "__main__":
    main()
