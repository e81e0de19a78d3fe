--- rnn.experiment.pool: the runs of a sweep in worker processes on this
-- machine, `jobs` at a time (rnnlua exp.lua --jobs N).
--
-- A worker is the same script started again — same interpreter, options
-- and arguments — with `--worker -` appended. It reads the runs to do, one
-- '<cell>/seed-<n>' line at a time, on its standard input, and does each
-- under the run's lock (rnn.experiment.lock) with `threads` BLAS threads,
-- in its own process memory, which later runs reuse (a fresh process per
-- run would spend ~0.1 s faulting in its memory). It sends the progress of
-- each as JSON lines on descriptor 3 (rnn.experiment.progress, mode
-- 'events') and ends each with an 'exit' event whose code is
--   0   the run is done (or was found done),
--   1   the run failed (its error.txt written, a 'failed' event sent),
--   73  another process holds the run's lock (tried again later),
--   75  stopped by a signal at a step's end, its checkpoint saved (the
--       worker then ends).
-- The end of its input ends a worker. A worker that ends in the middle of a
-- run (a crash, a sanitizer's report, a script that fails before the
-- harness starts) fails that run; the pool writes its error.txt with the
-- worker's last lines of output, and a new worker takes the next run.
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
  local uv = require 'rnn.experiment.uv'
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

  local next_run -- function(): the next run to start, or nil

  -- the end of a worker's run r: outcome from its 'exit' event, or from how
  -- the worker ended
  local function finish_run(w, code)
    local r = w.run
    w.run = nil
    local outcome, detail
    if code == nil then
      -- the worker ended during the run
      if w.killed and w.signal ~= 0 then
        outcome = 'stopped'
      else
        outcome = 'failed'
        local how = w.signal ~= 0 and string.format('the worker (pid %d) died of signal %d', w.pid, w.signal)
          or string.format('the worker (pid %d) exited with status %d during the run', w.pid, w.code)
        detail = how .. (#w.tail > 0 and (':\n' .. table.concat(w.tail, '\n')) or '')
        o.on_crash(r, detail)
      end
    elseif code == M.EXIT_BUSY then
      outcome = 'busy'
    elseif code == M.EXIT_STOPPED then
      outcome = 'stopped'
    elseif code == M.EXIT_FAILED then
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

  -- gives worker w run r (through its standard input)
  local function assign(w, r)
    w.run, w.error, w.outcome, w.owner, w.tail = r, nil, nil, nil, {}
    board:started(r)
    w.input:write(r.rel .. '\n')
  end

  -- w is between runs: the next one, or the end of its input
  local function next_for(w)
    local r = (not stopping) and next_run() or nil
    if r then assign(w, r)
    elseif not w.input:is_closing() then w.input:close() end
  end

  local function worker_ended(w)
    n_active = n_active - 1
    workers[w] = nil
    if w.run then finish_run(w, nil) end
  end

  local function maybe_ended(w)
    w.open = w.open - 1
    if w.open == 0 then worker_ended(w) end
  end

  local function spawn(r)
    -- stdin, stdout and stderr through libuv's pipes (socket pairs); the
    -- events through a real pipe, which the worker opens as /dev/fd/3 (a
    -- socket cannot be opened that way)
    local input, out, err, ev = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
    local fds = uv.pipe({nonblock = true}, {nonblock = false})
    ev:open(fds.read)
    local args = {}
    for i = 2, #o.command do args[#args + 1] = o.command[i] end
    args[#args + 1] = '--worker'
    args[#args + 1] = '-'
    local w = {open = 4, tail = {}, signal = 0, input = input}
    local handle, pid = uv.spawn(o.command[1], {args = args, stdio = {input, out, err, fds.write}, env = env,
      detached = true}, function(code, signal)
        w.code, w.signal = code, signal
        if w.handle then w.handle:close() end
        if not input:is_closing() then input:close() end
        maybe_ended(w)
      end)
    uv.fs_close(fds.write)
    if not handle then
      for _, p in ipairs{input, out, err, ev} do p:close() end
      error(string.format('rnn.experiment: cannot start a worker (%s): %s', o.command[1], tostring(pid)), 0)
    end
    w.handle, w.pid = handle, pid
    n_active = n_active + 1
    workers[w] = true
    assign(w, r)
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
          maybe_ended(w)
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
      if not ok or type(e) ~= 'table' or not w.run then return end
      json.integers(e)
      if e.ev == 'busy' then w.owner = e.owner
      elseif e.ev == 'failed' then w.error = e.error
      elseif e.ev == 'outcome' then w.outcome = e.outcome
      elseif e.ev == 'exit' then
        finish_run(w, e.code)
        next_for(w)
      else board:event(w.run, e) end
    end)
  end

  -- the next run to start (skipping those found done, deferring those
  -- held elsewhere), or nil
  next_run = function()
    while #queue > 0 and may_start() do
      local r = table.remove(queue, 1)
      if o.is_done(r) then
        result.outcome[r.key] = 'skipped'
        board:started(r)
        board:finished(r, 'skipped')
      else
        local owner = lock.held(o.lock_path(r))
        if not owner then return r end
        deferred[#deferred + 1] = {run = r, owner = owner, next_check = clock() + 1}
        board:message(string.format('[%d/%d] %s seed %d: held by %s; waiting for it', r.index, board.total, r.name,
          r.seed, lock.describe(owner)))
      end
    end
    return nil
  end

  -- (a worker between runs takes the next at once or has its input closed,
  -- so only new workers start runs here)
  local function start_more()
    while n_active < o.jobs do
      local r = next_run()
      if not r then break end
      spawn(r)
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
    for w in pairs(workers) do
      if not w.input:is_closing() then w.input:close() end
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
