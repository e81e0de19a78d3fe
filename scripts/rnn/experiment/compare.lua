--- rnn.experiment.compare: the comparisons of an experiment's cells —
-- comparisons.csv and comparisons.md — from the summary's per-seed values.
--
-- Which pairs: every two cells that differ in exactly one grid axis, the
-- later value of that axis (in the grid's order) as cell_a and the earlier
-- as cell_b; or, with a declared `baseline = {axis = value, ...}`, every
-- cell against the cell that differs from it only by having the baseline
-- value of that axis (cell_b). diff = mean of a − b.
--
-- Paired seeds. The harness seeds every run with rnn.manual_seed(seed)
-- before its setup, and the training steps from a stream of their own
-- seeded from the seed alone, so for one seed two cells start from the same
-- draws and train on the same batches: the seeds pair the cells, and the
-- default test is the paired t test on the seeds both cells finished with a
-- finite value (n pairs). Whether the two runs of a seed drew the same
-- numbers in training is read from the generator's fingerprint after the
-- last step (done marker, train_rng) and shown as `same_draws` (yes, no or
-- some). An experiment whose seeds do not pair
-- the cells declares `paired = false`; then the test is Welch's, on all the
-- finite values of each cell.
--
-- Columns (the first eleven are fixed names): metric, cell_a, cell_b, n,
-- diff, ci_low, ci_high (95% t interval of the difference: paired t, or
-- Welch), p (paired t, or Welch), p_holm (Holm's step-down adjustment over
-- every comparison of the metric: one family per metric), effect (Cohen's
-- d_z = diff / sd of the differences when paired; Hedges' g unpaired),
-- n_for_power (seeds — pairs, or per cell unpaired — for 80% power at
-- α = 0.05 two-sided to detect the observed effect, or the declared
-- min_effect[metric] in the metric's units); then axis, paired,
-- same_draws, sd (of the differences; pooled sd unpaired), boot_low,
-- boot_high (paired percentile bootstrap; empty unpaired), p_welch
-- (Welch's test on the same values, for reference), diverged (seeds left
-- out because a value was not finite).
local files = require 'rnn.experiment.files'
local stats = require 'rnn.stats'
local summary = require 'rnn.experiment.summary'

local M = {}

M.COLUMNS = {'metric', 'cell_a', 'cell_b', 'n', 'diff', 'ci_low', 'ci_high', 'p', 'p_holm', 'effect', 'n_for_power',
             'axis', 'paired', 'same_draws', 'sd', 'boot_low', 'boot_high', 'p_welch', 'diverged'}

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

local function index_of(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return nil
end

-- the one axis in which cells a and b differ, or nil
local function differing_axis(axes, a, b)
  local axis
  for _, ax in ipairs(axes) do
    if a.values[ax] ~= b.values[ax] then
      if axis then return nil end
      axis = ax
    end
  end
  return axis
end

--- The pairs of cells to compare: {{axis, a = cell, b = cell}, ...}.
-- axes: the grid's axis names in order; axis_values = {axis = {values}};
-- baseline: nil or {axis = value}.
function M.pairs(cells, axes, axis_values, baseline)
  local out = {}
  for _, axis in ipairs(axes) do
    for i = 1, #cells do
      for j = 1, #cells do
        local a, b = cells[i], cells[j]
        if i ~= j and differing_axis(axes, a, b) == axis then
          local keep
          if baseline and baseline[axis] ~= nil then
            keep = b.values[axis] == baseline[axis]
          elseif baseline then
            keep = false
          else
            local vals = axis_values[axis]
            keep = index_of(vals, a.values[axis]) > index_of(vals, b.values[axis])
          end
          if keep then out[#out + 1] = {axis = axis, a = a, b = b} end
        end
      end
    end
  end
  return out
end

-- same_draws of two cells over the paired seeds: 'yes', 'no', 'some' or ''
local function same_draws(fa, fb, seeds)
  local same, differ = 0, 0
  for _, seed in ipairs(seeds) do
    local x, y = fa[seed], fb[seed]
    if x and y then
      if x == y then same = same + 1 else differ = differ + 1 end
    end
  end
  if same + differ == 0 then return '' end
  if differ == 0 then return 'yes' end
  if same == 0 then return 'no' end
  return 'some'
end

-- the seeds of {seed = value}, sorted
local function seeds_of(raw)
  local list = {}
  for seed in pairs(raw) do list[#list + 1] = seed end
  table.sort(list)
  return list
end

--- One comparison of one metric. raw_a, raw_b: {seed = value} including non-finite values;
-- fp_a, fp_b: {seed = setup fingerprint}; o: {paired, min_effect, level,
-- resamples, seed}.
function M.compare_one(raw_a, raw_b, fp_a, fp_b, o)
  local row = {paired = o.paired and 'yes' or 'no', diverged = 0}
  local all_a, all_b = {}, {}
  for _, seed in ipairs(seeds_of(raw_a)) do
    if finite(raw_a[seed]) then all_a[#all_a + 1] = raw_a[seed] else row.diverged = row.diverged + 1 end
  end
  for _, seed in ipairs(seeds_of(raw_b)) do
    if finite(raw_b[seed]) then all_b[#all_b + 1] = raw_b[seed] else row.diverged = row.diverged + 1 end
  end
  local welch = (#all_a >= 2 and #all_b >= 2) and stats.welch(all_a, all_b, {level = o.level}) or nil
  row.p_welch = welch and welch.p
  local d_for_power, sd_for_power
  if o.paired then
    local xs, ys, common = {}, {}, {}
    local diverged = 0
    for _, seed in ipairs(seeds_of(raw_a)) do
      local y = raw_b[seed]
      if y ~= nil then
        if finite(raw_a[seed]) and finite(y) then
          xs[#xs + 1], ys[#ys + 1], common[#common + 1] = raw_a[seed], y, seed
        else
          diverged = diverged + 1
        end
      end
    end
    row.diverged = diverged
    row.same_draws = same_draws(fp_a, fp_b, common)
    row.n = #xs
    if #xs >= 1 then
      local r = stats.paired(xs, ys, {level = o.level, resamples = o.resamples, seed = o.seed})
      row.diff, row.sd, row.ci_low, row.ci_high = r.diff, r.sd, r.ci_low, r.ci_high
      row.boot_low, row.boot_high, row.p, row.effect = r.boot_low, r.boot_high, r.p, r.effect
      d_for_power, sd_for_power = r.effect, r.sd
    end
  else
    row.same_draws = ''
    row.n = math.min(#all_a, #all_b)
    if welch then
      row.diff, row.ci_low, row.ci_high, row.p, row.effect = welch.diff, welch.ci_low, welch.ci_high, welch.p,
        welch.effect
      local na, nb, sa, sb = #all_a, #all_b, stats.sd(all_a), stats.sd(all_b)
      row.sd = math.sqrt(((na - 1) * sa ^ 2 + (nb - 1) * sb ^ 2) / (na + nb - 2))
      d_for_power, sd_for_power = welch.effect, row.sd
    elseif #all_a > 0 and #all_b > 0 then
      row.diff = stats.mean(all_a) - stats.mean(all_b)
    end
  end
  if o.min_effect and finite(sd_for_power) and sd_for_power > 0 then
    d_for_power = o.min_effect / sd_for_power
  end
  if finite(d_for_power) and d_for_power ~= 0 then
    row.n_for_power = stats.n_for_power(math.abs(d_for_power), {paired = o.paired})
  end
  return row
end

-- whether every run of every cell reported the same value of a metric
local function constant(raw, name)
  local first
  for _, by_metric in pairs(raw) do
    for _, v in pairs(by_metric[name] or {}) do
      if first == nil then first = v elseif v ~= first then return false end
    end
  end
  return first ~= nil
end

-- whether a metric takes the same value in both cells of every pair, seed
-- by seed: a property of the seed (as the warm-up's gradient norm that
-- clipping thresholds come from), not an outcome of the cells
local function unchanged_within_pairs(raw, pairs_, name)
  local compared = false
  for _, pr in ipairs(pairs_) do
    local ra, rb = raw[pr.a.name][name], raw[pr.b.name][name]
    if ra and rb then
      for seed, v in pairs(ra) do
        if rb[seed] ~= nil then
          if rb[seed] ~= v then return false end
          compared = true
        end
      end
    end
  end
  return compared
end

--- All comparisons: rows in the order metric (as the summary's names),
-- then pair. ctx: {cells, axes, axis_values, baseline, paired (default
-- true), min_effect = {metric = value}, runs = {{cell, seed, done}}},
-- names: the summary's metric names; opts: summary.options(...).
function M.compare(ctx, names, opts)
  opts = opts or summary.options()
  local paired = ctx.paired ~= false
  -- per cell: raw values by metric and seed, and setup fingerprints
  local raw, fp, reported = {}, {}, {}
  for _, c in ipairs(ctx.cells) do raw[c.name], fp[c.name], reported[c.name] = {}, {}, {} end
  for _, r in ipairs(ctx.runs) do
    if r.done and raw[r.cell] then
      -- (setup_rng: the fingerprint of earlier versions, after setup)
      fp[r.cell][r.seed] = r.done.train_rng or r.done.setup_rng
      local metrics, diverged = summary.final_metrics(r.done), r.done.diverged ~= nil
      for _, k in ipairs(names) do
        -- (a run stopped as diverged: NaN for its final metrics, so it is
        -- left out and counted, as in the summary)
        local v = summary.run_value(metrics, k, diverged)
        if metrics[k] == nil and not diverged then v = nil end
        if metrics[k] ~= nil then reported[r.cell][k] = true end
        if type(v) == 'boolean' then v = v and 1 or 0 end
        if v ~= nil then
          raw[r.cell][k] = raw[r.cell][k] or {}
          raw[r.cell][k][r.seed] = v
        end
      end
    end
  end
  -- (a metric no run of a cell reported is not that cell's, diverged runs or not)
  for cell, by_metric in pairs(raw) do
    for k in pairs(by_metric) do
      if not reported[cell][k] then by_metric[k] = nil end
    end
  end
  local pairs_ = M.pairs(ctx.cells, ctx.axes or {}, ctx.axis_values or {}, ctx.baseline)
  local rows = {}
  for _, name in ipairs(names) do
    local family = {}
    -- a step number, a metric with one value in every run (a property of
    -- the setting, such as the validation set's own baseline) or, with
    -- paired seeds, one that no pair's cells change, is no outcome to compare
    if name == 'best_step' or constant(raw, name) or (paired and unchanged_within_pairs(raw, pairs_, name)) then
      goto next_metric
    end
    for _, pr in ipairs(pairs_) do
      local ra, rb = raw[pr.a.name][name], raw[pr.b.name][name]
      -- (a metric that one of the cells does not report, as a task's own
      -- metric in a grid of tasks, gives no comparison)
      if ra and rb then
        local row = M.compare_one(ra, rb, fp[pr.a.name], fp[pr.b.name], {paired = paired, level = opts.level,
          resamples = opts.resamples, seed = opts.seed, min_effect = ctx.min_effect and ctx.min_effect[name]})
        row.metric, row.axis, row.cell_a, row.cell_b = name, pr.axis, pr.a.name, pr.b.name
        rows[#rows + 1] = row
        family[#family + 1] = row
      end
    end
    local ps = {}
    for i, row in ipairs(family) do ps[i] = row.p end
    local adjusted = stats.holm(ps)
    for i, row in ipairs(family) do row.p_holm = adjusted[i] end
    ::next_metric::
  end
  return rows
end

--- comparisons.csv: the columns of M.COLUMNS.
function M.csv(rows)
  local out = {table.concat(M.COLUMNS, ',')}
  for _, r in ipairs(rows) do
    local f = {}
    for i, col in ipairs(M.COLUMNS) do f[i] = files.csv_field(r[col]) end
    out[#out + 1] = table.concat(f, ',')
  end
  return table.concat(out, '\n') .. '\n'
end

local function g3(x) return x == nil and '' or string.format('%.3g', x) end

local function pfmt(p)
  if p == nil then return '' end
  if p < 1e-4 then return '<1e-4' end
  return string.format('%.2g', p)
end

--- The comparison table as a header and rows of strings.
function M.table_cells(rows, opts)
  opts = opts or summary.options()
  local level = string.format('%g%%', 100 * opts.level)
  local header = {'metric', 'a', 'b', 'n', 'diff a − b', level .. ' CI', 'p', 'p (Holm)', 'effect', 'n for 80% power'}
  local body = {}
  for _, r in ipairs(rows) do
    local ci = (r.ci_low and r.ci_high) and string.format('[%s, %s]', g3(r.ci_low), g3(r.ci_high)) or ''
    local n = tostring(r.n or 0)
    if (r.diverged or 0) > 0 then n = n .. string.format(' (%d diverged)', r.diverged) end
    body[#body + 1] = {r.metric, r.cell_a, r.cell_b, n, g3(r.diff), ci, pfmt(r.p), pfmt(r.p_holm), g3(r.effect),
                       r.n_for_power and tostring(r.n_for_power) or ''}
  end
  return header, body
end

--- The comparisons as a Markdown table (also printed by the harness).
function M.markdown(rows, opts)
  return summary.markdown_table(M.table_cells(rows, opts))
end

--- The legend printed under the comparison table.
function M.legend(rows, paired)
  local draws = {}
  for _, r in ipairs(rows) do if r.same_draws ~= '' and r.same_draws then draws[r.same_draws] = true end end
  local how
  if paired then
    how = 'seeds paired (the same seed for both cells): paired t test and t interval of the differences; '
      .. 'effect = Cohen\'s d_z'
    if draws.yes and not draws.no and not draws.some then
      how = how .. '; both runs of every pair drew the same random numbers in training'
    elseif draws.no or draws.some then
      how = how .. '; in some pairs the two runs drew different random numbers in training (see same_draws in '
        .. 'comparisons.csv)'
    end
  else
    how = 'seeds not paired (declared): Welch\'s t test and interval; effect = Hedges\' g'
  end
  return how .. '; p (Holm): adjusted over every comparison of the metric; n for 80% power: seeds needed at '
    .. 'α = 0.05 (two-sided) for the observed effect (or the declared min_effect)'
end

return M
