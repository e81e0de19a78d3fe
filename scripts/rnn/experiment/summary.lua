--- rnn.experiment.summary: the summary table of an experiment — per cell
-- and metric the number of runs, their mean, sample standard deviation and
-- a 95% confidence interval of the mean — and its files, summary.csv and
-- summary.md, built from the runs' done markers (rnn.experiment.report
-- draws it into index.html).
--
-- A run whose value of a metric is not finite (NaN or an infinity) is
-- counted, per metric, as diverged and left out of that metric's mean, sd
-- and interval; the table shows "diverged k/n". A run the harness stopped
-- as diverged (its loss went non-finite: done.diverged) counts so for every
-- final metric, whatever its evaluation gave, fails `success`, and keeps
-- its best_* values (the best evaluation came before); each cell counts
-- its diverged runs (summary.csv: diverged; the table: "3 (1 diverged)").
-- Intervals are t-based (mean ± t_{n-1, 0.975} · sd / √n) unless the
-- experiment asks for a percentile bootstrap (stats = {ci = 'bootstrap'}).
local files = require 'rnn.experiment.files'
local stats = require 'rnn.stats'

local M = {}

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

--- Options of the statistics, from the experiment's `stats` declaration:
-- {level = 0.95, ci = 't' | 'bootstrap', resamples = 10000, seed = 1}.
function M.options(decl, select)
  decl = decl or {}
  return {level = decl.level or 0.95, ci = decl.ci or 't', resamples = decl.resamples or 10000,
          seed = decl.seed or 1, select = select}
end

-- the final metrics of a run from its done marker: evaluation metrics as
-- named, training metrics (means over the last tenth of the steps) as
-- train_<name>; booleans as 1/0
local function final_metrics(done)
  local out = {}
  for k, v in pairs(done.eval or {}) do
    if type(v) == 'number' or type(v) == 'boolean' then out[k] = v end
  end
  for k, v in pairs(done.train or {}) do
    if type(v) == 'number' then out['train_' .. k] = v end
  end
  local best = done.best
  if type(best) == 'table' and type(best.eval) == 'table' then
    for k, v in pairs(best.eval) do
      if type(v) == 'number' or type(v) == 'boolean' then out['best_' .. k] = v end
    end
    out.best_step = best.step
  end
  return out
end
M.final_metrics = final_metrics

--- The value of metric `name` of a run: metrics[name] (final_metrics of
-- its done marker), except for a run stopped as diverged: NaN for the
-- final metrics, false for success, the best_* values as they are.
function M.run_value(metrics, name, diverged)
  if not diverged then return metrics[name] end
  if name == 'success' then return false end
  if name:match('^best_') then return metrics[name] end
  return 0 / 0
end

