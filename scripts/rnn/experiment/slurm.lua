--- rnn.experiment.slurm: a sweep as a Slurm job array (rnnlua exp.lua
-- --launcher slurm [--slurm key=value ...] [--array-limit N]).
--
-- submit() writes, under <experiment>/.slurm/<time>/, the list of runs to
-- do (tasks.txt, one '<cell dir>/seed-<n>' a line), a batch script for the
-- array's tasks (task.sh) and one for the report (report.sh), then calls
--   sbatch --array=0-<n-1>[%N] --requeue --open-mode=append
--          --signal=B:USR1@<warning> --cpus-per-task=<threads> ... task.sh
--   sbatch --dependency=afterany:<array job> ... report.sh
-- Task i runs line i+1 of tasks.txt: the same script with --worker <run>,
-- under the run's lock. Slurm's warning signal (USR1, <warning> seconds
-- before the time limit or a preemption) makes the task save a checkpoint
-- at the end of its step and requeue itself (scontrol requeue); the
-- requeued task resumes from that checkpoint and ends bit-identical to an
-- uninterrupted run. The report job runs after every task has ended, and
-- writes the summary and report from the run folders.
--
-- The runs folder must be shared by the submitting machine and the nodes
-- (as home or project folders are on a cluster). Submitting again submits
-- only the runs that are neither done nor still in the queue; the arrays
-- submitted are recorded in .slurm/jobs.jsonl, which --status reads with
-- squeue.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local proc = require 'rnn.experiment.proc'

local M = {}

--- Seconds before the time limit when Slurm sends the warning signal.
M.WARNING = 180

local quote = files.quote

-- runs a command (an argument vector: no shell); returns its output
-- (standard output and error) and whether it succeeded
local function capture(argv)
  local r = proc.run(argv)
  if r.error then return r.error, false end
  return r.out or '', r.code == 0 and r.signal == 0
end

local function have(cmd)
  return proc.which(cmd) ~= nil
end

