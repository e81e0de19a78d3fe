--- rnn.experiment.run: one run of an experiment — a cell × seed — from
-- its folder: started, resumed from its checkpoint, extended to more
-- steps, or skipped when its done marker says it is finished. Whatever runs
-- it (the command itself, a worker process, a Slurm task, an MPI rank),
-- the files it writes are the same.
--
-- A run stops early, cleanly, when ctl.stop() names a reason at the end of
-- a step (a signal caught, the parent process gone): it saves a checkpoint
-- of that step and raises a stop (M.is_stop), from which a rerun resumes.
--
-- A run whose loss (the step's metric exp.loss_metric, 'loss' by default)
-- is NaN or infinite — or whose step raises while the model's parameters
-- or gradients are not finite (rnn.clip's default refuses a non-finite
-- gradient norm) — has diverged: that is its result. It stops there, runs
-- the final evaluation on that state if it can and writes its done marker
-- with diverged = {step, metric, value | error}; its checkpoint stays the
-- last periodic one, from before it diverged.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local checkpoint = require 'rnn.experiment.checkpoint'
local errors = require 'rnn.experiment.errors'
local code = require 'rnn.experiment.code'

local M = {}

local function rnn() return require 'rnn' end
local function environment() return require('rnn.experiment').environment() end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- For the crash tests (not an API): RNNLUA_EXPERIMENT_KILL_AT=k makes the
-- process SIGKILL itself right after writing the metrics row of step k
-- (before that step's checkpoint), =done just before the done marker.
local function kill_self()
  io.stdout:flush()
  local uv = require 'rnn.experiment.uv'
  uv.kill(uv.os_getpid(), 'sigkill')
end

local Stop = {}
Stop.__index = Stop
Stop.__tostring = function(s)
  return string.format('rnn.experiment: run %s seed %d stopped at step %d (%s)', s.cell, s.seed, s.step, s.reason)
end

--- Whether an error value is the stop of a run (see the header).
function M.is_stop(err)
  return getmetatable(err) == Stop
end

-- doc.config as a table: {} when config.json holds none, or a damaged one
-- (a string, null, ...: found by tests/fuzz's runfolder target)
local function config_of(doc)
  return type(doc.config) == 'table' and doc.config or {}
end

-- what config.json must agree on for a run to be continued: everything
-- but steps, the one key a run may be continued to another value of
local function run_identity(doc)
  local cfg = {}
  for k, v in pairs(config_of(doc)) do
    if k ~= 'steps' then cfg[k] = v end
  end
  return json.encode{config = cfg, grid = doc.grid, seed = doc.seed, experiment = doc.experiment}
end

local function describe_difference(old, new)
  local diffs = {}
  local keys = {}
  for k in pairs(config_of(old)) do keys[k] = true end
  for k in pairs(config_of(new)) do keys[k] = true end
  keys.steps = nil
  for _, k in ipairs(json.sorted_keys(keys)) do
    local a, b = config_of(old)[k], config_of(new)[k]
    if json.encode(a) ~= json.encode(b) then
      diffs[#diffs + 1] = string.format('%s: %s there, %s now', k, json.encode(a), json.encode(b))
    end
  end
  return #diffs > 0 and table.concat(diffs, '; ') or 'grid values or seed differ'
end

local function read_json(path)
  local text = files.read(path)
  if not text then return nil end
  local ok, t = pcall(json.decode, text)
  if ok and type(t) == 'table' then return json.integers(t) end
  return nil
end

--- The done marker of the run in folder `dir` when it is finished for a
-- run of `steps` steps (it reached them, or it diverged), else nil.
function M.finished(dir, steps)
  local m = read_json(dir .. '/done')
  if not m then return nil end
  if m.diverged or (math.tointeger(m.step) or 0) >= steps then return m end
  return nil
end

-- the code that last worked on a run (config.json: code, then the code of
-- each later continuation)
local function latest_code(doc)
  local hist = doc.continued_by
  local last = type(hist) == 'table' and hist[#hist]
  if type(last) == 'table' and type(last.code) == 'table' then return last.code end
  return doc.code
end
M.latest_code = latest_code

-- the files a run writes after its config.json
local RUN_FILES = {'checkpoint.safetensors', 'checkpoint.prev.safetensors', 'metrics.csv', 'metrics.jsonl',
                   'eval.csv', 'eval.jsonl', 'best.safetensors', 'series.json', 'done'}

--- What a run folder holds against what this invocation asks (config
-- `cfg`, options o.allow_changed_code): {old (config.json), marker (done),
-- action = 'start' | 'resume' | 'extend' | 'skip', changes (what code
-- changed, or nil)}, or nil and a refusal (rnn.experiment.errors) when the
-- run must not be continued or reused.
function M.inspect(exp, r, cfg, o)
  local dir = r.dir
  local old = read_json(dir .. '/config.json')
  if not old then
    -- config.json is written first: without it (or unreadable) the files
    -- of a run here cannot be checked against this configuration
    local found = {}
    for _, f in ipairs(RUN_FILES) do
      if files.exists(dir .. '/' .. f) then found[#found + 1] = f end
    end
    if #found > 0 then
      return nil, errors.refusal('rnn.experiment: %s/config.json is %s, but the folder holds %s of a run: what '
        .. 'configuration made them cannot be checked, so the run is not resumed. Rerun with --fresh to start it '
        .. 'over (or put its config.json back).', dir, files.exists(dir .. '/config.json') and 'not valid JSON'
        or 'missing', table.concat(found, ', '))
    end
    return {action = 'start'}
  end
  local now = {experiment = exp.name, grid = r.cell.values, seed = r.seed, config = cfg}
  if run_identity(old) ~= run_identity(now) then
    return nil, errors.refusal('rnn.experiment: %s was made with another configuration (%s), as its config.json '
      .. 'records; rerun with --fresh to replace it, or choose another --out', dir, describe_difference(old, now))
  end
  local info = {old = old, marker = read_json(dir .. '/done')}
  if not info.marker and files.exists(dir .. '/done') then
    -- (the marker is written last, atomically: one that does not parse was
    -- damaged afterwards; the run's checkpoint and metrics are still there)
    info.damaged_marker = true
  end
  local marker, total = info.marker, cfg.steps
  local done_step = marker and math.tointeger(marker.step)
  if not marker then
    info.action = 'resume'
  elseif marker.diverged or done_step == total then
    info.action = 'skip'
  elseif done_step and done_step > total then
    return nil, errors.refusal('rnn.experiment: run %s seed %d (%s) finished at step %d, and steps = %d asks for '
      .. 'fewer: its model and final evaluation at step %d were not kept (metrics.csv has its training rows up '
      .. 'to there). Ask for --steps %d (or more, to extend it), or rerun it with --fresh.', r.cell.name, r.seed,
      dir, done_step, total, total, done_step)
  else
    info.action = 'extend'
  end
  local changes = code.changes(latest_code(old), code.of(exp))
  if #changes > 0 then
    info.changes = changes
    if not (o and o.allow_changed_code) then
      local what = table.concat(changes, ', ')
      if info.action == 'skip' then
        return nil, errors.refusal('rnn.experiment: run %s seed %d (%s) was made by other code: %s changed since. '
          .. 'Its results would be reused as they are: rerun with --fresh to run it again with this code, or '
          .. 'with --allow-changed-code to keep them.', r.cell.name, r.seed, dir, what)
      end
      return nil, errors.refusal('rnn.experiment: run %s seed %d (%s) was started by other code: %s changed '
        .. 'since. Continuing it would mix the two: rerun with --fresh to start it over with this code, or with '
        .. '--allow-changed-code to continue it anyway.', r.cell.name, r.seed, dir, what)
    end
  end
  return info
end

local function mean_of_last(rows, fraction)
  local n = #rows
  if n == 0 then return {} end
  local k = math.max(1, math.floor(n * fraction))
  local sums, counts = {}, {}
  for i = n - k + 1, n do
    for key, v in pairs(rows[i]) do
      if key ~= 'step' then
        if type(v) == 'boolean' then v = v and 1 or 0 end
        if type(v) == 'number' then
          sums[key] = (sums[key] or 0) + v
          counts[key] = (counts[key] or 0) + 1
        end
      end
    end
  end
  local out = {}
  for key, s in pairs(sums) do out[key] = s / counts[key] end
  return out
end

-- evaluate with the model in eval mode and the generator untouched
local function evaluate(self, state, cfg)
  if not self.evaluate_fn then return {} end
  local R = rnn()
  local model = state.model
  local was_training = model.training
  local rng = R.get_rng_state()
  model:eval()
  local ok, r = pcall(errors.call, 'evaluate', self.evaluate_fn, state, cfg)
  model:train(was_training ~= false)
  R.set_rng_state(rng)
  if not ok then error(r, 0) end
  if r == nil then return {} end
  if type(r) ~= 'table' then
    errors.refuse('rnn.experiment: evaluate must return a table of metrics, got %s', type(r))
  end
  return r
end
M.evaluate = evaluate

local function split_series(r)
  local metrics, series = {}, nil
  for k, v in pairs(r) do
    if k == 'series' then series = v else metrics[k] = v end
  end
  return metrics, series
end


-- The seed of the training stream of a run: what the steps draw (batches,
-- noise) comes from a generator seeded here after setup, so that cells
-- whose setups draw different amounts (an LSTM has more weights than a GRU)
-- still train on the same batches for one seed. (A fixed odd multiplier
-- and offset keep the stream apart from setup's, seeded with seed itself.)
local function training_seed(seed)
  return seed * -7046029254386353131 + 7109453100751455733
end

-- A fingerprint of the random generator's state (FNV-1a, 64 bits, of its
-- words): two runs of one seed with the same fingerprint after their last
-- step drew the same amounts in training, which rnn.experiment.compare
-- reports as "same draws" for paired seeds.
local function rng_fingerprint(R)
  local h = -3750763034362895579 -- 14695981039346656037 as a signed 64-bit integer
  for _, w in ipairs(R.get_rng_state()) do
    for i = 0, 7 do
      h = h ~ ((w >> (8 * i)) & 0xff)
      h = h * 1099511628211
    end
  end
  return string.format('%016x', h)
end

-- The best evaluation so far of a run with `select` (exp.select = {metric,
-- mode = 'min' | 'max'}): {step, value, eval} or nil. Only finite values
-- count; ties keep the earlier step.
local Best = {}
Best.__index = Best

local function better(sel, v, than)
  if type(v) ~= 'number' or v ~= v or v == math.huge or v == -math.huge then return false end
  if than == nil then return true end
  if sel.mode == 'max' then return v > than end
  return v < than
end

function Best.new(sel) return setmetatable({sel = sel}, Best) end

-- offers evaluation row r (metrics) of `step`; true when it is the best so far
function Best:offer(step, r)
  local v = r[self.sel.metric]
  if type(v) == 'boolean' then v = v and 1 or 0 end
  if not better(self.sel, v, self.value) then return false end
  local ev = {}
  for k, x in pairs(r) do
    if k ~= 'step' and (type(x) == 'number' or type(x) == 'boolean') then ev[k] = x end
  end
  self.step, self.value, self.eval = step, v, ev
  return true
end

function Best:marker()
  if self.step == nil then return nil end
  return {metric = self.sel.metric, mode = self.sel.mode, step = self.step, value = self.value, eval = self.eval}
end

-- whether any parameter or gradient of the model holds a NaN or an
-- infinity (x * 0 sums to 0 exactly when every element is finite)
local function nonfinite_state(model)
  local R = rnn()
  return R.no_grad(function()
    for _, p in ipairs(model:parameters()) do
      for _, t in ipairs{p, p.grad} do
        if not finite((t * 0):sum():item()) then return true end
      end
    end
    return false
  end)
end

-- a number as the done marker spells a non-finite one ('nan', 'inf', ...)
local function spelled(v)
  if type(v) == 'number' and not finite(v) then return json.number(v) end
  return v
end

-- Restores a run's state from its checkpoint, or from the one before it
-- (checkpoint.prev.safetensors) when the newest is unreadable or damaged
-- (its checksum differs), saying so; returns the step (0: no checkpoint).
-- Raises a refusal naming the files when neither can be used.
local function resume_checkpoint(dir, ckpt, state)
  local prev = checkpoint.prev_path(ckpt)
  local have, have_prev = files.exists(ckpt), files.exists(prev)
  if not have and not have_prev then return 0 end
  local why
  if have then
    local t, m = checkpoint.read(ckpt)
    if t then return checkpoint.apply(ckpt, t, m, state) end
    why = m
  end
  if have_prev then
    local t, m = checkpoint.read(prev)
    if t then
      local step = checkpoint.apply(prev, t, m, state)
      io.stderr:write(string.format('rnn.experiment: %s; resuming from %s (step %d)\n',
        why or (ckpt .. ' is missing'), prev, step))
      -- the damaged file is set aside, so that the next save does not keep
      -- it as the previous checkpoint
      if have then os.rename(ckpt, dir .. '/checkpoint.damaged.safetensors') end
      return step
    end
    why = (why and (why .. '; ') or '') .. m
  end
  errors.refuse('rnn.experiment: cannot resume the run in %s: %s. Rerun with --fresh to start it over.', dir, why)
end

--- Runs (or resumes, extends or skips) one run of experiment `exp`:
-- r = {cell = {name, dir, values}, seed, dir, index}; cfg_base: the
-- config of this invocation; prog: a progress display; ctl (optional):
-- {stop = function() -> reason or nil, asked at the end of every step;
-- allow_changed_code}. Raises a refusal (rnn.experiment.errors) when the
-- folder holds a run that must not be continued or reused (see
-- M.inspect), a user error when the experiment's code raises. Returns the
-- done marker, 'ran' or 'skipped', and when the run was made by other code
-- (--allow-changed-code) what changed.
function M.run_one(exp, r, cfg_base, prog, ctl)
  local self = exp
  ctl = ctl or {}
  local cell, seed, dir, index = r.cell, r.seed, r.dir, r.index
  local stop = ctl.stop
  local R = rnn()
  files.mkdir_p(dir)
  local cfg = {}
  for k, v in pairs(cfg_base) do cfg[k] = v end
  for k, v in pairs(cell.values) do cfg[k] = v end
  local info, refusal = M.inspect(self, r, cfg, ctl)
  if not info then error(refusal, 0) end
  local config_path, done_path = dir .. '/config.json', dir .. '/done'
  if info.action == 'skip' then
    prog:skip_run(index, cell.name, seed)
    return info.marker, 'skipped', info.changes
  end
  local now_code = code.of(self)
  if info.action == 'start' then
    local doc = {experiment = self.name, cell = cell.name, grid = cell.values, seed = seed, config = cfg,
                 environment = environment(), code = now_code}
    files.write_atomic(config_path, json.encode(doc, {indent = 2}) .. '\n')
  end
  os.remove(dir .. '/error.txt') -- of an earlier failure of this run

  local total = cfg.steps
  local ckpt_every = cfg.checkpoint_every
  local eval_every = cfg.eval_every or 0
  -- every run starts from a collected heap: the garbage of a bigger run
  -- is old to the generational collector, which frees it only in a full
  -- collection; until then it is counted as tensor memory in use, and the
  -- collector's pace (a collection every third of that) lets the next,
  -- small model's garbage pile up onto fresh pages (bindings/lrl.c; a
  -- config-C RNN step right after a config-B LSTM: bench/recurrent.lua
  -- after_b, a row of make bench)
  collectgarbage('collect')
  R.manual_seed(seed)
  local state = errors.call('setup', self.setup_fn, cfg, seed)
  R.manual_seed(training_seed(seed))
  local model = checkpoint.model_of(state, 'setup')
  model:train()
  local ckpt = dir .. '/checkpoint.safetensors'
  if info.damaged_marker then
    io.stderr:write(string.format('rnn.experiment: %s/done is not a done marker (empty or damaged): run %s seed %d is '
      .. 'taken as unfinished and resumed from its checkpoint; its marker is written again at its end\n', dir,
      cell.name, seed))
  end
  local start = 0
  if info.action == 'start' then
    os.remove(checkpoint.prev_path(ckpt))
  else
    start = resume_checkpoint(dir, ckpt, state)
    if start > total then
      errors.refuse('rnn.experiment: %s: the checkpoint is at step %d, past steps = %d (a run is continued to more '
        .. 'steps, never fewer): ask for --steps %d or more, or rerun it with --fresh', dir, start, total, start)
    end
  end
  files.remove_prefixed(dir, 'checkpoint.safetensors.tmp.') -- temporary files of a killed save
  -- the record of what this invocation changes: steps, an extension, other code
  local drop_eval = {}
  if info.old then
    local doc, changed = info.old, false
    if doc.config.steps ~= total then doc.config.steps, changed = total, true end
    if info.action == 'extend' then
      local from = math.tointeger(info.marker.step)
      -- The final evaluation at the old last step stays only where a run
      -- started with these steps evaluates too (eval_every divides it), or
      -- where it was the best one (best.safetensors holds its state).
      local best = info.marker.best
      local periodic = eval_every > 0 and from % eval_every == 0
      local was_best = type(best) == 'table' and math.tointeger(best.step) == from
      doc.extended = doc.extended or {}
      local prev = doc.extended[#doc.extended]
      if not (prev and prev.from == from and prev.to == total) then -- (not again after a kill right here)
        doc.extended[#doc.extended + 1] = {from = from, to = total, keeps_eval = periodic or was_best}
        changed = true
      end
    end
    if info.changes or (doc.code == nil and doc.continued_by == nil) then
      -- (a run made before code was recorded gets a record from now on)
      doc.continued_by = doc.continued_by or {}
      doc.continued_by[#doc.continued_by + 1] = {step = start, code = now_code}
      changed = true
    end
    if changed then files.write_atomic(config_path, json.encode(doc, {indent = 2}) .. '\n') end
    -- the run is unfinished again until it reaches its new steps
    if info.action == 'extend' then os.remove(done_path) end
    -- (and a resume after a kill during an extension drops the same rows)
    for _, e in ipairs(doc.extended or {}) do
      if not e.keeps_eval then drop_eval[math.tointeger(e.from)] = true end
    end
  end
  local metrics = files.Metrics.open(dir, start, total, {drop_eval = drop_eval})
  -- the best evaluation of the kept rows (a resumed run saves best.safetensors
  -- again, with the same bytes, if a later evaluation was the best before)
  local best = self.select and Best.new(self.select) or nil
  local best_path = dir .. '/best.safetensors'
  if best then
    if start == 0 then os.remove(best_path) end
    for _, row in ipairs(metrics:eval_rows()) do best:offer(row.step, row) end
  end
  local ckinfo = {experiment = self.name, cell = cell.name, seed = seed}
  local kill_at = os.getenv('RNNLUA_EXPERIMENT_KILL_AT')
  kill_at = kill_at and (math.tointeger(tonumber(kill_at)) or kill_at)
  prog:start_run(index, cell.name, seed, start, total, info.action == 'extend')
  local where = string.format('step (cell %s, seed %d)', cell.name, seed)
  local loss_metric = self.loss_metric
  local diverged, last = nil, total
  for step = start + 1, total do
    local ok, row = pcall(errors.call, 'step', self.step_fn, state, cfg, step)
    if not ok then
      -- a step that raises on a model gone non-finite has diverged, e.g.
      -- rnn.clip refusing a NaN gradient norm
      if errors.is_user_error(row) and nonfinite_state(model) then
        diverged = {step = step, metric = loss_metric or nil, error = row.message}
        last = step
        break
      end
      if errors.is_user_error(row) then row.step = step end
      error(row, 0)
    end
    if type(row) ~= 'table' then
      errors.refuse('rnn.experiment: %s must return a table of metrics, got %s', where, type(row))
    end
    metrics:append('train', step, row, where)
    if kill_at == step then kill_self() end
    prog:step(step, row)
    local lv = loss_metric and row[loss_metric]
    if type(lv) == 'number' and not finite(lv) then
      diverged = {step = step, metric = loss_metric, value = spelled(lv)}
      last = step
      break
    end
    if eval_every > 0 and step % eval_every == 0 and step < total then
      local ev = split_series(evaluate(self, state, cfg))
      metrics:append('eval', step, ev, 'evaluate')
      if best and best:offer(step, ev) then checkpoint.save(best_path, state, step, ckinfo) end
    end
    local reason = stop and step < total and stop()
    if step % ckpt_every == 0 or step == total or reason then
      -- a state with a NaN or an infinity is never saved: the run has
      -- diverged (at this step, where it was found), even with a finite loss
      local bad = checkpoint.nonfinite((checkpoint.tensors_of(state)))
      if bad then
        diverged = {step = step, metric = loss_metric or nil, error = bad .. ' holds NaN or infinite values'}
        last = step
        break
      end
      metrics:flush()
      checkpoint.save(ckpt, state, step, ckinfo, {keep_prev = true})
    end
    if reason then
      metrics:close()
      error(setmetatable({reason = reason, step = step, cell = cell.name, seed = seed}, Stop), 0)
    end
  end
  -- (a diverged run keeps its last periodic checkpoint, the state before it
  -- diverged: a kill before its done marker then reruns the same steps from
  -- there and diverges again at the same step)
  local eval_error
  -- the generator after the last step: equal in two runs of a seed when
  -- their steps drew the same amounts (compare's same_draws)
  local train_rng = rng_fingerprint(R)
  local final, series
  if diverged then
    -- keep the final evaluation when it can be run on the diverged model
    local ok, res = pcall(evaluate, self, state, cfg)
    if ok then final, series = split_series(res)
    else
      if not errors.is_user_error(res) then error(res, 0) end
      final, eval_error = {}, res.message
    end
  else
    final, series = split_series(evaluate(self, state, cfg))
  end
  if next(final) ~= nil then metrics:append('eval', last, final, 'evaluate') end
  if best and best:offer(last, final) then checkpoint.save(best_path, state, last, ckinfo) end
  metrics:close()
  if series ~= nil then
    if type(series) ~= 'table' then
      errors.refuse('rnn.experiment: evaluate: series must be a table {name = {values...}}')
    end
    files.write_atomic(dir .. '/series.json', json.encode(series) .. '\n')
  end
  if kill_at == 'done' then kill_self() end
  local rows = metrics:train_rows()
  local marker = {step = last, eval = final, train = mean_of_last(rows, 0.1), last = rows[#rows] or {},
                  train_rng = train_rng, best = best and best:marker() or nil, diverged = diverged,
                  eval_error = eval_error}
  files.write_atomic(done_path, json.encode(marker, {indent = 2}) .. '\n')
  prog:end_run(final, diverged)
  return marker, 'ran'
end

return M
