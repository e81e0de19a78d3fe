-- Elementwise work at 1 and at 2 threads, in this one process, the thread
-- counts alternating batch by batch (rnn.set_num_threads before each):
--
--   rnnlua bench/elementwise.lua [REPEATS [CASES]]
--     prints "rnnlua elementwise CASE MS_1T MS_2T" (medians over REPEATS
--     batches, default 7, each batch about 0.1 s per thread count), CASE in
--     CASES (comma-separated, default all):
--       chain       y = ((x * 2 + 1):tanh() * x):sigmoid(), x float32 (4M)
--       chain_bwd   the same on the tape, then y:sum():backward()
--       add         x + x (4M float32, memory-bound)
--       sum         x:sum() (4M float32)
--       sum_dim     x:sum(1) of a (2048, 2048) float32 (a bias gradient's shape)
--       adam_B      one Adam step over the parameters of a config-B LSTM
--                   (I 128, H 512: w_ih (2048,128), w_hh (2048,512), two
--                   biases; 1.3M float32), gradients fixed
--   rnnlua bench/elementwise.lua sizes [REPEATS]
--     the grains of core/iter.h at work: "rnnlua elementwise size OP DTYPE N
--     US_1T US_2T" for add, tanh and exp on N from 4K to 1M elements
--     (below twice the op's grain the two columns run the same code on one
--     thread), back to back (the workers spinning between calls)
--
-- The thread count is restored at the end. Nothing here is asserted: the
-- speed depends on the machine and what else runs on it (say which when
-- quoting: `uptime`).
local rnn = require 'rnn'

local N = 4 * 1024 * 1024

local cases = {}

cases.chain = function()
  local x = rnn.randn({N}, 'float32')
  return function() return ((x * 2 + 1):tanh() * x):sigmoid() end
end

cases.chain_bwd = function()
  local x = rnn.randn({N}, 'float32'):requires_grad(true)
  return function()
    local y = ((x * 2 + 1):tanh() * x):sigmoid()
    y:sum():backward()
    x.grad = nil
  end
end

cases.add = function()
  local x = rnn.randn({N}, 'float32')
  return function() return x + x end
end

cases.sum = function()
  local x = rnn.randn({N}, 'float32')
  return function() return x:sum() end
end

cases.sum_dim = function()
  local x = rnn.randn({2048, 2048}, 'float32')
  return function() return x:sum(1) end
end

cases.adam_B = function()
  local I, H = 128, 512
  local ps = {
    rnn.randn({4 * H, I}, 'float32'):requires_grad(true),
    rnn.randn({4 * H, H}, 'float32'):requires_grad(true),
    rnn.randn({4 * H}, 'float32'):requires_grad(true),
    rnn.randn({4 * H}, 'float32'):requires_grad(true),
  }
  for _, p in ipairs(ps) do p.grad = rnn.randn(p:shape(), 'float32') * 1e-3 end
  local opt = rnn.optim.Adam(ps, {lr = 1e-3})
  return function() opt:step() end
end

local ORDER = {'chain', 'chain_bwd', 'add', 'sum', 'sum_dim', 'adam_B'}

-- ms per call of fn over a batch of `iters` calls
local function batch(fn, iters)
  local t0 = rnn.clock()
  for _ = 1, iters do fn() end
  return (rnn.clock() - t0) / iters * 1e3
end

local function median(r)
  table.sort(r)
  return r[#r // 2 + 1]
end

local function run(name, repeats)
  local fn = cases[name]()
  -- warm-up at each thread count (fresh pages, workers started), and the
  -- batch size from the one-thread time
  rnn.set_num_threads(2)
  batch(fn, 3)
  rnn.set_num_threads(1)
  batch(fn, 3)
  local one = batch(fn, 1)
  local iters = math.max(1, math.floor(100 / one + 0.5))
  local r1, r2 = {}, {}
  for k = 1, repeats do
    rnn.set_num_threads(1)
    r1[k] = batch(fn, iters)
    rnn.set_num_threads(2)
    r2[k] = batch(fn, iters)
  end
  collectgarbage()
  return median(r1), median(r2)
end

local function sizes(repeats)
  local ops = {
    add = function(x) return x + x end,
    tanh = function(x) return x:tanh() end,
    exp = function(x) return x:exp() end,
  }
  for _, dtype in ipairs{'float32', 'float64'} do
    for _, op in ipairs{'add', 'tanh', 'exp'} do
      local n = 4096
      while n <= 1024 * 1024 do
        local x, f = rnn.randn({n}, dtype), ops[op]
        local fn = function() return f(x) end
        rnn.set_num_threads(2)
        batch(fn, 20)
        rnn.set_num_threads(1)
        local iters = math.max(10, math.floor(20 / batch(fn, 20) + 0.5))
        local r1, r2 = {}, {}
        for k = 1, repeats do
          rnn.set_num_threads(1)
          r1[k] = batch(fn, iters)
          rnn.set_num_threads(2)
          r2[k] = batch(fn, iters)
        end
        print(string.format('rnnlua elementwise size %s %s %d %.1f %.1f', op, dtype, n,
          median(r1) * 1e3, median(r2) * 1e3))
        n = n * 2
      end
    end
  end
end

if arg and arg[1] == 'sizes' then
  local saved = rnn.get_num_threads()
  sizes(tonumber(arg[2]) or 7)
  rnn.set_num_threads(saved)
  return
end

local repeats = tonumber(arg and arg[1]) or 7
local want = ORDER
if arg and arg[2] then
  want = {}
  for c in arg[2]:gmatch('[^,]+') do
    if not cases[c] then error('bench/elementwise.lua: unknown case ' .. c, 0) end
    want[#want + 1] = c
  end
end

local saved = rnn.get_num_threads()
for _, name in ipairs(want) do
  local m1, m2 = run(name, repeats)
  print(string.format('rnnlua elementwise %s %.3f %.3f', name, m1, m2))
end
rnn.set_num_threads(saved)
