--- The recurrent equations written with autograd ops, one timestep at a
-- time. The cells (RNNCell, LSTMCell, GRUCell) use the step
-- functions; `recurrent` is the pure-Lua reference of the fused kernel
-- rnn.core._recurrent, with the same signature and semantics. The layers
-- fall back to it when the kernel is absent, and the tests compare the two.
--
-- Equations (PyTorch's; x (B,I), h and c (B,H); W_ih (G·H, I), W_hh (G·H, H),
-- b_ih, b_hh (G·H) with G gate blocks stacked in the order given):
--
--   rnn_tanh, rnn_relu (G = 1):  h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
--   lstm (G = 4, gates i, f, g, o):
--       [i f g o] = x W_ih^T + b_ih + h W_hh^T + b_hh
--       c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
--       h' = sigmoid(o) * tanh(c')
--   gru (G = 3, gates r, z, n):
--       [a_r a_z a_n] = x W_ih^T + b_ih,   [u_r u_z u_n] = h W_hh^T + b_hh
--       r = sigmoid(a_r + u_r),  z = sigmoid(a_z + u_z)
--       n = tanh(a_n + r * u_n)
--       h' = (1 - z) * n + z * h
-- @module rnn.nn.reference
-- @alias R
local core = require 'rnn.core'

local R = {}

--- The number of gate blocks G per mode: rnn_tanh 1, rnn_relu 1, lstm 4,
-- gru 3.
-- @table GATES
R.GATES = {rnn_tanh = 1, rnn_relu = 1, lstm = 4, gru = 3}

-- x W^T + b: one recorded op (core.linear) for a batch of rows, so that a
-- weight used at every step gets its gradient added in place
local function affine(x, w, b)
  if x:dim() == 2 then return core.linear(x, w, b) end
  local y = x:matmul(w:t())
  if b then y = y + b end
  return y
end

--- One step of a tanh or relu RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).
-- @tparam Tensor x (B, I)
-- @tparam Tensor h (B, H)
-- @tparam Tensor w_ih (H, I)
-- @tparam Tensor w_hh (H, H)
-- @tparam ?Tensor b_ih (H) or nil
-- @tparam ?Tensor b_hh (H) or nil
-- @tparam[opt='tanh'] string nonlinearity 'tanh' or 'relu'
-- @treturn Tensor h' (B, H)
function R.rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
  local pre = affine(x, w_ih, b_ih) + affine(h, w_hh, b_hh)
  if nonlinearity == 'relu' then return pre:relu() end
  return pre:tanh()
end

--- One LSTM step (the equations of the module's description).
-- @tparam Tensor x (B, I)
-- @tparam Tensor h (B, H)
-- @tparam Tensor c (B, H)
-- @tparam Tensor w_ih (4H, I), gates i, f, g, o
-- @tparam Tensor w_hh (4H, H)
-- @tparam ?Tensor b_ih (4H) or nil
-- @tparam ?Tensor b_hh (4H) or nil
-- @treturn Tensor h' (B, H)
-- @treturn Tensor c' (B, H)
function R.lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh)
  local H = h:size(-1)
  local d = h:dim()
  local gates = affine(x, w_ih, b_ih) + affine(h, w_hh, b_hh)
  local i = gates:narrow(d, 1, H):sigmoid()
  local f = gates:narrow(d, H + 1, H):sigmoid()
  local g = gates:narrow(d, 2 * H + 1, H):tanh()
  local o = gates:narrow(d, 3 * H + 1, H):sigmoid()
  local c2 = f * c + i * g
  return o * c2:tanh(), c2
end

--- One GRU step (the equations of the module's description).
-- @tparam Tensor x (B, I)
-- @tparam Tensor h (B, H)
-- @tparam Tensor w_ih (3H, I), gates r, z, n
-- @tparam Tensor w_hh (3H, H)
-- @tparam ?Tensor b_ih (3H) or nil
-- @tparam ?Tensor b_hh (3H) or nil
-- @treturn Tensor h' (B, H)
function R.gru_step(x, h, w_ih, w_hh, b_ih, b_hh)
  local H = h:size(-1)
  local d = h:dim()
  local a = affine(x, w_ih, b_ih)
  local u = affine(h, w_hh, b_hh)
  local r = (a:narrow(d, 1, H) + u:narrow(d, 1, H)):sigmoid()
  local z = (a:narrow(d, H + 1, H) + u:narrow(d, H + 1, H)):sigmoid()
  local n = (a:narrow(d, 2 * H + 1, H) + r * u:narrow(d, 2 * H + 1, H)):tanh()
  return n + z * (h - n) -- (1 - z) * n + z * h
end

--- One step of any mode: rnn_step, lstm_step or gru_step.
-- @function step
-- @tparam string mode 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru'
-- @tparam Tensor x (B, I)
-- @tparam Tensor h (B, H)
-- @tparam ?Tensor c (B, H) for lstm, else nil
-- @param w_ih,w_hh,b_ih,b_hh the weights, as for the step functions
-- @treturn Tensor h'
-- @treturn ?Tensor c' (nil unless lstm)
local function step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh)
  if mode == 'lstm' then return R.lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh) end
  if mode == 'gru' then return R.gru_step(x, h, w_ih, w_hh, b_ih, b_hh), nil end
  return R.rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, mode == 'rnn_relu' and 'relu' or 'tanh'), nil
