--- rnn.experiment.report: the summary table (mean ± std over seeds per
-- cell), its files (summary.csv, summary.md), the plots (SVG, with PNG
-- and PDF copies through rnn.experiment.export) and the
-- index.html report of an experiment, all from what the runs left on disk
-- (done markers, metrics.csv, eval.csv, series.json), so a rerun that skips
-- finished runs rebuilds the same report.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local svg = require 'rnn.experiment.svg'
local summary = require 'rnn.experiment.summary'
local compare = require 'rnn.experiment.compare'
local plot_options = require 'rnn.experiment.plot_options'
local export = require 'rnn.experiment.export'
local stats = require 'rnn.stats'

local M = {}

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

---------------------------------------------------------------------------
-- The tables (rnn.experiment.summary, rnn.experiment.compare)

--- mean and sample standard deviation (n - 1 in the denominator; nil with
-- fewer than two values) of an array of numbers. NaN in, NaN out.
function M.mean_std(xs)
  local n = #xs
  if n == 0 then return nil, nil end
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  local mean = s / n
  if n < 2 then return mean, nil end
  local q = 0
  for _, x in ipairs(xs) do q = q + (x - mean) ^ 2 end
  return mean, math.sqrt(q / (n - 1))
end

M.summarize = summary.summarize
M.markdown = summary.markdown
M.csv = summary.csv
M.final_metrics = summary.final_metrics
local table_cells = summary.table_cells

---------------------------------------------------------------------------
-- Plot data

