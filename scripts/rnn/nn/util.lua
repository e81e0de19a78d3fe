--- rnn.nn.util: argument checks and errors shared by the modules of rnn.nn.
-- Errors point at the first stack frame outside rnn/nn/*.lua: the user's
-- line that built or called the module, however deep inside the library
-- (constructors, forward, a subclass calling its parent) the check sits.
local core = require 'rnn.core'
local options = require 'rnn.options'

local U = {}

--- Raises msg (or a formatted message) at the first frame outside rnn.nn.
U.raise, U.raisef = require('rnn.raise').outside{'[/@]rnn/nn/[%w_]+%.lua$'}

-- an error message without its "file:line: " prefix
function U.strip(msg)
  msg = tostring(msg)
  return msg:match('^[^\n]-:%d+: (.*)$') or msg
end

--- options.resolve with errors re-raised at the user's line. Keys listed
-- in `any` (an array) take a value of any type, checked by the caller.
function U.resolve(fn, opts, defaults, types, any)
  local free = {}
  if any and type(opts) == 'table' then
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    for _, k in ipairs(any) do free[k], copy[k] = copy[k], nil end
    opts = copy
  end
  local ok, r = pcall(options.resolve, fn, opts, defaults, 1, types)
  if not ok then U.raise(U.strip(r)) end
  for k, v in pairs(free) do r[k] = v end
  return r
end

U.NIL = options.NIL

function U.shape_str(t)
  return '(' .. table.concat(t:shape(), ',') .. ')'
end

function U.is_tensor(x) return core.is_tensor(x) end

--- opts[key] must be a positive integer (required unless `optional`).
function U.check_size(fn, opts, key, optional, allow_zero)
  local v = opts[key]
  if v == nil then
    if optional then return nil end
    U.raisef('%s: option %s is required', fn, key)
  end
  local iv = math.tointeger(v)
  if not iv or iv < (allow_zero and 0 or 1) then
    U.raisef('%s: option %s must be a %s integer, got %s', fn, key,
      allow_zero and 'non-negative' or 'positive', tostring(v))
  end
  opts[key] = iv
  return iv
end

function U.check_dtype(fn, dtype, what)
  if dtype ~= 'float32' and dtype ~= 'float64' then
    U.raisef("%s: %s must be 'float32' or 'float64', got %s", fn, what or 'option dtype',
      type(dtype) == 'string' and ("'" .. dtype .. "'") or tostring(dtype))
  end
  return dtype
end

--- A tensor argument of one of the float dtypes, of `dims` dimensions
-- (a number or a table of allowed numbers).
function U.check_input(fn, x, name, dims, dtype)
  if not core.is_tensor(x) then
    U.raisef('%s: %s must be a tensor, got %s', fn, name, type(x))
  end
  if dims then
    local ok = false
    if type(dims) == 'number' then ok = x:dim() == dims
    else for _, d in ipairs(dims) do if x:dim() == d then ok = true end end end
    if not ok then
      local want = type(dims) == 'number' and tostring(dims) or table.concat(dims, ' or ')
      U.raisef('%s: %s must have %s dimensions, got %s', fn, name, want, U.shape_str(x))
    end
  end
  if dtype and x:dtype() ~= dtype then
    U.raisef('%s: %s is %s but the module is %s (convert one with :to())', fn, name, x:dtype(), dtype)
  end
  return x
end

--- Positional constructor arguments: `Class(a, b [, opts])` is
-- `Class{names[1] = a, names[2] = b, ...opts}`; `Class{...}` passes through.
function U.args(fn, names, ...)
  local first = ...
  if first == nil or type(first) == 'table' then
    if select('#', ...) > 1 then
      U.raisef('%s: expected one options table, got %d arguments', fn, select('#', ...))
    end
    return first
  end
  local n = select('#', ...)
  local opts = {}
  local k = 0
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == 'table' and i == n then
      for key, val in pairs(v) do
        if opts[key] ~= nil then U.raisef('%s: option %s given twice', fn, tostring(key)) end
        opts[key] = val
      end
    else
      k = k + 1
      if not names[k] then
        U.raisef('%s: too many positional arguments (at most %d: %s)', fn, #names, table.concat(names, ', '))
      end
      opts[names[k]] = v
    end
  end
  return opts
end

--- U(-bound, bound) of a shape and dtype, from the seeded generator.
function U.uniform(shape, bound, dtype)
  return core.no_grad(function()
    return core.rand(shape, dtype) * (2 * bound) - bound
  end)
end

return U