end
R.step = step

-- The permutation of the time axis that reverses each sequence's first
-- len_b steps and leaves its padding in place: an int64 index (T,B,1) of
-- 1-based times for gather along dim 1, its own inverse.
local function reversal_index(T, lens)
  local idx = {}
  for s = 1, T do
    local row = {}
    for b, len in ipairs(lens) do
      row[b] = {s <= len and (len + 1 - s) or s}
    end
    idx[s] = row
  end
  return core.tensor(idx, 'int64')
end

--- One layer and direction over a whole sequence, op by op: the reference
-- of the fused kernel rnn.core._recurrent, with the same signature and
-- semantics (`layer.fused = false` uses it).
-- mode: 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru'; x (T,B,I); h0, c0 (B,H)
-- (c0 nil unless lstm); biases may be nil; reverse: boolean; lengths: nil
-- or an int64 tensor (B) of counts in 1..T; opts: {bptt_clip = c,
-- bptt_clip_mode = 'value' | 'norm'} as the kernel's.
-- Returns out (T,B,H), h_n (B,H) [, c_n (B,H) for lstm].
-- Sequence b runs over its steps t = 1..len_b (reverse: len_b down to 1);
-- out[t,b] is the state after step t; past len_b the output is zero (and
-- passes no gradient back) and the state stays at its value after the
-- sequence's last step, which is what h_n / c_n hold. Without lengths every
-- sequence has length T.
-- @call rnn.nn.reference.recurrent(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lengths [, opts])
function R.recurrent(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lengths, opts)
  local clip, clip_mode = opts and opts.bptt_clip, opts and opts.bptt_clip_mode or 'value'
  if opts and opts.grad_norms then
    error('rnn.nn.reference.recurrent: grad_norms are measured by the fused kernel only '
      .. '(use retain_grad on the states of a hand-written loop)', 2)
  end
  if not R.GATES[mode] then
    error("rnn.nn.reference.recurrent: mode must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got "
      .. tostring(mode), 2)
  end
  local T, B = x:size(1), x:size(2)
  local lens, masks
  if lengths ~= nil then
    lens = core.is_tensor(lengths) and lengths:totable() or lengths
    local full = true
    for b = 1, B do
      if lens[b] < 1 or lens[b] > T then
        error(string.format('rnn.nn.reference.recurrent: lengths[%d] = %d is outside 1..%d', b, lens[b], T), 2)
      end
      if lens[b] ~= T then full = false end
    end
    if full then
      lens = nil
    else
      -- masks[t] (B,1): 1 where step t is inside the sequence
      masks = {}
      for t = 1, T do
        local m = {}
        for b = 1, B do m[b] = {t <= lens[b] and 1 or 0} end
        masks[t] = core.tensor(m, x:dtype())
      end
    end
  end

  local perm
  if reverse then
    if lens then
      perm = reversal_index(T, lens)
      x = x:gather(1, perm:expand(T, B, x:size(3)))
    else
      x = x:index_select(1, core.arange(T, 0, -1, 'int64'))
    end
  end

  local h, c = h0, c0
  local outs = {}
  for t = 1, T do
    -- bptt_clip: the gradient flowing back into h through this step is clipped
    -- (not the one through the carried state of a finished sequence)
    local hin = clip and core.clip_grad(h, clip, clip_mode) or h
    local h2, c2 = step(mode, x:select(1, t), hin, c, w_ih, w_hh, b_ih, b_hh)
    if masks then
      local m = masks[t]
      local keep = 1 - m
      outs[t] = h2 * m
      h = h2 * m + h * keep
      if c2 then c = c2 * m + c * keep end
    else
      outs[t] = h2
      h, c = h2, c2
    end
  end
  local out = core.stack(outs, 1)

  if reverse then
    if perm then
      out = out:gather(1, perm:expand(T, B, out:size(3)))
    else
      out = out:index_select(1, core.arange(T, 0, -1, 'int64'))
    end
  end
  if mode == 'lstm' then return out, h, c end
  return out, h
end

return R
