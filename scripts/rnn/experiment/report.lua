--- rnn.experiment.report: the summary table (mean ± std over seeds per
-- cell), its files (summary.csv, summary.md), the plots (SVG) and the
-- index.html report of an experiment, all from what the runs left on disk
-- (done markers, metrics.csv, eval.csv, series.json), so a rerun that skips
-- finished runs rebuilds the same report.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local svg = require 'rnn.experiment.svg'
local summary = require 'rnn.experiment.summary'
local compare = require 'rnn.experiment.compare'

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

-- which columns of a CSV file hold booleans (true/false)
local function boolean_columns(path)
  local header, rows = files.read_csv(path)
  local out = {}
  if not header or not rows[1] then return out end
  for i = 2, #header do
    if type(rows[1][i]) == 'boolean' then out[header[i]] = true end
  end
  return out
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

-- across runs: mean and band (min..max, or mean ± std) point by point;
-- arrays of different lengths are cut to the shortest
local function aggregate(arrays, band)
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
      if band == 'std' then
        sd = sd or 0
        lo[i], hi[i] = m - sd, m + sd
      else
        local a, b = math.huge, -math.huge
        for _, x in ipairs(xs) do a = math.min(a, x); b = math.max(b, x) end
        lo[i], hi[i] = a, b
      end
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
-- holding 'loss' or 'norm' when every value is > 0
local function wants_log(opts, name, series)
  local set = opts.log_y and opts.log_y[name]
  if set ~= nil then
    if not set then return false end
  elseif not (name:find('loss') or name:find('norm')) then
    return false
  end
  for _, s in ipairs(series) do
    for _, arr in ipairs{s.y, s.lo or {}} do
      for _, v in ipairs(arr) do
        if finite(v) and v <= 0 then return false end
      end
    end
  end
  return true
end

