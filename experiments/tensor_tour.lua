-- A short tour of rnnlua's tensors: creation, broadcasting, reductions,
-- views and a matrix product timed against the machine's BLAS.
-- Run: rnnlua experiments/tensor_tour.lua
local rnn = require 'rnn'

rnn.manual_seed(42)
local x = rnn.randn{3, 4}
print('x = rnn.randn{3, 4}')
print(x)

local b = rnn.tensor{1, 2, 3, 4}
print('\nx + b broadcasts b over the rows:')
print(x + b)

print('\nsum over dim 2, mean of everything:')
print(x:sum(2))
print(x:mean():item())

print('\nx:t() is a view (no copy): stride', table.concat(x:t():stride(), ','))

local n = 512
local a, c = rnn.randn{n, n}, rnn.randn{n, n}
rnn.matmul(a, c)
local t0 = rnn.clock()
local reps = 10
for _ = 1, reps do rnn.matmul(a, c:t()) end
local dt = (rnn.clock() - t0) / reps
print(string.format('\nmatmul %dx%d float32 (transposed operand): %.2f ms, %.1f GFLOP/s (%d threads)',
  n, n, dt * 1e3, 2 * n ^ 3 / dt / 1e9, rnn.get_num_threads()))
