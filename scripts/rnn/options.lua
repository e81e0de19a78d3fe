--- Options tables: defaults filled in, unknown keys and wrong types refused.
local M = {}

--- Returns a new table with opts over defaults. `fn` names the caller in
-- errors, which point `level` frames up (default: the caller's caller).
-- A default of `M.NIL` declares an optional key whose default is nil; its
-- type is then given by `types[key]`, or left unchecked when absent there.
M.NIL = setmetatable({}, {__tostring = function() return 'nil' end})

function M.resolve(fn, opts, defaults, level, types)
  level = (level or 2) + 1
  if opts ~= nil and type(opts) ~= 'table' then
    error(string.format('%s: options must be a table, got %s', fn, type(opts)), level)
  end
  local out = {}
  for k, v in pairs(defaults) do
    if v ~= M.NIL then out[k] = v end
  end
  for k, v in pairs(opts or {}) do
    local d = defaults[k]
    if d == nil then
      local known = {}
      for name in pairs(defaults) do known[#known + 1] = name end
      table.sort(known)
      error(string.format("%s: unknown option '%s' (known: %s)", fn, tostring(k), table.concat(known, ', ')), level)
    end
    local want
    if d == M.NIL then want = types and types[k] else want = type(d) end
    if want and type(v) ~= want then
      error(string.format('%s: option %s must be a %s, got %s', fn, k, want, type(v)), level)
    end
    out[k] = v
  end
  return out
end

return M
