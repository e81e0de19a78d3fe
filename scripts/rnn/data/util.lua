--- rnn.data.util: argument checks and seeding shared by the data generators.
-- Internal to rnn.data; not part of the public API.
local core = require 'rnn.core'
local options = require 'rnn.options'

local M = {}

M.NIL = options.NIL

--- opts over defaults (rnn.options.resolve); errors point at the caller of
-- the public function that called this.
function M.resolve(fn, opts, defaults, types)
  local o = options.resolve(fn, opts, defaults, 3, types) -- not a tail call: the level counts this frame
  return o
end

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end
M.fail = fail

--- An integer-valued number, or nil.
local function as_int(v)
  if type(v) ~= 'number' then return nil end
  return math.tointeger(v)
end
M.as_int = as_int

--- Checks that o[key] is an integer >= min and returns it as a Lua integer.
-- Errors name `fn` and the option and point at the caller's caller.
function M.int(fn, o, key, min)
  local v = as_int(o[key])
  if v == nil then
    fail(3, '%s: option %s must be an integer, got %s', fn, key, tostring(o[key]))
  end
  if min and v < min then
    fail(3, '%s: option %s must be >= %d, got %d', fn, key, min, v)
  end
  o[key] = v
  return v
end

--- Checks that o[key] is a finite number in [lo, hi] (either bound may be nil;
-- `open` = true makes the lower bound strict).
function M.num(fn, o, key, lo, hi, open)
  local v = o[key]
  if type(v) ~= 'number' or v ~= v or v == math.huge or v == -math.huge then
    fail(3, '%s: option %s must be a finite number, got %s', fn, key, tostring(v))
  end
  if lo and (v < lo or (open and v == lo)) then
    fail(3, '%s: option %s must be %s %s, got %s', fn, key, open and '>' or '>=', tostring(lo), tostring(v))
  end
  if hi and v > hi then
    fail(3, '%s: option %s must be <= %s, got %s', fn, key, tostring(hi), tostring(v))
  end
  return v
end

--- Checks o.dtype is a floating dtype.
function M.float_dtype(fn, o)
  if o.dtype ~= 'float32' and o.dtype ~= 'float64' then
    fail(3, "%s: option dtype must be 'float32' or 'float64', got '%s'", fn, tostring(o.dtype))
  end
  return o.dtype
end

--- Checks o.seed is nil or an integer.
function M.seed(fn, o)
  if o.seed ~= nil and as_int(o.seed) == nil then
    fail(3, '%s: option seed must be an integer, got %s', fn, tostring(o.seed))
  end
  o.seed = o.seed and as_int(o.seed)
  return o.seed
end

--- Runs f(...) drawing from the global generator. With a seed, the generator
-- is seeded with it first and its state restored afterwards (also when f
-- raises), so the draws depend on the seed only and the caller's random
-- stream is left exactly where it was.
function M.with_seed(seed, f, ...)
  if seed == nil then return f(...) end
  local saved = core.get_rng_state()
  core.manual_seed(seed)
  local res = table.pack(pcall(f, ...))
  core.set_rng_state(saved)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- (T, B, ...) -> (B, T, ...) when batch_first.
function M.layout(t, batch_first)
  if batch_first then return t:transpose(1, 2):contiguous() end
  return t
end

return M
