--- Losses and stateless layers, differentiable through the tape. Class
-- dimensions are the last one: logits (..., C) with targets (...) of
-- 1-based class indices — (N, C) as PyTorch, and (T, B, C) straight from a
-- recurrent layer without a permute. Also here: softmax, log_softmax, relu,
-- tanh, sigmoid (the tensor functions of the same names).
--
--     local F = rnn.nn.functional
--     local loss = F.cross_entropy(logits, targets, {ignore_index = 0})
-- @module rnn.nn.functional
-- @alias F
local core = require 'rnn.core'
local options = require 'rnn.options'

local F = {}

local function check_tensor(fn, x, argn, name)
  if not core.is_tensor(x) then
    error(string.format('rnn.nn.functional.%s: argument %d (%s) must be a tensor, got %s',
      fn, argn, name, type(x)), 3)
  end
end

local function shape_str(t) return '(' .. table.concat(t:shape(), ',') .. ')' end

-- Calls f(...) (a function of rnn.core doing the work of the public
-- function fn) and re-raises its error as fn's: the message names
-- rnn.nn.functional.<fn> and points at the caller of fn, not at this file.
local function ccall(fn, f, ...)
  local ok, r = pcall(f, ...)
  if ok then return r end
  local msg = tostring(r)
  msg = msg:match('^.-rnn%.[%w_%.]+: (.*)$') or msg -- location and 'rnn.<core fn>: '
  if msg:sub(1, #fn + 2) == fn .. ': ' then msg = msg:sub(#fn + 3) end -- the core op, repeated
  error(string.format('rnn.nn.functional.%s: %s', fn, msg), 3)
end

local function reduce(loss, reduction)
  if reduction == 'mean' then return loss:mean() end
  if reduction == 'sum' then return loss:sum() end
  return loss
end

local REDUCTIONS = {mean = true, sum = true, none = true}
local function check_reduction(fn, r)
  if not REDUCTIONS[r] then
    error(string.format("rnn.nn.functional.%s: option reduction must be 'mean', 'sum' or 'none', got '%s'",
      fn, tostring(r)), 3)
  end
end

--- Mean squared error: the mean (or sum) of (pred - target)². Also
-- called mse_loss.
-- @tparam Tensor pred any shape
-- @tparam Tensor target the shape and dtype of pred
-- @tparam[opt] table opts options
-- @option reduction ('mean') 'mean', 'sum' or 'none' (the elementwise squares)
-- @treturn Tensor a 0-d tensor, or pred's shape with reduction = 'none'
-- @raise when the shapes or dtypes differ
-- @also mse_loss
function F.mse(pred, target, opts)
  check_tensor('mse', pred, 1, 'pred')
  check_tensor('mse', target, 2, 'target')
  local o = options.resolve('rnn.nn.functional.mse', opts, {reduction = 'mean'})
  check_reduction('mse', o.reduction)
  if shape_str(pred) ~= shape_str(target) then
    error(string.format('rnn.nn.functional.mse: pred %s and target %s differ in shape',
      shape_str(pred), shape_str(target)), 2)
  end
  if pred:dtype() ~= target:dtype() then
    error(string.format('rnn.nn.functional.mse: pred (%s) and target (%s) differ in dtype',
      pred:dtype(), target:dtype()), 2)
  end
  local d = ccall('mse', core.sub, pred, target)
  return reduce(d * d, o.reduction)
end
F.mse_loss = F.mse

-- (..., C) and (...) flattened to (N, C) and (N)
local function flatten_classes(fn, input, target)
  if input:dim() < 1 or target:dim() ~= input:dim() - 1 then
    error(string.format('rnn.nn.functional.%s: input %s and target %s: expected (..., C) and (...)',
      fn, shape_str(input), shape_str(target)), 3)
  end
  for d = 1, target:dim() do
    if target:size(d) ~= input:size(d) then
      error(string.format('rnn.nn.functional.%s: input %s and target %s: expected (..., C) and (...)',
        fn, shape_str(input), shape_str(target)), 3)
    end
  end
  local c = input:size(-1)
  return input:reshape(-1, c), target:reshape(-1)
end

local NLL_DEFAULTS = {reduction = 'mean', ignore_index = options.NIL}
local NLL_TYPES = {ignore_index = 'number'}

local function check_ignore_index(fn, v)
  if v ~= nil and math.type(v) ~= 'integer' and not (v == math.floor(v) and math.abs(v) < 2^53) then
    error(string.format('rnn.nn.functional.%s: option ignore_index must be an integer, got %s', fn, tostring(v)), 3)
  end
  return v and math.tointeger(v)
end

--- Negative log-likelihood of log-probabilities (..., C) at 1-based class
-- indices (...) (int64). opts: reduction, ignore_index (targets equal to it
-- count for nothing, and not in the mean). Also called nll_loss.
-- @tparam Tensor logp (..., C) float32 or float64 log-probabilities
-- @tparam Tensor target (...) int64 class indices in 1..C
-- @tparam[opt] table opts options
-- @option reduction ('mean') 'mean' (over the targets not ignored), 'sum' or
-- 'none' (shape (...))
-- @option ignore_index (none) a target value that counts for nothing
-- @treturn Tensor a 0-d tensor, or (...) with reduction = 'none'
-- @raise when the shapes do not match or a target is out of range
-- @also nll_loss
function F.nll(logp, target, opts)
  check_tensor('nll', logp, 1, 'input')
  check_tensor('nll', target, 2, 'target')
  local o = options.resolve('rnn.nn.functional.nll', opts, NLL_DEFAULTS, 2, NLL_TYPES)
  check_reduction('nll', o.reduction)
  o.ignore_index = check_ignore_index('nll', o.ignore_index)
  local lp, t = flatten_classes('nll', logp, target)
  local loss = ccall('nll', core._nll, lp, t, o.reduction, o.ignore_index)
  if o.reduction == 'none' then return loss:reshape(target:shape()) end
  return loss
end
F.nll_loss = F.nll

--- Cross-entropy of logits (..., C) against 1-based class indices (...):
-- nll(log_softmax(logits)).
-- @tparam Tensor logits (..., C) float32 or float64: (N, C), or (T, B, C)
-- from a recurrent layer
-- @tparam Tensor target (...) int64 class indices in 1..C
-- @tparam[opt] table opts options
-- @option reduction ('mean') 'mean' (over the targets not ignored), 'sum' or
-- 'none' (shape (...))
-- @option ignore_index (none) a target value that counts for nothing
-- (the padding of rnn.data.text's record_batches)
-- @treturn Tensor a 0-d tensor, or (...) with reduction = 'none'
-- @raise when the shapes do not match or a target is out of range
-- @usage local loss = F.cross_entropy(head(out), y)   -- out (T, B, H), y (T, B)
function F.cross_entropy(logits, target, opts)
  check_tensor('cross_entropy', logits, 1, 'input')
  check_tensor('cross_entropy', target, 2, 'target')
  if logits:dtype() == 'int64' then
    error('rnn.nn.functional.cross_entropy: the input (logits) must be float32 or float64, got int64', 2)
  end
  local o = options.resolve('rnn.nn.functional.cross_entropy', opts, NLL_DEFAULTS, 2, NLL_TYPES)
  check_reduction('cross_entropy', o.reduction)
  o.ignore_index = check_ignore_index('cross_entropy', o.ignore_index)
  local lg, t = flatten_classes('cross_entropy', logits, target)
  local loss = ccall('cross_entropy', core._nll, ccall('cross_entropy', core.log_softmax, lg, -1), t,
    o.reduction, o.ignore_index)
  if o.reduction == 'none' then return loss:reshape(target:shape()) end
  return loss
end

--- Binary cross-entropy on logits, in the stable form
-- max(x, 0) - x y + log(1 + exp(-|x|)), exact at 0.
-- @tparam Tensor logits any shape
-- @tparam Tensor target the shape of logits, values in [0, 1]
-- @tparam[opt] table opts options
-- @option reduction ('mean') 'mean', 'sum' or 'none'
-- @treturn Tensor a 0-d tensor, or logits' shape with reduction = 'none'
function F.binary_cross_entropy_with_logits(logits, target, opts)
  check_tensor('binary_cross_entropy_with_logits', logits, 1, 'input')
  check_tensor('binary_cross_entropy_with_logits', target, 2, 'target')
  local o = options.resolve('rnn.nn.functional.binary_cross_entropy_with_logits', opts, {reduction = 'mean'})
  check_reduction('binary_cross_entropy_with_logits', o.reduction)
  local loss = ccall('binary_cross_entropy_with_logits', core._bce_with_logits, logits, target, o.reduction)
  return loss -- not a tail call: ccall's errors point at the caller's frame
end

--- Rows of weight at 1-based indices (rnn.nn.Embedding's forward).
-- @tparam Tensor indices int64, any shape (...), values in 1..V
-- @tparam Tensor weight (V, D)
-- @treturn Tensor (..., D)
-- @raise for a non-int64 index tensor, a weight that is not 2-d, an index out of range
function F.embedding(indices, weight)
  check_tensor('embedding', indices, 1, 'indices')
  check_tensor('embedding', weight, 2, 'weight')
  if indices:dtype() ~= 'int64' then
    error('rnn.nn.functional.embedding: indices must be an int64 tensor, got ' .. indices:dtype(), 2)
  end
  if weight:dim() ~= 2 then
    error('rnn.nn.functional.embedding: weight must be (V, D), got ' .. shape_str(weight), 2)
  end
  local shape = indices:shape()
  shape[#shape + 1] = weight:size(2)
  local ok, rows = pcall(weight.index_select, weight, 1, indices:reshape(-1))
  if not ok then error((tostring(rows):gsub('^.-rnn%.index_select', 'rnn.nn.functional.embedding')), 2) end
  return rows:reshape(shape)
end

--- Inverted dropout: in training, each element is zeroed with probability
-- p and the rest scaled by 1/(1-p), with masks drawn from the seeded
-- generator; the identity otherwise.
-- @tparam Tensor x any shape
-- @tparam[opt=0.5] number p the probability of zeroing, in [0, 1]
-- @tparam[opt=true] boolean training false: return x unchanged
-- @treturn Tensor x's shape
function F.dropout(x, p, training)
  check_tensor('dropout', x, 1, 'input')
  p = p or 0.5
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error('rnn.nn.functional.dropout: argument 2 (p) must be a number in [0, 1], got ' .. tostring(p), 2)
  end
  if training == false or p == 0 then return x end
  if p == 1 then return x * 0 end
  local keep = core.rand(x:shape(), x:dtype()):ge(p)
  return x * keep * (1 / (1 - p))
end

F.softmax = core.softmax
F.log_softmax = core.log_softmax
F.relu = core.relu
F.tanh = core.tanh
F.sigmoid = core.sigmoid

return F
