--- rnn.experiment.pool: the runs of a sweep in worker processes on this
-- machine, `jobs` at a time (rnnlua exp.lua --jobs N).
--
-- A worker is the same script started again — same interpreter, options
-- and arguments — with `--worker <cell>/seed-<n>` appended. It runs that
-- one run under the run's lock (rnn.experiment.lock), with `threads` BLAS
-- threads, sends its progress as JSON lines on descriptor 3
-- (rnn.experiment.progress, mode 'events'), and exits with
--   0   the run is done (or was found done),
--   1   the run failed (its error.txt written, a 'failed' event sent),
--   73  another process holds the run's lock (tried again later),
--   75  stopped by a signal at a step's end, its checkpoint saved.
-- Anything else (a crash, a script that fails before the harness starts)
-- counts as a failure; the pool writes error.txt with the worker's last
-- lines of output.
--
-- Workers start in their own session (setsid): Ctrl-C on the terminal
-- reaches only this process, which sends each worker one SIGTERM; every
-- worker then saves a checkpoint at the end of its current step and exits.
-- A second Ctrl-C (or SIGTERM) sends SIGKILL. A worker whose parent is
-- gone (SIGKILLed, say) stops the same way at its next step. Rerunning the
-- command resumes every run from its last checkpoint.
local M = {}

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_BUSY, M.EXIT_STOPPED = 0, 1, 73, 75

local function core() return require 'rnn.core' end
local function clock() return core().clock() end

local TAIL_LINES = 40

