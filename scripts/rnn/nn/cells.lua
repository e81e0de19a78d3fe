--- @module rnn.nn

-- rnn.nn.RNNCell, LSTMCell, GRUCell: one timestep, for loops written by
-- hand. A step is one tape node of the fused C kernel (rnn.core._cell: the
-- kernel of the layers, run for one step), whose backward adds the weight
-- gradients of all steps into one buffer, in panels, with the weights packed
-- once. Setting `cell.fused = false` records the step op by op instead
-- (matmul, sigmoid, tanh, narrow, ...: rnn.nn.reference).
-- Parameters, layouts, gate orders and initialisation are PyTorch's:
-- weight_ih (G·H, I), weight_hh (G·H, H), bias_ih, bias_hh (G·H), G = 1
-- (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n), all U(-1/sqrt(H), 1/sqrt(H)).
-- The equations are in rnn/nn/reference.lua.
--
--     local cell = rnn.nn.LSTMCell{input_size = 8, hidden_size = 32}
--     local h, c                            -- nil: zeros
--     for t = 1, T do h, c = cell(x[t], {h = h, c = c}) end
--
-- forward(x [, state]): x (B, I), or (I) for one unbatched sample. state is
-- h (B, H) for RNNCell and GRUCell, {h = h, c = c} (or {h, c}, or h and c
-- as two arguments) for LSTMCell; a missing state (or a missing h or c) is
-- zeros. Returns h' (RNN, GRU) or h', c' (LSTM).
local core = require 'rnn.core'
local Module = require 'rnn.nn.module'
local R = require 'rnn.nn.reference'
local U = require 'rnn.nn.util'

local M = {}

local SIZE_TYPES = {input_size = 'number', hidden_size = 'number'}

local function make_cell(name, gates, has_nonlinearity)
  local cls = Module:extend(name)
  local fn = 'rnn.nn.' .. name
  cls._qualname = fn
  local defaults = {input_size = U.NIL, hidden_size = U.NIL, bias = true, dtype = 'float32'}
  if has_nonlinearity then defaults.nonlinearity = 'tanh' end

  function cls:__init(...)
    local o = U.resolve(fn, U.args(fn, {'input_size', 'hidden_size'}, ...), defaults, SIZE_TYPES)
    U.check_size(fn, o, 'input_size')
    U.check_size(fn, o, 'hidden_size')
    U.check_dtype(fn, o.dtype)
    if has_nonlinearity and o.nonlinearity ~= 'tanh' and o.nonlinearity ~= 'relu' then
      U.raisef("%s: option nonlinearity must be 'tanh' or 'relu', got '%s'", fn, o.nonlinearity)
    end
    self.input_size, self.hidden_size, self.dtype = o.input_size, o.hidden_size, o.dtype
    self.bias = o.bias
    self.nonlinearity = o.nonlinearity
    self.fused = true
    local H, I = o.hidden_size, o.input_size
    local k = 1 / math.sqrt(H)
    self:register_parameter('weight_ih', U.uniform({gates * H, I}, k, o.dtype))
    self:register_parameter('weight_hh', U.uniform({gates * H, H}, k, o.dtype))
    self:register_parameter('bias_ih', o.bias and U.uniform({gates * H}, k, o.dtype) or nil)
    self:register_parameter('bias_hh', o.bias and U.uniform({gates * H}, k, o.dtype) or nil)
  end

  function cls:extra_repr()
    local s = string.format('%d, %d', self.input_size, self.hidden_size)
    if not self.bias then s = s .. ', bias=false' end
    if has_nonlinearity and self.nonlinearity ~= 'tanh' then s = s .. ", nonlinearity='" .. self.nonlinearity .. "'" end
    return s
  end

  -- x checked and made (B, I); returns x, B, batched
  function cls:_input(x)
    U.check_input(fn, x, 'input', {1, 2}, self.weight_ih:dtype())
    if x:size(-1) ~= self.input_size then
      U.raisef('%s: input %s must have input_size = %d features on its last dimension', fn, U.shape_str(x),
        self.input_size)
    end
    if x:dim() == 1 then return x:unsqueeze(1), 1, false end
    return x, x:size(1), true
  end

  -- a state tensor checked and made (B, H); zeros when nil
  function cls:_state(s, what, B, batched)
    local H = self.hidden_size
    local dtype = self.weight_ih:dtype()
    if s == nil then return core.zeros({B, H}, dtype) end
    U.check_input(fn, s, what, batched and 2 or 1, dtype)
    local want = batched and string.format('(%d,%d)', B, H) or string.format('(%d)', H)
    if U.shape_str(s) ~= want then
      U.raisef('%s: %s must be %s for input of batch %d, got %s', fn, what, want, B, U.shape_str(s))
    end
    if not batched then return s:unsqueeze(1) end
    return s
  end

  return cls
end

local function unbatch(batched, t)
  if batched then return t end
  return t:squeeze(1)
end

----------------------------------------------------------------------------
--- One step of an Elman RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh),
-- act = tanh or relu. Parameters weight_ih (H, I), weight_hh (H, H),
-- bias_ih, bias_hh (H), all U(-1/sqrt(H), 1/sqrt(H)). A step is one tape
-- node of the fused kernel; `cell.fused = false` records it op by op.
-- @call rnn.nn.RNNCell{input_size = I, hidden_size = H, ...}
-- rnn.nn.RNNCell(I, H [, {options}])
-- @option input_size (required) the size I of the input
-- @option hidden_size (required) the size H of the state
-- @option bias (true) whether there are biases
-- @option nonlinearity ('tanh') 'tanh' or 'relu'
-- @option dtype ('float32') 'float32' or 'float64'
-- @type RNNCell
local RNNCell = make_cell('RNNCell', 1, true)
M.RNNCell = RNNCell

