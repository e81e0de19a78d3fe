--- @module rnn.nn
local Module = require 'rnn.nn.module'
local U = require 'rnn.nn.util'

--- Modules applied in turn, each to the previous one's result.
--
--     local net = rnn.nn.Sequential(rnn.nn.Linear(4, 8), rnn.nn.Tanh(), rnn.nn.Linear(8, 1))
--     local net = rnn.nn.Sequential{rnn.nn.Linear(4, 8), rnn.nn.Tanh()}  -- the same
--
-- Children are named '0', '1', ... as in PyTorch, so state_dict keys
-- (`0.weight`, `2.bias`) match a PyTorch nn.Sequential's. From Lua,
-- `net[i]` is the i-th module counting from 1 (so `net[1]` is the child
-- named '0'), `#net` the number of modules, `net:append(m)` adds one.
-- @call rnn.nn.Sequential(m1, m2, ...)
-- rnn.nn.Sequential{m1, m2, ...}
-- @type Sequential
local Sequential = Module:extend('Sequential')
Sequential._qualname = 'rnn.nn.Sequential'

function Sequential:__init(...)
  local mods = {...}
  local n = select('#', ...)
  if n == 1 and type(mods[1]) == 'table' and not Module.is_module(mods[1]) then
    local t = mods[1]
    mods, n = {}, 0
    for k in pairs(t) do
      if math.type(k) ~= 'integer' or k < 1 then
        U.raisef("rnn.nn.Sequential: the table must be an array of modules, got key '%s'", tostring(k))
      end
      if k > n then n = k end
    end
    for i = 1, n do mods[i] = t[i] end
  end
  for i = 1, n do
    if not Module.is_module(mods[i]) then
      U.raisef('rnn.nn.Sequential: module %d is a %s, not a module', i, type(mods[i]))
    end
    self:add_module(tostring(i - 1), mods[i])
  end
end

--- The i-th module (1-based; negative counts from the end), or nil; the
-- same as `seq[i]`.
-- @function Sequential:get
-- @tparam integer i
-- @treturn ?Module
function Sequential:_getitem(i)
  local n = #self
  if i < 0 then i = n + 1 + i end
  if i < 1 or i > n then return nil end
  return rawget(self, rawget(self, '_modules').names[i])
end
Sequential.get = Sequential._getitem

Sequential.__index = function(t, k)
  if math.type(k) == 'integer' then return t:_getitem(k) end
  return Sequential[k]
end

function Sequential:__len()
  return #rawget(self, '_modules').names
end

--- Adds module at the end (named by its 0-based position).
-- @tparam Module m
-- @treturn Sequential self
function Sequential:append(m)
  if not Module.is_module(m) then
    U.raisef('rnn.nn.Sequential.append: argument 1 (module) must be a module, got %s', type(m))
  end
  self:add_module(tostring(#self), m)
  return self
end

--- Applies the modules in turn: x -> m1(x) -> m2(...) -> ...; only the
-- first result of each module is passed on (as PyTorch's single value).
-- @param x the input of the first module
-- @return the output of the last
function Sequential:forward(x)
  for _, p in ipairs(self:named_children()) do
    x = p[2](x)
  end
  return x
end

return Sequential
