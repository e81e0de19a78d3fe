--- rnn.experiment.errors: the errors a run can end with, told apart so
-- that each is shown once, with what helps and nothing else.
--
--   refusal  the harness will not do what was asked (a run folder made
--            with another configuration or by other code, fewer steps than
--            a run has done, ...): the message alone — it is about the
--            command, not about a place in any code.
--   user     an error raised in the experiment's own setup, step or
--            evaluate: its message, which starts with the file:line of the
--            experiment's code where it was raised (added when the error
--            came from C or from the library without one), and, when the
--            experiment's own functions called each other on the way,
--            those calls ("  called from exp.lua:40") — never the frames
--            of the harness or of the rnn library.
-- Anything else is a fault of the harness or of the library, and keeps its
-- whole traceback (M.traceback), which is what fixing it needs.
local M = {}

-- the folder of the rnn library (frames in it are not the experiment's)
local ROOT = (debug.getinfo(1, 'S').source:match('^@(.*)/experiment/errors%.lua$'))

local Refusal = {__tostring = function(e) return e.message end}

--- A refusal with this message (string.format arguments).
function M.refusal(fmt, ...)
  return setmetatable({message = select('#', ...) > 0 and string.format(fmt, ...) or fmt}, Refusal)
end

--- Raises a refusal (see M.refusal).
function M.refuse(fmt, ...)
  error(M.refusal(fmt, ...), 0)
end

function M.is_refusal(e) return getmetatable(e) == Refusal end

local UserError = {__tostring = function(e) return e.text end}

function M.is_user_error(e) return getmetatable(e) == UserError end

local function in_library(source)
  if not ROOT or type(source) ~= 'string' or source:sub(1, 1) ~= '@' then return false end
  local path = source:sub(2)
  return path:sub(1, #ROOT + 1) == ROOT .. '/'
end

local function message_of(e)
  if type(e) == 'string' then return e end
  local mt = getmetatable(e)
  if mt and mt.__tostring then return tostring(e) end
  if type(e) == 'number' then return tostring(e) end
  return string.format('(error object is a %s value)', type(e))
end

-- the experiment's frames from `level` up to (not including) the frame of
-- `boundary` (the harness function that called into the experiment)
local function user_frames(level, boundary)
  local frames = {}
  while true do
    local info = debug.getinfo(level, 'Slnf')
    if not info or info.func == boundary then break end
    if info.what ~= 'C' and not in_library(info.source) then
      frames[#frames + 1] = {where = string.format('%s:%d', info.short_src, info.currentline), name = info.name}
    end
    level = level + 1
  end
  return frames
end

--- Calls the experiment's function fn(...) as `what` ('setup', 'step',
-- 'evaluate'); returns its results, or raises a user error (see the
-- header) with fields what, message (the message with its location) and
-- text (the message and the calls between, as shown).
function M.call(what, fn, ...)
  local function handler(e)
    if M.is_refusal(e) or M.is_user_error(e) then return e end
    local frames = user_frames(2, M.call)
    local msg = message_of(e)
    local first = frames[1]
    if first and msg:sub(1, #first.where + 1) ~= first.where .. ':' then
      -- (an error from C, or one the library raised at its own line)
      msg = first.where .. ': ' .. msg
    end
    local lines = {msg}
    for i = 2, #frames do
      lines[#lines + 1] = '  called from ' .. frames[i].where .. (frames[i].name and (' (' .. frames[i].name .. ')')
        or '')
    end
    return setmetatable({what = what, message = msg, text = table.concat(lines, '\n'), value = e}, UserError)
  end
  local res = table.pack(xpcall(fn, handler, ...))
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- The message handler for the harness's own calls: refusals, user
-- errors and stops pass as they are; anything else gets its traceback.
function M.traceback(e)
  if type(e) == 'table' then return e end
  return debug.traceback(message_of(e), 2)
end

return M
