--- rnn.experiment.progress: what a running experiment shows.
--
-- Three modes:
--   'bar'    (stdout is a terminal) one line rewritten in place ('\r'):
--            run index, cell, seed, a bar, step/total, elapsed<ETA, loss,
--            gradient norm and the ETA of the whole experiment; at most ten
--            redraws a second.
--   'plain'  (stdout is a file or a pipe) a line when a run resumes, every
--            10 s during a run, and one when it ends with its results.
--   'quiet'  nothing but errors.
--   'events' (a worker process of a sweep, rnn.experiment.pool) JSON lines
--            on a pipe to the parent, which draws them: {"ev":"start",
--            "step":s,"total":n[,"extend":true]}, {"ev":"step","step":k,
--            "loss":..,"grad_norm":..} (at most ten a second, and the last
--            step), {"ev":"end","final":{..}[,"diverged":{step,..}]},
--            {"ev":"skip"}, {"ev":"msg","text":..}, {"ev":"error","text":..}.
-- The mode is chosen once: RNNLUA_PROGRESS=bar|plain|quiet if set, else
-- 'bar' when standard output is a terminal and TERM is not 'dumb', else
-- 'plain'.
local json = require 'rnn.experiment.json'

local M = {}

local function clock() return require('rnn.core').clock() end

--- The mode for this process (see the header).
function M.detect()
  local env = os.getenv('RNNLUA_PROGRESS')
  if env == 'bar' or env == 'plain' or env == 'quiet' then return env end
  local term = os.getenv('TERM')
  if term == nil or term == '' or term == 'dumb' then return 'plain' end
  -- (libuv asks isatty(1); no shell)
  local ok, uv = pcall(require, 'rnn.experiment.uv')
  return (ok and uv.guess_handle(1) == 'tty') and 'bar' or 'plain'
end

local function hms(s)
  if s ~= s or s == math.huge or s < 0 then return '--:--' end
  s = math.floor(s + 0.5)
  local h, m = s // 3600, (s % 3600) // 60
  if h > 0 then return string.format('%d:%02d:%02d', h, m, s % 60) end
  return string.format('%d:%02d', m, s % 60)
end
M.hms = hms

local function num(v)
  if type(v) == 'boolean' then return v and 'yes' or 'no' end
  if type(v) ~= 'number' then return tostring(v) end
  return string.format('%.4g', v)
end

local Progress = {}
Progress.__index = Progress

-- plain mode: a line at most this often (seconds) during a run
local PLAIN_EVERY = 10

local Events = {}
Events.__index = Events

-- the events of one worker, written to `out` (a file open on a pipe)
local function new_events(out)
  return setmetatable({out = out, last_sent = -1}, Events)
end

--- Sends one event; a write that fails (the parent is gone) is noted in
-- self.broken, and the harness stops the run at the next step's end.
function Events:send(ev)
  local ok = self.out:write(json.encode(ev), '\n')
  if ok then ok = self.out:flush() end
  if not ok then self.broken = true end
end

function Events:clear() end
function Events:message(text) self:send{ev = 'msg', text = text} end
function Events:error(text) self:send{ev = 'error', text = text} end
function Events:skip_run() self:send{ev = 'skip'} end

function Events:start_run(index, cell, seed, start, total, extending)
  self.total = total
  self:send{ev = 'start', step = start, total = total, extend = extending or nil}
end

function Events:step(step, row)
  local now = clock()
  if now - self.last_sent < 0.1 and step < self.total then return end
  self.last_sent = now
  local ev = {ev = 'step', step = step}
  if type(row.loss) == 'number' then ev.loss = row.loss end
  if type(row.grad_norm) == 'number' then ev.grad_norm = row.grad_norm end
  self:send(ev)
end

function Events:end_run(final, diverged)
  local f = {}
  for k, v in pairs(final or {}) do
    if type(v) == 'number' or type(v) == 'boolean' then f[k] = v end
  end
  self:send{ev = 'end', final = f, diverged = diverged}
end

--- new{mode, runs = total number of runs, steps = steps per run, out = io.stdout}
-- (mode 'events': out is the pipe to the parent)
function M.new(o)
  if o.mode == 'events' then return new_events(o.out) end
  local self = setmetatable({
    mode = o.mode or M.detect(), runs = o.runs or 1, steps = o.steps or 1, out = o.out or io.stdout,
    width = tonumber(os.getenv('COLUMNS')) or 100, steps_done = 0, time_spent = 0, steps_left = 0,
  }, Progress)
  self.steps_left = self.runs * self.steps
  return self
end

-- clears the bar line, if one is shown
function Progress:clear()
  if self.mode == 'bar' and self.shown then
    self.out:write('\r', string.rep(' ', self.width - 1), '\r')
    self.out:flush()
    self.shown = false
  end
end

--- A line of text, above the bar.
function Progress:message(text)
  if self.mode == 'quiet' then return end
  self:clear()
  self.out:write(text, '\n')
  self.out:flush()
