--- @module rnn.experiment
-- rnn.experiment: the harness that runs an experiment — a grid of
-- configurations × seeds — reproducibly and resumably, and reports it.
--
--     local rnn = require 'rnn'
--     local exp = rnn.experiment.new{
--       name = 'h0_comparison',
--       description = 'Does a learned h0 beat a zero h0? ...',
--       grid = {{'h0', {'zero', 'random', 'learned'}}, {'task', {'adding'}}},
--       config = {steps = 300, hidden = 32, lr = 1e-2, checkpoint_every = 50},
--       seeds = 3,
--       setup = function(cfg, seed) ... return {model = m, opt = o, clip = c} end,
--       step = function(state, cfg, step) ... return {loss = l, grad_norm = g} end,
--       evaluate = function(state, cfg) ... return {val_loss = v, success = ok} end,
--     }
--     exp:run(arg)
--
-- The declaration (rnn.experiment.new{...}):
--   name         the experiment's name: letters, digits, '_', '-', '.'
--   description  text shown by --help and at the top of the report
--   grid         ordered axes {{axis, {values...}}, ...} (numbers, strings
--                or booleans); the cells are every combination, the first
--                axis outermost. Optional: no grid is one cell, 'default'.
--                An axis may not be named like a column the harness writes
--                (seed, step, runs, diverged, metric, cell_name, success_*,
--                or ending in _n, _mean, _sd, _ci_low, _ci_high,
--                _diverged); 'cell' may (summary.csv's column of cell names
--                is then cell_name).
--   config       defaults of the configuration (numbers, strings,
--                booleans), overridable with --set. The harness adds
--                steps (100), checkpoint_every (max(1, steps // 10) when
--                not given: fixed when the experiment is declared) and
--                eval_every (0: evaluate only at the end) when absent.
--   seeds        a count n (seeds 1..n) or an array of seeds; --seeds N
--                overrides with 1..N
--   setup(cfg, seed) -> state  builds model, optimizer, data, ... The
--                harness has called rnn.manual_seed(seed) just before.
--                cfg is the config with this cell's grid values set
--                (cfg.h0 = 'zero', ...). state must have `model` (an
--                rnn.nn module) and may have `opt` (an rnn.optim
--                optimizer), `clip` (an rnn.clip policy), `schedule` (an
--                rnn.optim.schedule) and `extra` (a table of numbers,
--                strings and booleans, saved as JSON); everything else in
--                it is the experiment's own and must be rebuilt by setup
--                (it is not saved).
--   step(state, cfg, step) -> metrics  one training step (step = 1, 2, ...,
--                cfg.steps); returns a table of numbers, booleans or
--                strings, the same names every step ('loss' and
--                'grad_norm' are shown by the progress display; 'clipped'
--                as a boolean gives the fraction-clipped plot). A NaN or
--                infinite `loss` ends the run as diverged (see below).
--   loss_metric  optional: the step metric that is the training loss
--                ('loss'), or false: a run never stops as diverged
--   evaluate(state, cfg) -> metrics  optional: at the end, and every
--                cfg.eval_every steps when > 0. The harness puts the model
--                in eval mode (training mode afterwards) and saves and
--                restores the random generator around it, so evaluating
--                never changes the training run. Numbers and booleans go to
--                the summary; `success` (a boolean) gives the success rate;
--                `series` = {name = {v1, v2, ...}} is saved (series.json)
--                and plotted per cell against the index (e.g. ‖∂L/∂h_t‖
--                against t).
--   summary      optional: the metric names of the summary table, in order
--                (default: every evaluation metric, then train_loss)
--   stats        optional: {level = 0.95, ci = 't' | 'bootstrap' (the
--                summary's interval of the mean), resamples = 10000, seed
--                = 1 (of the bootstrap's own generator)}
--   baseline     optional: {axis = value}: compare every cell with the one
--                that has this value of the axis (default: every two cells
--                that differ in one axis; rnn.experiment.compare)
--   paired       optional: false when the seeds do not pair the cells
--                (default true: the same seed gives the same start)
--   min_effect   optional: {metric = difference}: the smallest difference
--                of interest, for the seeds needed for 80% power
--   select       optional: an evaluation metric ('val_loss', lowest best)
--                or {metric = name, mode = 'min' | 'max'}: every run keeps
--                the checkpoint of its best evaluation (best.safetensors;
--                evaluations every eval_every steps and at the end), its
--                done marker records it (best = {step, value, eval}), and
--                the summary shows best_<metric> and best_step beside the
--                final value
--   presets      optional: {name = {description, config = {...}, seeds,
--                grid, baseline, min_effect, stats, summary, select,
--                plots}}: named variants of the declaration (e.g. `paper`:
--                sizes with the statistical power to show the effect).
--                `--preset name` runs one: its config is merged over
--                config, its other fields replace the declaration's, and
--                its results go to <out>/<name>-<preset>. Each preset is
--                checked as a declaration when the experiment is made.
--   plots        optional: {facet = axis (one figure per value of it),
--                metrics = {per-step columns to plot}, log_y = {name =
--                true|false} (default: log for names with 'loss' or 'norm'
--                when positive), band = 'ci' (default: 95% t interval of
--                the mean over seeds) | 'minmax' | 'std' | 'none' (no band
--                with one seed, nor over 0/1 metrics, drawn as fractions),
--                points = 100 (bins of the training curves), titles/xlabel/
--                ylabel = {name = text} (a series of that name, else the
--                metric; default axes: 'training step' or 't' for series,
--                and the name; xlabel = text labels every plot against the
--                training step), units = {name = 'nats'}
--                (the y label reads 'val_loss (nats)'; ylabel and units
--                also label the metric's forest plot of differences), baselines = {name
--                = value or {value = v, label = 'mean predictor'}} (a
--                dashed line on every plot of that metric), custom =
--                function(ctx) -> {{name, title, svg}, ...} for the
--                experiment's own figures (ctx.svg is rnn.experiment.svg)}.
--                Each plot is also written as PNG and PDF (rsvg-convert)
--
-- exp:run(arg) parses the command line, runs every cell × seed and writes
-- the report. Options: --seeds N, --steps N, --out DIR (runs), --set
-- key=value (repeatable; numbers, true/false or text; a grid axis set this
-- way keeps only that value), --only TEXT (cells whose name contains it;
-- repeatable), --fresh (delete the earlier results first),
-- --allow-changed-code (resume or keep runs made by other code), --threads N
-- (BLAS threads of each run, default 1), --jobs N (runs at a time in
-- worker processes; default one per core, capped by the runs left; 1 runs
-- them in this process), --launcher local|slurm, --slurm key=value
-- (sbatch options, repeatable), --array-limit N, --status (where every run
-- stands), --quiet, --keep-going (carry on past a failed run), --list
-- (print the cells), --help. exp:parse(argv) -> options | nil, error and
-- exp:execute(options) are the two halves, for scripts and tests. Under
-- `mpirun -np N`, the ranks share the runs (rnn.experiment.sweep).
--
-- Scaling out: whatever runs a run — this process, a worker of --jobs
-- (rnn.experiment.pool), a Slurm task (rnn.experiment.slurm), an MPI
-- rank — it writes the same bytes, with one BLAS thread unless --threads
-- says otherwise. Each run has its own lock (rnn.experiment.lock), so two
-- commands, machines or ranks on one folder never work on the same run;
-- a run held elsewhere is waited for, and taken over if its holder dies.
-- SIGINT, SIGTERM (and Slurm's warning, SIGUSR1) stop a run at the end of
-- its step with a checkpoint of that step; a second one stops at once.
--
-- Files, under <out>/<name>/:
--   <cell>/seed-<n>/config.json     config, grid values, seed, environment
--                                   (git commit or null, rnn._VERSION, BLAS,
--                                   threads), code (hashes of the script,
--                                   the rnn Lua sources and the C core:
--                                   rnn.experiment.code); sorted keys, the
--                                   same text for the same run. Later:
--                                   extended ({from, to, keeps_eval} a
--                                   continuation to more steps) and
--                                   continued_by ({step, code} a resume by
--                                   other code)
--   <cell>/seed-<n>/metrics.csv     one row a step: step, then the step's
--                   metrics.jsonl   metrics (columns of the first row,
--                                   'loss' first then sorted); numbers as
--                                   %.17g, so identical runs give identical
--                                   files
--   <cell>/seed-<n>/eval.csv, eval.jsonl   evaluations (step, metrics)
--   <cell>/seed-<n>/series.json     the final evaluation's series
--   <cell>/seed-<n>/checkpoint.safetensors  every checkpoint_every steps
--                                   and at the end: tensors 'model.<name>'
--                                   (state_dict), 'optim.state.<i>.<buf>'
--                                   (the optimizer's buffers), 'grad.<name>'
--                                   (gradients present); metadata, each a
--                                   JSON text: format, step, rng (the
--                                   generator's state, integers as strings),
--                                   optim (rnn.optim's state_tensors
--                                   metadata), clip, schedule, extra,
--                                   experiment, cell, seed, checksum
--                                   ('fnv1a64:<hex>' of the tensors,
--                                   checked on resume); never holds a NaN
--   <cell>/seed-<n>/checkpoint.prev.safetensors  the checkpoint before,
--                                   resumed from when the newest is damaged
--   <cell>/seed-<n>/best.safetensors  with select: the checkpoint of the
--                                   best evaluation
--   <cell>/seed-<n>/done            written last: JSON {step, eval (final
--                                   evaluation without series), train (means
--                                   over the last tenth of the steps), last
--                                   (the last training row), train_rng,
--                                   best, and for a diverged run diverged =
--                                   {step, metric, value | error} and
--                                   eval_error when the final evaluation
--                                   could not run}
--   summary.csv, summary.md     per cell: runs, diverged; per cell and
--                                   metric: n, mean, sample sd, 95% CI of
--                                   the mean, diverged runs
--   comparisons.csv, comparisons.md  (with a grid) paired differences of
--                                   cells with CIs, p, Holm's p, effect,
--                                   seeds for 80% power
--   plots/*.svg, index.html
-- The cell folder name is 'axis=value,axis=value' with characters other
-- than letters, digits and . _ - = , + replaced by '_'.
--
-- Crashes and reruns. Checkpoints are written atomically (rnn.save: a
-- temporary file, then a rename), after flushing the metrics files; every
-- other file the harness replaces goes through a rename as well. Rerunning
-- the same command skips runs that have their done marker and resumes the
-- others from their checkpoint: the model, optimizer state, gradients,
-- clipping history, schedule, extra and the random generator are restored
-- and the metrics files are cut back to the checkpoint's step, so a run
-- killed at any moment (SIGKILL included) ends with the same metrics files,
-- to the bit, as one never interrupted. Damage is refused, naming the
-- file, never resumed from: a checkpoint whose checksum fails (the one
-- before it is used when kept), metrics.csv and metrics.jsonl (or
-- eval.*) that differ, run files without a readable config.json. A done
-- marker that does not parse is taken as unfinished (said so): the run
-- resumes from its checkpoint and writes it again. A run whose folder holds a
-- config.json for another configuration is refused (use --fresh or
-- another --out) — except for steps: a finished run asked for more steps
-- (--steps, --set steps=N) continues from its last checkpoint, and its
-- done marker is written again when it gets there; it ends with the files
-- of a run started with that many steps when nothing in setup, step or a
-- schedule reads cfg.steps. Fewer steps than a run has done is refused.
-- Data must come from the seeded generator (or depend on the step only)
-- for this to hold. A run made by other code (config.json's code differs:
-- the script, the rnn Lua sources or the C core changed) is neither
-- resumed nor skipped: the command refuses, naming what changed, and asks
-- for --fresh or --allow-changed-code. All refusals come before any run
-- starts, once for the command.
--
-- Write failures: every write, fsync and close is checked. A full disk
-- (ENOSPC, EDQUOT), a file-size limit (EFBIG; SIGXFSZ is ignored), a
-- read-only or unwritable folder (EROFS, EACCES: the error says which
-- folder is read-only) stop the run with an error naming the file and the
-- cause; the file is left as it was (a replaced file keeps its old bytes,
-- a metrics row is written whole or cut back, no temporary file stays), so
-- a rerun once there is room resumes and ends as an uninterrupted run.
--
-- Divergence: a run whose loss is NaN or infinite (or whose step raises
-- while the model's weights or gradients are not finite) stops there, as
-- a result: its final evaluation runs on that state if it can, its done
-- marker says diverged = {step, ...}, and its checkpoint stays the last
-- periodic one, from before it diverged; the summary
-- counts it per cell and leaves its final metrics out (diverged k/n).
--
-- Errors: an error in the experiment's setup, step or evaluate is shown
-- once, with the file:line of the experiment's code (and the calls between
-- the experiment's own functions), not the harness's frames; a refusal is
-- its message alone (rnn.experiment.errors).
--
-- A run in progress holds its lock,
-- <name>/.locks/<cell>@seed-<n>.lock (fcntl: released by the kernel when
-- its process ends, however it ends). For the crash tests only (not an
-- API): RNNLUA_EXPERIMENT_KILL_AT=<step> (or 'done') makes the process
-- SIGKILL itself right after writing that step's metrics row (or just
-- before a done marker); for the fault tests only (not an API):
-- RNNLUA_TEST_FAULT=<file>:<n>:<CODE>[:<stage>] makes the n-th write (or
-- open, fsync, close) of that file fail with CODE (rnn.experiment.files).
--
-- A trained model back: exp:load_run(dir [, {which = 'last' | 'best'}])
-- or rnn.experiment.load_run(dir) (which finds the script by config.json)
-- -> run with run.model, run.opt, run.state, run.config, run:evaluate().
local M = {}

-- the pieces that need lua-cjson and lua-argparse load on first use, so
-- that `require 'rnn'` works without them
local function lazy(name)
  return setmetatable({}, {__index = function(t, k)
    local mod = require(name)
    setmetatable(t, {__index = mod})
    return mod[k]
  end})
end

local json = lazy('rnn.experiment.json')
local files = lazy('rnn.experiment.files')
local checkpoint = lazy('rnn.experiment.checkpoint')
local sweep = lazy('rnn.experiment.sweep')
local code = lazy('rnn.experiment.code')
local errors = lazy('rnn.experiment.errors')

local function rnn() return require 'rnn' end

-- an experiment (documented before its first method: LDoc files every
-- function after a @type under that type)
local Experiment = {}

-- while rnn.experiment.load_run runs a script: the experiments it declares
-- (and exp:run stops the script there)
local loading
local LOADED = setmetatable({}, {__tostring = function() return 'rnn.experiment: (the script was loaded)' end})

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end

local function is_plain(v)
  local t = type(v)
  return t == 'number' or t == 'string' or t == 'boolean'
end

--- A value as it appears in a cell name: numbers in their shortest exact
-- form (0.1, not 0.10000000000000001), others by tostring.
function M.value_string(v)
  if math.type(v) == 'float' then
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format('%.1f', v) end
    for p = 1, 17 do
      local s = string.format('%.' .. p .. 'g', v)
      if tonumber(s) == v then return s end
    end
  end
  return tostring(v)
end

--- A name made safe for a file name.
function M.sanitize(s)
  return (tostring(s):gsub('[^%w%._%-=,+]', '_'))
end

--- The cells of a grid (an array of {axis, values}), first axis outermost:
-- an array of {name, dir, values = {axis = value}}.
function M.expand_grid(grid)
  local cells = {{values = {}, parts = {}}}
  for _, axis in ipairs(grid or {}) do
    local name, values = axis[1], axis[2]
    local next_cells = {}
    for _, c in ipairs(cells) do
      for _, v in ipairs(values) do
        local vals = {}
        for k, x in pairs(c.values) do vals[k] = x end
        vals[name] = v
        local parts = {table.unpack(c.parts)}
        parts[#parts + 1] = name .. '=' .. M.value_string(v)
        next_cells[#next_cells + 1] = {values = vals, parts = parts}
      end
    end
    cells = next_cells
  end
  local out = {}
  for _, c in ipairs(cells) do
    local name = #c.parts > 0 and table.concat(c.parts, ',') or 'default'
    out[#out + 1] = {name = name, dir = M.sanitize(name), values = c.values}
  end
  return out
end

local build_presets
local PRESET_FIELDS = {description = true, config = true, seeds = true, grid = true, baseline = true,
                       min_effect = true, stats = true, summary = true, select = true, plots = true}

-- The experiments of spec.presets, each made by M.new from the declaration
-- with the preset applied (so a bad preset fails as a bad declaration
-- would): name -> experiment, and the sorted names.
build_presets = function(spec, source)
  local fn = 'rnn.experiment.new'
  if spec.presets == nil then return {}, {} end
  if type(spec.presets) ~= 'table' then
    fail(3, '%s: presets must be a table {name = {config = ..., seeds = ..., ...}}, got %s', fn, type(spec.presets))
  end
  local out, names = {}, {}
  for name, p in pairs(spec.presets) do
    if type(name) ~= 'string' or not name:match('^[%w_]+$') then
      fail(3, '%s: presets: a preset name must be letters, digits or _, got %s', fn, tostring(name))
    end
    if type(p) ~= 'table' then fail(3, '%s: presets.%s must be a table, got %s', fn, name, type(p)) end
    for k in pairs(p) do
      if not PRESET_FIELDS[k] then
        local ks = {}
        for f in pairs(PRESET_FIELDS) do ks[#ks + 1] = f end
        table.sort(ks)
        fail(3, "%s: presets.%s: unknown field '%s' (known: %s)", fn, name, tostring(k), table.concat(ks, ', '))
      end
    end
    if p.config ~= nil and type(p.config) ~= 'table' then
      fail(3, '%s: presets.%s.config must be a table, got %s', fn, name, type(p.config))
    end
    local merged = {}
    for k, v in pairs(spec) do merged[k] = v end
    merged.presets = nil
    merged.name = spec.name .. '-' .. name
    local config = {}
    for k, v in pairs(spec.config or {}) do config[k] = v end
    for k, v in pairs(p.config or {}) do config[k] = v end
    -- checkpoint_every follows the preset's steps unless either names it
    if p.config and p.config.steps and not p.config.checkpoint_every
        and not (spec.config and spec.config.checkpoint_every) then
      config.checkpoint_every = nil
    end
    merged.config = config
    for k, v in pairs(p) do
      if k ~= 'config' and k ~= 'description' then merged[k] = v end
    end
    if p.description then
      merged.description = (spec.description and spec.description ~= '' and (spec.description .. '\n\n') or '')
        .. 'Preset ' .. name .. ': ' .. p.description
    end
    local ok, e = pcall(M.new, merged)
    if not ok then
      fail(3, '%s: presets.%s: %s', fn, name, (tostring(e):gsub('^.-rnn%.experiment%.new: ', '')))
    end
    e.preset, e.base_name, e.source = name, spec.name, source
    out[name] = e
    names[#names + 1] = name
  end
  table.sort(names)
  return out, names
end

-- Names a grid axis may not have: the columns the harness writes beside
-- the axes' own (an axis so named would give a file two columns of one
-- name, or shadow a field of the run). ('cell' is allowed: summary.csv then
-- calls its column of cell names cell_name.)
local RESERVED_AXES = {
  seed = 'the seed of a run (config.json, the report)', seeds = 'the seeds (the command line, the report)',
  step = 'the first column of metrics.csv and eval.csv', runs = 'a column of summary.csv',
  cell_name = 'the column of cell names in summary.csv when an axis is called cell',
  diverged = 'a column of summary.csv (runs that diverged)', metric = 'a column of comparisons.csv',
  cell_a = 'a column of comparisons.csv', cell_b = 'a column of comparisons.csv',
  success_rate = 'a column of summary.csv', success_count = 'a column of summary.csv',
  success_runs = 'a column of summary.csv', success_ci_low = 'a column of summary.csv',
  success_ci_high = 'a column of summary.csv',
}
local RESERVED_SUFFIXES = {'_n', '_mean', '_sd', '_ci_low', '_ci_high', '_diverged'}

-- nil, or why `name` may not be a grid axis
local function reserved_axis(name)
  if RESERVED_AXES[name] then
    return string.format("grid axis '%s' has the name of a column the harness writes (%s); rename the axis", name,
      RESERVED_AXES[name])
  end
  for _, suffix in ipairs(RESERVED_SUFFIXES) do
    if #name > #suffix and name:sub(-#suffix) == suffix then
      return string.format("grid axis '%s' ends like the per-metric columns of summary.csv (<metric>_n, _mean, _sd, "
        .. '_ci_low, _ci_high, _diverged); rename the axis', name)
    end
  end
  return nil
end
M._reserved_axis = reserved_axis

--- rnn.experiment.new(spec) -> experiment (see the header).
function M.new(spec)
  local fn = 'rnn.experiment.new'
  -- the file that declares the experiment: its code is recorded with every
  -- run (rnn.experiment.code), and load_run finds the script by it
  -- (unknown when new was tail-called, `return rnn.experiment.new{...}`:
  -- then the file of setup stands for it)
  local caller = not debug.getinfo(1, 't').istailcall and debug.getinfo(2, 'S') or nil
  if caller and caller.what == 'C' then caller = nil end
  if type(spec) ~= 'table' then fail(2, '%s: argument 1 must be a table, got %s', fn, type(spec)) end
  local known = {name = true, description = true, grid = true, config = true, seeds = true, setup = true,
                 step = true, evaluate = true, summary = true, plots = true, stats = true, baseline = true,
                 paired = true, min_effect = true, select = true, presets = true, loss_metric = true}
  for k in pairs(spec) do
    if not known[k] then
      local ks = {}
      for n in pairs(known) do ks[#ks + 1] = n end
      table.sort(ks)
      fail(2, "%s: unknown field '%s' (known: %s)", fn, tostring(k), table.concat(ks, ', '))
    end
  end
  if type(spec.name) ~= 'string' or not spec.name:match('^[%w_%-%.]+$') then
    fail(2, '%s: name must be a non-empty string of letters, digits, _ - or ., got %s', fn, tostring(spec.name))
  end
  if spec.name == '.' or spec.name == '..' then
    fail(2, "%s: name must not be '%s': the results go to <out>/<name>, which must be a folder inside --out", fn,
      spec.name)
  end
  for _, f in ipairs{'setup', 'step'} do
    if type(spec[f]) ~= 'function' then fail(2, '%s: %s must be a function, got %s', fn, f, type(spec[f])) end
  end
  if spec.evaluate ~= nil and type(spec.evaluate) ~= 'function' then
    fail(2, '%s: evaluate must be a function or nil, got %s', fn, type(spec.evaluate))
  end
  local plots_err = require('rnn.experiment.plot_options').check(spec.plots)
  if plots_err then fail(2, '%s: %s', fn, plots_err) end
  if spec.loss_metric ~= nil and spec.loss_metric ~= false
      and (type(spec.loss_metric) ~= 'string' or spec.loss_metric == '') then
    fail(2, '%s: loss_metric must be the name of a metric of step (default \'loss\') or false, got %s', fn,
      tostring(spec.loss_metric))
  end
  local loss_metric = spec.loss_metric
  if loss_metric == nil then loss_metric = 'loss' end
  local self = setmetatable({name = spec.name, description = spec.description or '', setup_fn = spec.setup,
                             step_fn = spec.step, evaluate_fn = spec.evaluate, summary = spec.summary,
                             plots = spec.plots or {}, loss_metric = loss_metric or nil,
                             source = caller and caller.source}, Experiment)
  -- grid
  local grid, axes, axis_values = {}, {}, {}
  if spec.grid ~= nil and type(spec.grid) ~= 'table' then
    fail(2, '%s: grid must be an array of {axis, {values...}}, got %s', fn, type(spec.grid))
  end
  for i, axis in ipairs(spec.grid or {}) do
    if type(axis) ~= 'table' or type(axis[1]) ~= 'string' or type(axis[2]) ~= 'table' or #axis[2] == 0 then
      fail(2, '%s: grid entry %d must be {axis_name, {value, ...}} with at least one value', fn, i)
    end
    local name = axis[1]
    if not name:match('^[%a_][%w_]*$') then fail(2, "%s: grid axis name '%s' must be an identifier", fn, name) end
    if axis_values[name] then fail(2, "%s: grid axis '%s' appears twice", fn, name) end
    local why = reserved_axis(name)
    if why then fail(2, '%s: %s', fn, why) end
    local values = {}
    for j, v in ipairs(axis[2]) do
      if not is_plain(v) then
        fail(2, "%s: grid axis '%s': value %d is a %s; values are numbers, strings or booleans", fn, name, j, type(v))
      end
      values[j] = v
    end
    grid[#grid + 1] = {name, values}
    axes[#axes + 1] = name
    axis_values[name] = values
  end
  self.grid, self.axes, self.axis_values = grid, axes, axis_values
  local seen = {}
  for _, c in ipairs(M.expand_grid(grid)) do
    if seen[c.dir] then fail(2, "%s: two cells share the folder name '%s'", fn, c.dir) end
    seen[c.dir] = true
  end
  -- config
  if spec.config ~= nil and type(spec.config) ~= 'table' then
    fail(2, '%s: config must be a table, got %s', fn, type(spec.config))
  end
  local config = {}
  for k, v in pairs(spec.config or {}) do
    if type(k) ~= 'string' then fail(2, '%s: config keys must be names, got a %s', fn, type(k)) end
    if not is_plain(v) then
      fail(2, "%s: config.%s is a %s; config values are numbers, strings or booleans", fn, k, type(v))
    end
    config[k] = v
  end
  if config.steps == nil then config.steps = 100 end
  if config.checkpoint_every == nil then config.checkpoint_every = math.max(1, config.steps // 10) end
  if config.eval_every == nil then config.eval_every = 0 end
  self.config = config
  -- seeds
  local seeds = spec.seeds or 1
  if math.type(seeds) == 'integer' or (type(seeds) == 'number' and seeds == math.floor(seeds)) then
    if seeds < 1 then fail(2, '%s: seeds must be >= 1, got %s', fn, tostring(seeds)) end
    local s = {}
    for i = 1, seeds do s[i] = i end
    seeds = s
  elseif type(seeds) == 'table' and #seeds > 0 then
    for i, s in ipairs(seeds) do
      if math.type(s) ~= 'integer' then fail(2, '%s: seeds[%d] must be an integer, got %s', fn, i, tostring(s)) end
    end
  else
    fail(2, '%s: seeds must be a count or an array of integers, got %s', fn, tostring(seeds))
  end
  self.seeds = seeds
  -- statistics
  if spec.paired ~= nil and type(spec.paired) ~= 'boolean' then
    fail(2, '%s: paired must be a boolean, got %s', fn, type(spec.paired))
  end
  self.paired = spec.paired
  if spec.baseline ~= nil then
    if type(spec.baseline) ~= 'table' then
      fail(2, '%s: baseline must be a table {axis = value}, got %s', fn, type(spec.baseline))
    end
    for axis, v in pairs(spec.baseline) do
      local vals = axis_values[axis]
      if not vals then fail(2, "%s: baseline: '%s' is not a grid axis", fn, tostring(axis)) end
      local found = false
      for _, x in ipairs(vals) do if x == v then found = true end end
      if not found then fail(2, "%s: baseline: %s is not a value of grid axis '%s'", fn, tostring(v), axis) end
    end
  end
  self.baseline = spec.baseline
  if spec.min_effect ~= nil then
    if type(spec.min_effect) ~= 'table' then
      fail(2, '%s: min_effect must be a table {metric = smallest difference of interest}, got %s', fn,
        type(spec.min_effect))
    end
    for k, v in pairs(spec.min_effect) do
      if type(v) ~= 'number' or not (v > 0) or v == math.huge then
        fail(2, '%s: min_effect.%s must be a positive finite number, got %s', fn, tostring(k), tostring(v))
      end
    end
  end
  self.min_effect = spec.min_effect
  if spec.stats ~= nil then
    local st = spec.stats
    if type(st) ~= 'table' then fail(2, '%s: stats must be a table, got %s', fn, type(st)) end
    for k in pairs(st) do
      if k ~= 'level' and k ~= 'ci' and k ~= 'resamples' and k ~= 'seed' then
        fail(2, "%s: stats: unknown field '%s' (known: ci, level, resamples, seed)", fn, tostring(k))
      end
    end
    if st.level ~= nil and (type(st.level) ~= 'number' or not (st.level > 0 and st.level < 1)) then
      fail(2, '%s: stats.level must be a number in (0, 1), got %s', fn, tostring(st.level))
    end
    if st.ci ~= nil and st.ci ~= 't' and st.ci ~= 'bootstrap' then
      fail(2, "%s: stats.ci must be 't' or 'bootstrap', got %s", fn, tostring(st.ci))
    end
    if st.resamples ~= nil and (math.type(st.resamples) ~= 'integer' or st.resamples < 100) then
      fail(2, '%s: stats.resamples must be an integer >= 100, got %s', fn, tostring(st.resamples))
    end
    if st.seed ~= nil and math.type(st.seed) ~= 'integer' then
      fail(2, '%s: stats.seed must be an integer, got %s', fn, tostring(st.seed))
    end
  end
  self.stats = spec.stats
  if spec.select ~= nil then
    local sel = spec.select
    if type(sel) == 'string' then sel = {metric = sel, mode = 'min'}
    elseif type(sel) == 'table' then sel = {metric = sel.metric or sel[1], mode = sel.mode or sel[2] or 'min'}
    else fail(2, "%s: select must be a metric name or {metric = name, mode = 'min' | 'max'}, got %s", fn, type(sel)) end
    if type(sel.metric) ~= 'string' or sel.metric == '' then
      fail(2, '%s: select: the metric must be a name, got %s', fn, tostring(sel.metric))
    end
    if sel.mode ~= 'min' and sel.mode ~= 'max' then
      fail(2, "%s: select: mode must be 'min' or 'max', got %s", fn, tostring(sel.mode))
    end
    if not spec.evaluate then fail(2, '%s: select needs an evaluate function (it picks the best evaluation)', fn) end
    self.select = sel
  end
  self.presets, self.preset_names = build_presets(spec, self.source)
  if loading then loading[#loading + 1] = self end
  return self
end

-- -------------------------------------------------------------------------
-- Command line

--- A value given on the command line
-- (`--set k=v`): "true"/"false", a number (integer when it reads as one),
-- else the text.
-- @tparam string s
-- @treturn boolean|number|string
function M.parse_value(s)
  if s == 'true' then return true end
  if s == 'false' then return false end
  local n = tonumber(s)
  if n ~= nil and s:match('^%s*[-+]?[%d.]') then
    return math.tointeger(n) or n
  end
  return s
end

local function known_keys(self)
  local ks = {}
  for k in pairs(self.config) do ks[#ks + 1] = k end
  for _, a in ipairs(self.axes) do
    if self.config[a] == nil then ks[#ks + 1] = a end
  end
  table.sort(ks)
  return ks
end

--- Text re-wrapped to `width` columns, paragraph by paragraph (blank lines
-- separate paragraphs; indented lines are kept as they are).
function M.wrap(text, width)
  local out = {}
  for para in (text:gsub('\r', '') .. '\n\n'):gmatch('(.-)\n%s*\n') do
    if para:match('%S') then
      if para:match('^%s') then
        out[#out + 1] = para
      else
        local lines, line = {}, ''
        for word in para:gmatch('%S+') do
          if #line > 0 and #line + 1 + #word > width then
            lines[#lines + 1] = line
            line = word
          else
            line = #line > 0 and (line .. ' ' .. word) or word
          end
        end
        if #line > 0 then lines[#lines + 1] = line end
        out[#out + 1] = table.concat(lines, '\n')
      end
    end
  end
  return table.concat(out, '\n\n')
end

-- -------------------------------------------------------------------------
-- The environment

local env_cache
--- {git_commit, rnnlua, lua, blas, threads}: what config.json records.
function M.environment()
  if not env_cache then
    -- (read from .git's files: no git process, no shell)
    local ok, commit = pcall(code.git_commit)
    if not ok then commit = nil end
    local blas = 'openblas'
    local f = io.open('/proc/self/maps', 'r')
    if f then
      for line in f:lines() do
        local path = line:match('(/%S*libopenblas%S*)$')
        if path then
          local version = path:match('%-r(%d[%d.]*%d)')
          local variant = path:match('/(openblas[%w%-]*)/[^/]+$')
          blas = 'OpenBLAS' .. (version and (' ' .. version) or '') .. (variant and (' (' .. variant .. ')') or '')
          break
        end
      end
      f:close()
    end
    env_cache = {git_commit = commit or json.null, rnnlua = rnn()._VERSION, lua = _VERSION, blas = blas}
  end
  local e = {}
  for k, v in pairs(env_cache) do e[k] = v end
  e.threads = rnn().get_num_threads()
  return e
end

-- -------------------------------------------------------------------------
-- Checkpoints (rnn.experiment.checkpoint)

setmetatable(M, {__index = function(_, k) if k == 'FORMAT' then return checkpoint.FORMAT end end})
--- Saves the state of a run after `step` to path, atomically, in the
-- format the harness resumes from (see the header): the model's
-- state_dict, the optimizer's buffers, gradients, and as JSON metadata the
-- step, generator state, optimizer scalars, clip, schedule and extra.
-- @call rnn.experiment.save_checkpoint(path, state, step [, info])
-- state is what setup returns ({model = ..., opt, clip, schedule, extra});
-- info: more metadata, JSON-encoded
M.save_checkpoint = function(...) return checkpoint.save(...) end
--- Restores a run's state (model, optimizer, gradients, clip, schedule,
-- extra, the random generator) from a checkpoint of save_checkpoint.
-- @call rnn.experiment.load_checkpoint(path, state) -> step
M.load_checkpoint = function(...) return checkpoint.load(...) end

-- -------------------------------------------------------------------------
-- A trained model back from a run folder

local function read_config(fn, dir)
  if type(dir) ~= 'string' or dir == '' then
    error(string.format('%s: argument 1 (dir) must be the folder of a run, got %s', fn, tostring(dir)), 3)
  end
  dir = dir:gsub('/+$', '')
  local text = files.read(dir .. '/config.json')
  if not text then
    error(string.format('%s: argument 1 (dir): %s has no config.json; a run folder is '
      .. '<out>/<experiment>/<cell>/seed-<n>', fn, dir), 3)
  end
  local ok, doc = pcall(json.decode, text)
  if not ok or type(doc) ~= 'table' or type(doc.config) ~= 'table' then
    error(string.format('%s: %s/config.json is not a config of rnn.experiment', fn, dir), 3)
  end
  return dir, json.integers(doc)
end

--- rnn.experiment.load_run(dir [, opts]) -> run: exp:load_run for the
-- experiment whose script config.json names (code.script.path). The
-- script runs up to its exp:run(arg), which stops it there, so it declares
-- the experiment without running it; whatever the script does before that
-- line happens (loading data, say).
function M.load_run(dir, opts)
  local fn = 'rnn.experiment.load_run'
  local doc
  dir, doc = read_config(fn, dir)
  local script = type(doc.code) == 'table' and type(doc.code.script) == 'table' and doc.code.script.path
  if type(script) ~= 'string' then
    error(string.format('%s: %s/config.json records no script (a run made before rnnlua recorded it, or an '
      .. 'experiment declared outside a file): load the experiment and call exp:load_run(dir)', fn, dir), 2)
  end
  if not files.exists(script) then
    error(string.format('%s: the script of %s, %s, is not there any more: load the experiment and call '
      .. 'exp:load_run(dir)', fn, dir, script), 2)
  end
  local chunk, err = loadfile(script)
  if not chunk then error(string.format('%s: cannot load %s: %s', fn, script, tostring(err)), 2) end
  local declared = {}
  local saved_arg = rawget(_G, 'arg')
  loading = declared
  _G.arg = {[0] = script}
  local ok, e = pcall(chunk)
  loading = nil
  _G.arg = saved_arg
  if not ok and e ~= LOADED then error(e, 0) end
  for i = #declared, 1, -1 do
    local exp = declared[i]
    if exp.name == doc.experiment then return exp:load_run(dir, opts) end
    for _, name in ipairs(exp.preset_names or {}) do
      if exp.presets[name].name == doc.experiment then return exp.presets[name]:load_run(dir, opts) end
    end
  end
  error(string.format("%s: %s declares no experiment '%s'", fn, script, tostring(doc.experiment)), 2)
end

--- An experiment, made by rnn.experiment.new: `exp:run(arg)` runs it from
-- the command line; parse and execute are its two halves, for scripts and
-- tests.
-- @type Experiment
Experiment.__index = Experiment
M.Experiment = Experiment

--- The text the command line's help prints
-- (`--help`).
function Experiment:help()
  return self:parser():get_help()
end

--- The command line's argparse parser (lua-argparse), the options of
-- every experiment and its presets.
-- @treturn table
function Experiment:parser()
  local argparse = require 'argparse'
  local prog = (arg and arg[0]) or self.name
  local p = argparse(prog, self.description ~= '' and M.wrap(self.description, 79) or nil)
  p:add_help(false)
  p:flag('-h --help', 'Show this help and exit.')
  p:option('--seeds', string.format('Run seeds 1..N (default: %s).', table.concat(self.seeds, ',')))
    :argname('<N>')
  p:option('--steps', string.format('Training steps per run (default: %s).', tostring(self.config.steps)))
    :argname('<N>')
  p:option('--out', 'Folder of the results (default: runs).'):argname('<DIR>')
  if #(self.preset_names or {}) > 0 or self.preset then
    p:option('--preset', string.format('Run a preset of the experiment (%s; see below); its results go to '
      .. '<out>/%s-<preset>.', table.concat(self.preset_names or {self.preset}, ', '), self.base_name or self.name))
      :argname('<NAME>')
  end
  p:option('--set', 'Override a configuration key (repeatable).'):argname('<key=value>'):count('*')
  p:option('--only', 'Run only the cells whose name contains TEXT (repeatable).'):argname('<TEXT>'):count('*')
  p:flag('--fresh', 'Delete earlier results of these cells first.')
  p:flag('--allow-changed-code', 'Resume, extend or keep runs made by another version of the script or of rnnlua '
    .. '(refused otherwise).')
  p:option('--threads', 'BLAS threads of each run (default: 1).'):argname('<N>')
  p:flag('--quiet', 'No progress display.')
  p:flag('--keep-going', 'Carry on with the other runs after a run fails.')
  p:option('--jobs', 'Runs at a time, each in its own worker process (default: one per core, at most the '
    .. 'runs left; 1 runs them in this process).'):argname('<N>')
  p:option('--launcher', "Where the runs go: 'local' (this machine, the default) or 'slurm' (a Slurm job array "
    .. 'and a report job; the runs folder must be shared by the nodes).'):argname('<NAME>')
  p:option('--slurm', 'An sbatch option for --launcher slurm, as key=value (repeatable): partition=cpu, '
    .. 'time=02:00:00, mem=4G, account=..., cpus-per-task=...'):argname('<key=value>'):count('*')
  p:option('--array-limit', 'With --launcher slurm: at most N tasks of the array at once (%N).'):argname('<N>')
  p:flag('--status', 'List every run as done, running, pending, failed, stopped or not started, and exit.')
  p:option('--target-ci', 'Add seeds in rounds until the 95% interval of every comparison of METRIC is narrower '
    .. 'than WIDTH (repeatable).'):argname('<METRIC=WIDTH>'):count('*')
  p:option('--max-seeds', 'With --target-ci: stop adding seeds at N (default 50).'):argname('<N>')
  p:option('--seed-batch', 'With --target-ci: seeds added a round (default 5).'):argname('<N>')
  p:flag('--list', 'List the cells and exit.')
  p:option('--worker', "Run only this run (<cell>/seed-<n>; a Slurm task), or '-': the runs named on standard "
    .. 'input (a worker process of --jobs).')
    :argname('<RUN>'):hidden(true)
  p:option('--seed-list', 'The seeds, as a comma-separated list (the workers of --target-ci rounds).')
    :argname('<S,S,...>'):hidden(true)
  p:flag('--report', 'Only write the summary and report from the run folders (the report job of a Slurm '
    .. 'sweep).'):hidden(true)
  local lines = {'Configuration (--set key=value):'}
  for _, k in ipairs(known_keys(self)) do
    local v = self.config[k]
    if v ~= nil then
      lines[#lines + 1] = string.format('   %-18s %s', k, type(v) == 'string' and v or M.value_string(v))
    end
  end
  if #self.axes > 0 then
    local cells = M.expand_grid(self.grid)
    lines[#lines + 1] = ''
    lines[#lines + 1] = string.format('Grid (%d cells; --set axis=value keeps one value):', #cells)
    for _, a in ipairs(self.axes) do
      local vs = {}
      for _, v in ipairs(self.axis_values[a]) do vs[#vs + 1] = M.value_string(v) end
      lines[#lines + 1] = string.format('   %-18s %s', a, table.concat(vs, ', '))
    end
  end
  for _, name in ipairs(self.preset_names or {}) do
    local e = self.presets[name]
    local changed = {}
    for _, k in ipairs(known_keys(e)) do
      if e.config[k] ~= self.config[k] and e.config[k] ~= nil then
        changed[#changed + 1] = k .. '=' .. M.value_string(e.config[k])
      end
    end
    lines[#lines + 1] = ''
    lines[#lines + 1] = string.format('Preset %s (--preset %s): %d cells x %d seeds; %s', name, name,
      #M.expand_grid(e.grid), #e.seeds, table.concat(changed, ' '))
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = 'Rerunning the same command skips finished runs and resumes interrupted ones.'
  p:epilog(table.concat(lines, '\n'))
  return p
end

local function positive_int(name, s)
  local n = tonumber(s)
  n = n and math.tointeger(n)
  if not n or n < 1 then return nil, string.format('%s must be a positive integer, got %s', name, tostring(s)) end
  return n
end

--- Parses command-line arguments (an array of strings, like `arg`).
-- Returns the options table for execute, or nil and an error message.
-- options: {help, list, seeds (array), out, overrides (key -> value),
-- only (array), fresh, allow_changed_code, threads, quiet, keep_going, jobs (a count or
-- 'auto'), launcher ('local' | 'slurm'), slurm ({{key, value}, ...}),
-- array_limit, status, worker (a run: '<cell dir>/seed-<n>'),
-- report_only, target_ci ({{metric, width}, ...}), max_seeds, seed_batch}. execute also takes command ({exe, args...}: how to start
-- this script again, for workers; run() fills it in) and print.
function Experiment:parse(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local ok, r = self:parser():pparse(args)
  if not ok then return nil, r end
  if r.preset and not self.preset then
    local e = self.presets[r.preset]
    if not e then
      return nil, string.format("--preset %s: no such preset (presets: %s)", r.preset,
        #self.preset_names > 0 and table.concat(self.preset_names, ', ') or 'none')
    end
    -- the rest is read against the preset's configuration and grid
    local o, err = e:parse(argv)
    if o then o.preset = r.preset end
    return o, err
  end
  local o = {help = r.help, list = r.list, fresh = r.fresh or false, quiet = r.quiet or false,
             allow_changed_code = r.allow_changed_code or false,
             keep_going = r.keep_going or false, out = r.out or 'runs', only = r.only or {}, overrides = {},
             status = r.status or false, worker = r.worker, report_only = r.report or false, jobs = 'auto',
             launcher = r.launcher or 'local', slurm = {}}
  if r.seeds then
    local n, err = positive_int('--seeds', r.seeds)
    if not n then return nil, err end
    o.seeds = {}
    for i = 1, n do o.seeds[i] = i end
  end
  if r.seed_list then
    o.seeds = {}
    for part in (r.seed_list .. ','):gmatch('([^,]*),') do
      local n = math.tointeger(tonumber(part))
      if not n then return nil, string.format('--seed-list %s: expected integers separated by commas', r.seed_list) end
      o.seeds[#o.seeds + 1] = n
    end
  end
  if r.threads then
    local n, err = positive_int('--threads', r.threads)
    if not n then return nil, err end
    o.threads = n
  end
  if r.jobs then
    local n, err = positive_int('--jobs', r.jobs)
    if not n then return nil, err end
    o.jobs = n
  end
  if o.launcher ~= 'local' and o.launcher ~= 'slurm' then
    return nil, string.format("--launcher must be 'local' or 'slurm', got '%s'", o.launcher)
  end
  if r.array_limit then
    local n, err = positive_int('--array-limit', r.array_limit)
    if not n then return nil, err end
    if o.launcher ~= 'slurm' then return nil, '--array-limit goes with --launcher slurm' end
    o.array_limit = n
  end
  for _, kv in ipairs(r.slurm or {}) do
    local k, v = kv:match('^%-*([%w][%w%-_]*)=(.*)$')
    if not k then return nil, string.format("--slurm %s: expected key=value, e.g. partition=cpu", kv) end
    if o.launcher ~= 'slurm' then return nil, '--slurm goes with --launcher slurm' end
    o.slurm[#o.slurm + 1] = {k, v}
  end
  o.target_ci = {}
  for _, kv in ipairs(r.target_ci or {}) do
    local k, v = kv:match('^([%w_]+)=(.*)$')
    local w = tonumber(v)
    if not k or not w or not (w > 0) or w == math.huge then
      return nil, string.format('--target-ci %s: expected metric=width with a positive width, e.g. val_loss=0.02', kv)
    end
    o.target_ci[#o.target_ci + 1] = {k, w}
  end
  for _, name in ipairs{'max_seeds', 'seed_batch'} do
    if r[name] then
      local flag = '--' .. name:gsub('_', '-')
      local n, err = positive_int(flag, r[name])
      if not n then return nil, err end
      if #o.target_ci == 0 then return nil, flag .. ' goes with --target-ci' end
      o[name] = n
    end
  end
  if #o.target_ci > 0 and o.launcher == 'slurm' then
    return nil, '--target-ci adds seeds in rounds on this machine or under mpirun, not with --launcher slurm'
  end
  if r.steps then
    local n, err = positive_int('--steps', r.steps)
    if not n then return nil, err end
    o.overrides.steps = n
  end
  local known = {}
  for _, k in ipairs(known_keys(self)) do known[k] = true end
  for _, s in ipairs(r.set or {}) do
    local k, v = s:match('^([^=]+)=(.*)$')
    if not k then return nil, string.format("--set %s: expected key=value", s) end
    k = k:match('^%s*(.-)%s*$')
    if not known[k] then
      return nil, string.format("--set %s: unknown key '%s' (known: %s)", s, k, table.concat(known_keys(self), ', '))
    end
    local _, bad = utf8.len(v)
    if bad then
      return nil, string.format('--set %s: the value is not valid UTF-8 text (byte %d); config.json, where it is '
        .. 'recorded, is JSON, which must be UTF-8', k, bad)
    end
    local value = M.parse_value(v)
    local default = self.config[k]
    if default ~= nil and type(default) ~= type(value) then
      -- a number where text is expected is fine as text
      if type(default) == 'string' then value = v
      else
        return nil, string.format('--set %s: %s must be a %s (default %s), got %s', s, k, type(default),
          M.value_string(default), v)
      end
    end
    if math.type(default) == 'float' and math.type(value) == 'integer' then value = value + 0.0 end
    o.overrides[k] = value
  end
  for _, k in ipairs{'steps', 'checkpoint_every'} do
    local v = o.overrides[k]
    if v ~= nil and (math.type(v) ~= 'integer' or v < 1) then
      return nil, string.format('--set %s=%s: %s must be a positive integer', k, tostring(v), k)
    end
  end
  if o.overrides.eval_every ~= nil and (math.type(o.overrides.eval_every) ~= 'integer' or o.overrides.eval_every < 0) then
    return nil, '--set eval_every: must be an integer >= 0'
  end
  return o
end

-- -------------------------------------------------------------------------
-- Running

-- the config of this invocation: defaults, overrides (not grid axes)
local function resolve_config(self, overrides)
  local cfg = {}
  for k, v in pairs(self.config) do cfg[k] = v end
  for k, v in pairs(overrides or {}) do
    if self.axis_values[k] == nil then cfg[k] = v end
  end
  return cfg
end

-- the grid of this invocation: an overridden axis keeps the one value
local function resolve_grid(self, overrides)
  local grid = {}
  for _, axis in ipairs(self.grid) do
    local v = overrides and overrides[axis[1]]
    grid[#grid + 1] = v ~= nil and {axis[1], {v}} or axis
  end
  return grid
end

--- The cells selected by options
-- (grid overrides and `--only`).
function Experiment:cells(o)
  o = o or {}
  local cells = M.expand_grid(resolve_grid(self, o.overrides))
  if o.only and #o.only > 0 then
    local out = {}
    for _, c in ipairs(cells) do
      for _, s in ipairs(o.only) do
        if c.name:find(s, 1, true) then out[#out + 1] = c break end
      end
    end
    cells = out
  end
  return cells
end

--- Runs everything the options select, then writes the report (see the
-- header). Returns {rows = summary rows, markdown = table text, index =
-- path of index.html, failed = {{cell, seed, error}}, runs = {{cell, seed,
-- dir, rel, done, state, status}}, dir, elapsed}; for --worker
-- {exit_code}; for --status the status rows; for --launcher slurm the
-- submitted job ids. A stop by a signal raises an error whose exit_code
-- field is the status to exit with.
function Experiment:execute(o)
  o = o or {}
  if o.preset and not self.preset then
    local e = self.presets[o.preset]
    if not e then error(string.format("rnn.experiment: no preset '%s'", tostring(o.preset)), 2) end
    return e:execute(o)
  end
  local cfg = resolve_config(self, o.overrides)
  local cells = self:cells(o)
  local seeds = o.seeds or self.seeds
  local dir = (o.out or 'runs') .. '/' .. self.name
  -- every folder the harness writes (and --fresh removes) is inside --out:
  -- <out>/<name>/<cell>/seed-<n>, each part one plain folder name
  local function outside(part) return part == '' or part == '.' or part == '..' or part:find('/', 1, true) end
  if outside(self.name) then
    error(string.format("rnn.experiment: the experiment's name '%s' is not one folder name: its results would go "
      .. 'outside --out %s', self.name, o.out or 'runs'), 0)
  end
  for _, c in ipairs(cells) do
    if outside(c.dir) then
      error(string.format("rnn.experiment: the folder of cell '%s' would be '%s', outside %s", c.name, c.dir, dir), 0)
    end
  end
  local print_ = o.print or print
  if #cells == 0 then
    error(string.format('rnn.experiment: no cell matches --only %s (cells: %s)', table.concat(o.only or {}, ', '),
      table.concat((function()
        local ns = {}
        for _, c in ipairs(M.expand_grid(self.grid)) do ns[#ns + 1] = c.name end
        return ns
      end)(), ', ')), 0)
  end
  if o.list then
    for _, c in ipairs(cells) do print_(c.name) end
    return {cells = cells}
  end
  if o.target_ci and #o.target_ci > 0 and not (o.worker or o.status or o.report_only) then
    return require('rnn.experiment.adaptive').execute(self, o, cfg, cells, seeds, dir)
  end
  return sweep.execute(self, o, cfg, cells, seeds, dir)
end

-- The command that starts this script again (the workers of --jobs, the
-- tasks of a Slurm array): this interpreter (its path resolved), its
-- options, the script and the script's arguments.
local function own_command(argv)
  if type(arg) ~= 'table' or type(arg[0]) ~= 'string' or arg[0] == '-' then return nil end
  local f = io.open(arg[0], 'rb')
  if not f then return nil end
  f:close()
  local first = 0
  while arg[first - 1] ~= nil do first = first - 1 end
  local ok, uv = pcall(require, 'rnn.experiment.uv')
  local exe = ok and uv.exepath() or arg[first]
  local cmd = {exe}
  for i = first + 1, 0 do cmd[#cmd + 1] = arg[i] end
  for i = 1, #argv do cmd[#cmd + 1] = argv[i] end
  return cmd
end
M._own_command = own_command

--- Parses `argv` (the script's `arg`) and runs the experiment.
-- Prints `--help` / `--list` and errors of the command line (then exits with status 2). Exits with
-- status 1 when a run failed, 128 + the signal's number when stopped by
-- one; a worker (--worker) exits with its own status (rnn.experiment.pool).
function Experiment:run(argv)
  if loading then error(LOADED, 0) end -- (rnn.experiment.load_run: the script stops here)
  local o, err = self:parse(argv or {})
  if not o then
    io.stderr:write(self:parser():get_usage(), '\n\nerror: ', err, '\n')
    os.exit(2)
  end
  if o.help then
    print((o.preset and self.presets[o.preset] or self):help())
    return nil
  end
  o.command = o.command or own_command(argv or {})
  local ok, r = pcall(self.execute, self, o)
  if not ok then
    io.stderr:write(tostring(r), '\n')
    os.exit(type(r) == 'table' and r.exit_code or 1)
  end
  if r.exit_code then os.exit(r.exit_code, true) end
  if r.failed and #r.failed > 0 then
    io.stderr:write(string.format('rnn.experiment: %d run(s) failed; see error.txt in their folders\n', #r.failed))
    os.exit(1)
  end
  return r
end

-- a run loaded back from its folder (documented with its method, last:
-- LDoc files what follows a @type under that type)
local Run = {}

--- exp:load_run(dir [, {which = 'last' | 'best'}]) -> run: the state of a
-- finished (or stopped) run, rebuilt by the experiment's setup(cfg, seed)
-- from the run's config.json and loaded from its checkpoint.safetensors
-- ('last', the default) or best.safetensors ('best', with select): model,
-- optimizer state, clipping history, schedule and extra as they were. The
-- model is in eval mode (model:train() to train on). The caller's random
-- generator is left as it was; the checkpoint's is in run.rng. Fields:
-- state, model, opt (or nil), config, seed, cell, step (of the
-- checkpoint), which, dir, done (the done marker, or nil), code_changes
-- (what code changed since the run was made, or nil). run:evaluate() runs
-- the experiment's evaluate on it as the harness does.
function Experiment:load_run(dir, opts)
  local fn = 'exp:load_run'
  local doc
  dir, doc = read_config(fn, dir)
  if opts ~= nil and type(opts) ~= 'table' then
    error(string.format("%s: argument 2 (options) must be a table {which = 'last' | 'best'}, got %s", fn,
      type(opts)), 2)
  end
  local which = (opts and opts.which) or 'last'
  if which ~= 'last' and which ~= 'best' then
    error(string.format("%s: options.which must be 'last' or 'best', got %s", fn, tostring(which)), 2)
  end
  if doc.experiment ~= self.name then
    for _, name in ipairs(self.preset_names or {}) do
      if self.presets[name].name == doc.experiment then return self.presets[name]:load_run(dir, opts) end
    end
    error(string.format("%s: %s is a run of experiment '%s', not of '%s'", fn, dir, tostring(doc.experiment),
      self.name), 2)
  end
  local path = dir .. (which == 'best' and '/best.safetensors' or '/checkpoint.safetensors')
  if not files.exists(path) then
    error(string.format('%s: %s has no %s%s', fn, dir, path:match('[^/]*$'), which == 'best'
      and ' (the experiment keeps a best checkpoint only with select)' or ' (the run has not saved a checkpoint yet)'),
      2)
  end
  -- the configuration as setup saw it: JSON has one kind of number, the
  -- declaration says which keys are floats
  local cfg = {}
  for k, v in pairs(doc.config) do
    if math.type(self.config[k]) == 'float' and math.type(v) == 'integer' then v = v + 0.0 end
    cfg[k] = v
  end
  for k, v in pairs(doc.grid or {}) do
    local values = self.axis_values[k]
    if values and math.type(values[1]) == 'float' and math.type(v) == 'integer' then v = v + 0.0 end
    cfg[k] = v
  end
  local seed = math.tointeger(doc.seed)
  local R = rnn()
  local saved = R.get_rng_state()
  local ok, state, step = pcall(function()
    R.manual_seed(seed)
    local st = errors.call('setup', self.setup_fn, cfg, seed)
    checkpoint.model_of(st, 'setup')
    return st, checkpoint.load(path, st)
  end)
  local rng = R.get_rng_state()
  R.set_rng_state(saved)
  if not ok then error(state, 0) end
  state.model:eval()
  local done
  local dtext = files.read(dir .. '/done')
  if dtext then
    local dok, d = pcall(json.decode, dtext)
    if dok and type(d) == 'table' then done = json.integers(d) end
  end
  local changes = code.changes(require('rnn.experiment.run').latest_code(doc), code.of(self))
  return setmetatable({exp = self, state = state, model = state.model, opt = state.opt, config = cfg, seed = seed,
                       cell = doc.cell, step = step, which = which, dir = dir, done = done, rng = rng,
                       code_changes = #changes > 0 and changes or nil}, Run)
end


--- A run loaded back from its folder, made by exp:load_run or
-- rnn.experiment.load_run: its fields are the state, model, opt, config,
-- seed, cell and step of the checkpoint; run:evaluate() evaluates it.
-- @type Run
Run.__index = Run
M.Run = Run

--- run:evaluate() -> metrics: the experiment's evaluate(state, cfg) on the
-- loaded run, as the harness runs it — the model in eval mode, the
-- generator at the checkpoint's state during it and the caller's after —
-- so a run loaded with which = 'last' gives its done marker's eval (and
-- 'best' the best evaluation's).
function Run:evaluate()
  if not self.exp.evaluate_fn then
    error(string.format("run:evaluate: experiment '%s' declares no evaluate", self.exp.name), 2)
  end
  local R = rnn()
  local saved = R.get_rng_state()
  R.set_rng_state(self.rng)
  local ok, r = pcall(require('rnn.experiment.run').evaluate, self.exp, self.state, self.config)
  R.set_rng_state(saved)
  if not ok then error(r, 0) end
  return r
end

return M
