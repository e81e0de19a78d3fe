--- Printing tensors, in the manner of PyTorch and NumPy: aligned columns,
-- one shared number format, large tensors abbreviated with '...'.
local M = {}
local rnn_is_tensor = require('rnn.core').is_tensor

local EDGE = 3          -- items shown at each end of an abbreviated dim
local THRESHOLD = 1000  -- tensors with more elements are abbreviated

-- The indices of a dim of size n that are printed, in order; false marks
-- the '...' gap. Only these are visited: a loop over all n would take hours
-- for a large (or expanded) tensor.
local function shown(n, summarize)
  local out = {}
  if summarize and n > 2 * EDGE then
    for i = 1, EDGE do out[#out + 1] = i end
    out[#out + 1] = false
    for i = n - EDGE + 1, n do out[#out + 1] = i end
  else
    for i = 1, n do out[#out + 1] = i end
  end
  return out
end

-- The values that will be printed: everything, or the edges of each dim.
local function visit(t, summarize, fn)
  local dims = t:dim()
  local idx = {}
  local function rec(d)
    if d > dims then fn(t:get(table.unpack(idx, 1, dims))) return end
    for _, i in ipairs(shown(t:size(d), summarize)) do
      if i then
        idx[d] = i
        rec(d + 1)
      end
    end
  end
  rec(1)
end

-- Chooses one format for every value: integers, fixed point or scientific.
local function number_format(t, summarize)
  if t:dtype() == 'int64' then return function(v) return string.format('%d', v) end end
  local all_int, maxabs, minabs, any = true, 0, math.huge, false
  visit(t, summarize, function(v)
    if v == v and v ~= math.huge and v ~= -math.huge then
      any = true
      if v ~= math.floor(v) then all_int = false end
      local a = math.abs(v)
      if a > maxabs then maxabs = a end
      if a ~= 0 and a < minabs then minabs = a end
    end
  end)
  local function special(v)
    if v ~= v then return 'nan' end
    if v == math.huge then return 'inf' end
    if v == -math.huge then return '-inf' end
  end
  if not any then return function(v) return special(v) end end
  if maxabs >= 1e8 or (minabs < 1e-4 and minabs ~= math.huge) or (all_int and maxabs >= 1e16) then
    return function(v) return special(v) or string.format('%.4e', v) end
  end
  if all_int then
    return function(v) return special(v) or string.format('%.0f.', v) end
  end
  return function(v) return special(v) or string.format('%.4f', v) end
end

local function shape_str(t)
  local s = t:shape()
  return '(' .. table.concat(s, ',') .. ')'
end

function M.tensor(t)
  if not rnn_is_tensor(t) then
    error(string.format('rnn.Tensor.__tostring: argument 1 must be a tensor, got %s', type(t)), 2)
  end
  local footer = string.format('[rnn.Tensor %s of shape %s]', t:dtype(), shape_str(t))
  local dims = t:dim()
  local summarize = t:numel() > THRESHOLD
  if t:numel() == 0 then return 'tensor([])\n' .. footer end
  local fmt = number_format(t, summarize)
  if dims == 0 then return 'tensor(' .. fmt(t:item()) .. ')\n' .. footer end

  local width = 0
  visit(t, summarize, function(v) width = math.max(width, #fmt(v)) end)
  local function cell(v) local s = fmt(v); return string.rep(' ', width - #s) .. s end

  local idx = {}
  local function rec(d, indent)
    local parts = {}
    for _, i in ipairs(shown(t:size(d), summarize)) do
      if not i then
        parts[#parts + 1] = '...'
      else
        idx[d] = i
        if d == dims then
          parts[#parts + 1] = cell(t:get(table.unpack(idx, 1, dims)))
        else
          parts[#parts + 1] = rec(d + 1, indent .. ' ')
        end
      end
    end
    if d == dims then return '[' .. table.concat(parts, ', ') .. ']' end
    local sep = ',' .. string.rep('\n', dims - d) .. indent .. ' '
    return '[' .. table.concat(parts, sep) .. ']'
  end
  return 'tensor(' .. rec(1, '       ') .. ')\n' .. footer
end

return M