end

--- An error: shown in every mode, on stderr.
function Progress:error(text)
  self:clear()
  io.stderr:write(text, '\n')
  io.stderr:flush()
end

function Progress:start_run(index, cell, seed, start, total, extending)
  self.index, self.cell, self.seed, self.start, self.total = index, cell, seed, start, total
  self.t0 = clock()
  self.last_draw = -1
  self.last_plain = self.t0
  self.steps_left = self.steps_left - start
  if extending and self.mode ~= 'quiet' then
    self:message(string.format('[%d/%d] %s seed %d: finished at step %d; extending it to %d', index, self.runs, cell,
      seed, start, total))
  elseif self.mode == 'plain' and start > 0 then
    self:message(string.format('[%d/%d] %s seed %d: resuming at step %d of %d', index, self.runs, cell, seed, start,
      total))
  end
end

--- How a diverged run is named in progress lines: 'diverged at step 412
-- (loss nan)'.
function M.diverged_text(d)
  if type(d) ~= 'table' then return 'diverged' end
  local why = d.value ~= nil and string.format(' (%s %s)', tostring(d.metric or 'loss'), tostring(d.value))
    or (d.error and ' (the step raised on non-finite weights or gradients)' or '')
  return string.format('diverged at step %s%s', tostring(math.tointeger(d.step) or d.step), why)
end

--- A run that is already finished (its done marker exists).
function Progress:skip_run(index, cell, seed)
  self.steps_left = self.steps_left - self.steps
  if self.mode ~= 'quiet' then
    self:message(string.format('[%d/%d] %s seed %d: finished before, skipped', index, self.runs, cell, seed))
  end
end

-- the ETA of the whole experiment from the speed seen so far
function Progress:total_eta()
  if self.steps_done == 0 then return 0 / 0 end
  return self.steps_left * self.time_spent / self.steps_done
end

function Progress:step(step, row)
  local now = clock()
  self.steps_left = self.steps_left - 1
  self.steps_done = self.steps_done + 1
  self.time_spent = self.time_spent + (now - (self.last_step_time or self.t0))
  self.last_step_time = now
  if self.mode == 'quiet' then return end
  local elapsed = now - self.t0
  local done = step - self.start
  local eta = done > 0 and elapsed / done * (self.total - step) or 0 / 0
  local loss, gn = row.loss, row.grad_norm
  if self.mode == 'bar' then
    if now - self.last_draw < 0.1 and step < self.total then return end
    self.last_draw = now
    local frac = step / self.total
    local bw = 20
    local filled = math.floor(frac * bw + 0.5)
    local tail = string.format(' %d/%d %s<%s', step, self.total, hms(elapsed), hms(eta))
    if loss ~= nil then tail = tail .. ' loss ' .. num(loss) end
    if gn ~= nil then tail = tail .. ' |g| ' .. num(gn) end
    tail = tail .. ' | all ' .. hms(self:total_eta()) .. ' left'
    local head = string.format('[%d/%d] %s s%d ', self.index, self.runs, self.cell, self.seed)
    local bar = '[' .. string.rep('=', filled) .. string.rep(' ', bw - filled) .. ']'
    local line = head .. bar .. tail
    if #line > self.width - 1 then
      local room = self.width - 1 - #bar - #tail - 12
      if room > 8 then
        head = string.format('[%d/%d] %s s%d ', self.index, self.runs, self.cell:sub(1, room), self.seed)
      end
      line = (head .. bar .. tail):sub(1, self.width - 1)
    end
    self.out:write('\r', line, string.rep(' ', math.max(0, self.width - 1 - #line)))
    self.out:flush()
    self.shown = true
  elseif now - self.last_plain >= PLAIN_EVERY and step < self.total then
    self.last_plain = now
    local parts = {string.format('[%d/%d] %s seed %d  step %d/%d', self.index, self.runs, self.cell, self.seed, step,
      self.total)}
    if loss ~= nil then parts[#parts + 1] = 'loss ' .. num(loss) end
    if gn ~= nil then parts[#parts + 1] = 'grad_norm ' .. num(gn) end
    parts[#parts + 1] = 'eta ' .. hms(eta)
    self:message(table.concat(parts, '  '))
  end
end

--- The end of a run: its time and final evaluation (and `diverged`, the
-- done marker's record, when it diverged).
function Progress:end_run(final, diverged)
  if self.mode == 'quiet' then return end
  local parts = {}
  for _, k in ipairs(json.sorted_keys(final or {})) do
    local v = final[k]
    if type(v) == 'number' or type(v) == 'boolean' then parts[#parts + 1] = k .. ' ' .. num(v) end
  end
  self:message(string.format('[%d/%d] %s seed %d: %s in %.1f s%s%s', self.index, self.runs, self.cell, self.seed,
    diverged and M.diverged_text(diverged) or 'done', clock() - self.t0, #parts > 0 and ': ' or '',
    table.concat(parts, ', ')))
end

return M
