-- rnn.matmul GFLOP/s, the rnnlua side of bench/run.sh.
--   rnnlua bench/matmul.lua THREADS REPEATS
-- prints "rnnlua DTYPE N TRANS GFLOPS" (median of REPEATS batches); TRANS NT
-- multiplies by a transposed view, which must reach BLAS without a copy.
local rnn = require 'rnn'
local threads, repeats = tonumber(arg[1]) or 1, tonumber(arg[2]) or 5
rnn.set_num_threads(threads)
rnn.manual_seed(0)

local function rate(dtype, n, trans)
  local a = rnn.randn({n, n}, dtype)
  local b = rnn.randn({n, n}, dtype)
  local rhs = trans and b:t() or b
  rnn.matmul(a, rhs)
  local iters = 1
  while true do
    local t0 = rnn.clock()
    for _ = 1, iters do rnn.matmul(a, rhs) end
    if rnn.clock() - t0 > 0.1 then break end
    iters = iters * 2
  end
  local r = {}
  for k = 1, repeats do
    local t0 = rnn.clock()
    for _ = 1, iters do rnn.matmul(a, rhs) end
    r[k] = 2 * n ^ 3 * iters / (rnn.clock() - t0) / 1e9
  end
  table.sort(r)
  return r[repeats // 2 + 1]
end

for _, dtype in ipairs{'float32', 'float64'} do
  for _, n in ipairs{128, 512, 1024} do
    for _, trans in ipairs{false, true} do
      print(string.format('rnnlua %s %d %s %.2f', dtype, n, trans and 'NT' or 'NN', rate(dtype, n, trans)))
    end
  end
end
