"""torch.matmul GFLOP/s, the PyTorch side of bench/run.sh.
    python3 bench/matmul_torch.py THREADS REPEATS
prints "torch DTYPE N TRANS GFLOPS" (median of REPEATS batches)."""
import sys
import time

import torch

threads, repeats = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)


def rate(dtype, n, trans):
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    rhs = b.t() if trans else b
    torch.matmul(a, rhs)
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, rhs)
        if time.perf_counter() - t0 > 0.1:
            break
        iters *= 2
    r = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, rhs)
        r.append(2 * n**3 * iters / (time.perf_counter() - t0) / 1e9)
    r.sort()
    return r[repeats // 2]


with torch.no_grad():
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        for n in (128, 512, 1024):
            for trans in (False, True):
                print(f"torch {name} {n} {'NT' if trans else 'NN'} {rate(dtype, n, trans):.2f}")
