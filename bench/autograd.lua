-- The tape's cost seen from Lua, the rnnlua side of bench/run.sh.
--   rnnlua bench/autograd.lua REPEATS
-- prints "rnnlua CASE MICROSECONDS" (median of REPEATS batches):
--   add_grad   one recorded add of one-element tensors (a requires grad)
--   add_plain  the same add under no_grad
--   graph5     forward and backward of a 5-op graph of one-element tensors
local rnn = require 'rnn'
local repeats = tonumber(arg[1]) or 5
rnn.set_num_threads(1)

local a = rnn.tensor{1.5}:requires_grad(true)
local b = rnn.tensor{2.0}

local function median_us(iters, body)
  local r = {}
  body(iters // 10) -- warm up
  for k = 1, repeats do
    local t0 = rnn.clock()
    body(iters)
    r[k] = (rnn.clock() - t0) / iters * 1e6
  end
  table.sort(r)
  return r[repeats // 2 + 1]
end

local function adds(n) for _ = 1, n do local _ = a + b end end

print(string.format('rnnlua add_grad %.4f', median_us(1000000, adds)))
print(string.format('rnnlua add_plain %.4f', median_us(1000000, function(n) rnn.no_grad(adds, n) end)))
print(string.format('rnnlua graph5 %.4f', median_us(200000, function(n)
  for _ = 1, n do
    local y = ((a * b + b):tanh() * a):sum()
    y:backward()
  end
end)))
