-- One training step of the fused recurrent layers, the rnnlua side of the
-- recurrent section of bench/run.sh (bench/recurrent_torch.py is the other).
--
--   rnnlua bench/recurrent.lua THREADS REPEATS [CELLS]
--     prints "rnnlua step MODE DTYPE CFG THREADS MS" for MODE rnn_tanh, lstm,
--     gru; DTYPE float32, float64; CFG A, B, C; and
--     "rnnlua cell lstm DTYPE CFG THREADS MS" for a hand-written LSTM cell
--     looped over T in Lua on the tape (and "rnnlua nncell ..." through
--     rnn.nn.LSTMCell when it exists), CFG in CELLS (comma-separated,
--     default A,B,C; 0: none).
--   rnnlua bench/recurrent.lua pair REPEATS
--     every step case at 1 and at 2 threads in this one process, batches
--     alternating: "rnnlua pair MODE DTYPE CFG MS_1T MS_2T" (medians)
--   rnnlua bench/recurrent.lua threads REPEATS
--     the rows of make bench's thread table, at 1 and at 2 threads in this
--     one process, batches alternating: training steps (as below) of lstm
--     and gru float32 on B and A, rnn_tanh float64 and lstm float32 on C,
--     and an elementwise chain on 4M float32 elements (chain_fwd:
--     z = tanh(sigmoid(x)·x) + exp(x)·0.5, six ops, no tape; chain_fwdbwd:
--     the same with x requiring its gradient, then sum(z):backward());
--     prints "rnnlua threads ROW DTYPE CFG MS_1T MS_2T" (medians)
--   rnnlua bench/recurrent.lua after_b REPEATS
--     a config-C RNN's training step before and right after a config-B
--     LSTM trained in the same process (see the mode's comment)
--   rnnlua bench/recurrent.lua mem MODE DTYPE STEPS
--     runs STEPS training steps on configuration B and prints
--     "rnnlua mem MODE DTYPE B BASE_KB PEAK_KB": VmRSS before the first step
--     and VmHWM (peak resident set) after the last, from /proc/self/status.
--
-- A training step: out, h_n[, c_n] = rnn._recurrent(mode, x, h0, c0, w_ih,
-- w_hh, b_ih, b_hh) for one layer, one direction; loss = sum(out * G) for a
-- fixed random G; loss:backward(); the gradients cleared (w.grad = nil). The
-- weights and x require gradients, h0 (and c0) are zeros that do not (as
-- PyTorch's default state). MS: median over REPEATS batches of the time per
-- step, each batch about 0.1 s long, after one warm-up step (fewer batches,
-- but at least 3, when a case would pass ~2 s, ~4 s on configuration B).
local rnn = require 'rnn'

local CONFIGS = {
  A = {I = 64, H = 128, B = 32, T = 100},
  B = {I = 128, H = 512, B = 64, T = 50},
  C = {I = 1, H = 128, B = 1, T = 200},
}
local GATES = {rnn_tanh = 1, rnn_relu = 1, lstm = 4, gru = 3}

-- torch's default initialisation, U(-1/sqrt(H), 1/sqrt(H))
local function uniform(shape, k, dtype)
  return (rnn.rand(shape, dtype) * (2 * k) - k):requires_grad(true)
end

local function setup(mode, dtype, cfg)
  local I, H, B, T, GH = cfg.I, cfg.H, cfg.B, cfg.T, GATES[mode] * cfg.H
  local k = 1 / math.sqrt(H)
  local s = {
    mode = mode,
    x = rnn.randn({T, B, I}, dtype):requires_grad(true),
    h0 = rnn.zeros({B, H}, dtype),
    c0 = mode == 'lstm' and rnn.zeros({B, H}, dtype) or nil,
    G = rnn.randn({T, B, H}, dtype),
    w_ih = uniform({GH, I}, k, dtype),
    w_hh = uniform({GH, H}, k, dtype),
    b_ih = uniform({GH}, k, dtype),
    b_hh = uniform({GH}, k, dtype),
  }
  s.params = {s.x, s.w_ih, s.w_hh, s.b_ih, s.b_hh}
  return s
end

local function step(s)
  local out = rnn._recurrent(s.mode, s.x, s.h0, s.c0, s.w_ih, s.w_hh, s.b_ih, s.b_hh, false, nil)
  local loss = (out * s.G):sum()
  loss:backward()
  for _, p in ipairs(s.params) do p.grad = nil end
end

-- the same step as a loop over T of an LSTM cell written with tape ops:
-- gates = x_t W_ih^T + h W_hh^T + (b_ih + b_hh); i, f, g, o narrowed out
local function cell_step(s)
  local H, T = s.w_hh:size(2), s.x:size(1)
  local wih, whh = s.w_ih:t(), s.w_hh:t()
  local b = s.b_ih + s.b_hh
  local h, c = s.h0, s.c0
  local hs = {}
  for t = 1, T do
    local gates = rnn.matmul(s.x[t], wih) + rnn.matmul(h, whh) + b
    local i = gates:narrow(2, 1, H):sigmoid()
    local f = gates:narrow(2, H + 1, H):sigmoid()
    local g = gates:narrow(2, 2 * H + 1, H):tanh()
    local o = gates:narrow(2, 3 * H + 1, H):sigmoid()
    c = f * c + i * g
    h = o * c:tanh()
    hs[t] = h
  end
  local loss = (rnn.stack(hs, 1) * s.G):sum()
  loss:backward()
  for _, p in ipairs(s.params) do p.grad = nil end
end

-- the same loop through rnn.nn.LSTMCell (whose own parameters are used)
local function nncell_setup(dtype, cfg)
  local s = setup('lstm', dtype, cfg)
  s.cell = rnn.nn.LSTMCell{input_size = cfg.I, hidden_size = cfg.H, dtype = dtype}
  s.params = {s.x}
  for _, p in ipairs(s.cell:parameters()) do s.params[#s.params + 1] = p end
  return s
end

local function nncell_step(s)
  local h, c = s.h0, s.c0
  local hs = {}
  for t = 1, s.x:size(1) do
    h, c = s.cell(s.x[t], {h = h, c = c})
    hs[t] = h
  end
  local loss = (rnn.stack(hs, 1) * s.G):sum()
  loss:backward()
  for _, p in ipairs(s.params) do p.grad = nil end
end

-- median ms per step over `repeats` batches of about 0.1 s; fewer batches
-- (at least 3) when they would take more than `budget` seconds. Warm-up:
-- at least 3 calls and 0.2 s, the last one timed to size the batches (the
-- first steps of a case run on fresh memory, whose first touch costs a
-- page fault per 4 KiB, about 16 µs on the virtual machines measured here:
-- a first step of rnn_tanh float64 on A took 106 ms, then 24, 37, 11, 11,
-- which made that row bimodal when the warm-up was one call)
local function time_ms(fn, s, repeats, budget, warm_calls)
  local start, one = rnn.clock(), nil
  local calls = 0
  warm_calls = warm_calls or 3
  repeat
    local t0 = rnn.clock()
    fn(s)
    one = rnn.clock() - t0
    calls = calls + 1
  until calls >= warm_calls and rnn.clock() - start >= math.min(0.2, budget / 4)
  local iters = math.max(1, math.floor(0.1 / one + 0.5))
  repeats = math.max(math.min(3, repeats), math.min(repeats, math.floor(budget / (one * iters))))
  local r = {}
  for k = 1, repeats do
    local t0 = rnn.clock()
    for _ = 1, iters do fn(s) end
    r[k] = (rnn.clock() - t0) / iters * 1e3
  end
  table.sort(r)
  return r[#r // 2 + 1]
end

local function status_kb(field)
  local f = assert(io.open('/proc/self/status'))
  local text = f:read('a')
  f:close()
  return tonumber(text:match(field .. ':%s*(%d+)'))
end

if arg[1] == 'mem' then
  local mode, dtype, steps = arg[2] or 'lstm', arg[3] or 'float32', tonumber(arg[4]) or 3
  rnn.set_num_threads(1)
  rnn.manual_seed(0)
  local s = setup(mode, dtype, CONFIGS.B)
  collectgarbage()
  local base = status_kb('VmRSS')
  for _ = 1, steps do step(s) end
  print(string.format('rnnlua mem %s %s B %d %d', mode, dtype, base, status_kb('VmHWM')))
  return
end

if arg[1] == 'threads' then
  local repeats = tonumber(arg[2]) or 5
  local N = 4 * 1024 * 1024
  local function chain(x) return (x:sigmoid() * x):tanh() + x:exp() * 0.5 end
  local rows = {
    {'lstm', 'float32', 'B'}, {'gru', 'float32', 'B'}, {'lstm', 'float32', 'A'}, {'gru', 'float32', 'A'},
    {'rnn_tanh', 'float64', 'C'}, {'lstm', 'float32', 'C'},
    {'chain_fwd', 'float32', '4M', setup = function() return {x = rnn.randn({N})} end,
     step = function(s) chain(s.x) end},
    {'chain_fwdbwd', 'float32', '4M', setup = function() return {x = rnn.randn({N}):requires_grad(true)} end,
     step = function(s) chain(s.x):sum():backward(); s.x.grad = nil end},
  }
  rnn.manual_seed(0)
  for _, row in ipairs(rows) do
    local name, dtype, cfg = row[1], row[2], row[3]
    local s = row.setup and row.setup() or setup(name, dtype, CONFIGS[cfg])
    local fn = row.step or step
    local r1, r2 = {}, {}
    time_ms(fn, s, 1, 0) -- the warm-up of the case; then one call before each batch
    for k = 1, repeats do
      rnn.set_num_threads(1)
      r1[k] = time_ms(fn, s, 1, 0, 1)
      rnn.set_num_threads(2)
      r2[k] = time_ms(fn, s, 1, 0, 1)
    end
    table.sort(r1)
    table.sort(r2)
    print(string.format('rnnlua threads %s %s %s %.4f %.4f', name, dtype, cfg, r1[#r1 // 2 + 1], r2[#r2 // 2 + 1]))
    io.stdout:flush()
    s = nil -- luacheck: ignore
    collectgarbage()
  end
  return
end

if arg[1] == 'after_b' then
  -- a config-C RNN (float64) trained by rnn.optim.SGD through rnn.nn.RNN:
  -- "fresh", REPEATS batches of BATCH steps before anything else ran in
  -- the process (after a warm-up); "collected", a batch right after a
  -- config-B LSTM (float32, rnn.nn.LSTM, SGD) was built, trained B_STEPS
  -- steps, dropped and collectgarbage() run, as rnn.experiment does between
  -- runs, REPEATS times; "uncollected", the same without the collection.
  -- Prints "rnnlua after_b KIND FRESH_MS AFTER_MS FRESH_FAULTS AFTER_FAULTS"
  -- (times: medians; faults: minor page faults per step, the mean).
  local repeats = tonumber(arg[2]) or 5
  local BATCH, B_STEPS = 20, 3
  rnn.set_num_threads(1)
  rnn.manual_seed(0)
  local function model(kind, dtype, cfg)
    local s = {m = rnn.nn[kind]{input_size = cfg.I, hidden_size = cfg.H, dtype = dtype},
               x = rnn.randn({cfg.T, cfg.B, cfg.I}, dtype), G = rnn.randn({cfg.T, cfg.B, cfg.H}, dtype)}
    s.opt = rnn.optim.SGD(s.m, {lr = 1e-4})
    return s
  end
  local function train(s)
    s.opt:zero_grad()
    local loss = (s.m(s.x) * s.G):sum()
    loss:backward()
    s.opt:step()
  end
  -- CPU time (os.clock: user + system, page faults included) rather than
  -- wall time: one thread, and on a shared machine the wall clock also
  -- counts the time other processes held the core
  -- and the minor page faults per step (/proc/self/stat), which load does
  -- not blur: garbage piling up onto fresh pages shows there first
  local function minflt()
    local f = io.open('/proc/self/stat')
    if not f then return 0 end
    local text = f:read('a')
    f:close()
    return tonumber(text:match('%)%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(%d+)')) or 0
  end
  local faults = {}
  local function batch(s)
    local f0, t0 = minflt(), os.clock()
    for _ = 1, BATCH do train(s) end
    local ms = (os.clock() - t0) / BATCH * 1e3
    faults[#faults + 1] = (minflt() - f0) / BATCH
    return ms
  end
  local function median(t) table.sort(t) return t[#t // 2 + 1] end
  local c = model('RNN', 'float64', CONFIGS.C)
  time_ms(train, c, 1, 0) -- warm-up
  local fresh = {}
  for k = 1, repeats do fresh[k] = batch(c) end
  -- faults: the mean, since only the first batches after a change may
  -- fault (the storage pool then recycles the pages)
  local function mean(t) local x = 0 for _, v in ipairs(t) do x = x + v end return x / #t end
  local t_fresh, f_fresh = median(fresh), mean(faults)
  for _, kind in ipairs{'collected', 'uncollected'} do
    local after = {}
    faults = {}
    for k = 1, repeats do
      local b = model('LSTM', 'float32', CONFIGS.B)
      for _ = 1, B_STEPS do train(b) end
      b = nil -- luacheck: ignore (dropped before the collection)
      if kind == 'collected' then collectgarbage() end
      after[k] = batch(c)
    end
    print(string.format('rnnlua after_b %s %.4f %.4f %.1f %.1f', kind, t_fresh, median(after), f_fresh,
                        mean(faults)))
    io.stdout:flush()
  end
  return
end

if arg[1] == 'pair' then
  -- 1 and 2 threads in one process, batches alternating, so that the ratio
  -- is not a comparison of two processes minutes apart on a shared machine:
  -- prints "rnnlua pair MODE DTYPE CFG MS_1T MS_2T"
  local repeats = tonumber(arg[2]) or 5
  rnn.manual_seed(0)
  for _, mode in ipairs{'rnn_tanh', 'lstm', 'gru'} do
    for _, dtype in ipairs{'float32', 'float64'} do
      for _, name in ipairs{'A', 'B', 'C'} do
        local s = setup(mode, dtype, CONFIGS[name])
        local r1, r2 = {}, {}
        time_ms(step, s, 1, 0) -- the warm-up of the case; then one call before each batch
        for k = 1, repeats do
          rnn.set_num_threads(1)
          r1[k] = time_ms(step, s, 1, 0, 1)
          rnn.set_num_threads(2)
          r2[k] = time_ms(step, s, 1, 0, 1)
        end
        table.sort(r1)
        table.sort(r2)
        print(string.format('rnnlua pair %s %s %s %.4f %.4f', mode, dtype, name, r1[#r1 // 2 + 1], r2[#r2 // 2 + 1]))
        io.stdout:flush()
        s = nil
        collectgarbage()
      end
    end
  end
  return
end

local threads, repeats = tonumber(arg[1]) or 1, tonumber(arg[2]) or 5
local cells = {}
for name in (arg[3] or 'A,B,C'):gmatch('[ABC]') do cells[#cells + 1] = name end
-- seconds per case (at least 3 batches are run whatever it takes)
local function budget(name) return name == 'B' and 4 or 2 end
rnn.set_num_threads(threads)
rnn.manual_seed(0)

for _, mode in ipairs{'rnn_tanh', 'lstm', 'gru'} do
  for _, dtype in ipairs{'float32', 'float64'} do
    for _, name in ipairs{'A', 'B', 'C'} do
      local s = setup(mode, dtype, CONFIGS[name])
      local ms = time_ms(step, s, repeats, budget(name))
      print(string.format('rnnlua step %s %s %s %d %.4f', mode, dtype, name, threads, ms))
      io.stdout:flush()
      s = nil
      collectgarbage()
    end
  end
end

for _, dtype in ipairs{'float32', 'float64'} do
  for _, name in ipairs(cells) do
    local s = setup('lstm', dtype, CONFIGS[name])
    print(string.format('rnnlua cell lstm %s %s %d %.4f', dtype, name, threads,
                        time_ms(cell_step, s, repeats, budget(name))))
    io.stdout:flush()
    if rnn.nn.LSTMCell then
      s = nncell_setup(dtype, CONFIGS[name])
      print(string.format('rnnlua nncell lstm %s %s %d %.4f', dtype, name, threads,
                          time_ms(nncell_step, s, repeats, budget(name))))
      io.stdout:flush()
    end
    s = nil
    collectgarbage()
  end
end
