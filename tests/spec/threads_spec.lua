-- The fused recurrent layers over threads: a forward and backward gives the
-- same values run to run at 2 threads and the same as at 1 and 3 threads.
-- Guaranteed by the design (core/gemm.h, core/rnn.c): the products split the
-- output by rows or column panels and never a sum, a time step splits the
-- batch rows (each row's product, gates and state computed as on one
-- thread), and the bias gradients are summed by columns in a fixed order.
-- The sizes split the time steps at 2 threads (rows of the batch: H 128,
-- B 64), the bias sums, and the larger whole-sequence products (the
-- gradient of W_hh: (G·H,128) over T·B = 768 rows). "Same" is checked as
-- a largest absolute difference of exactly 0.
local rnn = require 'rnn'

local MODES = {rnn_tanh = 1, rnn_relu = 1, lstm = 4, gru = 3}
local T, B, I, H = 12, 64, 32, 128

local function run(mode, dtype, threads, lengths)
  rnn.set_num_threads(threads)
  rnn.manual_seed(7)
  local GH = MODES[mode] * H
  local function u(shape) return (rnn.rand(shape, dtype) * 0.4 - 0.2):requires_grad(true) end
  local x = rnn.randn({T, B, I}, dtype):requires_grad(true)
  local h0 = (rnn.randn({B, H}, dtype) * 0.5):requires_grad(true)
  local c0 = mode == 'lstm' and (rnn.randn({B, H}, dtype) * 0.5):requires_grad(true) or nil
  local w_ih, w_hh, b_ih, b_hh = u({GH, I}), u({GH, H}), u({GH}), u({GH})
  local G = rnn.randn({T, B, H}, dtype)
  local out, h_n = rnn._recurrent(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, false, lengths)
  out:backward(G)
  local r = {out = out:detach(), h_n = h_n:detach(), x = x.grad, h0 = h0.grad, w_ih = w_ih.grad,
             w_hh = w_hh.grad, b_ih = b_ih.grad, b_hh = b_hh.grad, c0 = c0 and c0.grad}
  return r
end

local function same(a, b, what)
  for k, v in pairs(a) do
    local d = (v - b[k]):abs():max():item()
    assert(d == 0, string.format('%s: %s differs by %.3g', what, k, d))
  end
end

describe('fused recurrent layers over threads', function()
  local saved
  setup(function() saved = rnn.get_num_threads() end)
  teardown(function() rnn.set_num_threads(saved) end)

  for _, dtype in ipairs{'float32', 'float64'} do
    for mode in pairs(MODES) do
      it(mode .. ' ' .. dtype .. ': the same values run to run at 2 threads and at 1, 2 and 3', function()
        local r1 = run(mode, dtype, 1)
        local r2 = run(mode, dtype, 2)
        local r2b = run(mode, dtype, 2)
        local r3 = run(mode, dtype, 3)
        same(r2, r2b, '2 threads, run to run')
        same(r1, r2, '1 and 2 threads')
        same(r1, r3, '1 and 3 threads')
      end)
    end
  end

  it('lstm with sequences of different lengths: the same at 1 and 2 threads', function()
    local len = {}
    for b = 1, B do len[b] = (b * 5) % T + 1 end
    local lengths = rnn.tensor(len, 'int64')
    same(run('lstm', 'float32', 1, lengths), run('lstm', 'float32', 2, lengths), 'lengths, 1 and 2 threads')
  end)
end)
