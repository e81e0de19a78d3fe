--- Errors raised at the user's line: at the first stack frame outside the
-- library files that match the given patterns (C frames — pcall, metamethod
-- glue — count as inside), however deep in the library the check sits.
--
--     local raise, raisef = require('rnn.raise').outside{'[/@]rnn/optim%.lua$'}
local M = {}

function M.outside(patterns)
  local function inside(info)
    if info.what == 'C' then return true end
    local src = info.source or ''
    if src:find('[/@]rnn/raise%.lua$') then return true end
    for _, p in ipairs(patterns) do
      if src:find(p) then return true end
    end
    return false
  end

  local function raise(msg)
    local level = 2
    while true do
      local info = debug.getinfo(level, 'S')
      if not info then return error(msg, 0) end
      if not inside(info) then return error(msg, level) end
      level = level + 1
    end
  end

  return raise, function(fmt, ...) return raise(string.format(fmt, ...)) end
end

return M
