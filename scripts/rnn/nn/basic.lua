--- @module rnn.nn

-- rnn.nn.Linear, Embedding, Dropout and the parameterless activations
-- (Identity, ReLU, Tanh, Sigmoid), with PyTorch's names, layouts and
-- initialisation. Constructors take an options table (`Linear{in_features
-- = 3, out_features = 4}`) or the leading options positionally, then an
-- optional options table (`Linear(3, 4, {bias = false})`).
local core = require 'rnn.core'
local F = require 'rnn.nn.functional'
local Module = require 'rnn.nn.module'
local U = require 'rnn.nn.util'

local M = {}

local function bool_str(b) return b and 'true' or 'false' end

----------------------------------------------------------------------------
--- A fully connected layer: y = x W^T + b for x (..., in_features).
-- Parameters weight (out_features, in_features) and bias (out_features)
-- start U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's
-- kaiming_uniform(a = sqrt(5)) bound.
-- @call rnn.nn.Linear{in_features = I, out_features = O [, bias = true] [, dtype = 'float32']}
-- rnn.nn.Linear(I, O [, {bias = false, dtype = 'float64'}])
-- @option in_features (required) the size I of the last input dimension
-- @option out_features (required) the size O of the last output dimension
-- @option bias (true) whether there is a bias
-- @option dtype ('float32') 'float32' or 'float64'
-- @type Linear
local Linear = Module:extend('Linear')
Linear._qualname = 'rnn.nn.Linear'
M.Linear = Linear

local LINEAR_DEFAULTS = {in_features = U.NIL, out_features = U.NIL, bias = true, dtype = 'float32'}
local SIZE_TYPES = {in_features = 'number', out_features = 'number', num_embeddings = 'number',
                    embedding_dim = 'number'}

function Linear:__init(...)
  local fn = 'rnn.nn.Linear'
  local o = U.resolve(fn, U.args(fn, {'in_features', 'out_features'}, ...), LINEAR_DEFAULTS, SIZE_TYPES)
  U.check_size(fn, o, 'in_features')
  U.check_size(fn, o, 'out_features')
  U.check_dtype(fn, o.dtype)
  self.in_features, self.out_features, self.dtype = o.in_features, o.out_features, o.dtype
  local bound = 1 / math.sqrt(o.in_features)
  self:register_parameter('weight', U.uniform({o.out_features, o.in_features}, bound, o.dtype))
  self:register_parameter('bias', o.bias and U.uniform({o.out_features}, bound, o.dtype) or nil)
end

