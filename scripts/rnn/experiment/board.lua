--- rnn.experiment.board: what a sweep shows while worker processes run it
-- (rnn.experiment.pool). The workers send their progress as events; the
-- board draws them.
--
-- Modes (chosen as rnn.experiment.progress chooses them):
--   'bar'    (a terminal) one line per active run — index, cell, seed, a
--            bar, step/total, elapsed<ETA, loss, gradient norm — and a total
--            line (runs done, failed, running, to do; the sweep's ETA),
--            redrawn in place at most ten times a second; messages (a run's
--            end, a worker's output) scroll above them.
--   'plain'  (a file or a pipe) a line when a run starts or resumes, every
--            10 s of a run, when it ends, and the total line every 30 s.
--   'quiet'  errors only.
local json = require 'rnn.experiment.json'
local progress = require 'rnn.experiment.progress'

local M = {}

local hms = progress.hms
local function clock() return require('rnn.core').clock() end

local function num(v)
  if type(v) == 'boolean' then return v and 'yes' or 'no' end
  if type(v) ~= 'number' then return tostring(v) end
  return string.format('%.4g', v)
end

local PLAIN_RUN_EVERY = 10
local PLAIN_TOTAL_EVERY = 30

local Board = {}
Board.__index = Board

local function terminal_width()
  local cols = tonumber(os.getenv('COLUMNS'))
  if cols then return cols end
  local ok, uv = pcall(require, 'rnn.experiment.uv')
  if ok then
    local tty = uv.new_tty(1, false)
    if tty then
      local w = tty:get_winsize()
      tty:close()
      if w and w > 0 then return w end
    end
  end
  return 100
end

--- new{mode, total = runs in the sweep, done = runs finished before,
-- to_do = runs this command will try, steps = steps per run, out}
function M.new(o)
  local mode = o.mode or progress.detect()
  local self = setmetatable({
    mode = mode, out = o.out or io.stdout, width = mode == 'bar' and terminal_width() or 100,
    total = o.total, done = o.done or 0, failed = 0, stopped = 0, to_do = o.to_do or 0, steps = o.steps or 1,
    active = {}, order = {}, drawn = 0, last_draw = -1, t0 = clock(), last_total = clock(),
    steps_run = 0, steps_left = (o.to_do or 0) * (o.steps or 1),
  }, Board)
  return self
end

-- erases the lines drawn last (bar mode)
function Board:erase()
  if self.mode == 'bar' and self.drawn > 0 then
    self.out:write(string.format('\27[%dA\r\27[J', self.drawn))
    self.drawn = 0
  end
end

--- A line above the board (every mode but quiet).
function Board:message(text)
  if self.mode == 'quiet' then return end
  self:erase()
  self.out:write(text, '\n')
  self:draw(true)
end

--- An error: on stderr, in every mode.
function Board:error(text)
  self:erase()
  self.out:flush()
  io.stderr:write(text, '\n')
  io.stderr:flush()
  self:draw(true)
end

function Board:eta()
  local elapsed = clock() - self.t0
  if self.steps_run == 0 or elapsed <= 0 then return 0 / 0 end
  return self.steps_left / (self.steps_run / elapsed)
end

function Board:total_line()
  local running = #self.order
  local parts = {string.format('runs: %d/%d done', self.done, self.total)}
  if self.failed > 0 then parts[#parts + 1] = string.format('%d failed', self.failed) end
  parts[#parts + 1] = string.format('%d running', running)
  local waiting = self.to_do - running
  if waiting > 0 then parts[#parts + 1] = string.format('%d to start', waiting) end
  local s = table.concat(parts, ', ')
  if running > 0 or waiting > 0 then s = s .. ' · all ' .. hms(self:eta()) .. ' left' end
  return s
end

function Board:run_line(r)
  local now = clock()
  local head = string.format('[%d/%d] %s s%d ', r.index, self.total, r.cell, r.seed)
  if not r.step then return head .. 'starting' end
  local total = r.total or self.steps
  local frac = total > 0 and r.step / total or 1
  local bw = 20
  local filled = math.floor(frac * bw + 0.5)
  local elapsed = now - r.t0
  local done = r.step - (r.start or 0)
  local eta = done > 0 and elapsed / done * (total - r.step) or 0 / 0
  local tail = string.format(' %d/%d %s<%s', r.step, total, hms(elapsed), hms(eta))
  if r.loss ~= nil then tail = tail .. ' loss ' .. num(r.loss) end
  if r.grad_norm ~= nil then tail = tail .. ' |g| ' .. num(r.grad_norm) end
  local bar = '[' .. string.rep('=', filled) .. string.rep(' ', bw - filled) .. ']'
  local line = head .. bar .. tail
  if #line > self.width - 1 then
    local room = self.width - 1 - #bar - #tail - 12
    if room > 8 then head = string.format('[%d/%d] %s s%d ', r.index, self.total, r.cell:sub(1, room), r.seed) end
    line = (head .. bar .. tail):sub(1, self.width - 1)
  end
  return line
end

--- Redraws the board (bar mode; at most ten times a second unless forced);
-- in plain mode, the total line every 30 s.
function Board:draw(force)
  local now = clock()
  if self.mode == 'plain' then
    if now - self.last_total >= PLAIN_TOTAL_EVERY then
      self.last_total = now
      self.out:write(self:total_line(), '\n')
      self.out:flush()
    end
    return
  end
  if self.mode ~= 'bar' then return end
  if not force and now - self.last_draw < 0.1 then return end
  self.last_draw = now
  local lines = {}
  for _, key in ipairs(self.order) do lines[#lines + 1] = self:run_line(self.active[key]) end
  lines[#lines + 1] = self:total_line():sub(1, self.width - 1)
  local up = self.drawn > 0 and string.format('\27[%dA\r', self.drawn) or ''
  self.out:write(up, '\27[J', table.concat(lines, '\n'), '\n')
  self.out:flush()
  self.drawn = #lines
end

--- A worker has started on run r ({key, index, cell, seed}).
function Board:started(r)
  local s = {index = r.index, cell = r.name, seed = r.seed, t0 = clock(), last_plain = clock()}
  self.active[r.key] = s
  self.order[#self.order + 1] = r.key
  self:draw(true)
end

local function remove(list, key)
  for i, k in ipairs(list) do
    if k == key then table.remove(list, i) return end
  end
end

--- An event of run r's worker (see rnn.experiment.progress, mode 'events').
function Board:event(r, ev)
  local s = self.active[r.key]
  if not s then return end
  local name = ev.ev
  if name == 'start' then
    s.start, s.step, s.total, s.t0 = ev.step, ev.step, ev.total, clock()
    self.steps_left = self.steps_left - (ev.step or 0) + ((ev.total or self.steps) - self.steps)
    if ev.extend and self.mode ~= 'quiet' then
      self:message(string.format('[%d/%d] %s seed %d: finished at step %d; extending it to %d', s.index, self.total,
        s.cell, s.seed, ev.step, ev.total))
    elseif self.mode == 'plain' then
      self:message(string.format('[%d/%d] %s seed %d: %s', s.index, self.total, s.cell, s.seed,
        (ev.step or 0) > 0 and string.format('resuming at step %d of %d', ev.step, ev.total) or 'started'))
    end
  elseif name == 'step' then
    local advanced = ev.step - (s.step or 0)
    if advanced > 0 then
      self.steps_run = self.steps_run + advanced
      self.steps_left = self.steps_left - advanced
    end
    s.step, s.loss, s.grad_norm = ev.step, ev.loss, ev.grad_norm
    if self.mode == 'plain' and clock() - s.last_plain >= PLAIN_RUN_EVERY and ev.step < (s.total or 0) then
      s.last_plain = clock()
      local parts = {string.format('[%d/%d] %s seed %d  step %d/%d', s.index, self.total, s.cell, s.seed, ev.step,
        s.total)}
      if ev.loss ~= nil then parts[#parts + 1] = 'loss ' .. num(ev.loss) end
      if ev.grad_norm ~= nil then parts[#parts + 1] = 'grad_norm ' .. num(ev.grad_norm) end
      self:message(table.concat(parts, '  '))
    end
    self:draw()
  elseif name == 'end' then
    s.final, s.diverged = ev.final, ev.diverged
  elseif name == 'msg' then
    self:message(ev.text)
  elseif name == 'error' then
    self:error(ev.text)
  end
end

--- The worker of run r has ended: outcome 'done' | 'skipped' | 'failed' |
-- 'stopped' | 'busy'; detail: the error text for 'failed'.
function Board:finished(r, outcome, detail)
  local s = self.active[r.key]
  self.active[r.key] = nil
  remove(self.order, r.key)
  local left = s and s.total and s.step and (s.total - s.step) or self.steps
  if outcome == 'done' or outcome == 'skipped' then
    self.done = self.done + 1
    self.to_do = self.to_do - 1
    self.steps_left = self.steps_left - left
    if outcome == 'done' then
      local parts = {}
      for _, k in ipairs(json.sorted_keys(s and s.final or {})) do parts[#parts + 1] = k .. ' ' .. num(s.final[k]) end
      self:message(string.format('[%d/%d] %s seed %d: %s in %.1f s%s%s', r.index, self.total, r.name, r.seed,
        (s and s.diverged) and progress.diverged_text(s.diverged) or 'done', clock() - (s and s.t0 or clock()),
        #parts > 0 and ': ' or '', table.concat(parts, ', ')))
    else
      self:message(string.format('[%d/%d] %s seed %d: finished elsewhere', r.index, self.total, r.name, r.seed))
    end
  elseif outcome == 'failed' then
    self.failed = self.failed + 1
    self.to_do = self.to_do - 1
    self.steps_left = self.steps_left - left
    self:error(string.format('[%d/%d] %s seed %d failed: %s', r.index, self.total, r.name, r.seed,
      tostring(detail)))
  elseif outcome == 'stopped' then
    self.stopped = self.stopped + 1
    self:message(string.format('[%d/%d] %s seed %d: stopped at step %s (its checkpoint is kept)', r.index,
      self.total, r.name, r.seed, tostring(s and s.step or '?')))
  else
    self:draw(true)
  end
end

--- A run that was finished before this command.
function Board:skipped(r)
  self:message(string.format('[%d/%d] %s seed %d: finished before, skipped', r.index, self.total, r.name, r.seed))
end

--- Leaves the board: the last drawing stays on a terminal.
function Board:close()
  if self.mode == 'bar' then
    self:erase()
    self.out:write(self:total_line():sub(1, self.width - 1), '\n')
    self.out:flush()
  end
end

return M
