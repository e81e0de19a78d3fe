--- rnn.experiment.sweep: every run an invocation selects, by one of the
-- launchers, and the report made from what the run folders hold.
--
--   serial  in this process, one run after another (--jobs 1)
--   pool    worker processes on this machine (--jobs N; rnn.experiment.pool)
--   mpi     the ranks of `mpirun -np N rnnlua exp.lua`, each taking the
--           next free run; rank 0 writes the report when all are done
--   slurm   a Slurm job array (--launcher slurm; rnn.experiment.slurm),
--           whose tasks run as workers (M.worker)
--
-- Whatever the launcher, a run is worked on under its lock
-- (rnn.experiment.lock) by one process at a time, with the same number of
-- BLAS threads (--threads, default 1: the summation order of products
-- depends on it), so a run's files are the same bytes. Runs held by
-- another process (a second command, another machine) are waited for and
-- taken over if that process ends before the run does, so the report an
-- invocation writes covers every run it selected.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local lock = require 'rnn.experiment.lock'
local progress = require 'rnn.experiment.progress'
local run = require 'rnn.experiment.run'
local errors = require 'rnn.experiment.errors'
local code = require 'rnn.experiment.code'

local M = {}

local function rnn() return require 'rnn' end
local function core() return require 'rnn.core' end
local function environment() return require('rnn.experiment').environment() end

-- exit statuses of a worker (rnn.experiment.pool)
local pool_codes = {ok = 0, failed = 1, busy = 73, stopped = 75}

local SIGNAL_STATUS = {INT = 130, TERM = 143, HUP = 129, USR1 = 138}

--- The runs of cells × seeds, first cell first: array of {key, rel,
-- index, cell (the cell), name (its name), seed, dir}.
function M.runs(cells, seeds, dir)
  local out = {}
  for _, c in ipairs(cells) do
    for _, seed in ipairs(seeds) do
      local rel = c.dir .. '/seed-' .. seed
      out[#out + 1] = {key = rel, rel = rel, index = #out + 1, cell = c, name = c.name, seed = seed,
                       dir = dir .. '/' .. rel}
    end
  end
  return out
end

-- whether run r is finished for runs of `steps` steps (a done marker that
-- reached them, or says the run diverged); any done marker without steps
local function is_done(r, steps) return run.finished(r.dir, steps or -1) ~= nil end