--- plots(ctx) -> array of figures {file, title, group, svg}. ctx: dir,
-- axes, cells, runs (each with done and dir), plots (the experiment's plot
-- options), seeds.
function M.plots(ctx)
  local opts = ctx.plots or {}
  local band = opts.band or 'minmax'
  local nb = opts.points or 100
  local facet = opts.facet
  if facet then
    local ok = false
    for _, a in ipairs(ctx.axes) do if a == facet then ok = true end end
    if not ok then facet = nil end
  end

  -- load the finished runs' data
  local data = {}  -- cell name -> array of {train, eval, series}
  local train_names, eval_names, series_names = {}, {}, {}
  local seen_t, seen_e, seen_s = {}, {}, {}
  local booleans, eval_booleans = {}, {}
  for _, r in ipairs(ctx.runs) do
    if r.done then
      local d = {train = load_columns(r.dir .. '/metrics.csv'), eval = load_columns(r.dir .. '/eval.csv')}
      local st = files.read(r.dir .. '/series.json')
      d.series = st and json.decode(st) or {}
      for k, v in pairs(boolean_columns(r.dir .. '/metrics.csv')) do booleans[k] = v end
      for k, v in pairs(boolean_columns(r.dir .. '/eval.csv')) do eval_booleans[k] = v end
      data[r.cell] = data[r.cell] or {}
      table.insert(data[r.cell], d)
      for _, n in ipairs(d.train and d.train.names or {}) do
        if not seen_t[n] then seen_t[n] = true; train_names[#train_names + 1] = n end
      end
      if d.eval and #d.eval.steps >= 2 then
        for _, n in ipairs(d.eval.names) do
          if not seen_e[n] then seen_e[n] = true; eval_names[#eval_names + 1] = n end
        end
      end
      for _, n in ipairs(json.sorted_keys(d.series)) do
        if not seen_s[n] and type(d.series[n]) == 'table' then seen_s[n] = true; series_names[#series_names + 1] = n end
      end
    end
  end
  if opts.metrics then train_names = opts.metrics end

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
  local function figure(name, metric, title, group, xlabel, ylabel, series, fraction)
    local t = title .. (group.title and (' — ' .. group.title) or '')
    local nseeds = 0
    for _, s in ipairs(series) do nseeds = math.max(nseeds, s.runs or 0) end
    local file = 'plots/' .. sanitize(name) .. (group.title and ('__' .. sanitize(group.key)) or '') .. '.svg'
    local text = svg.line_plot{
      title = t, xlabel = xlabel, ylabel = ylabel, series = series, log_y = wants_log(opts, metric, series),
      id = file:sub(7, -5), ymin = fraction and 0 or nil, ymax = fraction and 1 or nil,
      note = nseeds > 1 and (band == 'std' and 'band: ± std over seeds' or 'band: min–max over seeds') or nil,
    }
    figures[#figures + 1] = {file = file, title = t, group = group.title, svg = text, name = name}
  end

  for _, g in ipairs(groups) do
    -- training curves, binned
    for _, name in ipairs(train_names) do
      local series = {}
      for _, c in ipairs(g.cells) do
        local arrays, xs = {}, nil
        for _, d in ipairs(data[c.name] or {}) do
          local col = d.train and d.train.cols[name]
          if col then
            -- fractions (booleans) in bins of at least 10 steps
            local bx, by = bin(col, d.train.steps, booleans[name] and math.max(1, math.min(nb, #col // 10)) or nb)
            arrays[#arrays + 1] = by
            xs = xs or bx
          end
        end
        if #arrays > 0 then
          local m, lo, hi = aggregate(arrays, band)
          series[#series + 1] = {label = cell_label(c), x = xs, y = m, lo = lo, hi = hi, runs = #arrays}
        end
      end
      if #series > 0 then
        if booleans[name] then
          figure(name, name, 'fraction of steps ' .. name, g, 'step', 'fraction', series, true)
        else
          figure(name, name, name .. ' during training', g, 'step', name, series)
        end
      end
    end
    -- evaluations during training
    for _, name in ipairs(eval_names) do
      local series = {}
      for _, c in ipairs(g.cells) do
        local arrays, xs = {}, nil
        for _, d in ipairs(data[c.name] or {}) do
          local col = d.eval and d.eval.cols[name]
          if col then arrays[#arrays + 1] = col; xs = xs or d.eval.steps end
        end
        if #arrays > 0 then
          local m, lo, hi = aggregate(arrays, band)
          series[#series + 1] = {label = cell_label(c), x = xs, y = m, lo = lo, hi = hi, runs = #arrays}
        end
      end
      if #series > 0 then
        if eval_booleans[name] then
          figure('eval_' .. name, name, name .. ' at evaluation (share of seeds)', g, 'step', name, series, true)
        else
          figure('eval_' .. name, name, name .. ' at evaluation', g, 'step', name, series)
        end
      end
    end
    -- series from evaluate
    for _, name in ipairs(series_names) do
      local series = {}
      for _, c in ipairs(g.cells) do
        local arrays = {}
        for _, d in ipairs(data[c.name] or {}) do
          local v = d.series[name]
          if type(v) == 'table' then
            local arr = {}
            for i, x in ipairs(v) do arr[i] = type(x) == 'number' and x or 0 / 0 end
            arrays[#arrays + 1] = arr
          end
        end
        if #arrays > 0 then
          local m, lo, hi = aggregate(arrays, band)
          local xs = {}
          for i = 1, #m do xs[i] = i end
          series[#series + 1] = {label = cell_label(c), x = xs, y = m, lo = lo, hi = hi, runs = #arrays}
        end
      end
      if #series > 0 then
        local xl = opts.xlabel and opts.xlabel[name] or 't'
        local yl = opts.ylabel and opts.ylabel[name] or name
        figure('series_' .. name, name, (opts.titles and opts.titles[name]) or name, g, xl, yl, series)
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
-- table, the figures (inlined SVG) grouped by facet, the configuration and
-- the list of runs.
function M.html(ctx, rows, names, figures)
  local out = {}
  local function add(...) for i = 1, select('#', ...) do out[#out + 1] = select(i, ...) end end
  add('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
  add('<title>', esc(ctx.name), ' — rnnlua experiment</title>\n')
  add([[<style>
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure svg { max-width: 100%; height: auto; }
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

  local function html_table(header, body)
    add('<table>\n<tr>')
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
  html_table(table_cells(ctx.axes, rows, names))
  if ctx.note then add('<p>', esc(ctx.note), '</p>\n') end
  if ctx.comparisons then
    add('<h2>Comparisons</h2>\n')
    add('<p>', esc(compare.legend(ctx.comparisons, ctx.paired ~= false)), '. ',
      'File: <a href="comparisons.csv">comparisons.csv</a> (with the bootstrap intervals, Welch p and ',
      'same_draws).</p>\n')
    local md_rows = {}
    for _, r in ipairs(ctx.comparisons) do md_rows[#md_rows + 1] = r end
    html_table(compare.table_cells(md_rows, ctx.stats_options))
  end

  add('<h2>Plots</h2>\n')
  local last_group = false
  for _, f in ipairs(figures) do
    if f.group ~= last_group then
      if f.group then add('<h3>', esc(f.group), '</h3>\n') end
      last_group = f.group
    end
    add('<figure>', svg.inline(f.svg), '<figcaption><a href="', esc(f.file), '">', esc(f.file),
      '</a></figcaption></figure>\n')
  end

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
-- group = 'Comparisons'}.
function M.forest_plots(comparisons, opts)
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
    out[#out + 1] = {name = name, file = 'plots/' .. name .. '.svg', title = title, group = 'Comparisons',
      svg = svg.forest_plot{title = title, xlabel = 'difference of ' .. m .. ' (a − b)', rows = by_metric[m]}}
  end
  return out
end

--- Writes summary.csv, summary.md, comparisons.csv and .md (with a grid),
-- plots/*.svg and index.html under ctx.dir; returns the markdown tables
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
  local forests = ctx.comparisons and M.forest_plots(ctx.comparisons, ctx.stats_options) or {}
  files.write_atomic(ctx.dir .. '/summary.md', '# ' .. ctx.name .. ': summary\n\n' .. md)
  local figures = M.plots(ctx)
  for _, f in ipairs(forests) do figures[#figures + 1] = f end
  files.mkdir_p(ctx.dir .. '/plots')
  for _, f in ipairs(figures) do svg.write(ctx.dir .. '/' .. f.file, f.svg) end
  local index = ctx.dir .. '/index.html'
  files.write_atomic(index, M.html(ctx, rows, names, figures))
  return md, rows, index, figures
end

return M
