-- Helpers shared by the specs (not a spec itself: busted runs *_spec.lua).
--
--     local support = require 'tests.spec.support'
--     local dir = support.tmpdir('report-spec')
local M = {}

--- A new empty folder under $TMPDIR (or /tmp), named after `name`.
function M.tmpdir(name)
  local p = io.popen('mktemp -d "${TMPDIR:-/tmp}/rnnlua-' .. name .. '.XXXXXX"')
  local d = p:read('l')
  p:close()
  return d
end

--- The bytes of a file; fails the test when it is missing.
function M.read(path)
  local f = assert(io.open(path, 'rb'), 'missing ' .. path)
  local s = f:read('a')
  f:close()
  return s
end

--- Writes the bytes s to path (replacing it).
function M.write(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

return M
