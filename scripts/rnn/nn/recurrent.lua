--- @module rnn.nn

-- rnn.nn.RNN, rnn.nn.LSTM, rnn.nn.GRU: multi-layer, optionally
-- bidirectional recurrent layers over whole sequences, with PyTorch's
-- equations, parameter names, layouts and initialisation (so weights move
-- between the two unchanged), variable-length batches and a choice of
-- initial state (h0 policy).
--
--     local lstm = rnn.nn.LSTM{input_size = 8, hidden_size = 64, num_layers = 2,
--                              h0 = 'learned'}
--     local out, state = lstm(x)                      -- x (T, B, 8)
--     local out, state = lstm(x, state)               -- carry a state over
--     local out, state = lstm(x, nil, {lengths = {5, 3, 7}})
--
-- Options (defaults): input_size, hidden_size (required), num_layers (1),
-- nonlinearity ('tanh' | 'relu', RNN only), bias (true), batch_first
-- (false), dropout (0: the probability of dropout on the outputs of every
-- layer but the last, in training mode), bidirectional (false), h0
-- ('zero'), h0_std (1.0), dtype ('float32'), bptt_clip (none: a threshold
-- for the gradient carried back through the hidden state at every step,
-- clipped inside the kernel's backward) and bptt_clip_mode ('value':
-- elementwise to [-c, c]; 'norm': each sequence's gradient rescaled to norm
-- c when longer). The cell state of an LSTM is not clipped.
--
-- Parameters, in PyTorch's order: for each layer l = 0, 1, ... and
-- direction suffix '' then '_reverse' (when bidirectional):
-- weight_ih_l{l}{sfx} (G·H, I_l), weight_hh_l{l}{sfx} (G·H, H),
-- bias_ih_l{l}{sfx}, bias_hh_l{l}{sfx} (G·H), where G = 1 (RNN), 4 (LSTM:
-- gates i, f, g, o) or 3 (GRU: r, z, n), I_0 = input_size and
-- I_l = D·H for l > 0 (D = 2 when bidirectional, else 1); all start
-- U(-1/sqrt(H), 1/sqrt(H)). Then, with h0 = 'learned', h0 (and c0 for
-- LSTM) shaped (L·D, 1, H), zeros at start.
--
-- forward(x [, state] [, opts]) with x (T, B, I), or (B, T, I) if
-- batch_first. state: h (L·D, B, H) for RNN and GRU; {h = h, c = c} (or
-- {h, c}) for LSTM. opts: {lengths = an int64 tensor or a Lua array of the
-- B sequence lengths, each in 1..T}; opts may come second when no state is
-- given (`lstm(x, {lengths = lens})`). Returns
--   out (T, B, D·H) ((B, T, D·H) if batch_first): the last layer's state at
--     every step, [forward, reverse] concatenated on the last dimension;
--     zero past each sequence's length, where it passes no gradient back;
--   the final state: h_n (L·D, B, H) for RNN and GRU, {h = h_n, c = c_n}
--     for LSTM, rows ordered layer 0 forward, layer 0 reverse, layer 1
--     forward, ... (PyTorch's). Each sequence's final state is its state
--     after its own last step; the reverse direction runs each sequence
--     from its own last step (lengths[b]) back to step 1, so its final
--     state is the one after step 1.
--
-- Initial state: a state passed to forward is used as given. Otherwise the
-- h0 policy decides:
--   'zero'     zeros (PyTorch's default);
--   'random'   in training mode a fresh draw of N(0, h0_std²) at every
--              forward, from the seeded generator (rnn.manual_seed), for h
--              and, for LSTM, c (h drawn first); in eval mode zeros, so that
--              evaluation is deterministic and matches the mean of the draws;
--   'learned'  the parameters h0 (and c0 for LSTM), (L·D, 1, H), broadcast
--              over the batch, trained like any weight and saved in
--              state_dict; they start at zero;
--   a tensor   a fixed h0 (L·D, B or 1, H), converted to the layer's dtype;
--              for LSTM the table {h = ..., c = ...} fixes c as well (a
--              lone tensor leaves c at zero). Kept as non-persistent buffers
--              'h0' / 'c0': converted by :to(), not in state_dict (so
--              PyTorch's nn.LSTM state dicts still load unchanged).
-- layer:initial_state(B) returns the state the policy gives for batch B.
-- For truncated BPTT, pass rnn.nn.detach_state(state) to the next chunk.
--
-- The recurrence of one layer and direction runs in the fused C kernel
-- rnn.core._recurrent (one tape node) when the core has it, else in the
-- pure-Lua rnn.nn.reference.recurrent (same semantics, op by op on the
-- tape). Setting `layer.fused = false` forces the reference.
local core = require 'rnn.core'
local F = require 'rnn.nn.functional'
local Module = require 'rnn.nn.module'
local R = require 'rnn.nn.reference'
local U = require 'rnn.nn.util'

local M = {}

local SIZE_TYPES = {input_size = 'number', hidden_size = 'number', num_layers = 'number'}

local function bool_str(b) return b and 'true' or 'false' end

-- the contiguous tensor the kernel is given
local function dense(t)
  if t == nil or t:is_contiguous() then return t end
  return t:contiguous()
end

--- Detaches a recurrent state (a tensor, or a table of tensors such as
-- LSTM's {h = ..., c = ...}) from the graph: gradients stop there. For
-- truncated BPTT, pass the state of one chunk, detached, to the next.
-- @tparam Tensor|table s the state
-- @treturn Tensor|table the same structure, detached (the same data)
-- @raise when s is neither a tensor nor a table
-- @usage out, state = lstm(chunk, rnn.nn.detach_state(state))
function M.detach_state(s)
  if core.is_tensor(s) then return s:detach() end
  if type(s) ~= 'table' then
    U.raisef('rnn.nn.detach_state: argument 1 (state) must be a tensor or a table of tensors, got %s', type(s))
  end
  local out = {}
  for k, v in pairs(s) do
    out[k] = core.is_tensor(v) and v:detach() or v
  end
  return out
end

--- A multi-layer Elman RNN over whole sequences: at each step h_t =
-- act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu, in
-- one fused C kernel per layer and direction (one tape node, hand-written
-- BPTT). PyTorch's equations, parameter names, layout and initialisation:
-- for each layer l = 0, 1, ... and direction suffix '' then '_reverse',
-- weight_ih_l{l} (H, I_l), weight_hh_l{l} (H, H), bias_ih_l{l},
-- bias_hh_l{l} (H), all U(-1/sqrt(H), 1/sqrt(H)); I_0 = input_size, I_l =
-- D·H after. `layer.fused = false` runs the same equations op by op
-- (rnn.nn.reference).
-- @call rnn.nn.RNN{input_size = I, hidden_size = H, ...}
-- rnn.nn.RNN(I, H [, num_layers] [, {options}])
-- @option input_size (required) the size I of the input's last dimension
-- @option hidden_size (required) the size H of the state
-- @option num_layers (1) stacked layers L
-- @option nonlinearity ('tanh') 'tanh' or 'relu'
-- @option bias (true) whether there are biases
-- @option batch_first (false) input and output (B, T, ·) instead of (T, B, ·)
-- @option dropout (0) the probability of dropout on the outputs of every
-- layer but the last, in training mode
-- @option bidirectional (false) a reverse direction too (D = 2)
-- @option h0 ('zero') the initial state when none is passed: 'zero',
-- 'random' (N(0, h0_std²) at every forward in training mode, zeros in eval
-- mode), 'learned' (parameters h0 (L·D, 1, H), starting at zero) or a
-- tensor (L·D, B or 1, H), kept fixed
-- @option h0_std (1.0) the standard deviation of h0 = 'random'
-- @option dtype ('float32') 'float32' or 'float64'
-- @option bptt_clip (none) clip the gradient carried back through the
-- hidden state at every step, inside the kernel's backward
-- @option bptt_clip_mode ('value') 'value' (elementwise to [-c, c]) or
-- 'norm' (each sequence's gradient rescaled to norm c when longer)
-- @usage local rnn_layer = rnn.nn.RNN{input_size = 8, hidden_size = 64, nonlinearity = 'relu'}
-- local out, h_n = rnn_layer(rnn.randn{50, 16, 8})   -- out (50, 16, 64), h_n (1, 16, 64)
-- @type RNN

local function make_layer(name, gates, is_lstm, has_nonlinearity)
  local cls = Module:extend(name)
  local fn = 'rnn.nn.' .. name
  cls._qualname = fn
  local defaults = {input_size = U.NIL, hidden_size = U.NIL, num_layers = 1, bias = true, batch_first = false,
                    dropout = 0, bidirectional = false, h0 = 'zero', h0_std = 1.0, dtype = 'float32',
                    bptt_clip = U.NIL, bptt_clip_mode = 'value'}
  if has_nonlinearity then defaults.nonlinearity = 'tanh' end

  -- the fixed initial-state tensor t (L·D, B or 1, H), as a new tensor of dtype
  local function fixed_state(self, t, what)
    local LD, H = self.num_layers * self.num_directions, self.hidden_size
    if not core.is_tensor(t) then
      U.raisef("%s: option h0 must be 'zero', 'random', 'learned' or a tensor%s, got %s %s", fn,
        is_lstm and ' (or {h = tensor, c = tensor})' or '', type(t), type(t) == 'string' and ("'" .. t .. "'") or '')
    end
    if t:dim() ~= 3 or t:size(1) ~= LD or t:size(3) ~= H then
      U.raisef('%s: option h0: %s must be (%d, B or 1, %d) (num_layers*num_directions, batch, hidden_size), got %s',
        fn, what, LD, H, U.shape_str(t))
    end
    if t:dtype() == 'int64' then U.raisef('%s: option h0: %s must be float32 or float64, got int64', fn, what) end
    return core.no_grad(function() return t:detach():to(self.dtype):clone() end)
  end

  function cls:__init(...)
    -- h0 takes several types: checked below, not by resolve
    local o = U.resolve(fn, U.args(fn, {'input_size', 'hidden_size', 'num_layers'}, ...), defaults, SIZE_TYPES,
      {'h0'})
    U.check_size(fn, o, 'input_size')
    U.check_size(fn, o, 'hidden_size')
    U.check_size(fn, o, 'num_layers')
    U.check_dtype(fn, o.dtype)
    if has_nonlinearity and o.nonlinearity ~= 'tanh' and o.nonlinearity ~= 'relu' then
      U.raisef("%s: option nonlinearity must be 'tanh' or 'relu', got '%s'", fn, o.nonlinearity)
    end
    if not (o.dropout >= 0 and o.dropout <= 1) then
      U.raisef('%s: option dropout must be in [0, 1], got %s', fn, tostring(o.dropout))
    end
    if o.bptt_clip ~= nil and not (type(o.bptt_clip) == 'number' and o.bptt_clip > 0) then
      U.raisef('%s: option bptt_clip must be a number > 0, got %s', fn, tostring(o.bptt_clip))
    end
    if o.bptt_clip_mode ~= 'value' and o.bptt_clip_mode ~= 'norm' then
      U.raisef("%s: option bptt_clip_mode must be 'value' or 'norm', got '%s'", fn, tostring(o.bptt_clip_mode))
    end
    if not (o.h0_std >= 0) then
      U.raisef('%s: option h0_std must be a non-negative number, got %s', fn, tostring(o.h0_std))
    end
    self.input_size, self.hidden_size, self.num_layers = o.input_size, o.hidden_size, o.num_layers
    self.bias, self.batch_first, self.dropout, self.bidirectional = o.bias, o.batch_first, o.dropout, o.bidirectional
    self.num_directions = o.bidirectional and 2 or 1
    self.nonlinearity = o.nonlinearity
    self.mode = is_lstm and 'lstm' or (gates == 3 and 'gru') or ('rnn_' .. o.nonlinearity)
    self.h0_std = o.h0_std
    self.bptt_clip, self.bptt_clip_mode = o.bptt_clip, o.bptt_clip_mode
    self.dtype = o.dtype
    self.fused = true

    local H, D = o.hidden_size, self.num_directions
    local k = 1 / math.sqrt(H)
    for l = 0, o.num_layers - 1 do
      local I = l == 0 and o.input_size or D * H
      for d = 1, D do
        local sfx = d == 2 and '_reverse' or ''
        self:register_parameter('weight_ih_l' .. l .. sfx, U.uniform({gates * H, I}, k, o.dtype))
        self:register_parameter('weight_hh_l' .. l .. sfx, U.uniform({gates * H, H}, k, o.dtype))
        if o.bias then
          self:register_parameter('bias_ih_l' .. l .. sfx, U.uniform({gates * H}, k, o.dtype))
          self:register_parameter('bias_hh_l' .. l .. sfx, U.uniform({gates * H}, k, o.dtype))
        end
      end
    end

    local h0 = o.h0
    local LD = o.num_layers * D
    if h0 == 'zero' or h0 == 'random' then
      self.h0_policy = h0
    elseif h0 == 'learned' then
      self.h0_policy = 'learned'
      self:register_parameter('h0', core.zeros({LD, 1, H}, o.dtype))
      if is_lstm then self:register_parameter('c0', core.zeros({LD, 1, H}, o.dtype)) end
    elseif is_lstm and type(h0) == 'table' and not core.is_tensor(h0) then
      for key in pairs(h0) do
        if key ~= 'h' and key ~= 'c' then
          U.raisef("%s: option h0: a table must be {h = tensor, c = tensor}, got key '%s'", fn, tostring(key))
        end
      end
      if h0.h == nil then U.raisef('%s: option h0: the table lacks h', fn) end
      self.h0_policy = 'fixed'
      self:register_buffer('h0', fixed_state(self, h0.h, 'h'), false)
      if h0.c ~= nil then self:register_buffer('c0', fixed_state(self, h0.c, 'c'), false) end
    else
      self.h0_policy = 'fixed'
      self:register_buffer('h0', fixed_state(self, h0, 'the tensor'), false)
    end
  end

  function cls:extra_repr()
    local s = {string.format('%d, %d', self.input_size, self.hidden_size)}
    if self.num_layers ~= 1 then s[#s + 1] = 'num_layers=' .. self.num_layers end
    if has_nonlinearity and self.nonlinearity ~= 'tanh' then s[#s + 1] = "nonlinearity='" .. self.nonlinearity .. "'" end
    if not self.bias then s[#s + 1] = 'bias=false' end
    if self.batch_first then s[#s + 1] = 'batch_first=true' end
    if self.dropout ~= 0 then s[#s + 1] = 'dropout=' .. tostring(self.dropout) end
    if self.bidirectional then s[#s + 1] = 'bidirectional=true' end
    if self.h0_policy ~= 'zero' then s[#s + 1] = "h0='" .. self.h0_policy .. "'" end
    if self.h0_policy == 'random' and self.h0_std ~= 1 then s[#s + 1] = 'h0_std=' .. tostring(self.h0_std) end
    return table.concat(s, ', ')
  end

  -- a policy state (L·D, 1 or B, H) made (L·D, B, H)
  local function batch_of(t, B)
    if t:size(2) == B then return t end
    if t:size(2) ~= 1 then
      U.raisef('%s: the fixed h0 has batch %d but the input has batch %d', fn, t:size(2), B)
    end
    return t:expand(t:size(1), B, t:size(3))
  end

  --- The initial state the h0 policy gives for batch size B: h (L·D, B, H)
  -- for RNN and GRU, {h = ..., c = ...} for LSTM. With 'random' in training
  -- mode, each call draws anew.
  -- @function RNN:initial_state
  -- @tparam integer B the batch size
  -- @treturn Tensor|table the state
  -- @also LSTM:initial_state GRU:initial_state
  function cls:initial_state(B)
    local LD, H = self.num_layers * self.num_directions, self.hidden_size
    local dtype = self.dtype
    local p = self.h0_policy
    local h, c
    if p == 'learned' then
      h = batch_of(self.h0, B)
      if is_lstm then c = batch_of(self.c0, B) end
    elseif p == 'fixed' then
      h = batch_of(self.h0, B)
      if is_lstm then c = self.c0 and batch_of(self.c0, B) or core.zeros({LD, B, H}, dtype) end
    elseif p == 'random' and self.training then
      h = core.randn({LD, B, H}, dtype)
      if is_lstm then c = core.randn({LD, B, H}, dtype) end
      if self.h0_std ~= 1 then
        h = h * self.h0_std
        if c then c = c * self.h0_std end
      end
    else
      h = core.zeros({LD, B, H}, dtype)
      if is_lstm then c = core.zeros({LD, B, H}, dtype) end
    end
    if is_lstm then return {h = h, c = c} end
    return h
  end

  local function check_state_tensor(self, s, what, B)
    local LD, H = self.num_layers * self.num_directions, self.hidden_size
    U.check_input(fn, s, what, nil, self.dtype)
    local want = string.format('(%d,%d,%d)', LD, B, H)
    if U.shape_str(s) ~= want then
      U.raisef('%s: %s must be %s (num_layers*num_directions, batch, hidden_size), got %s', fn, what, want,
        U.shape_str(s))
    end
    return s
  end

  -- lengths (tensor or array) checked: an int64 tensor (B), or nil when every
  -- sequence is full (the same computation)
  local function check_lengths(lengths, T, B)
    local lens
    if core.is_tensor(lengths) then
      if lengths:dim() ~= 1 then
        U.raisef('%s: lengths must be a 1-d tensor of %d lengths, got %s', fn, B, U.shape_str(lengths))
      end
      lens = lengths:totable()
    elseif type(lengths) == 'table' then
      lens = lengths
    else
      U.raisef('%s: lengths must be an int64 tensor or a table of lengths, got %s', fn, type(lengths))
    end
    if #lens ~= B then
      U.raisef('%s: lengths has %d entries for a batch of %d', fn, #lens, B)
    end
    local full = true
    local ints = {}
    for b = 1, B do
      local v = math.tointeger(lens[b])
      if not v or v < 1 or v > T then
        U.raisef('%s: lengths[%d] = %s is not an integer in 1..%d (the sequence length T)', fn, b,
          tostring(lens[b]), T)
      end
      if v ~= T then full = false end
      ints[b] = v
    end
    if full then return nil end
    return core.tensor(ints, 'int64')
  end

  --- Runs the layer over whole sequences. The state passed in overrides
  -- the h0 policy. With lengths, each sequence b runs lengths[b] steps:
  -- out is zero past its end (and passes no gradient back), its final
  -- state is its state after its own last step, and the reverse direction
  -- starts from that step.
  -- @function RNN:forward
  -- @tparam Tensor x (T, B, I), or (B, T, I) if batch_first; the layer's dtype
  -- @tparam[opt] Tensor state h (L·D, B, H); nil: the h0 policy
  -- @tparam[opt] table opts {lengths = an int64 tensor or array of the B
  -- lengths, each in 1..T}; may come second when no state is given
  -- @treturn Tensor out (T, B, D·H) (or (B, T, D·H)): the last layer's
  -- state at every step, [forward, reverse] on the last dimension
  -- @treturn Tensor h_n (L·D, B, H), the final state; rows layer 0
  -- forward, layer 0 reverse, layer 1 forward, ... (PyTorch's)
  -- @raise when a shape, dtype or length does not fit
  -- @usage local out, h = layer(x)
  -- local out2, h2 = layer(x2, h:detach())
  -- local out3 = layer(x, {lengths = {50, 30, 12}})
  function cls:forward(x, state, opts)
    -- forward(x, opts): a table that is not a state is the options
    if opts == nil and type(state) == 'table' and not core.is_tensor(state)
        and (not is_lstm or (state.h == nil and state.c == nil and state[1] == nil and state[2] == nil)) then
      state, opts = nil, state
    end
    local o = U.resolve(fn, opts, {lengths = U.NIL}, nil, {'lengths'})
    U.check_input(fn, x, 'input', 3, self.dtype)
    if x:size(3) ~= self.input_size then
      U.raisef('%s: input %s must have input_size = %d features on its last dimension', fn, U.shape_str(x),
        self.input_size)
    end
    if self.batch_first then x = x:transpose(1, 2) end
    local T, B = x:size(1), x:size(2)
    local lengths = o.lengths ~= nil and check_lengths(o.lengths, T, B) or nil

    local h0, c0
    if state == nil then
      state = self:initial_state(B)
      if is_lstm then h0, c0 = state.h, state.c else h0 = state end
    elseif is_lstm then
      if type(state) ~= 'table' or core.is_tensor(state) then
        U.raisef('%s: state must be {h = h, c = c} (or {h, c}), got %s', fn,
          core.is_tensor(state) and 'a tensor' or type(state))
      end
      h0, c0 = state.h, state.c
      if h0 == nil and c0 == nil then h0, c0 = state[1], state[2] end
      check_state_tensor(self, h0, 'state h', B)
      check_state_tensor(self, c0, 'state c', B)
    else
      check_state_tensor(self, state, 'state', B)
      h0 = state
    end

    local kernel = (self.fused ~= false and core._recurrent) or nil
    local recurrent = kernel or R.recurrent
    local prep = kernel and dense or function(t) return t end
    local D, L = self.num_directions, self.num_layers
    local input = prep(x)
    local hs, cs = {}, {}
    local norms = {}
    if self._track_grad_norms then
      if not kernel then U.raisef('%s: track_grad_norms needs the fused kernel (layer.fused ~= false)', fn) end
      self.grad_norms = norms
    end
    for l = 0, L - 1 do
      local outs = {}
      for d = 1, D do
        local k = l * D + d
        local sfx = 'l' .. l .. (d == 2 and '_reverse' or '')
        local kopts
        if self.bptt_clip or self._track_grad_norms then
          kopts = {bptt_clip = self.bptt_clip, bptt_clip_mode = self.bptt_clip_mode}
          if self._track_grad_norms then
            kopts.grad_norms = core.zeros({T}, 'float64')
            norms[k] = kopts.grad_norms
          end
        end
        local out, hn, cn = recurrent(self.mode, input, prep(h0:select(1, k)), c0 and prep(c0:select(1, k)) or nil,
          rawget(self, 'weight_ih_' .. sfx), rawget(self, 'weight_hh_' .. sfx),
          rawget(self, 'bias_ih_' .. sfx), rawget(self, 'bias_hh_' .. sfx), d == 2, lengths, kopts)
        outs[d] = out
        hs[k], cs[k] = hn, cn
      end
      local layer_out = D == 2 and core.cat(outs, 3) or outs[1]
      if l < L - 1 and self.dropout > 0 and self.training then
        layer_out = F.dropout(layer_out, self.dropout, true)
      end
      input = layer_out
    end
    local out = input
    if self.batch_first then out = out:transpose(1, 2) end
    local h_n = core.stack(hs, 1)
    if is_lstm then return out, {h = h_n, c = core.stack(cs, 1)} end
    return out, h_n
  end

  --- Records ||dL/dh_t|| at every step t (on or off). When on, every
  -- forward leaves in layer.grad_norms one float64 tensor (T) per layer
  -- and direction (index l·D + d, as the rows of h_n), which the backward
  -- fills with ||dL/dh_t|| over the batch at every step t: the gradient
  -- reaching that layer's h_t from its output and from step t+1 (after any
  -- bptt_clip on the latter). Needs the fused kernel.
  -- @function RNN:track_grad_norms
  -- @tparam[opt=true] boolean flag
  -- @treturn RNN self
  -- @also LSTM:track_grad_norms GRU:track_grad_norms
  function cls:track_grad_norms(flag)
    if flag ~= nil and type(flag) ~= 'boolean' then
      U.raisef('%s:track_grad_norms: argument 1 (flag) must be a boolean, got %s', fn, type(flag))
    end
    self._track_grad_norms = flag ~= false
    if not self._track_grad_norms then self.grad_norms = nil end
    return self
  end

  return cls
end

M.RNN = make_layer('RNN', 1, false, true)

--- A multi-layer LSTM over whole sequences, gates i, f, g, o: c_t = f·c +
-- i·g, h_t = o·tanh(c_t), in one fused C kernel per layer and direction
-- (one tape node, hand-written BPTT). PyTorch's equations, parameter names,
-- layout and initialisation: for each layer l = 0, 1, ... and direction
-- suffix '' then '_reverse', weight_ih_l{l} (4H, I_l), weight_hh_l{l}
-- (4H, H), bias_ih_l{l}, bias_hh_l{l} (4H), all U(-1/sqrt(H), 1/sqrt(H));
-- I_0 = input_size, I_l = D·H after. The state is {h = h, c = c}, each
-- (L·D, B, H). `layer.fused = false` runs the same equations op by op
-- (rnn.nn.reference).
-- @call rnn.nn.LSTM{input_size = I, hidden_size = H, ...}
-- rnn.nn.LSTM(I, H [, num_layers] [, {options}])
-- @option input_size (required) the size I of the input's last dimension
-- @option hidden_size (required) the size H of the state
-- @option num_layers (1) stacked layers L
-- @option bias (true) whether there are biases
-- @option batch_first (false) input and output (B, T, ·) instead of (T, B, ·)
-- @option dropout (0) the probability of dropout on the outputs of every
-- layer but the last, in training mode
-- @option bidirectional (false) a reverse direction too (D = 2)
-- @option h0 ('zero') the initial state when none is passed: 'zero',
-- 'random' (N(0, h0_std²) at every forward in training mode, zeros in eval
-- mode), 'learned' (parameters h0 and c0 (L·D, 1, H), starting at zero) or a
-- tensor (L·D, B or 1, H) (or {h = tensor, c = tensor}), kept fixed
-- @option h0_std (1.0) the standard deviation of h0 = 'random'
-- @option dtype ('float32') 'float32' or 'float64'
-- @option bptt_clip (none) clip the gradient carried back through the
-- hidden state at every step, inside the kernel's backward; the cell state is not clipped
-- @option bptt_clip_mode ('value') 'value' (elementwise to [-c, c]) or
-- 'norm' (each sequence's gradient rescaled to norm c when longer)
-- @usage local lstm = rnn.nn.LSTM{input_size = 8, hidden_size = 64, num_layers = 2, h0 = 'learned'}
-- local out, state = lstm(rnn.randn{50, 16, 8})   -- out (50, 16, 64); state.h, state.c (2, 16, 64)
-- @type LSTM
M.LSTM = make_layer('LSTM', 4, true, false)

--- Runs the LSTM over whole sequences. The state passed in overrides the
-- h0 policy. With lengths, each sequence b runs lengths[b] steps: out is
-- zero past its end (and passes no gradient back), its final state is its
-- state after its own last step, and the reverse direction starts from
-- that step.
-- @function LSTM:forward
-- @tparam Tensor x (T, B, I), or (B, T, I) if batch_first; the layer's dtype
-- @tparam[opt] table state {h = h, c = c} (or {h, c}), each (L·D, B, H);
-- nil: the h0 policy
-- @tparam[opt] table opts {lengths = an int64 tensor or array of the B
-- lengths, each in 1..T}; may come second when no state is given
-- @treturn Tensor out (T, B, D·H) (or (B, T, D·H)): the last layer's h at
-- every step, [forward, reverse] on the last dimension
-- @treturn table the final state {h = h_n, c = c_n}, each (L·D, B, H);
-- rows layer 0 forward, layer 0 reverse, layer 1 forward, ... (PyTorch's)
-- @raise when a shape, dtype or length does not fit
-- @usage local out, state = lstm(x)
-- local out2, state2 = lstm(x2, rnn.nn.detach_state(state))   -- truncated BPTT
-- local out3 = lstm(x, {lengths = {50, 30, 12}})

--- A multi-layer GRU over whole sequences, gates r, z, n: n = tanh(x W_in^T
-- + b_in + r·(h W_hn^T + b_hn)), h_t = (1 - z)·n + z·h, in one fused C
-- kernel per layer and direction. PyTorch's equations, parameter names,
-- layout and initialisation: for each layer l = 0, 1, ... and direction
-- suffix '' then '_reverse', weight_ih_l{l} (3H, I_l), weight_hh_l{l}
-- (3H, H), bias_ih_l{l}, bias_hh_l{l} (3H), all U(-1/sqrt(H), 1/sqrt(H)).
-- `layer.fused = false` runs the same equations op by op.
-- @call rnn.nn.GRU{input_size = I, hidden_size = H, ...}
-- rnn.nn.GRU(I, H [, num_layers] [, {options}])
-- @option input_size (required) the size I of the input's last dimension
-- @option hidden_size (required) the size H of the state
-- @option num_layers (1) stacked layers L
-- @option bias (true) whether there are biases
-- @option batch_first (false) input and output (B, T, ·) instead of (T, B, ·)
-- @option dropout (0) the probability of dropout on the outputs of every
-- layer but the last, in training mode
-- @option bidirectional (false) a reverse direction too (D = 2)
-- @option h0 ('zero') the initial state when none is passed: 'zero',
-- 'random' (N(0, h0_std²) at every forward in training mode, zeros in eval
-- mode), 'learned' (parameters h0 (L·D, 1, H), starting at zero) or a
-- tensor (L·D, B or 1, H), kept fixed
-- @option h0_std (1.0) the standard deviation of h0 = 'random'
-- @option dtype ('float32') 'float32' or 'float64'
-- @option bptt_clip (none) clip the gradient carried back through the
-- hidden state at every step, inside the kernel's backward
-- @option bptt_clip_mode ('value') 'value' (elementwise to [-c, c]) or
-- 'norm' (each sequence's gradient rescaled to norm c when longer)
-- @usage local gru = rnn.nn.GRU{input_size = 8, hidden_size = 64, bidirectional = true}
-- local out, h_n = gru(rnn.randn{50, 16, 8})   -- out (50, 16, 128), h_n (2, 16, 64)
-- @type GRU
M.GRU = make_layer('GRU', 3, false, false)

--- Runs the GRU over whole sequences. The state passed in overrides the h0
-- policy. With lengths, each sequence b runs lengths[b] steps: out is zero
-- past its end (and passes no gradient back), its final state is its state
-- after its own last step, and the reverse direction starts from that step.
-- @function GRU:forward
-- @tparam Tensor x (T, B, I), or (B, T, I) if batch_first; the layer's dtype
-- @tparam[opt] Tensor state h (L·D, B, H); nil: the h0 policy
-- @tparam[opt] table opts {lengths = an int64 tensor or array of the B
-- lengths, each in 1..T}; may come second when no state is given
-- @treturn Tensor out (T, B, D·H) (or (B, T, D·H))
-- @treturn Tensor h_n (L·D, B, H), the final state (rows as RNN's)
-- @raise when a shape, dtype or length does not fit
-- @usage local out, h = gru(x)

return M