local function records(dir)
  local out = {}
  local text = files.read(dir .. '/.slurm/jobs.jsonl')
  for line in (text or ''):gmatch('[^\n]+') do
    local ok, rec = pcall(json.decode, line)
    if ok and type(rec) == 'table' and rec.array then out[#out + 1] = rec end
  end
  return out
end

local QUEUED = {PENDING = true, REQUEUED = true, REQUEUE_HOLD = true, REQUEUE_FED = true, CONFIGURING = true,
                RESIZING = true, SUSPENDED = true, RUNNING = true, COMPLETING = true, SIGNALING = true,
                STAGE_OUT = true, STOPPED = true}
local RUNNING = {RUNNING = true, COMPLETING = true, SIGNALING = true, STAGE_OUT = true}

--- The runs of earlier submissions that Slurm still holds: {rel = {id,
-- state, running}}; nil when squeue is not there (not a Slurm machine).
function M.queued(dir)
  local recs = records(dir)
  if #recs == 0 or not have('squeue') then return nil end
  local by_id, ids = {}, {}
  for _, rec in ipairs(recs) do
    local lines = {}
    for line in (files.read(rec.tasks) or ''):gmatch('[^\n]+') do lines[#lines + 1] = line end
    by_id[tostring(rec.array)] = lines
    ids[#ids + 1] = tostring(rec.array)
  end
  local out, ok = capture{'squeue', '-h', '-r', '-o', '%i %T', '-j', table.concat(ids, ',')}
  local queued = {}
  if not ok then return queued end -- every job has left the queue (squeue then fails on unknown ids)
  for id, task, state in out:gmatch('(%d+)_(%d+)%s+(%S+)') do
    local lines = by_id[id]
    local rel = lines and lines[tonumber(task) + 1]
    if rel and QUEUED[state] then
      queued[rel] = {id = id .. '_' .. task, state = state, running = RUNNING[state] or false}
    end
  end
  return queued
end

local function sbatch_options(o, defaults)
  local opts, given = {}, {}
  for _, kv in ipairs(o.slurm or {}) do given[kv[1]] = true end
  for _, kv in ipairs(defaults) do
    if not given[kv[1]] then opts[#opts + 1] = '--' .. kv[1] .. (kv[2] and ('=' .. kv[2]) or '') end
  end
  for _, kv in ipairs(o.slurm or {}) do opts[#opts + 1] = '--' .. kv[1] .. '=' .. kv[2] end
  return opts
end

local function quoted(list)
  local q = {}
  for i, s in ipairs(list) do q[i] = quote(s) end
  return table.concat(q, ' ')
end

-- (the batch scripts are shell scripts that sbatch runs: what they pass
-- on is quoted there, for that shell)
local function write_script(path, lines)
  files.write_atomic(path, table.concat(lines, '\n') .. '\n')
  local ok, err = require('rnn.experiment.uv').fs_chmod(path, tonumber('755', 8))
  if not ok then error('rnn.experiment: cannot make ' .. path .. ' executable: ' .. tostring(err), 0) end
end

local function sbatch(args, script)
  local argv = {'sbatch', '--parsable'}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  argv[#argv + 1] = script
  local out, ok = capture(argv)
  local id = ok and out:match('^%s*(%d+)')
  if not id then error('rnn.experiment: sbatch failed: ' .. out:gsub('%s+$', ''), 0) end
  return id
end

--- Submits the runs that are neither done nor queued; prints what it did.
-- Returns {submitted = n, array = job id, report = job id, dir} (no ids
-- when nothing was left to submit; then the report is written here).
function M.submit(exp, o, cfg, runs, dir)
  local print_ = o.print or print
  if not have('sbatch') then
    error('rnn.experiment: --launcher slurm: sbatch is not on the PATH (run this on a Slurm login node)', 0)
  end
  if not o.command then
    error('rnn.experiment: --launcher slurm starts the script again in Slurm tasks: run it as a script '
      .. '(rnnlua exp.lua ...)', 0)
  end
  local queued = M.queued(dir) or {}
  local todo, n_done, n_queued = {}, 0, 0
  for _, r in ipairs(runs) do
    if require('rnn.experiment.run').finished(r.dir, cfg.steps) then n_done = n_done + 1
    elseif queued[r.rel] then n_queued = n_queued + 1
    else todo[#todo + 1] = r end
  end
  if #todo == 0 then
    print_(string.format('%s: nothing to submit (%d runs done, %d still in the Slurm queue)', exp.name, n_done,
      n_queued))
    return {submitted = 0, dir = dir}
  end
  local uv = require 'rnn.experiment.uv'
  local cwd = uv.cwd()
  local stamp = os.date('!%Y%m%d-%H%M%S') .. string.format('-%d', math.tointeger(uv.os_getpid()))
  local sdir = dir .. '/.slurm/' .. stamp
  files.mkdir_p(sdir)
  local abs = sdir:sub(1, 1) == '/' and sdir or (cwd .. '/' .. sdir)
  local lines = {}
  for i, r in ipairs(todo) do lines[i] = r.rel end
  files.write_atomic(sdir .. '/tasks.txt', table.concat(lines, '\n') .. '\n')
  local threads = o.threads or 1
  local task = {
    '#!/bin/sh',
    '# A task of the Slurm array of ' .. exp.name .. ' (written by rnn.experiment): the run on line',
    '# SLURM_ARRAY_TASK_ID + 1 of tasks.txt, under its lock, resumed from its checkpoint if it has one.',
    'cd ' .. quote(cwd) .. ' || exit 1',
    'run=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ' .. quote(abs .. '/tasks.txt') .. ')',
    '[ -n "$run" ] || { echo "no run on line $((SLURM_ARRAY_TASK_ID + 1)) of tasks.txt" >&2; exit 1; }',
    'export OPENBLAS_NUM_THREADS=' .. threads .. ' OMP_NUM_THREADS=' .. threads,
    'exec ' .. quoted(o.command) .. ' --worker "$run"',
  }
  write_script(sdir .. '/task.sh', task)
  write_script(sdir .. '/report.sh', {
    '#!/bin/sh',
    '# The report of ' .. exp.name .. ', after every task of the array has ended (written by rnn.experiment).',
    'cd ' .. quote(cwd) .. ' || exit 1',
    'exec ' .. quoted(o.command) .. ' --report --quiet',
  })
  local array = '0-' .. (#todo - 1) .. (o.array_limit and ('%' .. o.array_limit) or '')
  local array_id = sbatch(sbatch_options(o, {
    {'job-name', 'rnnlua-' .. exp.name}, {'array', array}, {'requeue', nil}, {'open-mode', 'append'},
    {'signal', 'B:USR1@' .. M.WARNING}, {'cpus-per-task', tostring(threads)},
    {'output', abs .. '/task-%A_%a.out'},
  }), abs .. '/task.sh')
  local report_id = sbatch(sbatch_options(o, {
    {'job-name', 'rnnlua-' .. exp.name .. '-report'}, {'dependency', 'afterany:' .. array_id},
    {'output', abs .. '/report-%j.out'},
  }), abs .. '/report.sh')
  local rec = {array = array_id, report = report_id, tasks = abs .. '/tasks.txt', runs = #todo,
               submitted = os.date('!%Y-%m-%dT%H:%M:%SZ')}
  local old = files.read(dir .. '/.slurm/jobs.jsonl') or ''
  files.write_atomic(dir .. '/.slurm/jobs.jsonl', old .. json.encode(rec) .. '\n')
  print_(string.format('%s: submitted %d runs to Slurm as job array %s (%s), and the report as job %s '
    .. '(after the array)%s', exp.name, #todo, array_id, array, report_id,
    (n_done + n_queued > 0) and string.format('; %d runs done, %d still queued', n_done, n_queued) or ''))
  print_('  tasks: ' .. sdir .. '/tasks.txt   output: ' .. sdir .. '/task-<job>_<task>.out')
  print_('  progress: the same command with --status; the report: ' .. dir .. '/index.html once job '
    .. report_id .. ' has run')
  return {submitted = #todo, array = array_id, report = report_id, dir = dir}
end

--- In a Slurm array task: asks Slurm to requeue this task (after the
-- warning signal, with a checkpoint saved); true when scontrol agreed.
function M.requeue_self()
  local job, task = os.getenv('SLURM_ARRAY_JOB_ID'), os.getenv('SLURM_ARRAY_TASK_ID')
  local id = job and task and (job .. '_' .. task) or os.getenv('SLURM_JOB_ID')
  if not id then return false end
  local out, ok = capture{'scontrol', 'requeue', id}
  if ok then
    io.stdout:write('rnn.experiment: requeued Slurm task ', id, '; it resumes from the checkpoint\n')
    io.stdout:flush()
  else
    io.stderr:write('rnn.experiment: scontrol requeue ', id, ' failed: ', out, '\n')
  end
  return ok
end

return M