-- (best effort: on a full disk error.txt cannot be written either, and the
-- run's own error, shown on stderr, is what must not be lost)
local function write_error(r, text)
  pcall(function()
    files.mkdir_p(r.dir)
    files.write_atomic(r.dir .. '/error.txt', tostring(text) .. '\n')
  end)
end

-- The message of a failed run, once: which run, where it failed (the
-- experiment's setup, step or evaluate) and the error with its location
-- (rnn.experiment.errors; a fault of the harness keeps its traceback).
local function failure_message(r, err)
  local where = errors.is_user_error(err) and (' in its ' .. err.what .. ' function'
    .. (err.step and (' at step ' .. err.step) or '')) or ''
  return string.format('rnn.experiment: run %s seed %d failed%s; rerun the same command to resume it from its last '
    .. 'checkpoint (--keep-going runs the others anyway):\n%s', r.name, r.seed, where, tostring(err))
end

local function sleep(seconds)
  require('rnn.experiment.uv').sleep(math.floor(seconds * 1000))
end

---------------------------------------------------------------------------
-- --fresh

--- Removes the earlier results of the selected runs (all results without
-- --only), refusing while another process holds one of them.
function M.fresh(o, runs, dir)
  local held = {}
  local function take(path, what)
    local lk, owner = lock.acquire(path)
    if not lk then
      for _, h in ipairs(held) do h:release() end
      error(string.format('rnn.experiment: --fresh: %s is being worked on by %s; stop it first', what,
        lock.describe(owner)), 0)
    end
    held[#held + 1] = lk
  end
  for _, r in ipairs(runs) do take(lock.path(dir, r.rel), r.rel) end
  local all = not o.only or #o.only == 0
  local ok, err = pcall(function()
    if all then
      -- every lock of the folder, including runs this invocation does not select
      local lfs = require 'lfs'
      local ldir = dir .. '/.locks'
      if lfs.attributes(ldir, 'mode') == 'directory' then
        local mine = {}
        for _, h in ipairs(held) do mine[h.path] = true end
        for name in lfs.dir(ldir) do
          local p = ldir .. '/' .. name
          if name:match('%.lock$') and not mine[p] then take(p, name:gsub('%.lock$', ''):gsub('@', '/')) end
        end
      end
      if lfs.attributes(dir, 'mode') == 'directory' then
        for name in lfs.dir(dir) do
          if name ~= '.' and name ~= '..' and name ~= '.locks' then files.remove_tree(dir .. '/' .. name) end
        end
      end
    else
      for _, r in ipairs(runs) do files.remove_tree(r.dir) end
    end
  end)
  for _, h in ipairs(held) do h:release() end
  if not ok then error(err, 0) end
end

---------------------------------------------------------------------------
-- Before running: runs that must not be continued or reused

--- Refuses, once for the whole invocation, when some of `runs` may not be
-- continued or reused as asked (rnn.experiment.run.inspect: another
-- configuration, fewer steps than done, made by other code without
-- --allow-changed-code): the first refusal and how many there are.
function M.check(exp, o, cfg, runs)
  local first, n = nil, 0
  for _, r in ipairs(runs) do
    local cfg_r = {}
    for k, v in pairs(cfg) do cfg_r[k] = v end
    for k, v in pairs(r.cell.values) do cfg_r[k] = v end
    local info, refusal = run.inspect(exp, r, cfg_r, o)
    if not info then
      n = n + 1
      first = first or refusal
    end
  end
  if n == 0 then return end
  if n == 1 then error(first, 0) end
  error(errors.refusal('%s\n(and %d more of the %d runs of this command are refused; --fresh starts them all over)',
    tostring(first), n - 1, #runs), 0)
end

---------------------------------------------------------------------------
-- The report

--- The state of a run on disk: 'done', 'diverged at step k', 'failed'
-- (error.txt and no done marker) or 'not finished'; and its done marker.
function M.disk_state(r)
  local text = files.read(r.dir .. '/done')
  if text then
    local ok, marker = pcall(json.decode, text)
    if ok and type(marker) == 'table' then
      json.integers(marker)
      if marker.diverged then return progress.diverged_text(marker.diverged), marker end
      return 'done', marker
    end
  end
  if files.exists(r.dir .. '/error.txt') then return 'failed' end
  return 'not finished'
end

--- Writes the summary and the report of `runs` from their folders.
-- Returns {rows, markdown, index, runs, changed = {{run, changes}: finished
-- runs whose code differs from this code (kept with --allow-changed-code)}}.
function M.report(exp, o, cfg, cells, seeds, runs, dir, status)
  local report = require 'rnn.experiment.report'
  local now_code = code.of(exp)
  local out, changed = {}, {}
  for _, r in ipairs(runs) do
    local state, marker = M.disk_state(r)
    out[#out + 1] = {cell = r.name, seed = r.seed, dir = r.dir, rel = r.rel, done = marker, state = state,
                     status = status and status[r.key] or state}
    if marker then
      local ok, doc = pcall(json.decode, files.read(r.dir .. '/config.json') or '')
      if ok and type(doc) == 'table' then
        local ch = code.changes(run.latest_code(doc), now_code)
        if #ch > 0 then changed[#changed + 1] = {run = r, changes = ch} end
      end
    end
  end
  local env = environment()
  env.threads = o.threads or 1 -- the runs', whatever this process has
  local ctx = {name = exp.name, description = exp.description, dir = dir, axes = exp.axes,
               axis_values = exp.axis_values, cells = cells, runs = out, seeds = seeds, config = cfg,
               env = env, summary = exp.summary, plots = exp.plots, stats = exp.stats, baseline = exp.baseline,
               paired = exp.paired, min_effect = exp.min_effect, note = o.adaptive_note, select = exp.select}
  local md, rows, index_path = report.build(ctx)
  return {rows = rows, markdown = md, index = index_path, runs = out, changed = changed, comparisons = ctx.comparisons}
end

---------------------------------------------------------------------------
-- In this process

--- Runs `order` (runs) in this process, each under its lock. Options:
-- dir, mode (progress), total (runs in the sweep), signals (caught: a stop
-- at a step's end), silent_skips (runs found done are passed over without
-- a word: the MPI ranks, which find each other's). Runs held by another
-- process are waited for
-- (and taken over when their holder ends first). Returns {status = {key =
-- 'ran'|'skipped'|'failed'}, failed = {{run, error}}, stopped = reason}.
-- Without keep_going, a failure raises (after recording error.txt).
function M.serial(exp, o, cfg, order, opts)
  local dir = opts.dir
  local prog = progress.new{mode = opts.mode, runs = opts.total or #order, steps = cfg.steps}
  local result = {status = {}, failed = {}}
  core()._signals_catch(opts.signals or {'INT', 'TERM', 'HUP'}, {'INT', 'TERM', 'HUP'})
  local function stop()
    local name = core()._signals_caught()
    if name then return 'SIG' .. name end
    return opts.stop and opts.stop() or nil
  end
  -- one attempt at a run: 'busy' (held elsewhere), or done with it
  local quiet = progress.new{mode = 'quiet'}
  local function attempt(r)
    local lk
    local done = is_done(r, cfg.steps)
    if not done then
      local owner
      lk, owner = lock.acquire(lock.path(dir, r.rel))
      if not lk then return 'busy', owner end
    end
    -- (a run found done still goes through run_one, which checks its configuration)
    local ok, marker, status = xpcall(run.run_one, errors.traceback, exp, r, cfg,
      (done and opts.silent_skips) and quiet or prog, {stop = stop, allow_changed_code = o.allow_changed_code})
    if lk then lk:release() end
    if ok then
      result.status[r.key] = status
      return status, marker
    end
    if run.is_stop(marker) then
      result.stopped = marker.reason
      prog:clear()
      return 'stopped'
    end
    if errors.is_refusal(marker) then
      -- (about the command, not the run: no error.txt, and no going on)
      prog:clear()
      error(marker, 0)
    end
    result.status[r.key] = 'failed'
    result.failed[#result.failed + 1] = {run = r, error = marker}
    write_error(r, marker)
    if not o.keep_going then
      prog:clear()
      error(failure_message(r, marker), 0)
    end
    prog:error(string.format('[%d/%d] %s seed %d failed: %s', r.index, opts.total or #order, r.name, r.seed,
      tostring(marker)))
    return 'failed'
  end
  local ok, err = pcall(function()
    local waiting = {}
    for _, r in ipairs(order) do
      if result.stopped or stop() then result.stopped = result.stopped or stop() break end
      local what, owner = attempt(r)
      if what == 'busy' then
        waiting[#waiting + 1] = r
        if not opts.silent_skips then
          prog:message(string.format('[%d/%d] %s seed %d: held by %s; coming back to it', r.index,
            opts.total or #order, r.name, r.seed, lock.describe(owner)))
        end
      end
    end
    -- runs other processes were working on: wait for them, or take them over
    while #waiting > 0 and not result.stopped do
      sleep(opts.poll or 1)
      local reason = stop()
      if reason then result.stopped = reason break end
      local still = {}
      for _, r in ipairs(waiting) do
        if attempt(r) == 'busy' then still[#still + 1] = r end
        if result.stopped then break end
      end
      waiting = still
    end
  end)
  core()._signals_release()
  if not ok then error(err, 0) end
  return result
end

---------------------------------------------------------------------------
-- A worker: runs for the pool, or one run as a Slurm task

local function find_run(runs, rel, option)
  for _, x in ipairs(runs) do
    if x.rel == rel then return x end
  end
  error(string.format("rnn.experiment: %s %s: no such run in this invocation (runs: %s%s)", option, rel,
    runs[1] and runs[1].rel or 'none', #runs > 1 and ', ...' or ''), 0)
end

--- Runs `o.worker` and returns the exit status for the process: 0 done, 1
-- failed, 73 held elsewhere (pool workers only; a standalone worker waits
-- for it), 75 stopped by a signal. o.worker is a run ('<cell dir>/seed-<n>')
-- or '-': the runs named on standard input, one a line, each ended by an
-- 'exit' event with its status, until the input ends or a run is stopped
-- (rnn.experiment.pool). A pool worker (RNNLUA_WORKER_FD set) sends events
-- on that descriptor; a standalone one (a Slurm task) prints plain
-- progress lines, and on Slurm's warning signal (USR1) saves a checkpoint
-- and requeues itself.
function M.worker(exp, o, cfg, runs, dir)
  local fd = os.getenv('RNNLUA_WORKER_FD')
  if o.worker == '-' and not fd then
    error('rnn.experiment: --worker -: runs from standard input are for the workers of a sweep '
      .. '(RNNLUA_WORKER_FD is not set)', 0)
  end
  local first = o.worker ~= '-' and find_run(runs, o.worker, '--worker') or nil
  local events, prog_mode, out
  if fd then
    out = io.open('/dev/fd/' .. fd, 'w')
    if not out then error('rnn.experiment: --worker: cannot open descriptor ' .. fd, 0) end
    core()._signals_ignore_pipe()
    prog_mode = 'events'
  else
    prog_mode = o.quiet and 'quiet' or 'plain'
  end
  local function send(ev)
    if events then events:send(ev) end
  end
  local prog = progress.new{mode = prog_mode, out = out, runs = #runs, steps = cfg.steps}
  if fd then events = prog end
  local uv = require 'rnn.experiment.uv'
  local ppid = uv.os_getppid()
  local slurm_task = not fd and os.getenv('SLURM_ARRAY_JOB_ID') ~= nil
  -- A Slurm task takes every signal as a request to stop cleanly: scancel
  -- may repeat its signal, and Slurm sends TERM right after a requeue
  -- (SIGKILL follows KillWait later anyway).
  if slurm_task then core()._signals_catch({'INT', 'TERM', 'HUP', 'USR1'})
  else core()._signals_catch({'INT', 'TERM', 'HUP'}, {'INT', 'TERM', 'HUP'}) end
  local function stop()
    local name = core()._signals_caught()
    if name then return 'SIG' .. name end
    if fd and (uv.os_getppid() ~= ppid or (events and events.broken)) then return 'the sweep process is gone' end
    return nil
  end

  -- the one run r, under its lock: its exit status
  local function work_on(r)
    local lk, owner
    if not is_done(r, cfg.steps) then
      lk, owner = lock.acquire(lock.path(dir, r.rel))
      while not lk do
        if fd then
          send{ev = 'busy', owner = owner}
          return pool_codes.busy
        end
        if stop() then return pool_codes.stopped end
        io.stdout:write(string.format('%s seed %d: held by %s; waiting\n', r.name, r.seed, lock.describe(owner)))
        io.stdout:flush()
        sleep(5)
        if is_done(r, cfg.steps) then break end
        lk, owner = lock.acquire(lock.path(dir, r.rel))
      end
    end
    local rok, marker, status = xpcall(run.run_one, errors.traceback, exp, r, cfg, prog,
      {stop = stop, allow_changed_code = o.allow_changed_code})
    if lk then lk:release() end
    if rok then
      send{ev = 'outcome', outcome = status == 'skipped' and 'skipped' or 'done'}
      return pool_codes.ok
    elseif run.is_stop(marker) then
      send{ev = 'stopped', step = marker.step}
      if not fd then
        io.stdout:write(tostring(marker), '; its checkpoint is saved\n')
        io.stdout:flush()
      end
      if slurm_task and marker.reason == 'SIGUSR1' then require('rnn.experiment.slurm').requeue_self() end
      return pool_codes.stopped
    elseif errors.is_refusal(marker) then
      send{ev = 'failed', error = tostring(marker)}
      if not fd then io.stderr:write(tostring(marker), '\n') end
      return pool_codes.failed
    end
    write_error(r, marker)
    send{ev = 'failed', error = tostring(marker)}
    if not fd then io.stderr:write(failure_message(r, marker), '\n') end
    return pool_codes.failed
  end

  local code = pool_codes.ok
  local ok, err = pcall(function()
    if first then
      code = work_on(first)
      return
    end
    for line in io.stdin:lines() do
      code = work_on(find_run(runs, line, '--worker - (standard input)'))
      send{ev = 'exit', code = code}
      if code == pool_codes.stopped or stop() then break end
      collectgarbage()
    end
  end)
  core()._signals_release()
  if out then out:close() end
  if not ok then error(err, 0) end
  return code
end

---------------------------------------------------------------------------
-- MPI ranks

-- whether this process is one rank of several under mpirun
function M.under_mpi()
  local n = tonumber(os.getenv('OMPI_COMM_WORLD_SIZE') or os.getenv('PMIX_SIZE') or os.getenv('PMI_SIZE') or '')
  return n ~= nil and n > 1
end

---------------------------------------------------------------------------
-- The whole invocation

local function to_do_count(runs, steps)
  local n = 0
  for _, r in ipairs(runs) do if not is_done(r, steps) then n = n + 1 end end
  return n
end

--- How many worker processes: o.jobs, or 'auto' (one per core this
-- process may run on, capped by the runs still to do for `steps` steps;
-- 1 when there is no command to start workers with, as for execute
-- called from a REPL).
function M.jobs(o, runs, steps)
  local left = to_do_count(runs, steps)
  local jobs = o.jobs or 1
  if jobs == 'auto' and not o.command then
    jobs = 1
  elseif jobs == 'auto' then
    local uv = require 'rnn.experiment.uv'
    jobs = uv.available_parallelism and uv.available_parallelism() or #uv.cpu_info()
  end
  return math.max(1, math.min(jobs, left)), left
end

local function with_threads(threads, fn, ...)
  local R = rnn()
  local before = R.get_num_threads()
  R.set_num_threads(threads)
  local res = table.pack(pcall(fn, ...))
  R.set_num_threads(before)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

local function stopped_error(reason, runs, steps)
  local done = 0
  for _, r in ipairs(runs) do if is_done(r, steps) then done = done + 1 end end
  local e = string.format('rnn.experiment: stopped (%s): %d of %d runs done; rerun the same command to resume',
    reason, done, #runs)
  local sig = reason:match('^SIG(%u+)')
  return setmetatable({message = e, exit_code = sig and SIGNAL_STATUS[sig] or 1},
    {__tostring = function(s) return s.message end})
end

--- Runs (or submits, or reports on) what the options select. See
-- rnn.experiment's header for the options and the result.
function M.execute(exp, o, cfg, cells, seeds, dir)
  local runs = M.runs(cells, seeds, dir)
  local threads = o.threads or 1
  if o.worker then
    local code = with_threads(threads, M.worker, exp, o, cfg, runs, dir)
    return {exit_code = code, dir = dir}
  end
  if o.status then return require('rnn.experiment.status').show(exp, o, runs, dir, cfg) end
  local t0 = core().clock()
  local result = {status = {}, failed = {}}
  if o.report_only then
    -- nothing to run (the report job of a Slurm sweep)
  elseif o.launcher == 'slurm' then
    if o.fresh then M.fresh(o, runs, dir) end
    M.check(exp, o, cfg, runs)
    return require('rnn.experiment.slurm').submit(exp, o, cfg, runs, dir)
  elseif M.under_mpi() then
    result = M.mpi(exp, o, cfg, runs, dir, threads)
    local D = rnn().distributed
    local ok, out = true, nil
    if D.rank() == 0 and not result.error then
      ok, out = pcall(M.finish, exp, o, cfg, cells, seeds, runs, dir, result, t0)
    end
    -- no rank ends before rank 0's report is written: under mpirun a rank
    -- that exits non-zero ends every other
    D.barrier()
    if result.error then error(result.error, 0) end
    if not ok then error(out, 0) end
    if D.rank() == 0 then return out end
    if result.stopped then error(stopped_error(result.stopped, runs, cfg.steps), 0) end
    if #result.failed > 0 then error('rnn.experiment: a run failed (see error.txt in its folder)', 0) end
    return {dir = dir, rank = D.rank()}
  else
    if o.jobs ~= 'auto' and (o.jobs or 1) > 1 and not o.command then
      error('rnn.experiment: jobs > 1 starts the script again in worker processes: give options.command '
        .. '(exp:run(arg) does) or jobs = 1', 0)
    end
    if o.fresh then M.fresh(o, runs, dir) end
    M.check(exp, o, cfg, runs)
    files.mkdir_p(dir)
    local jobs, left = M.jobs(o, runs, cfg.steps)
    if jobs > 1 then
      local board = require('rnn.experiment.board').new{mode = o.quiet and 'quiet' or o.progress,
        total = #runs, done = #runs - left, to_do = left, steps = cfg.steps}
      for _, r in ipairs(runs) do
        if is_done(r, cfg.steps) then board:skipped(r) result.status[r.key] = 'skipped' end
      end
      local todo = {}
      for _, r in ipairs(runs) do if not result.status[r.key] then todo[#todo + 1] = r end end
      local p = require('rnn.experiment.pool').run{command = o.command, runs = todo, jobs = jobs, threads = threads,
        keep_going = o.keep_going, board = board,
        lock_path = function(r) return lock.path(dir, r.rel) end,
        is_done = function(r) return is_done(r, cfg.steps) end, on_crash = write_error}
      board:close()
      for k, v in pairs(p.outcome) do result.status[k] = v == 'done' and 'ran' or v end
      result.failed, result.stopped = p.failed, p.stopped and ('SIG' .. p.stopped)
      if not result.stopped and #result.failed > 0 and not o.keep_going then
        -- (its error is on the board above already: not twice)
        local f = result.failed[1]
        error(string.format('rnn.experiment: run %s seed %d failed (its error is above, and in %s/error.txt); rerun '
          .. 'the same command to resume it from its last checkpoint (--keep-going runs the others anyway)',
          f.run.name, f.run.seed, f.run.dir), 0)
      end
    else
      result = with_threads(threads, M.serial, exp, o, cfg, runs, {dir = dir, total = #runs,
        mode = o.quiet and 'quiet' or o.progress})
    end
  end
  return M.finish(exp, o, cfg, cells, seeds, runs, dir, result, t0)
end

--- After the runs: raises if they were stopped, else writes the summary and
-- report from the run folders and prints them (unless quiet).
function M.finish(exp, o, cfg, cells, seeds, runs, dir, result, t0)
  if result.stopped then error(stopped_error(result.stopped, runs, cfg.steps), 0) end
  local elapsed = core().clock() - t0
  local rep = M.report(exp, o, cfg, cells, seeds, runs, dir, result.status)
  local failed = {}
  for _, f in ipairs(result.failed) do failed[#failed + 1] = {cell = f.run.name, seed = f.run.seed, error = f.error} end
  local print_ = o.print or print
  if not o.quiet then
    print_('')
    print_(string.format('%s: %d runs in %.1f s (%d failed)', exp.name, #runs, elapsed, #failed))
    print_(rep.markdown)
    if #rep.changed > 0 then
      local c = rep.changed[1]
      print_(string.format('note: %d finished run(s) were made by other code (--allow-changed-code kept them; %s '
        .. 'seed %d: %s changed); --fresh reruns them', #rep.changed, c.run.name, c.run.seed,
        table.concat(c.changes, ', ')))
    end
    print_('summary: ' .. dir .. '/summary.md')
    print_('report:  ' .. rep.index)
  end
  return {rows = rep.rows, markdown = rep.markdown, index = rep.index, failed = failed, runs = rep.runs, dir = dir,
          elapsed = elapsed, comparisons = rep.comparisons}
end

--- The MPI launcher: every rank takes the next free run (through the
-- locks), starting at its own place in the list; after a barrier rank 0
-- writes the report (M.execute). Returns every rank's result, with the
-- failure and stop flags agreed between ranks; result.error is this
-- rank's own error (a run failed without keep_going).
function M.mpi(exp, o, cfg, runs, dir, threads)
  local D = rnn().distributed
  D.init()
  local rank, size = D.rank(), D.size()
  local ok, err = true, nil
  if rank == 0 and o.fresh then ok, err = pcall(M.fresh, o, runs, dir) end
  if ok then ok, err = pcall(files.mkdir_p, dir) end
  D.barrier()
  -- (every rank reads the same folders, so every rank refuses alike)
  if ok then ok, err = pcall(M.check, exp, o, cfg, runs) end
  local result = {status = {}, failed = {}}
  if ok then
    local order = {}
    local first = (rank * #runs) // size
    for i = 1, #runs do order[i] = runs[(first + i - 1) % #runs + 1] end
    ok, err = pcall(function()
      result = with_threads(threads, M.serial, exp, o, cfg, order, {dir = dir, total = #runs,
        mode = o.quiet and 'quiet' or 'plain', silent_skips = true})
    end)
  end
  -- every rank learns whether any rank failed or stopped
  local flags = rnn().tensor({(ok and #result.failed == 0) and 0 or 1, result.stopped and 1 or 0}, 'int64')
  D.allreduce_(flags, 'max')
  local any_failed, any_stopped = flags[1] > 0, flags[2] > 0
  if not ok then result.error = err end
  if any_stopped and not result.stopped then result.stopped = 'another rank was stopped' end
  if any_failed and #result.failed == 0 then
    if rank == 0 then io.stderr:write('rnn.experiment: a run failed on another rank\n') end
    result.failed = {{run = {name = '(another rank)', seed = 0}, error = 'see its error.txt'}}
  end
  if any_failed and not o.keep_going and not result.error then
    -- as without MPI: no report after a failure unless --keep-going
    result.error = 'rnn.experiment: a run failed on another rank (see error.txt in its folder)'
  end
  return result
end

return M
