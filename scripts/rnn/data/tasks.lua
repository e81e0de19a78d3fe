--- @module rnn.data

-- rnn.data tasks: the classic synthetic long-range problems.
--
--     local x, y, info = rnn.data.adding{T = 100, batch = 32}
--     local x, y, info = rnn.data.copy{T = 100, batch = 32}
--     local x, y, info = rnn.data.temporal_order{T = 100, batch = 32}
--
-- Every generator draws from the global seeded generator (rnn.manual_seed),
-- or, given `seed = n`, seeds it with n and restores its state afterwards, so
-- that the batch depends on n only. Tensors are seq-first, (T, B, ...), unless
-- `batch_first = true`. Class indices are 1-based int64, as everywhere in rnn.
local core = require 'rnn.core'
local U = require 'rnn.data.util'

local M = {}

local NIL = U.NIL

--- One-hot vectors of 1-based class indices: a 1 at each index.
-- @tparam Tensor indices int64, any shape (...), values in 1..n_classes
-- @tparam integer n_classes
-- @tparam[opt='float32'] string dtype 'float32' or 'float64'
-- @treturn Tensor (..., n_classes)
-- @raise for a non-int64 tensor or an index out of range
function M.one_hot(indices, n_classes, dtype)
  local fn = 'rnn.data.one_hot'
  if not core.is_tensor(indices) or indices:dtype() ~= 'int64' then
    error(string.format('%s: argument 1 (indices) must be an int64 tensor, got %s', fn,
      core.is_tensor(indices) and (indices:dtype() .. ' tensor') or type(indices)), 2)
  end
  local c = U.as_int(n_classes)
  if c == nil or c < 1 then
    error(string.format('%s: argument 2 (n_classes) must be a positive integer, got %s', fn, tostring(n_classes)), 2)
  end
  dtype = dtype or 'float32'
  if dtype ~= 'float32' and dtype ~= 'float64' then
    error(string.format("%s: argument 3 (dtype) must be 'float32' or 'float64', got '%s'", fn, tostring(dtype)), 2)
  end
  local shape = indices:shape()
  if indices:numel() > 0 then
    local lo, hi = indices:min():item(), indices:max():item()
    if lo < 1 or hi > c then
      error(string.format('%s: indices must lie in 1..%d, got values in %d..%d', fn, c, lo, hi), 2)
    end
  end
  local flat = indices:reshape(-1)
  local out = core.eye(c, dtype):index_select(1, flat)
  shape[#shape + 1] = c
  return out:reshape(shape)
end

-- -------------------------------------------------------------------------
-- The adding problem (Hochreiter and Schmidhuber 1997; as in Le, Jaitly and
-- Hinton 2015 and Arjovsky et al. 2016).

-- The adding problem's baseline, 1/6: the MSE of always predicting 1, the
-- mean of the target (the sum of two independent U(0,1) numbers, whose
-- variance is 2 · 1/12). A model must beat this to have learned anything.
M.adding_baseline_mse = 1 / 6

local ADDING = {T = 100, batch = 32, dtype = 'float32', seed = NIL, batch_first = false}

local function adding(o)
  local T, B = o.T, o.batch
  local half = T // 2
  -- draws, in this order: values (T,B), first marker (B), second marker (B)
  local values = core.rand({T, B}, o.dtype)
  local p1 = core.randint(1, half + 1, {B}):totable()
  local p2 = core.randint(half + 1, T + 1, {B}):totable()
  local vals = values:totable()
  local marker = core.zeros({T, B}, o.dtype)
  local sums, pos = {}, {}
  for b = 1, B do
    marker[{p1[b], b}] = 1
    marker[{p2[b], b}] = 1
    sums[b] = {vals[p1[b]][b] + vals[p2[b]][b]}
    pos[b] = {p1[b], p2[b]}
  end
  local x = core.stack({values, marker}, 3)
  local y = core.tensor(sums, o.dtype)
  return U.layout(x, o.batch_first), y, {positions = core.tensor(pos, 'int64')}
end

--- The adding problem (Hochreiter and Schmidhuber 1997; Le, Jaitly and
-- Hinton 2015). Channel 1 of x holds U(0,1) numbers, channel 2 is 0 except
-- for exactly two 1s: one at a uniform step of the first half (1..T//2)
-- and one of the second half (T//2+1..T). y is the sum of the two marked
-- numbers. The mean predictor's MSE is adding_baseline_mse = 1/6.
-- @tparam[opt] table opts options
-- @option T (100) the sequence length, >= 2
-- @option batch (32) the batch size B
-- @option dtype ('float32') 'float32' or 'float64'
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T, ...) instead of (T, B, ...)
-- @treturn Tensor x (T, B, 2)
-- @treturn Tensor y (B, 1)
-- @treturn table info: positions, an int64 (B, 2) tensor of the marked steps
-- @usage local x, y = rnn.data.adding{T = 200, batch = 64}
function M.adding(opts)
  local fn = 'rnn.data.adding'
  local o = U.resolve(fn, opts, ADDING, {seed = 'number'})
  U.int(fn, o, 'T', 2)
  U.int(fn, o, 'batch', 1)
  U.float_dtype(fn, o)
  U.seed(fn, o)
  return U.with_seed(o.seed, adding, o)
end

-- -------------------------------------------------------------------------
-- The copy memory task (Arjovsky, Shah and Bengio 2016, after Hochreiter and
-- Schmidhuber 1997).

--- The cross-entropy, in nats per step, of the memoryless strategy: predict
-- the blank for the first T + length steps (no loss) and a uniform guess over
-- the n_symbols for the last `length` ones: length · ln(n_symbols) / (T + 2·length).
-- With the paper's length 10 and 8 symbols: 10 ln 8 / (T + 20).
-- @tparam integer T the delay of the copy task
-- @tparam[opt=10] integer length
-- @tparam[opt=8] integer n_symbols
-- @treturn number nats per step
function M.copy_baseline(T, length, n_symbols)
  local fn = 'rnn.data.copy_baseline'
  length = length or 10
  n_symbols = n_symbols or 8
  for i, p in ipairs{{'T', T, 1}, {'length', length, 1}, {'n_symbols', n_symbols, 1}} do
    local v = U.as_int(p[2])
    if v == nil or v < p[3] then
      error(string.format('%s: argument %d (%s) must be a positive integer, got %s', fn, i, p[1], tostring(p[2])), 2)
    end
  end
  return length * math.log(n_symbols) / (T + 2 * length)
end

local COPY = {T = 100, n_symbols = 8, length = 10, batch = 32, seed = NIL, batch_first = false}

local function copy(o)
  local T, K, L, B = o.T, o.n_symbols, o.length, o.batch
  local total = T + 2 * L
  local delim = K + 2
  -- draws: the symbols (L, B), classes 2..K+1
  local symbols = core.randint(2, K + 2, {L, B})
  local x = core.ones({total, B}, 'int64')
  local y = core.ones({total, B}, 'int64')
  x:narrow(1, 1, L):copy_(symbols)
  x:narrow(1, L + T, 1):fill_(delim)
  y:narrow(1, T + L + 1, L):copy_(symbols)
  return U.layout(x, o.batch_first), U.layout(y, o.batch_first),
    {n_classes = K + 2, blank = 1, delimiter = delim, symbols = symbols}
end

--- The copy memory task (Arjovsky, Shah and Bengio 2016). x and y are
-- int64 class indices. As in the paper: `length` symbols drawn uniformly from n_symbols, then T-1
-- blanks, a delimiter, and `length` blanks; the target is T + length blanks
-- followed by the symbols. Coding, 1-based (the paper's a_k is class k+1):
--   1 = blank (a_0), 2..n_symbols+1 = the symbols (a_1..a_8),
--   n_symbols+2 = the delimiter (a_9).
-- info = {n_classes = n_symbols + 2, blank = 1, delimiter = n_symbols + 2,
-- symbols = (length, B) int64}. For one-hot inputs use rnn.data.one_hot(x,
-- info.n_classes). Baseline: rnn.data.copy_baseline(T, length, n_symbols).
-- @tparam[opt] table opts options
-- @option T (100) the delay, >= 1
-- @option n_symbols (8) the number of symbols
-- @option length (10) how many symbols to remember
-- @option batch (32) the batch size B
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T + 2·length) instead
-- @treturn Tensor x (T + 2·length, B) int64
-- @treturn Tensor y (T + 2·length, B) int64
-- @treturn table info: n_classes, blank, delimiter, symbols (length, B)
function M.copy(opts)
  local fn = 'rnn.data.copy'
  local o = U.resolve(fn, opts, COPY, {seed = 'number'})
  U.int(fn, o, 'T', 1)
  U.int(fn, o, 'n_symbols', 1)
  U.int(fn, o, 'length', 1)
  U.int(fn, o, 'batch', 1)
  U.seed(fn, o)
  return U.with_seed(o.seed, copy, o)
end

-- -------------------------------------------------------------------------
-- Temporal order (Hochreiter and Schmidhuber 1997, task 6a; in the form of
-- Pascanu, Mikolov and Bengio 2013).

M.temporal_order_symbols = {'A', 'B', 'a', 'b', 'c', 'd'}
M.temporal_order_classes = {'AA', 'AB', 'BA', 'BB'}

local ORDER = {T = 100, batch = 32, dtype = 'float32', seed = NIL, batch_first = false}

-- the 1-based step range [lo, hi] covering fractions [a, b] of T
local function span(T, a, b)
  local lo = math.max(1, T * a // 10)
  return lo, math.max(lo, T * b // 10)
end

local function temporal_order(o)
  local T, B = o.T, o.batch
  local lo1, hi1 = span(T, 1, 2)
  local lo2, hi2 = span(T, 4, 5)
  -- draws, in this order: distractors (T,B), first step (B), second step (B),
  -- the two relevant symbols (B, 2)
  local idx = core.randint(3, 7, {T, B})
  local t1 = core.randint(lo1, hi1 + 1, {B}):totable()
  local t2 = core.randint(lo2, hi2 + 1, {B}):totable()
  local sym = core.randint(1, 3, {B, 2})
  local s = sym:totable()
  local cls, pos = {}, {}
  for b = 1, B do
    idx[{t1[b], b}] = s[b][1]
    idx[{t2[b], b}] = s[b][2]
    cls[b] = 2 * (s[b][1] - 1) + s[b][2]
    pos[b] = {t1[b], t2[b]}
  end
  local x = M.one_hot(idx, 6, o.dtype)
  return U.layout(x, o.batch_first), core.tensor(cls, 'int64'),
    {indices = U.layout(idx, o.batch_first), positions = core.tensor(pos, 'int64'), symbols = sym,
     n_classes = 4}
end

--- The temporal order problem (Hochreiter and Schmidhuber 1997, task 6a,
-- as in Pascanu, Mikolov and Bengio 2013): classify the order of two
-- relevant symbols among distractors. Symbols (the one-hot channels): 1 = A, 2 = B (the relevant ones), 3..6 =
-- distractors a, b, c, d. A relevant symbol sits at a uniform step of
-- [T/10, 2T/10] and another of [4T/10, 5T/10] (integer division, steps
-- 1-based; 10..20 and 40..50 for T = 100); every other step is a uniform
-- distractor. Classes: 1 = AA, 2 = AB, 3 = BA, 4 = BB (first symbol, second
-- symbol). info = {indices = (T, B) int64 symbol indices, positions = (B, 2),
-- symbols = (B, 2) int64 in {1, 2}, n_classes = 4}. Chance accuracy is 1/4,
-- chance cross-entropy ln 4.
-- @tparam[opt] table opts options
-- @option T (100) the sequence length, >= 10
-- @option batch (32) the batch size B
-- @option dtype ('float32') 'float32' or 'float64'
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T, ...) instead of (T, B, ...)
-- @treturn Tensor x (T, B, 6) one-hot
-- @treturn Tensor y (B) int64 classes 1..4
-- @treturn table info
function M.temporal_order(opts)
  local fn = 'rnn.data.temporal_order'
  local o = U.resolve(fn, opts, ORDER, {seed = 'number'})
  U.int(fn, o, 'T', 10)
  U.int(fn, o, 'batch', 1)
  U.float_dtype(fn, o)
  U.seed(fn, o)
  return U.with_seed(o.seed, temporal_order, o)
end

return M