-- the columns of a metrics CSV file as arrays (booleans as 1/0; strings
-- dropped); names in file order, and the steps
local function load_columns(path)
  local header, rows = files.read_csv(path)
  if not header then return nil end
  local cols, names, steps = {}, {}, {}
  for i = 2, #header do
    local numeric = true
    local arr = {}
    for r, row in ipairs(rows) do
      local v = row[i]
      if type(v) == 'boolean' then v = v and 1 or 0 end
      if v ~= nil and type(v) ~= 'number' then numeric = false break end
      arr[r] = v == nil and 0 / 0 or v
    end
    if numeric then
      names[#names + 1] = header[i]
      cols[header[i]] = arr
    end
  end
  for r, row in ipairs(rows) do steps[r] = row[1] end
  return {names = names, cols = cols, steps = steps, booleans = {}}
end

-- bins an array (index = step) into at most nb means: xs, ys
local function bin(values, steps, nb)
  local n = #values
  nb = math.min(nb, n)
  local xs, ys = {}, {}
  for b = 1, nb do
    local i0 = (b - 1) * n // nb + 1
    local i1 = b * n // nb
    local s, c, sx = 0, 0, 0
    for i = i0, i1 do
      sx = sx + steps[i]
      if finite(values[i]) then s = s + values[i]; c = c + 1 end
    end
    xs[b] = sx / (i1 - i0 + 1)
    ys[b] = c > 0 and s / c or 0 / 0
  end
  return xs, ys
end

-- t_{0.975, df}, the half-width factor of a 95% t interval, per df
local t975 = setmetatable({}, {__index = function(t, df)
  local q = stats.t_quantile(0.975, df)
  t[df] = q
  return q
end})

-- the band around the mean m of the finite values xs (n >= 1); NaN where
-- the band is undefined (one value, for 'ci')
local function band_at(xs, m, sd, band)
  if band == 'ci' then
    if #xs < 2 then return 0 / 0, 0 / 0 end
    local h = t975[#xs - 1] * sd / math.sqrt(#xs)
    return m - h, m + h
  elseif band == 'std' then
    sd = sd or 0
    return m - sd, m + sd
  elseif band == 'minmax' then
    local a, b = math.huge, -math.huge
    for _, x in ipairs(xs) do a = math.min(a, x); b = math.max(b, x) end
    return a, b
  end
  return 0 / 0, 0 / 0
end

--- aggregate(arrays [, band]) -> mean, lo, hi: across runs, point by point,
-- the mean of the finite values and a band: 'ci' (default: the 95% t
-- interval of the mean, mean -/+ t_{0.975, n-1} sd / sqrt(n)), 'minmax',
-- 'std' (mean -/+ one sample sd) or 'none' (NaN). Arrays of different
-- lengths are cut to the shortest.
local function aggregate(arrays, band)
  band = band or plot_options.DEFAULT_BAND
  local n = math.huge
  for _, a in ipairs(arrays) do n = math.min(n, #a) end
  if n == math.huge then n = 0 end
  local mean, lo, hi = {}, {}, {}
  for i = 1, n do
    local xs = {}
    for _, a in ipairs(arrays) do
      if finite(a[i]) then xs[#xs + 1] = a[i] end
    end
    if #xs == 0 then
      mean[i], lo[i], hi[i] = 0 / 0, 0 / 0, 0 / 0
    else
      local m, sd = M.mean_std(xs)
      mean[i] = m
      lo[i], hi[i] = band_at(xs, m, sd, band)
    end
  end
  return mean, lo, hi
end
M.aggregate = aggregate
M.bin = bin

local function sanitize(s)
  return (tostring(s):gsub('[^%w%._%-=,+]', '_'))
end

-- whether a metric gets a log axis: plots.log_y[name] if set, else names
-- holding 'loss' or 'norm' when every mean is > 0 (a band reaching 0 or
-- below is cut at the axis)
local function wants_log(opts, name, series)
  local set = opts.log_y and opts.log_y[name]
  if set ~= nil then
    if not set then return false end
  elseif not (name:find('loss') or name:find('norm')) then
    return false
  end
  for _, s in ipairs(series) do
    for _, v in ipairs(s.y) do
      if finite(v) and v <= 0 then return false end
    end
  end
  return true
end

-- the finished runs' data: cell name -> array of {train, eval, series},
-- the names of the training columns, evaluation metrics (those evaluated
-- twice or more) and series in order of appearance
local function load_runs(runs)
  local data = {}
  local names = {train = {}, eval = {}, series = {}}
  local seen = {train = {}, eval = {}, series = {}}
  local function see(kind, n)
    if not seen[kind][n] then seen[kind][n] = true; table.insert(names[kind], n) end
  end
  for _, r in ipairs(runs) do
    if r.done then
      local d = {train = load_columns(r.dir .. '/metrics.csv'), eval = load_columns(r.dir .. '/eval.csv')}
      local st = files.read(r.dir .. '/series.json')
      d.series = st and json.decode(st) or {}
      data[r.cell] = data[r.cell] or {}
      table.insert(data[r.cell], d)
      for _, n in ipairs(d.train and d.train.names or {}) do see('train', n) end
      if d.eval and #d.eval.steps >= 2 then
        for _, n in ipairs(d.eval.names) do see('eval', n) end
      end
      for _, n in ipairs(json.sorted_keys(d.series)) do
        if type(d.series[n]) == 'table' then see('series', n) end
      end
    end
  end
  return data, names
end

-- the raw values of one metric in every run: kind 'train', 'eval' or
-- 'series'; an array of arrays
local function raw_arrays(data, kind, name)
  local out = {}
  for _, runs in pairs(data) do
    for _, d in ipairs(runs) do
      local v
      if kind == 'series' then v = d.series[name] else v = d[kind] and d[kind].cols[name] end
      if type(v) == 'table' then out[#out + 1] = v end
    end
  end
  return out
end

-- 'zero' when every finite value is 0, 'binary' when each is 0 or 1
-- (booleans), else nil (nil too without any finite value)
local function value_kind(arrays)
  local seen, nonzero = false, false
  for _, a in ipairs(arrays) do
    for _, v in ipairs(a) do
      if finite(v) then
        seen = true
        if v ~= 0 then
          if v ~= 1 then return nil end
          nonzero = true
        end
      end
    end
  end
  if not seen then return nil end
  return nonzero and 'binary' or 'zero'
end
M.value_kind = value_kind

local BAND_NOTES = {ci = 'band: 95% CI of the mean over seeds (t)', minmax = 'band: min–max over seeds',
                    std = 'band: mean ± 1 sd over seeds'}

--- plots(ctx) -> array of figures {file, title, group, svg, name, series
-- (as drawn: x, y, lo, hi, runs, label)}, and of
-- notes {note, group} in place of series that are zero in every run.
-- ctx: dir, axes, cells, runs (each with done and dir), plots (the
-- experiment's plot options), seeds.
function M.plots(ctx)
  local opts = ctx.plots or {}
  local band = opts.band or plot_options.DEFAULT_BAND
  local nb = opts.points or 100
  local facet = opts.facet
  if facet then
    local ok = false
    for _, a in ipairs(ctx.axes) do if a == facet then ok = true end end
    if not ok then facet = nil end
  end

  local data, names = load_runs(ctx.runs)
  local train_names, eval_names, series_names = names.train, names.eval, names.series
  local seen_series = {}
  for _, n in ipairs(series_names) do seen_series[n] = true end
  if opts.metrics then train_names = opts.metrics end
  -- which metrics are 0/1 (fractions, no band) or zero everywhere (a note)
  local kinds = {train = {}, eval = {}, series = {}}
  for kind, list in pairs{train = train_names, eval = eval_names, series = series_names} do
    for _, n in ipairs(list) do kinds[kind][n] = value_kind(raw_arrays(data, kind, n)) end
  end

  -- groups of cells: one per value of the facet axis (or one group)
  local groups, gindex = {}, {}
  for _, c in ipairs(ctx.cells) do
    local key = facet and tostring(c.values[facet]) or ''
    if not gindex[key] then
      gindex[key] = #groups + 1
      groups[#groups + 1] = {key = key, title = facet and (facet .. '=' .. key) or nil, cells = {}}
    end
    table.insert(groups[gindex[key]].cells, c)
  end
  local function cell_label(c)
    local parts = {}
    for _, a in ipairs(ctx.axes) do
      if a ~= facet then parts[#parts + 1] = a .. '=' .. tostring(c.values[a]) end
    end
    if #parts == 0 then return c.name end
    return table.concat(parts, ',')
  end

  local figures = {}
  local noted = {}
  -- a note instead of a figure, once a metric
  local function zero_note(kind, name, group)
    local key = kind .. ':' .. name
    if noted[key] then return end
    noted[key] = true
    local where = ({train = '', eval = ' (at evaluation)', series = ' (series)'})[kind]
    figures[#figures + 1] = {note = name .. ': zero in every run' .. where, group = group.title, name = name}
  end
  -- an override of titles/xlabel/ylabel: a name that is both a series and
  -- a metric names the series
  local function override(map, f)
    if type(map) == 'string' then
      -- (one text for every plot against the training step; series keep theirs)
      return (not f.is_series) and map or nil
    end
    if not map or (not f.is_series and seen_series[f.metric]) then return nil end
    return map[f.metric]
  end
  -- f: {name, metric, title, xlabel, yunits, series, fraction, is_series}
  local function figure(f, group)
    local t = (override(opts.titles, f) or f.title) .. (group.title and (' — ' .. group.title) or '')
    local nseeds, banded = 0, false
    for _, s in ipairs(f.series) do
      nseeds = math.max(nseeds, s.runs or 0)
      if f.fraction or (s.runs or 0) < 2 or band == 'none' then s.lo, s.hi = nil, nil else banded = true end
    end
    local file = 'plots/' .. sanitize(f.name) .. (group.title and ('__' .. sanitize(group.key)) or '') .. '.svg'
    local text = svg.line_plot{
      title = t, xlabel = override(opts.xlabel, f) or f.xlabel, ylabel = override(opts.ylabel, f) or f.metric,
      yunits = (opts.units and opts.units[f.metric]) or f.yunits,
      series = f.series, log_y = not f.fraction and wants_log(opts, f.metric, f.series),
      id = file:sub(7, -5), ymin = f.fraction and 0 or nil, ymax = f.fraction and 1 or nil,
      hlines = {plot_options.baseline(opts, f.metric)},
      note = banded and nseeds > 1 and BAND_NOTES[band] or nil,
    }
    figures[#figures + 1] = {file = file, title = t, group = group.title, svg = text, name = f.name,
                             series = f.series}
  end

  -- one series a cell of the group: mean and band of `arrays_of(d)` over
  -- the cell's runs; xs_of(d, arr) gives the x values
  local function cell_series(g, arrays_of)
    local series = {}
    for _, c in ipairs(g.cells) do
      local arrays, xs = {}, nil
      for _, d in ipairs(data[c.name] or {}) do
        local arr, x = arrays_of(d)
        if arr then arrays[#arrays + 1] = arr; xs = xs or x end
      end
      if #arrays > 0 then
        local m, lo, hi = aggregate(arrays, band)
        if not xs then
          xs = {}
          for i = 1, #m do xs[i] = i end
        end
        series[#series + 1] = {label = cell_label(c), x = xs, y = m, lo = lo, hi = hi, runs = #arrays}
      end
    end
    return series
  end

  for _, g in ipairs(groups) do
    -- training curves, binned (fractions in bins of at least 10 steps)
    for _, name in ipairs(train_names) do
      local kind = kinds.train[name]
      local series = cell_series(g, function(d)
        local col = d.train and d.train.cols[name]
        if not col then return nil end
        local bx, by = bin(col, d.train.steps, kind == 'binary' and math.max(1, math.min(nb, #col // 10)) or nb)
        return by, bx
      end)
      if kind == 'zero' then
        zero_note('train', name, g)
      elseif #series > 0 then
        local fraction = kind == 'binary'
        figure({name = name, metric = name, series = series, fraction = fraction, xlabel = 'training step',
                title = fraction and ('fraction of steps ' .. name) or (name .. ' during training'),
                yunits = fraction and 'fraction of steps' or nil}, g)
      end
    end
    -- evaluations during training
    for _, name in ipairs(eval_names) do
      local kind = kinds.eval[name]
      local series = cell_series(g, function(d)
        local col = d.eval and d.eval.cols[name]
        return col, col and d.eval.steps
      end)
      if kind == 'zero' then
        zero_note('eval', name, g)
      elseif #series > 0 then
        local fraction = kind == 'binary'
        figure({name = 'eval_' .. name, metric = name, series = series, fraction = fraction, xlabel = 'training step',
                title = name .. ' at evaluation' .. (fraction and ' (share of seeds)' or ''),
                yunits = fraction and 'share of seeds' or nil}, g)
      end
    end
    -- series from evaluate, against their index
    for _, name in ipairs(series_names) do
      local series = cell_series(g, function(d)
        local v = d.series[name]
        if type(v) ~= 'table' then return nil end
        local arr = {}
        for i, x in ipairs(v) do arr[i] = type(x) == 'number' and x or 0 / 0 end
        return arr
      end)
      if kinds.series[name] == 'zero' then
        zero_note('series', name, g)
      elseif #series > 0 then
        figure({name = 'series_' .. name, metric = name, series = series, xlabel = 't', title = name,
                is_series = true}, g)
      end
    end
  end

  -- the experiment's own plots
  if type(opts.custom) == 'function' then
    local extra = opts.custom{data = data, cells = ctx.cells, runs = ctx.runs, groups = groups, svg = svg,
                              aggregate = aggregate, bin = bin, label = cell_label}
    for i, f in ipairs(extra or {}) do
      if type(f) ~= 'table' or type(f.svg) ~= 'string' then
        error(string.format('rnn.experiment: plots.custom returned figure %d without an svg string', i), 0)
      end
      figures[#figures + 1] = {file = 'plots/' .. sanitize(f.name or ('custom' .. i)) .. '.svg',
                               title = f.title or f.name or ('custom ' .. i), group = f.group, svg = f.svg,
                               name = f.name}
    end
  end
  return figures
end

---------------------------------------------------------------------------
-- index.html

local function esc(s) return svg.escape(s) end

local function paragraphs(text)
  local out = {}
  text = (text or ''):gsub('\r', '')
  for para in (text .. '\n\n'):gmatch('(.-)\n%s*\n') do
    if para:match('%S') then
      if para:match('^%s') then
        out[#out + 1] = '<pre>' .. esc(para) .. '</pre>'
      else
        out[#out + 1] = '<p>' .. esc(para) .. '</p>'
      end
    end
  end
  return table.concat(out, '\n')
end

--- The HTML report (a string): description, environment, the summary
-- table (id "summary") and comparisons (id "comparisons"), the figures
-- (inlined SVG, links to their SVG, PNG and PDF files; two columns on a
-- wide screen) grouped by facet, the configuration and the list of runs.
function M.html(ctx, rows, names, figures)
  local out = {}
  local function add(...) for i = 1, select('#', ...) do out[#out + 1] = select(i, ...) end end
  add('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
  add('<title>', esc(ctx.name), ' — rnnlua experiment</title>\n')
  add([[<style>
body { font-family: sans-serif; max-width: 1800px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
.figures { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.5em; align-items: start; }
@media (min-width: 1100px) { .figures { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
figure { margin: 0; min-width: 0; }
figure svg, figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; margin-top: 0.3em; }
.plot-note { grid-column: 1 / -1; color: #555; font-style: italic; margin: 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
.meta { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
]])
  add('<h1>', esc(ctx.name), '</h1>\n')
  add(paragraphs(ctx.description), '\n')
  local env = ctx.env or {}
  add('<p class="meta">', esc(env.rnnlua or ''), ' · BLAS ', esc(env.blas or '?'), ' · ', esc(env.threads or '?'),
    ' threads · git ', esc(env.git_commit or 'n/a'), ' · seeds ', esc(table.concat(ctx.seeds, ', ')), '</p>\n')

  local function html_table(id, header, body)
    add('<table id="', id, '">\n<tr>')
    for _, h in ipairs(header) do add('<th>', esc(h), '</th>') end
    add('</tr>\n')
    for _, line in ipairs(body) do
      add('<tr>')
      for _, s in ipairs(line) do add('<td>', esc(s), '</td>') end
      add('</tr>\n')
    end
    add('</table>\n')
  end
  add('<h2>Summary</h2>\n')
  add('<p>The final metrics (evaluation at the last step; train_* metrics are means over the last tenth of the ',
    'training steps): ', esc(summary.legend(ctx.stats_options)), '. ',
    'Files: <a href="summary.csv">summary.csv</a>, <a href="summary.md">summary.md</a>.</p>\n')
  html_table('summary', table_cells(ctx.axes, rows, names))
  if ctx.note then add('<p>', esc(ctx.note), '</p>\n') end
  if ctx.comparisons then
    add('<h2>Comparisons</h2>\n')
    add('<p>', esc(compare.legend(ctx.comparisons, ctx.paired ~= false)), '. ',
      'File: <a href="comparisons.csv">comparisons.csv</a> (with the bootstrap intervals, Welch p and ',
      'same_draws).</p>\n')
    local md_rows = {}
    for _, r in ipairs(ctx.comparisons) do md_rows[#md_rows + 1] = r end
    html_table('comparisons', compare.table_cells(md_rows, ctx.stats_options))
  end

  add('<h2>Plots</h2>\n')
  if ctx.export_problem then
    add('<p class="meta">PNG and PDF copies of the plots were not made: ', esc(ctx.export_problem), '.</p>\n')
  elseif ctx.export_failed then
    add('<p class="meta">Some PNG or PDF copies of the plots could not be made; the first: ',
      esc(ctx.export_failed), '.</p>\n')
  end
  local last_group, open = false, false
  for _, f in ipairs(figures) do
    if f.group ~= last_group or not open then
      if open then add('</div>\n') end
      if f.group and f.group ~= last_group then add('<h3>', esc(f.group), '</h3>\n') end
      last_group = f.group
      add('<div class="figures">\n')
      open = true
    end
    if f.note then
      add('<p class="plot-note">', esc(f.note), '</p>\n')
    else
      add('<figure>', svg.inline(f.svg), '<figcaption><a href="', esc(f.file), '">', esc(f.file), '</a>')
      for _, fmt in ipairs{'png', 'pdf'} do
        if f[fmt] then add(' · <a href="', esc(f[fmt]), '">', fmt:upper(), '</a>') end
      end
      add('</figcaption></figure>\n')
    end
  end
  if open then add('</div>\n') end

  add('<h2>Configuration</h2>\n<pre>', esc(json.encode(ctx.config, {indent = 2})), '</pre>\n')
  if #ctx.axes > 0 then
    add('<p>Grid: ')
    local parts = {}
    for _, a in ipairs(ctx.axes) do
      local vs = {}
      for _, v in ipairs(ctx.axis_values[a]) do vs[#vs + 1] = tostring(v) end
      parts[#parts + 1] = esc(a) .. ' ∈ {' .. esc(table.concat(vs, ', ')) .. '}'
    end
    add(table.concat(parts, ' × '), '</p>\n')
  end

  add('<h2>Runs</h2>\n<table>\n<tr><th>cell</th><th>seed</th><th>status</th><th>files</th></tr>\n')
  for _, r in ipairs(ctx.runs) do
    local rel = r.rel
    add('<tr><td>', esc(r.cell), '</td><td>', esc(r.seed), '</td><td>', esc(r.state or (r.done and 'done' or
      'not finished')), '</td><td>')
    add('<a href="', esc(rel), '/config.json">config</a> · <a href="', esc(rel), '/metrics.csv">metrics.csv</a>')
    if r.done then add(' · <a href="', esc(rel), '/checkpoint.safetensors">checkpoint</a>') end
    add('</td></tr>\n')
  end
  add('</table>\n</body>\n</html>\n')
  return table.concat(out)
end

--- One forest plot a metric of the comparisons: {name, file, title, svg,
-- group = 'Comparisons'}. The x axis is the difference in the metric's
-- units: plots.ylabel names the metric there too, plots.units follow it.
function M.forest_plots(comparisons, opts, plots)
  plots = plots or {}
  local by_metric, order = {}, {}
  for _, c in ipairs(comparisons) do
    if not by_metric[c.metric] then
      by_metric[c.metric] = {}
      order[#order + 1] = c.metric
    end
    table.insert(by_metric[c.metric], {label = c.cell_a .. ' − ' .. c.cell_b, est = c.diff, lo = c.ci_low,
      hi = c.ci_high})
  end
  local out = {}
  for _, m in ipairs(order) do
    local name = 'forest_' .. m:gsub('[^%w_%-]', '_')
    local title = string.format('%s: differences with %g%% CIs', m, 100 * opts.level)
    local what = type(plots.ylabel) == 'table' and plots.ylabel[m] or m
    out[#out + 1] = {name = name, file = 'plots/' .. name .. '.svg', title = title, group = 'Comparisons',
      svg = svg.forest_plot{title = title, xlabel = 'difference of ' .. what .. ' (a − b)',
                            xunits = plots.units and plots.units[m], rows = by_metric[m]}}
  end
  return out
end

-- PNG and PDF copies of the SVGs (rnn.experiment.export): each figure gets
-- f.png and f.pdf where made; ctx.export_problem says why none were,
-- ctx.export_failed names the first that failed
function M.export(ctx, figures, svgs)
  ctx.export_problem = export.unavailable()
  if ctx.export_problem or #svgs == 0 then return end
  local failed = export.convert(ctx.dir, svgs)
  local first, n = nil, 0
  for _, f in ipairs(figures) do
    if f.svg then
      for _, fmt in ipairs{'png', 'pdf'} do
        local out = f.file:gsub('%.svg$', '') .. '.' .. fmt
        if failed[out] then
          first, n = first or (out .. ': ' .. failed[out]), n + 1
        else
          f[fmt] = out
        end
      end
    end
  end
  ctx.export_failed = first
  -- (said on stderr too: a full disk must not go unnoticed; the copies not
  -- made keep their old files, and the report links the SVGs instead)
  if first then
    io.stderr:write(string.format('rnn.experiment: %d PNG/PDF copies of the plots in %s could not be made (their '
      .. 'old files, if any, are left as they were); the first: %s\n', n, ctx.dir, first))
  end
end

--- Writes summary.csv, summary.md, comparisons.csv and .md (with a grid),
-- plots/*.svg, .png and .pdf, and index.html under ctx.dir; returns the markdown tables
-- (summary, then comparisons), the rows and the path of index.html.
function M.build(ctx)
  local opts = summary.options(ctx.stats, ctx.select)
  ctx.stats_options = opts
  local rows, names = M.summarize(ctx.cells, ctx.runs, ctx.summary, opts)
  local md = M.markdown(ctx.axes, rows, names) .. '\n' .. summary.legend(opts) .. '\n'
  files.write_atomic(ctx.dir .. '/summary.csv', M.csv(ctx.axes, rows, names))
  if #ctx.axes > 0 then
    ctx.comparisons = compare.compare(ctx, names, opts)
    files.write_atomic(ctx.dir .. '/comparisons.csv', compare.csv(ctx.comparisons))
    local cmd = compare.markdown(ctx.comparisons, opts) .. '\n' .. compare.legend(ctx.comparisons, ctx.paired ~= false)
      .. '\n'
    files.write_atomic(ctx.dir .. '/comparisons.md', '# ' .. ctx.name .. ': comparisons\n\n' .. cmd)
    md = md .. '\n' .. cmd
  end
  if ctx.note then md = md .. '\n' .. ctx.note .. '\n' end
  local forests = ctx.comparisons and M.forest_plots(ctx.comparisons, ctx.stats_options, ctx.plots) or {}
  files.write_atomic(ctx.dir .. '/summary.md', '# ' .. ctx.name .. ': summary\n\n' .. md)
  local figures = M.plots(ctx)
  for _, f in ipairs(forests) do figures[#figures + 1] = f end
  files.mkdir_p(ctx.dir .. '/plots')
  local svgs = {}
  for _, f in ipairs(figures) do
    if f.svg then
      svg.write(ctx.dir .. '/' .. f.file, f.svg)
      svgs[#svgs + 1] = f.file
    end
  end
  M.export(ctx, figures, svgs)
  local index = ctx.dir .. '/index.html'
  files.write_atomic(index, M.html(ctx, rows, names, figures))
  return md, rows, index, figures
end

return M
