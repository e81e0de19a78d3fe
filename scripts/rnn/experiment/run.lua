--- rnn.experiment.run: one run of an experiment — a cell × seed — from
-- its folder: started, resumed from its checkpoint, or skipped when its
-- done marker exists. Whatever runs it (the command itself, a worker
-- process, a Slurm task, an MPI rank), the files it writes are the same.
--
-- A run stops early, cleanly, when ctl.stop() names a reason at the end of
-- a step (a signal caught, the parent process gone): it saves a checkpoint
-- of that step and raises a stop (M.is_stop), from which a rerun resumes.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local checkpoint = require 'rnn.experiment.checkpoint'

local M = {}

local function rnn() return require 'rnn' end
local function environment() return require('rnn.experiment').environment() end

-- For the crash tests: RNNLUA_EXPERIMENT_KILL_AT=k makes the process
-- SIGKILL itself right after writing the metrics row of step k (before
-- that step's checkpoint), =done just before the done marker.
function M.kill_self()
  io.stdout:flush()
  os.execute('kill -9 $PPID')
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

-- what config.json must agree on for a run to be continued
local function run_identity(doc)
  return json.encode{config = doc.config, grid = doc.grid, seed = doc.seed, experiment = doc.experiment}
end

local function describe_difference(old, new)
  local diffs = {}
  local keys = {}
  for k in pairs(old.config or {}) do keys[k] = true end
  for k in pairs(new.config or {}) do keys[k] = true end
  for _, k in ipairs(json.sorted_keys(keys)) do
    local a, b = (old.config or {})[k], (new.config or {})[k]
    if json.encode(a) ~= json.encode(b) then
      diffs[#diffs + 1] = string.format('%s: %s there, %s now', k, json.encode(a), json.encode(b))
    end
  end
  return #diffs > 0 and table.concat(diffs, '; ') or 'grid values or seed differ'
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
  local ok, r = xpcall(self.evaluate_fn, debug.traceback, state, cfg)
  model:train(was_training ~= false)
  R.set_rng_state(rng)
  if not ok then error(r, 0) end
  if r == nil then return {} end
  if type(r) ~= 'table' then error('rnn.experiment: evaluate must return a table of metrics, got ' .. type(r), 0) end
  return r
end

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

--- Runs (or resumes, or skips) one run of experiment `exp`:
-- r = {cell = {name, dir, values}, seed, dir, index}; cfg_base: the
-- config of this invocation; prog: a progress display; ctl (optional):
-- {stop = function() -> reason or nil}, asked at the end of every step.
-- Returns the done marker, 'ran' or 'skipped', and for a run skipped that
-- was made at another git commit, that commit.
function M.run_one(exp, r, cfg_base, prog, ctl)
  local self = exp
  local cell, seed, dir, index = r.cell, r.seed, r.dir, r.index
  local stop = ctl and ctl.stop
  local R = rnn()
  files.mkdir_p(dir)
  local cfg = {}
  for k, v in pairs(cfg_base) do cfg[k] = v end
  for k, v in pairs(cell.values) do cfg[k] = v end
  local doc = {experiment = self.name, cell = cell.name, grid = cell.values, seed = seed, config = cfg,
               environment = environment()}
  local config_path = dir .. '/config.json'
  local old = files.read(config_path)
  local od_env
  if old then
    local ok, od = pcall(json.decode, old)
    if ok and type(od) == 'table' then
      od_env = od.environment
      json.integers(od)
      if run_identity(od) ~= run_identity(doc) then
        error(string.format('rnn.experiment: %s was made with another configuration (%s); rerun with --fresh to '
          .. 'replace it, or choose another --out', dir, describe_difference(od, doc)), 0)
      end
    else
      old = nil
    end
  end
  local done_path = dir .. '/done'
  local done_text = files.read(done_path)
  if done_text and old then
    prog:skip_run(index, cell.name, seed)
    local then_commit = type(od_env) == 'table' and od_env.git_commit or nil
    local now_commit = doc.environment.git_commit
    local stale = type(then_commit) == 'string' and type(now_commit) == 'string' and then_commit ~= now_commit
    return json.integers(json.decode(done_text)), 'skipped', stale and then_commit or nil
  end
  if not old then files.write_atomic(config_path, json.encode(doc, {indent = 2}) .. '\n') end
  os.remove(dir .. '/error.txt') -- of an earlier failure of this run

  local total = cfg.steps
  local ckpt_every = cfg.checkpoint_every
  local eval_every = cfg.eval_every or 0
  R.manual_seed(seed)
  local state = self.setup_fn(cfg, seed)
  R.manual_seed(training_seed(seed))
  local model = checkpoint.model_of(state, 'setup')
  model:train()
  local ckpt = dir .. '/checkpoint.safetensors'
  local start = 0
  if files.exists(ckpt) then
    start = checkpoint.load(ckpt, state)
    if start > total then
      error(string.format('rnn.experiment: %s: the checkpoint is at step %d, past steps = %d', dir, start, total), 0)
    end
  end
  files.remove_prefixed(dir, 'checkpoint.safetensors.tmp.') -- temporary files of a killed save
  local metrics = files.Metrics.open(dir, start, total)
  -- the best evaluation of the kept rows (a resumed run saves best.safetensors
  -- again, with the same bytes, if a later evaluation was the best before)
  local best = self.select and Best.new(self.select) or nil
  local best_path = dir .. '/best.safetensors'
  if best then
    if start == 0 then os.remove(best_path) end
    for _, row in ipairs(metrics:eval_rows()) do best:offer(row.step, row) end
  end
  local info = {experiment = self.name, cell = cell.name, seed = seed}
  local kill_at = os.getenv('RNNLUA_EXPERIMENT_KILL_AT')
  kill_at = kill_at and (math.tointeger(tonumber(kill_at)) or kill_at)
  prog:start_run(index, cell.name, seed, start, total)
  local where = string.format('step (cell %s, seed %d)', cell.name, seed)
  for step = start + 1, total do
    local row = self.step_fn(state, cfg, step)
    if type(row) ~= 'table' then
      error(string.format('rnn.experiment: %s must return a table of metrics, got %s', where, type(row)), 0)
    end
    metrics:append('train', step, row, where)
    if kill_at == step then M.kill_self() end
    prog:step(step, row)
    if eval_every > 0 and step % eval_every == 0 and step < total then
      local r = split_series(evaluate(self, state, cfg))
      metrics:append('eval', step, r, 'evaluate')
      if best and best:offer(step, r) then checkpoint.save(best_path, state, step, info) end
    end
    local reason = stop and step < total and stop()
    if step % ckpt_every == 0 or step == total or reason then
      metrics:flush()
      checkpoint.save(ckpt, state, step, info)
    end
    if reason then
      metrics:close()
      error(setmetatable({reason = reason, step = step, cell = cell.name, seed = seed}, Stop), 0)
    end
  end
  -- the generator after the last step: equal in two runs of a seed when
  -- their steps drew the same amounts (compare's same_draws)
  local train_rng = rng_fingerprint(R)
  local final, series = split_series(evaluate(self, state, cfg))
  if next(final) ~= nil then metrics:append('eval', total, final, 'evaluate') end
  if best and best:offer(total, final) then checkpoint.save(best_path, state, total, info) end
  metrics:close()
  if series ~= nil then
    if type(series) ~= 'table' then error('rnn.experiment: evaluate: series must be a table {name = {values...}}', 0) end
    files.write_atomic(dir .. '/series.json', json.encode(series) .. '\n')
  end
  if kill_at == 'done' then M.kill_self() end
  local rows = metrics:train_rows()
  local marker = {step = total, eval = final, train = mean_of_last(rows, 0.1), last = rows[#rows] or {},
                  train_rng = train_rng, best = best and best:marker() or nil}
  files.write_atomic(done_path, json.encode(marker, {indent = 2}) .. '\n')
  prog:end_run(final)
  return marker, 'ran'
end

--- Runs everything the options select, then writes the report. Returns
-- {rows = summary rows, markdown = table text, index = path of

return M