-- the environment of a worker: ours, with its thread count and event pipe
local function worker_env(uv, threads)
  local env = uv.os_environ()
  env.OPENBLAS_NUM_THREADS = tostring(threads)
  env.OMP_NUM_THREADS = tostring(threads)
  env.RNNLUA_WORKER_FD = '3'
  local out = {}
  for k, v in pairs(env) do out[#out + 1] = k .. '=' .. v end
  table.sort(out)
  return out
end

-- splits data into complete lines, keeping the rest in buf[1]
local function lines_of(buf, data, fn)
  local text = buf[1] .. data
  local start = 1
  while true do
    local nl = text:find('\n', start, true)
    if not nl then break end
    fn(text:sub(start, nl - 1))
    start = nl + 1
  end
  buf[1] = text:sub(start)
end

--- Runs o.runs in workers. Options:
--   command     {exe, args...}: the worker's command line before --worker
--   runs        array of {key, rel, index, cell, seed, dir}
--   jobs        workers at a time
--   threads     BLAS threads of a worker
--   keep_going  start further runs after one failed
--   board       an rnn.experiment.board
--   lock_path   function(run) -> the run's lock file
--   is_done     function(run) -> whether its done marker exists
--   on_crash    function(run, text): record a failure the worker could not
-- Returns {outcome = {key = 'done'|'skipped'|'failed'|'stopped'|nil},
-- failed = {{run, error}}, stopped = signal name or nil, not_started = n}.
function M.run(o)
  local uv = require 'luv'
  local lock = require 'rnn.experiment.lock'
  local json = require 'rnn.experiment.json'
  local board = o.board
  local env = worker_env(uv, o.threads or 1)
  local queue, deferred, workers = {}, {}, {}
  for i, r in ipairs(o.runs) do queue[i] = r end
  local result = {outcome = {}, failed = {}}
  local n_active = 0
  local stopping, killed = nil, false

  local function may_start()
    return not stopping and (o.keep_going or #result.failed == 0)
  end

  local function finish(w)
    local r = w.run
    n_active = n_active - 1
    workers[r.key] = nil
    local outcome, detail
    if w.killed and w.signal ~= 0 then
      outcome = 'stopped'
    elseif w.signal ~= 0 or not (w.code == 0 or w.code == M.EXIT_FAILED or w.code == M.EXIT_BUSY
        or w.code == M.EXIT_STOPPED) or (w.code == M.EXIT_FAILED and not w.error) then
      -- a crash; status 1 without a 'failed' event too (a sanitizer's
      -- report, a C library's exit(1)): the worker wrote no error.txt
      outcome = 'failed'
      local how = w.signal ~= 0 and string.format('the worker (pid %d) died of signal %d', w.pid, w.signal)
        or string.format('the worker (pid %d) exited with status %d', w.pid, w.code)
      detail = how .. (#w.tail > 0 and (':\n' .. table.concat(w.tail, '\n')) or '')
      o.on_crash(r, detail)
    elseif w.code == M.EXIT_BUSY then
      outcome = 'busy'
    elseif w.code == M.EXIT_STOPPED then
      outcome = 'stopped'
    elseif w.code == M.EXIT_FAILED then
      outcome = 'failed'
      detail = w.error or (#w.tail > 0 and table.concat(w.tail, '\n')) or 'failed'
    else
      outcome = w.outcome or 'done'
    end
    if outcome == 'busy' then
      deferred[#deferred + 1] = {run = r, owner = w.owner, next_check = clock() + 1}
      board:finished(r, 'busy')
      board:message(string.format('[%d/%d] %s seed %d: held by %s; waiting for it', r.index, board.total, r.name,
        r.seed, lock.describe(w.owner)))
      return
    end
    result.outcome[r.key] = outcome
    if outcome == 'failed' then result.failed[#result.failed + 1] = {run = r, error = detail} end
    board:finished(r, outcome, detail)
  end

  local function maybe_finish(w)
    w.open = w.open - 1
    if w.open == 0 then finish(w) end
  end

  local function spawn(r)
    -- stdout and stderr through libuv's pipes (socket pairs); the events
    -- through a real pipe, which the worker opens as /dev/fd/3 (a socket
    -- cannot be opened that way)
    local out, err, ev = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
    local fds = uv.pipe({nonblock = true}, {nonblock = false})
    ev:open(fds.read)
    local args = {}
    for i = 2, #o.command do args[#args + 1] = o.command[i] end
    args[#args + 1] = '--worker'
    args[#args + 1] = r.rel
    local w = {run = r, open = 4, tail = {}, signal = 0}
    local handle, pid = uv.spawn(o.command[1], {args = args, stdio = {nil, out, err, fds.write}, env = env,
      detached = true}, function(code, signal)
        w.code, w.signal = code, signal
        if w.handle then w.handle:close() end
        maybe_finish(w)
      end)
    uv.fs_close(fds.write)
    if not handle then
      for _, p in ipairs{out, err, ev} do p:close() end
      error(string.format('rnn.experiment: cannot start a worker (%s): %s', o.command[1], tostring(pid)), 0)
    end
    w.handle, w.pid = handle, pid
    n_active = n_active + 1
    workers[r.key] = w
    board:started(r)
    local function keep_tail(line)
      w.tail[#w.tail + 1] = line
      if #w.tail > TAIL_LINES then table.remove(w.tail, 1) end
    end
    local function reader(pipe, on_line)
      local buf = {''}
      pipe:read_start(function(rerr, data)
        if data then
          lines_of(buf, data, on_line)
        else
          if buf[1] ~= '' then on_line(buf[1]) end
          pipe:close()
          maybe_finish(w)
        end
        if rerr then keep_tail('(read error: ' .. tostring(rerr) .. ')') end
      end)
    end
    reader(out, function(line)
      keep_tail(line)
      board:message(line)
    end)
    reader(err, function(line)
      keep_tail(line)
      board:error(line)
    end)
    reader(ev, function(line)
      local ok, e = pcall(json.decode, line)
      if not ok or type(e) ~= 'table' then return end
      json.integers(e)
      if e.ev == 'busy' then w.owner = e.owner
      elseif e.ev == 'failed' then w.error = e.error
      elseif e.ev == 'outcome' then w.outcome = e.outcome
      else board:event(r, e) end
    end)
  end

  local function start_more()
    while n_active < o.jobs and #queue > 0 and may_start() do
      local r = table.remove(queue, 1)
      if o.is_done(r) then
        result.outcome[r.key] = 'skipped'
        board:started(r)
        board:finished(r, 'skipped')
      else
        local owner = lock.held(o.lock_path(r))
        if owner then
          deferred[#deferred + 1] = {run = r, owner = owner, next_check = clock() + 1}
          board:message(string.format('[%d/%d] %s seed %d: held by %s; waiting for it', r.index, board.total, r.name,
            r.seed, lock.describe(owner)))
        else
          spawn(r)
        end
      end
    end
  end

  -- runs held by other processes: done since, or free to take over
  local function check_deferred()
    local now = clock()
    local keep = {}
    for _, d in ipairs(deferred) do
      if now < d.next_check then
        keep[#keep + 1] = d
      elseif o.is_done(d.run) then
        result.outcome[d.run.key] = 'skipped'
        board:started(d.run)
        board:finished(d.run, 'skipped')
      elseif not lock.held(o.lock_path(d.run)) then
        table.insert(queue, 1, d.run)
      else
        d.next_check = now + 1
        keep[#keep + 1] = d
      end
    end
    deferred = keep
  end

  local function signal_workers(sig)
    for _, w in pairs(workers) do
      if sig == 'sigkill' then w.killed = true end
      pcall(uv.process_kill, w.handle, sig)
    end
  end

  core()._signals_catch({'INT', 'TERM', 'HUP'})
  local seen = 0
  local function tick()
    local name, count = core()._signals_caught()
    if name and count > seen then
      seen = count
      if not stopping then
        stopping = name
        board:message(string.format('rnn.experiment: SIG%s: stopping; every worker saves a checkpoint at the end '
          .. 'of its step (again to stop at once)', name))
        signal_workers('sigterm')
      elseif not killed then
        killed = true
        signal_workers('sigkill')
      end
    end
    if #deferred > 0 then check_deferred() end
    start_more()
    board:draw()
  end

  local timer = uv.new_timer()
  local ok, err = pcall(function()
    start_more()
    timer:start(100, 100, tick)
    while n_active > 0 or ((#queue > 0 or #deferred > 0) and may_start()) do
      uv.run('once')
    end
  end)
  timer:stop()
  timer:close()
  if not ok then
    signal_workers('sigterm')
    while n_active > 0 do uv.run('once') end
  end
  uv.run('nowait')
  core()._signals_release()
  if not ok then error(err, 0) end
  result.stopped = stopping
  result.not_started = #queue + #deferred
  return result
end

return M
