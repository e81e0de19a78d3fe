"""The tape's cost seen from Python in PyTorch, beside bench/autograd.lua.
    python3 bench/autograd_torch.py REPEATS
prints "torch CASE MICROSECONDS" (median of REPEATS batches)."""
import sys
import time

import torch

repeats = int(sys.argv[1])
torch.set_num_threads(1)
a = torch.tensor([1.5], requires_grad=True)
b = torch.tensor([2.0])


def median_us(iters, body):
    body(iters // 10)
    r = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        body(iters)
        r.append((time.perf_counter() - t0) / iters * 1e6)
    r.sort()
    return r[repeats // 2]


def adds(n):
    for _ in range(n):
        a + b


def adds_plain(n):
    with torch.no_grad():
        adds(n)


def graph5(n):
    for _ in range(n):
        y = ((a * b + b).tanh() * a).sum()
        y.backward()


print(f"torch add_grad {median_us(200000, adds):.4f}")
print(f"torch add_plain {median_us(200000, adds_plain):.4f}")
print(f"torch graph5 {median_us(50000, graph5):.4f}")
