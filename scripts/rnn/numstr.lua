--- Numbers as exact text, for safetensors metadata (which holds strings):
-- integers stay integers, floats keep 17 significant digits and a '.0'
-- when integral (so they read back as floats), and nan/inf are spelled out.
local M = {}

function M.encode(v)
  if math.type(v) == 'integer' then return string.format('%d', v) end
  if v ~= v then return 'nan' end
  if v == math.huge then return 'inf' end
  if v == -math.huge then return '-inf' end
  local s = string.format('%.17g', v)
  if not s:find('[.eEn]') then s = s .. '.0' end -- stays a float when read back
  return s
end

function M.decode(s)
  if s == 'nan' then return 0 / 0 end
  if s == 'inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end

return M