--- One step.
-- @tparam Tensor x (B, I), or (I) for one sample
-- @tparam[opt] Tensor h (B, H) or (H); nil: zeros
-- @treturn Tensor h' (B, H) or (H)
-- @raise when a shape or dtype does not match the cell's
-- @usage local h
-- for t = 1, T do h = cell(x[t], h) end
function RNNCell:forward(x, h)
  local B, batched
  x, B, batched = self:_input(x)
  h = self:_state(h, 'hidden state h', B, batched)
  local h2
  if self.fused ~= false and core._cell then
    h2 = core._cell(self.nonlinearity == 'relu' and 'rnn_relu' or 'rnn_tanh', x, h, nil, self.weight_ih,
      self.weight_hh, self.bias_ih, self.bias_hh)
  else
    h2 = R.rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
  end
  return unbatch(batched, h2)
end

----------------------------------------------------------------------------
--- One step of an LSTM, gates i, f, g, o (PyTorch's equations and order):
-- c' = f·c + i·g, h' = o·tanh(c'). Parameters weight_ih (4H, I),
-- weight_hh (4H, H), bias_ih, bias_hh (4H), all U(-1/sqrt(H), 1/sqrt(H)).
-- A step is one tape node of the fused kernel; `cell.fused = false`
-- records it op by op.
-- @call rnn.nn.LSTMCell{input_size = I, hidden_size = H [, bias = true] [, dtype = 'float32']}
-- rnn.nn.LSTMCell(I, H [, {options}])
-- @option input_size (required) the size I of the input
-- @option hidden_size (required) the size H of the states
-- @option bias (true) whether there are biases
-- @option dtype ('float32') 'float32' or 'float64'
-- @type LSTMCell
local LSTMCell = make_cell('LSTMCell', 4, false)
M.LSTMCell = LSTMCell

--- One step. The state is {h = h, c = c}, {h, c}, or h and c as two
-- arguments; a missing h or c is zeros.
-- @tparam Tensor x (B, I), or (I) for one sample
-- @tparam[opt] table|Tensor state {h = (B, H), c = (B, H)}, or h
-- @tparam[opt] Tensor c_arg c, when state is h
-- @treturn Tensor h' (B, H) or (H)
-- @treturn Tensor c' (B, H) or (H)
-- @raise when a shape or dtype does not match the cell's
-- @usage local h, c
-- for t = 1, T do h, c = cell(x[t], {h = h, c = c}) end
function LSTMCell:forward(x, state, c_arg)
  local B, batched
  x, B, batched = self:_input(x)
  local h, c
  if core.is_tensor(state) or (state == nil and c_arg ~= nil) then
    h, c = state, c_arg
  elseif state ~= nil then
    if type(state) ~= 'table' then
      U.raisef('rnn.nn.LSTMCell: state must be {h = h, c = c}, {h, c} or a tensor h, got %s', type(state))
    end
    if c_arg ~= nil then U.raise('rnn.nn.LSTMCell: c given both in the state table and as argument 3') end
    h, c = state.h, state.c
    if h == nil and c == nil then h, c = state[1], state[2] end
  end
  h = self:_state(h, 'hidden state h', B, batched)
  c = self:_state(c, 'cell state c', B, batched)
  local h2, c2
  if self.fused ~= false and core._cell then
    h2, c2 = core._cell('lstm', x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
  else
    h2, c2 = R.lstm_step(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
  end
  return unbatch(batched, h2), unbatch(batched, c2)
end

----------------------------------------------------------------------------
--- One step of a GRU, gates r, z, n (PyTorch's equations and order):
-- n = tanh(x W_in^T + b_in + r·(h W_hn^T + b_hn)), h' = (1 - z)·n + z·h.
-- Parameters weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H),
-- all U(-1/sqrt(H), 1/sqrt(H)). `cell.fused = false` records the step op
-- by op.
-- @call rnn.nn.GRUCell{input_size = I, hidden_size = H [, bias = true] [, dtype = 'float32']}
-- rnn.nn.GRUCell(I, H [, {options}])
-- @option input_size (required) the size I of the input
-- @option hidden_size (required) the size H of the state
-- @option bias (true) whether there are biases
-- @option dtype ('float32') 'float32' or 'float64'
-- @type GRUCell
local GRUCell = make_cell('GRUCell', 3, false)
M.GRUCell = GRUCell

--- One step.
-- @tparam Tensor x (B, I), or (I) for one sample
-- @tparam[opt] Tensor h (B, H) or (H); nil: zeros
-- @treturn Tensor h' (B, H) or (H)
-- @raise when a shape or dtype does not match the cell's
function GRUCell:forward(x, h)
  local B, batched
  x, B, batched = self:_input(x)
  h = self:_state(h, 'hidden state h', B, batched)
  local h2
  if self.fused ~= false and core._cell then
    h2 = core._cell('gru', x, h, nil, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
  else
    h2 = R.gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
  end
  return unbatch(batched, h2)
end

return M
