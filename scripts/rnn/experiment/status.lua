--- rnn.experiment.status: where every run of an invocation stands
-- (rnnlua exp.lua --status), read from the run folders, the run locks and,
-- when the sweep went to Slurm, squeue.
--
--   done         its done marker exists for these steps (a run finished
--                at fewer steps shows as stopped: rerunning extends it;
--                a diverged run is done, 'diverged at step k')
--   running      a process holds its lock (which one: host, pid, Slurm
--                task), or Slurm says its task runs
--   pending      its Slurm task waits in the queue
--   failed       error.txt and no done marker (rerunning resumes it)
--   stopped      a checkpoint, nobody on it: stopped or killed mid-way
--                (rerunning resumes it)
--   not started  nothing yet
local files = require 'rnn.experiment.files'
local lock = require 'rnn.experiment.lock'
local run = require 'rnn.experiment.run'

local M = {}

M.STATES = {'done', 'running', 'pending', 'failed', 'stopped', 'not started'}

-- the number of training rows in a run's metrics.csv
local function rows_of(dir)
  local f = io.open(dir .. '/metrics.csv', 'rb')
  if not f then return 0 end
  local n = -1
  for _ in f:lines() do n = n + 1 end
  f:close()
  return math.max(0, n)
end

--- The state of every run: array of {run, state, step, detail}.
function M.collect(runs, dir, steps)
  local queued = require('rnn.experiment.slurm').queued(dir) or {}
  local out = {}
  for _, r in ipairs(runs) do
    local row = {run = r, steps = steps}
    local q = queued[r.rel]
    local marker = run.finished(r.dir, steps)
    local owner = not marker and lock.held(lock.path(dir, r.rel))
    if marker then
      row.state, row.step = 'done', math.tointeger(marker.step) or steps
      if marker.diverged then row.detail = require('rnn.experiment.progress').diverged_text(marker.diverged) end
    elseif owner then
      row.state, row.step, row.detail = 'running', rows_of(r.dir), lock.describe(owner)
    elseif q and q.running then
      row.state, row.step, row.detail = 'running', rows_of(r.dir), 'Slurm task ' .. q.id .. ' (starting)'
    elseif q then
      row.state, row.step, row.detail = 'pending', rows_of(r.dir), 'Slurm task ' .. q.id .. ' ' .. q.state:lower()
    elseif files.exists(r.dir .. '/error.txt') then
      local text = files.read(r.dir .. '/error.txt') or ''
      row.state, row.step, row.detail = 'failed', rows_of(r.dir), (text:match('[^\n]*'))
    elseif files.exists(r.dir .. '/checkpoint.safetensors') then
      row.state, row.step = 'stopped', rows_of(r.dir)
      if files.exists(r.dir .. '/done') then row.detail = 'finished at fewer steps; rerunning extends it' end
    else
      row.state, row.step = 'not started', 0
    end
    out[#out + 1] = row
  end
  return out
end

--- Prints the table of every run and the counts; returns {rows, counts}.
function M.show(exp, o, runs, dir, cfg)
  local print_ = o.print or print
  local steps = cfg and cfg.steps or exp.config.steps
  local rows = M.collect(runs, dir, steps)
  local counts = {}
  for _, s in ipairs(M.STATES) do counts[s] = 0 end
  local width = #'cell'
  for _, row in ipairs(rows) do
    counts[row.state] = counts[row.state] + 1
    width = math.max(width, #row.run.name)
  end
  local parts = {}
  for _, s in ipairs(M.STATES) do parts[#parts + 1] = string.format('%d %s', counts[s], s) end
  print_(string.format('%s: %d runs in %s: %s', exp.name, #rows, dir, table.concat(parts, ', ')))
  local fmt = '%-' .. width .. 's  %4s  %-11s  %9s  %s'
  local function line(...)
    local text = string.format(fmt, ...):gsub('%s+$', '')
    print_(text)
  end
  line('cell', 'seed', 'state', 'step', '')
  for _, row in ipairs(rows) do
    line(row.run.name, tostring(row.run.seed), row.state, string.format('%d/%d', row.step or 0, steps),
      row.detail or '')
  end
  return {rows = rows, counts = counts, dir = dir}
end

return M
