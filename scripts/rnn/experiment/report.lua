--- rnn.experiment.report: the summary table (mean ± std over seeds per
-- cell), its files (summary.csv, summary.md), the plots (SVG) and the
-- index.html report of an experiment, all from what the runs left on disk
-- (done markers, metrics.csv, eval.csv, series.json), so a rerun that skips
-- finished runs rebuilds the same report.
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local svg = require 'rnn.experiment.svg'

local M = {}

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

---------------------------------------------------------------------------
-- Statistics

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

--- "mean ± std" with 4 significant digits ("mean" alone without a std).
function M.format_mean_std(mean, std)
  if mean == nil then return 'n/a' end
  if std == nil then return string.format('%.4g', mean) end
  return string.format('%.4g ± %.2g', mean, std)
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
  return out
end
M.final_metrics = final_metrics

--- summarize(cells, runs, names) -> rows, names. cells: array of cells
-- ({name, values}); runs: array of {cell = name, seed, done = marker or
-- nil}; names: the metrics to show (nil: every evaluation metric, then
-- train_loss). Each row: {cell, values, n (finished runs), total (runs),
-- stats = {name = {mean, std, n}}, success = {k, n} or nil}.
function M.summarize(cells, runs, names)
  local by_cell = {}
  for _, r in ipairs(runs) do
    by_cell[r.cell] = by_cell[r.cell] or {}
    table.insert(by_cell[r.cell], r)
  end
  -- the metric names when not given
  local any_success = false
  if not names then
    local seen, evals = {}, {}
    local has_train_loss = false
    for _, r in ipairs(runs) do
      if r.done then
        for k, v in pairs(r.done.eval or {}) do
          if k ~= 'success' and (type(v) == 'number' or type(v) == 'boolean') and not seen[k] then
            seen[k] = true
            evals[#evals + 1] = k
          end
        end
        if r.done.train and r.done.train.loss ~= nil then has_train_loss = true end
      end
    end
    table.sort(evals)
    names = evals
    if has_train_loss then names[#names + 1] = 'train_loss' end
  end
  for _, r in ipairs(runs) do
    if r.done and r.done.eval and r.done.eval.success ~= nil then any_success = true end
  end
  local rows = {}
  for _, c in ipairs(cells) do
    local rs = by_cell[c.name] or {}
    local row = {cell = c.name, values = c.values, n = 0, total = #rs, stats = {}}
    local finals = {}
    for _, r in ipairs(rs) do
      if r.done then
        row.n = row.n + 1
        finals[#finals + 1] = final_metrics(r.done)
      end
    end
    for _, name in ipairs(names) do
      local xs = {}
      for _, f in ipairs(finals) do
        local v = f[name]
        if type(v) == 'boolean' then v = v and 1 or 0 end
        if type(v) == 'number' then xs[#xs + 1] = v end
      end
      local mean, std = M.mean_std(xs)
      row.stats[name] = {mean = mean, std = std, n = #xs}
    end
    if any_success then
      local k, n = 0, 0
      for _, f in ipairs(finals) do
        if f.success ~= nil then
          n = n + 1
          if f.success == true or f.success == 1 then k = k + 1 end
        end
      end
      row.success = {k = k, n = n}
    end
    rows[#rows + 1] = row
  end
  return rows, names
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
    line[#line + 1] = r.n == r.total and tostring(r.n) or string.format('%d of %d', r.n, r.total)
    for _, n in ipairs(names) do
      local s = r.stats[n]
      line[#line + 1] = s.n > 0 and M.format_mean_std(s.mean, s.std) or 'n/a'
    end
    if has_success then
      local s = r.success
      line[#line + 1] = s.n > 0 and string.format('%d/%d (%d%%)', s.k, s.n, math.floor(100 * s.k / s.n + 0.5))
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

--- The summary as a Markdown table with padded columns (also what is
-- printed).
function M.markdown(axes, rows, names)
  local header, body = table_cells(axes, rows, names)
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

--- The summary as CSV: axis columns, cell, runs, <metric>_mean,
-- <metric>_std for each metric (std empty with one run), and
-- success_rate, success_count, success_runs when runs report success.
function M.csv(axes, rows, names)
  local header = {}
  for _, a in ipairs(axes) do header[#header + 1] = a end
  header[#header + 1] = 'cell'
  header[#header + 1] = 'runs'
  for _, n in ipairs(names) do
    header[#header + 1] = n .. '_mean'
    header[#header + 1] = n .. '_std'
  end
  local has_success = rows[1] and rows[1].success ~= nil
  if has_success then
    header[#header + 1] = 'success_rate'
    header[#header + 1] = 'success_count'
    header[#header + 1] = 'success_runs'
  end
  local out = {}
  local h = {}
  for i, s in ipairs(header) do h[i] = files.csv_field(s) end
  out[1] = table.concat(h, ',')
  for _, r in ipairs(rows) do
    local f = {}
    for _, a in ipairs(axes) do f[#f + 1] = files.csv_field(r.values[a]) end
    f[#f + 1] = files.csv_field(r.cell)
    f[#f + 1] = files.csv_field(r.n)
    for _, n in ipairs(names) do
      local s = r.stats[n]
      f[#f + 1] = files.csv_field(s.mean)
      f[#f + 1] = files.csv_field(s.std)
    end
    if has_success then
      local s = r.success
      f[#f + 1] = s.n > 0 and files.csv_field(s.k / s.n) or ''
      f[#f + 1] = files.csv_field(s.k)
      f[#f + 1] = files.csv_field(s.n)
    end
    out[#out + 1] = table.concat(f, ',')
  end
  return table.concat(out, '\n') .. '\n'
end

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

  add('<h2>Summary</h2>\n')
  add('<p>Mean ± sample standard deviation over seeds of the final metrics (evaluation at the last step; ',
    'train_* metrics are means over the last tenth of the training steps). ',
    'Files: <a href="summary.csv">summary.csv</a>, <a href="summary.md">summary.md</a>.</p>\n')
  local header, body = table_cells(ctx.axes, rows, names)
  add('<table>\n<tr>')
  for _, h in ipairs(header) do add('<th>', esc(h), '</th>') end
  add('</tr>\n')
  for _, line in ipairs(body) do
    add('<tr>')
    for _, s in ipairs(line) do add('<td>', esc(s), '</td>') end
    add('</tr>\n')
  end
  add('</table>\n')

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

--- Writes summary.csv, summary.md, plots/*.svg and index.html under
-- ctx.dir; returns the markdown table, the rows and the path of index.html.
function M.build(ctx)
  local rows, names = M.summarize(ctx.cells, ctx.runs, ctx.summary)
  local md = M.markdown(ctx.axes, rows, names)
  files.write_atomic(ctx.dir .. '/summary.csv', M.csv(ctx.axes, rows, names))
  files.write_atomic(ctx.dir .. '/summary.md', '# ' .. ctx.name .. ': summary\n\n' .. md)
  local figures = M.plots(ctx)
  files.mkdir_p(ctx.dir .. '/plots')
  for _, f in ipairs(figures) do svg.write(ctx.dir .. '/' .. f.file, f.svg) end
  local index = ctx.dir .. '/index.html'
  files.write_atomic(index, M.html(ctx, rows, names, figures))
  return md, rows, index, figures
end

return M