--- With a selected metric m (select = 'm'), best_m and best_step go right
-- after m in the summary's names: the final and the best side by side.
function M.with_best(names, select)
  if not select then return names end
  local out, placed = {}, false
  for _, n in ipairs(names) do
    out[#out + 1] = n
    if n == select.metric then
      out[#out + 1] = 'best_' .. n
      out[#out + 1] = 'best_step'
      placed = true
    end
  end
  if not placed then
    out[#out + 1] = 'best_' .. select.metric
    out[#out + 1] = 'best_step'
  end
  return out
end

-- the metric names when the experiment names none: every evaluation
-- metric but success (sorted), then train_loss
local function default_names(runs)
  local seen, names, has_train_loss = {}, {}, false
  for _, r in ipairs(runs) do
    if r.done then
      for k, v in pairs(r.done.eval or {}) do
        if k ~= 'success' and (type(v) == 'number' or type(v) == 'boolean') and not seen[k] then
          seen[k] = true
          names[#names + 1] = k
        end
      end
      if r.done.train and r.done.train.loss ~= nil then has_train_loss = true end
    end
  end
  table.sort(names)
  if has_train_loss then names[#names + 1] = 'train_loss' end
  return names
end

--- The statistics of one metric over the runs of a cell: values = {seed =
-- value} of the finite ones; n, mean, sd (sample, n - 1), ci_low, ci_high
-- (nil below two values); diverged = runs with a non-finite value; runs =
-- runs that reported the metric.
function M.describe(by_seed, opts)
  local seeds = {}
  for seed in pairs(by_seed) do seeds[#seeds + 1] = seed end
  table.sort(seeds)
  local xs, values, diverged = {}, {}, 0
  for _, seed in ipairs(seeds) do
    local v = by_seed[seed]
    if finite(v) then
      xs[#xs + 1] = v
      values[seed] = v
    else
      diverged = diverged + 1
    end
  end
  local s = {n = #xs, runs = #seeds, diverged = diverged, values = values}
  if #xs > 0 then s.mean = stats.mean(xs) end
  if #xs > 1 then
    s.sd = stats.sd(xs)
    if opts.ci == 'bootstrap' then
      s.ci_low, s.ci_high = stats.bootstrap_ci(xs, {level = opts.level, resamples = opts.resamples, seed = opts.seed})
    else
      s.ci_low, s.ci_high = stats.ci_mean(xs, {level = opts.level})
    end
  end
  return s
end

--- summarize(cells, runs, names, opts) -> rows, names. cells: array of
-- cells ({name, values}); runs: array of {cell = name, seed, done = marker
-- or nil}; names: the metrics to show (nil: every evaluation metric, then
-- train_loss); opts: M.options(...). Each row: {cell, values, n (finished
-- runs), total (runs), stats = {name = M.describe(...)}, success = {k, n}
-- or nil}.
function M.summarize(cells, runs, names, opts)
  opts = opts or M.options()
  names = M.with_best(names or default_names(runs), opts.select)
  local by_cell, any_success = {}, false
  for _, r in ipairs(runs) do
    by_cell[r.cell] = by_cell[r.cell] or {}
    table.insert(by_cell[r.cell], r)
    if r.done and r.done.eval and r.done.eval.success ~= nil then any_success = true end
  end
  local rows = {}
  for _, c in ipairs(cells) do
    local rs = by_cell[c.name] or {}
    local row = {cell = c.name, values = c.values, n = 0, total = #rs, stats = {}, diverged = 0}
    local finals = {}
    for _, r in ipairs(rs) do
      if r.done then
        row.n = row.n + 1
        local diverged = r.done.diverged ~= nil
        if diverged then row.diverged = row.diverged + 1 end
        finals[#finals + 1] = {seed = r.seed, metrics = final_metrics(r.done), diverged = diverged}
      end
    end
    for _, name in ipairs(names) do
      local by_seed = {}
      for _, f in ipairs(finals) do
        local v = M.run_value(f.metrics, name, f.diverged)
        if type(v) == 'boolean' then v = v and 1 or 0 end
        if type(v) == 'number' then by_seed[f.seed] = v end
      end
      row.stats[name] = M.describe(by_seed, opts)
    end
    if any_success then
      local k, n = 0, 0
      for _, f in ipairs(finals) do
        local s = f.metrics.success
        if f.diverged then s = false end
        if s ~= nil then
          n = n + 1
          if s == true or s == 1 then k = k + 1 end
        end
      end
      row.success = {k = k, n = n}
      if n > 0 then row.success.ci_low, row.success.ci_high = stats.wilson(k, n, {level = opts.level}) end
    end
    rows[#rows + 1] = row
  end
  return rows, names
end

local function g4(x) return string.format('%.4g', x) end

--- One metric of one cell as table text: "mean ± sd [ci_low, ci_high]",
-- "mean" alone for one run, with "diverged k/n" when runs diverged.
function M.format(s)
  local text
  if s.n == 0 then
    text = s.diverged > 0 and '' or 'n/a'
  elseif s.sd == nil then
    text = g4(s.mean)
  else
    text = string.format('%s ± %s [%s, %s]', g4(s.mean), string.format('%.2g', s.sd), g4(s.ci_low), g4(s.ci_high))
  end
  if s.diverged > 0 then
    text = text .. (text ~= '' and ' · ' or '') .. string.format('diverged %d/%d', s.diverged, s.runs)
  end
  return text
end

--- The legend printed under the table.
function M.legend(opts)
  local how = opts.ci == 'bootstrap' and string.format('percentile bootstrap, %d resamples', opts.resamples)
    or 't-interval'
  return string.format('mean ± sample sd (n − 1) [%g%% CI of the mean, %s] over the seeds that finished; '
    .. 'diverged: runs whose value is not finite, or whose loss went non-finite in training (stopped there), '
    .. 'left out; success: k/n runs (rate) [%g%% Wilson score interval]', 100 * opts.level, how, 100 * opts.level)
end

-- the table as arrays of strings: header, then one array per row
local function table_cells(axes, rows, names)
  local header = {}
  for _, a in ipairs(axes) do header[#header + 1] = a end
  if #axes == 0 then header[#header + 1] = 'cell' end
  header[#header + 1] = 'seeds'
  for _, n in ipairs(names) do header[#header + 1] = n end
  local has_success = rows[1] and rows[1].success ~= nil
  if has_success then header[#header + 1] = 'success' end
  local body = {}
  for _, r in ipairs(rows) do
    local line = {}
    for _, a in ipairs(axes) do line[#line + 1] = tostring(r.values[a]) end
    if #axes == 0 then line[#line + 1] = r.cell end
    line[#line + 1] = (r.n == r.total and tostring(r.n) or string.format('%d of %d', r.n, r.total))
      .. ((r.diverged or 0) > 0 and string.format(' (%d diverged)', r.diverged) or '')
    for _, n in ipairs(names) do line[#line + 1] = M.format(r.stats[n]) end
    if has_success then
      local s = r.success
      line[#line + 1] = s.n > 0 and string.format('%d/%d (%d%%) [%d%%, %d%%]', s.k, s.n,
        math.floor(100 * s.k / s.n + 0.5), math.floor(100 * s.ci_low + 0.5), math.floor(100 * s.ci_high + 0.5))
        or 'n/a'
    end
    body[#body + 1] = line
  end
  return header, body
end
M.table_cells = table_cells

-- UTF-8 aware width (± is two bytes, one column)
local function width(s)
  local _, n = s:gsub('[^\128-\191]', '')
  return n
end

--- A Markdown table with padded columns from a header and rows of strings.
function M.markdown_table(header, body)
  local w = {}
  for i, h in ipairs(header) do w[i] = width(h) end
  for _, line in ipairs(body) do
    for i, s in ipairs(line) do w[i] = math.max(w[i], width(s)) end
  end
  local function fmt_line(cells)
    local parts = {}
    for i, s in ipairs(cells) do parts[i] = s .. string.rep(' ', w[i] - width(s)) end
    return '| ' .. table.concat(parts, ' | ') .. ' |'
  end
  local out = {fmt_line(header)}
  local sep = {}
  for i = 1, #header do sep[i] = string.rep('-', w[i]) end
  out[#out + 1] = '|-' .. table.concat(sep, '-|-') .. '-|'
  for _, line in ipairs(body) do out[#out + 1] = fmt_line(line) end
  return table.concat(out, '\n') .. '\n'
end

--- The summary as a Markdown table (also what is printed).
function M.markdown(axes, rows, names)
  return M.markdown_table(table_cells(axes, rows, names))
end

--- The summary as CSV: axis columns, cell (cell_name when an axis is
-- called cell), runs (finished), diverged (of them, stopped as diverged),
-- then for each metric
-- <m>_n, <m>_mean, <m>_sd (sample), <m>_ci_low, <m>_ci_high, <m>_diverged
-- (empty where undefined), and success_rate, success_count, success_runs,
-- success_ci_low, success_ci_high (Wilson) when runs report success.
function M.csv(axes, rows, names)
  local header = {}
  local name_column = 'cell'
  for _, a in ipairs(axes) do
    header[#header + 1] = a
    -- (a grid axis called 'cell' keeps its name: the column of cell names
    -- then is cell_name, so that no two columns share a name)
    if a == 'cell' then name_column = 'cell_name' end
  end
  header[#header + 1] = name_column
  header[#header + 1] = 'runs'
  header[#header + 1] = 'diverged'
  for _, n in ipairs(names) do
    for _, col in ipairs{'n', 'mean', 'sd', 'ci_low', 'ci_high', 'diverged'} do header[#header + 1] = n .. '_' .. col end
  end
  local has_success = rows[1] and rows[1].success ~= nil
  if has_success then
    header[#header + 1] = 'success_rate'
    header[#header + 1] = 'success_count'
    header[#header + 1] = 'success_runs'
    header[#header + 1] = 'success_ci_low'
    header[#header + 1] = 'success_ci_high'
  end
  local h = {}
  for i, s in ipairs(header) do h[i] = files.csv_field(s) end
  local out = {table.concat(h, ',')}
  for _, r in ipairs(rows) do
    local f = {}
    for _, a in ipairs(axes) do f[#f + 1] = files.csv_field(r.values[a]) end
    f[#f + 1] = files.csv_field(r.cell)
    f[#f + 1] = files.csv_field(r.n)
    f[#f + 1] = files.csv_field(r.diverged or 0)
    for _, n in ipairs(names) do
      local s = r.stats[n]
      for _, v in ipairs{s.n, s.mean, s.sd, s.ci_low, s.ci_high, s.diverged} do f[#f + 1] = files.csv_field(v) end
    end
    if has_success then
      local s = r.success
      f[#f + 1] = s.n > 0 and files.csv_field(s.k / s.n) or ''
      f[#f + 1] = files.csv_field(s.k)
      f[#f + 1] = files.csv_field(s.n)
      f[#f + 1] = files.csv_field(s.ci_low)
      f[#f + 1] = files.csv_field(s.ci_high)
    end
    out[#out + 1] = table.concat(f, ',')
  end
  return table.concat(out, '\n') .. '\n'
end

return M