--- Applies the layer to the last dimension of x, as one recorded op.
-- @tparam Tensor x (..., in_features), of the layer's dtype
-- @treturn Tensor (..., out_features)
-- @raise when the last dimension is not in_features or the dtype differs
function Linear:forward(x)
  local fn = 'rnn.nn.Linear'
  U.check_input(fn, x, 'input', nil, self.weight:dtype())
  if x:dim() == 0 or x:size(-1) ~= self.in_features then
    U.raisef('%s: input %s must have in_features = %d on its last dimension', fn, U.shape_str(x),
      self.in_features)
  end
  -- one recorded op on (N, in_features) rows; other shapes through a view
  if x:dim() == 2 then return core.linear(x, self.weight, self.bias) end
  local lead = x:size()
  lead[#lead] = self.out_features
  return core.linear(x:reshape(-1, self.in_features), self.weight, self.bias):reshape(lead)
end

function Linear:extra_repr()
  return string.format('in_features=%d, out_features=%d, bias=%s', self.in_features, self.out_features,
    bool_str(self.bias ~= nil))
end

----------------------------------------------------------------------------
--- A lookup table: the parameter weight (num_embeddings, embedding_dim),
-- N(0, 1) at start, indexed by 1-based int64 indices of any shape.
-- @call rnn.nn.Embedding{num_embeddings = N, embedding_dim = D [, dtype = 'float32']}
-- rnn.nn.Embedding(N, D [, {dtype = 'float64'}])
-- @option num_embeddings (required) the number N of rows (indices 1..N)
-- @option embedding_dim (required) the size D of each row
-- @option dtype ('float32') 'float32' or 'float64'
-- @type Embedding
local Embedding = Module:extend('Embedding')
Embedding._qualname = 'rnn.nn.Embedding'
M.Embedding = Embedding

function Embedding:__init(...)
  local fn = 'rnn.nn.Embedding'
  local o = U.resolve(fn, U.args(fn, {'num_embeddings', 'embedding_dim'}, ...),
    {num_embeddings = U.NIL, embedding_dim = U.NIL, dtype = 'float32'}, SIZE_TYPES)
  U.check_size(fn, o, 'num_embeddings')
  U.check_size(fn, o, 'embedding_dim')
  U.check_dtype(fn, o.dtype)
  self.num_embeddings, self.embedding_dim, self.dtype = o.num_embeddings, o.embedding_dim, o.dtype
  self:register_parameter('weight', core.randn({o.num_embeddings, o.embedding_dim}, o.dtype))
end

--- The rows of weight at the indices.
-- @tparam Tensor indices int64, any shape, values in 1..num_embeddings
-- @treturn Tensor (..., embedding_dim)
-- @raise for a non-int64 tensor or an index out of range
function Embedding:forward(indices)
  local fn = 'rnn.nn.Embedding'
  U.check_input(fn, indices, 'indices')
  if indices:dtype() ~= 'int64' then
    U.raisef('%s: indices must be an int64 tensor of 1-based indices, got %s', fn, indices:dtype())
  end
  if indices:numel() > 0 then
    local lo, hi = indices:min():item(), indices:max():item()
    if lo < 1 or hi > self.num_embeddings then
      U.raisef('%s: index %d out of range 1..%d (num_embeddings)', fn, lo < 1 and lo or hi, self.num_embeddings)
    end
  end
  local y = F.embedding(indices, self.weight)
  return y
end

function Embedding:extra_repr()
  return string.format('%d, %d', self.num_embeddings, self.embedding_dim)
end

----------------------------------------------------------------------------
--- Inverted dropout in training mode (rnn.nn.functional.dropout: zeroes
-- each element with probability p and scales the rest by 1/(1-p), masks
-- from the seeded generator); the identity in eval mode.
-- @call rnn.nn.Dropout{p = 0.5}
-- rnn.nn.Dropout(p)
-- @option p (0.5) the probability of zeroing an element, in [0, 1]
-- @type Dropout
local Dropout = Module:extend('Dropout')
Dropout._qualname = 'rnn.nn.Dropout'
M.Dropout = Dropout

function Dropout:__init(...)
  local fn = 'rnn.nn.Dropout'
  local o = U.resolve(fn, U.args(fn, {'p'}, ...), {p = 0.5})
  if o.p < 0 or o.p > 1 then U.raisef('%s: option p must be in [0, 1], got %s', fn, tostring(o.p)) end
  self.p = o.p
end

--- Dropout of x in training mode, x itself in eval mode.
-- @tparam Tensor x any shape
-- @treturn Tensor the same shape
function Dropout:forward(x)
  U.check_input('rnn.nn.Dropout', x, 'input')
  local y = F.dropout(x, self.p, self.training)
  return y
end

function Dropout:extra_repr()
  return string.format('p=%s', tostring(self.p))
end

----------------------------------------------------------------------------
-- Parameterless elementwise modules, for Sequential.
local function activation(name, f)
  local cls = Module:extend(name)
  cls._qualname = 'rnn.nn.' .. name
  function cls:__init(...)
    local o = ...
    if select('#', ...) > 1 or (o ~= nil and (type(o) ~= 'table' or next(o) ~= nil)) then
      U.raisef('rnn.nn.%s: takes no options', name)
    end
  end
  function cls:forward(x)
    U.check_input('rnn.nn.' .. name, x, 'input')
    local y = f(x)
    return y
  end
  M[name] = cls
end

--- Returns its input (a placeholder in Sequential). `rnn.nn.Identity()`;
-- no options.
-- @type Identity
activation('Identity', function(x) return x end)

--- Returns x.
-- @function Identity:forward
-- @tparam Tensor x any shape
-- @treturn Tensor x's shape

--- max(x, 0) elementwise. `rnn.nn.ReLU()`; no options.
-- @type ReLU
activation('ReLU', core.relu)

--- max(x, 0) elementwise.
-- @function ReLU:forward
-- @tparam Tensor x any shape
-- @treturn Tensor x's shape

--- tanh elementwise. `rnn.nn.Tanh()`; no options.
-- @type Tanh
activation('Tanh', core.tanh)

--- tanh(x) elementwise.
-- @function Tanh:forward
-- @tparam Tensor x any shape
-- @treturn Tensor x's shape

--- The logistic sigmoid 1/(1 + e^-x) elementwise. `rnn.nn.Sigmoid()`; no
-- options.
-- @type Sigmoid
activation('Sigmoid', core.sigmoid)

--- 1/(1 + e^-x) elementwise.
-- @function Sigmoid:forward
-- @tparam Tensor x any shape
-- @treturn Tensor x's shape

return M
