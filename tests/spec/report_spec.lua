-- The report of rnn.experiment as a figure source for a paper: bands over
-- seeds (95% t interval by default), fractions and all-zero metrics,
-- labelled log ticks, axis labels and units, baselines, text sizes, the
-- two-column page, and the PNG and PDF copies made by rsvg-convert. The
-- runs are tiny experiments whose metrics are formulas of the seed and the
-- step, so the bands are known exactly.
local rnn = require 'rnn'
local E = rnn.experiment
local report = require 'rnn.experiment.report'
local svg = require 'rnn.experiment.svg'
local export = require 'rnn.experiment.export'
local stats = require 'rnn.stats'

local support = require 'tests.spec.support'
local function tmpdir() return support.tmpdir('report-spec') end
local read = support.read

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

local function ls(dir)
  local out = {}
  for name in io.popen('ls ' .. dir):lines() do out[#out + 1] = name end
  return out
end

-- loss = k (1 + seed) / step (k = 1 in cell p, 2 in q): over seeds 1..3
-- the mean is 3k/step and the sample sd k/step; val_loss differs by cell
-- too (a metric no cell changes is not compared)
local function exp(fields)
  local spec = {
    name = 'rep',
    description = 'Report tests.',
    grid = {{'opt', {'p', 'q'}}},
    config = {steps = 20, checkpoint_every = 10, eval_every = 5},
    seeds = 3,
    setup = function(cfg, seed) return {model = rnn.nn.Linear(1, 1), seed = seed, k = cfg.opt == 'p' and 1 or 2} end,
    step = function(s, cfg, step)
      local k = cfg.opt == 'p' and 1 or 2
      return {loss = k * (1 + s.seed) / step, flag = (step + s.seed) % 3 == 0, never = false, zeros = 0,
              ratio = 0.3 + 0.5 * (step - 1) / (cfg.steps - 1)}
    end,
    evaluate = function(s)
      return {val_loss = 0.2 + 0.01 * s.seed + 0.02 * s.k, hit = false, series = {curve = {1, 2, 3}, nothing = {0, 0, 0}}}
    end,
  }
  for k, v in pairs(fields or {}) do spec[k] = v end
  return E.new(spec)
end

local function run(e, argv)
  local o = assert(e:parse(argv))
  o.quiet = true
  return e:execute(o)
end

-- the figures of a finished experiment folder, rebuilt from disk
local function figures_of(e, dir, seeds)
  local runs = {}
  for _, c in ipairs(E.expand_grid(e.grid)) do
    for s = 1, seeds do
      local rdir = dir .. '/' .. c.dir .. '/seed-' .. s
      runs[#runs + 1] = {cell = c.name, dir = rdir, done = exists(rdir .. '/done')}
    end
  end
  return report.plots{dir = dir, axes = e.axes, cells = E.expand_grid(e.grid), runs = runs, plots = e.plots}
end

local function by_name(figures)
  local out = {}
  for _, f in ipairs(figures) do out[f.file or f.note] = f end
  return out
end

local function text_of(s, class)
  return s:match('<text class="' .. class .. '"[^>]*>([^<]*)</text>')
end

describe('rnn.experiment report: bands over seeds', function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute('rm -rf "' .. dir .. '"') end)

  it('draws the 95% t interval of the mean by default, min-max, std or none on request', function()
    local e = exp()
    run(e, {'--out', dir})
    local figs = by_name(figures_of(e, dir .. '/rep', 3))
    local t = stats.t_quantile(0.975, 2)
    assert.near(4.302652729749464, t, 1e-12)  -- (2p - 1) / sqrt(2p (1 - p)) at df = 2
    for c, k in pairs{[1] = 1, [2] = 2} do
      local s = figs['plots/loss.svg'].series[c]
      assert.equal(3, s.runs)
      for i = 1, 20 do
        assert.near(3 * k / i, s.y[i], 1e-12)
        assert.near(3 * k / i - t * (k / i) / math.sqrt(3), s.lo[i], 1e-12)
        assert.near(3 * k / i + t * (k / i) / math.sqrt(3), s.hi[i], 1e-12)
      end
    end
    assert.truthy(figs['plots/loss.svg'].svg:find('<polygon', 1, true))
    assert.truthy(figs['plots/loss.svg'].svg:find('95% CI of the', 1, true))

    local want = {minmax = {2, 4}, std = {2, 4}, none = false}
    for band, w in pairs(want) do
      local f = by_name(figures_of(exp{plots = {band = band}}, dir .. '/rep', 3))['plots/loss.svg']
      local s = f.series[1]
      if w then
        for i = 1, 20 do
          assert.near(w[1] / i, s.lo[i], 1e-12)
          assert.near(w[2] / i, s.hi[i], 1e-12)
        end
        assert.truthy(f.svg:find('<polygon', 1, true), band)
      else
        assert.is_nil(s.lo)
        assert.falsy(f.svg:find('<polygon', 1, true))
      end
    end
    -- the interval, not min-max, is what a plain aggregate gives too
    local m, lo, hi = report.aggregate{{1}, {2}, {3}, {4}}
    assert.equal(2.5, m[1])
    assert.near(0.445739743239121, lo[1], 1e-12)
    assert.near(4.5542602567608785, hi[1], 1e-12)
  end)

  it('draws no band with one seed, nor over 0/1 metrics (fractions)', function()
    local one = tmpdir()
    local e = exp{seeds = 1}
    run(e, {'--out', one})
    local figs = by_name(figures_of(e, one .. '/rep', 1))
    local f = figs['plots/loss.svg']
    assert.is_nil(f.series[1].lo)
    assert.falsy(f.svg:find('<polygon', 1, true))
    assert.falsy(f.svg:find('band:', 1, true))
    os.execute('rm -rf "' .. one .. '"')

    figs = by_name(figures_of(exp(), dir .. '/rep', 3))
    f = figs['plots/flag.svg']
    assert.is_nil(f.series[1].lo)
    assert.falsy(f.svg:find('<polygon', 1, true))
    assert.equal('flag (fraction of steps)', text_of(f.svg, 'ylabel'))
    for _, v in ipairs(f.series[1].y) do assert.is_true(v >= 0 and v <= 1) end
  end)

  it('replaces a metric that is zero in every run by a note, without an SVG', function()
    local e = exp()
    local figs = by_name(figures_of(e, dir .. '/rep', 3))
    for _, note in ipairs{'never: zero in every run', 'zeros: zero in every run',
                          'hit: zero in every run (at evaluation)', 'nothing: zero in every run (series)'} do
      assert.truthy(figs[note], note)
    end
    local html = read(dir .. '/rep/index.html')
    assert.truthy(html:find('<p class="plot-note">never: zero in every run</p>', 1, true))
    for _, name in ipairs{'never', 'zeros', 'eval_hit', 'series_nothing'} do
      assert.is_false(exists(dir .. '/rep/plots/' .. name .. '.svg'), name)
    end
    assert.is_true(exists(dir .. '/rep/plots/series_curve.svg'))
  end)
end)

describe('rnn.experiment report: axes', function()
  it('labels several ticks on a log axis spanning less than a decade', function()
    local major = svg.log_ticks(0.3, 0.8)
    local labels = {}
    for _, v in ipairs(major) do labels[#labels + 1] = string.format('%g', v) end
    assert.same({'0.3', '0.4', '0.5', '0.6', '0.8'}, labels)
    assert.is_true(#svg.log_ticks(0.51, 0.58) >= 3)
    assert.is_true(#svg.log_ticks(1, 1.5) >= 3)
    local text = svg.line_plot{log_y = true, xlabel = 'x', ylabel = 'r', series = {
      {label = 'a', x = {1, 2, 3, 4, 5, 6}, y = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8}}}}
    local shown = {}
    for v in text:gmatch('<text x="[^"]*" y="[^"]*" text%-anchor="end">([^<]*)</text>') do shown[v] = true end
    for _, v in ipairs{'0.3', '0.4', '0.5', '0.6', '0.8'} do assert.truthy(shown[v], v) end
  end)

  it('gives every plot an x and a y label, with overrides and units', function()
    local dir = tmpdir()
    -- a series named like a training metric (ratio) takes the overrides of its name
    local e = exp{seeds = 2, plots = {xlabel = {loss = 'update', ratio = 'position'},
                                     ylabel = {loss = 'training loss'}, units = {loss = 'nats', val_loss = 'nats'},
                                     log_y = {val_loss = false}},
                  evaluate = function(s)
                    return {val_loss = 0.2 + 0.01 * s.seed + 0.02 * s.k, series = {ratio = {1, 2, 3}}}
                  end}
    run(e, {'--out', dir})
    local n = 0
    for _, name in ipairs(ls(dir .. '/rep/plots')) do
      if name:match('%.svg$') then
        local text = read(dir .. '/rep/plots/' .. name)
        assert.truthy(text_of(text, 'xlabel'), name)
        assert.truthy(text_of(text, 'ylabel'), name)
        n = n + 1
      end
    end
    assert.is_true(n >= 7)
    local loss = read(dir .. '/rep/plots/loss.svg')
    assert.equal('update', text_of(loss, 'xlabel'))
    assert.equal('training loss (nats, log scale)', text_of(loss, 'ylabel'))
    local val = read(dir .. '/rep/plots/eval_val_loss.svg')
    assert.equal('training step', text_of(val, 'xlabel'))
    assert.equal('val_loss (nats)', text_of(val, 'ylabel'))
    local ratio = read(dir .. '/rep/plots/ratio.svg')
    assert.equal('ratio', text_of(ratio, 'ylabel'))
    assert.equal('training step', text_of(ratio, 'xlabel'))
    assert.equal('position', text_of(read(dir .. '/rep/plots/series_ratio.svg'), 'xlabel'))
    assert.equal('comparison', text_of(read(dir .. '/rep/plots/forest_val_loss.svg'), 'ylabel'))
    os.execute('rm -rf "' .. dir .. '"')
  end)
end)

describe('rnn.experiment report: baselines', function()
  it('draws a labelled dashed line on every plot of the metric', function()
    local dir = tmpdir()
    local e = exp{seeds = 2, plots = {facet = 'opt', baselines = {loss = {value = 0.5, label = 'mean predictor'},
                                                                 val_loss = 0.25}}}
    run(e, {'--out', dir})
    for _, name in ipairs{'loss__p', 'loss__q', 'eval_val_loss__p', 'eval_val_loss__q'} do
      local text = read(dir .. '/rep/plots/' .. name .. '.svg')
      local y1, y2, dash = text:match('<line class="baseline" x1="[^"]*" y1="([^"]*)" x2="[^"]*" y2="([^"]*)"[^>]*'
        .. 'stroke%-dasharray="([^"]*)"')
      assert.truthy(y1, name)
      assert.equal(y1, y2)
      assert.truthy(dash)
      -- inside the plot area
      local top, height = text:match('<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" fill="none"')
      assert.is_true(tonumber(y1) >= tonumber(top) and tonumber(y1) <= tonumber(top) + tonumber(height), name)
      local label = name:find('loss__') == 1 and 'mean predictor: 0.5' or 'baseline: 0.25'
      assert.truthy(text:find('>' .. label .. '</text>', 1, true), name)
    end
    -- not on the plots of other metrics
    assert.falsy(read(dir .. '/rep/plots/ratio__p.svg'):find('class="baseline"', 1, true))
    os.execute('rm -rf "' .. dir .. '"')
  end)

  it('refuses bad plot options, naming the field and the key', function()
    local cases = {
      {{baselines = {val_loss = 'high'}}, 'plots.baselines.val_loss'},
      {{baselines = {val_loss = {value = 'x'}}}, 'plots.baselines.val_loss'},
      {{baselines = {val_loss = 0 / 0}}, 'plots.baselines.val_loss'},
      {{baselines = 3}, 'plots.baselines must be a table'},
      {{band = 'iqr'}, "plots.band must be 'ci', 'minmax', 'std' or 'none'"},
      {{units = {val_loss = 1}}, 'plots.units.val_loss'},
      {{baseline = {}}, "plots: unknown field 'baseline'"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(exp, {plots = c[1]})
      assert.is_false(ok)
      assert.truthy(tostring(err):find('rnn.experiment.new: ' .. c[2], 1, true), tostring(err))
    end
    -- a preset is checked the same way
    local ok, err = pcall(exp, {presets = {paper = {plots = {baselines = {loss = true}}}}})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('plots.baselines.loss', 1, true), tostring(err))
  end)
end)

describe('rnn.experiment report: the page and the files for a paper', function()
  local dir
  setup(function()
    dir = tmpdir()
    run(exp{seeds = 2}, {'--out', dir})
  end)
  teardown(function() os.execute('rm -rf "' .. dir .. '"') end)

  it('writes no text under 12 px in any SVG', function()
    local n = 0
    for _, name in ipairs(ls(dir .. '/rep/plots')) do
      if name:match('%.svg$') then
        local text = read(dir .. '/rep/plots/' .. name)
        assert.truthy(text:find('<svg[^>]- font%-size="'), name)
        for size in text:gmatch('font%-size="([^"]*)"') do
          n = n + 1
          assert.is_true(tonumber(size) >= 12, name .. ': font-size ' .. size)
        end
      end
    end
    assert.is_true(n > 20)
  end)

  it('lays the figures out in two columns on a wide screen, one under 1100 px, scaled to the column', function()
    local html = read(dir .. '/rep/index.html')
    assert.truthy(html:find('.figures { display: grid; grid-template-columns: minmax(0, 1fr);', 1, true))
    assert.truthy(html:find('@media (min-width: 1100px) { .figures { grid-template-columns: '
      .. 'repeat(2, minmax(0, 1fr)); } }', 1, true))
    assert.truthy(html:find('figure svg, figure img { display: block; width: 100%; height: auto; }', 1, true))
    assert.truthy(html:find('<div class="figures">\n<figure><svg', 1, true))
    assert.truthy(html:find('<table id="summary">', 1, true))
    assert.truthy(html:find('<table id="comparisons">', 1, true))
  end)

  it('writes each plot as PNG and PDF too, linked under its figure, the same bytes every time', function()
    local svgs = 0
    for _, name in ipairs(ls(dir .. '/rep/plots')) do
      local base = name:match('^(.*)%.svg$')
      if base then
        svgs = svgs + 1
        local png = read(dir .. '/rep/plots/' .. base .. '.png')
        assert.equal('\137PNG\r\n\26\n', png:sub(1, 8), base)
        assert.equal('IHDR', png:sub(13, 16))
        local w, h = string.unpack('>I4>I4', png, 17)
        local sw, sh = read(dir .. '/rep/plots/' .. name):match('<svg[^>]- width="(%d+)" height="(%d+)"')
        assert.equal(2 * tonumber(sw), w, base)
        assert.equal(2 * tonumber(sh), h, base)
        assert.equal('%PDF-', read(dir .. '/rep/plots/' .. base .. '.pdf'):sub(1, 5), base)
      end
    end
    assert.is_true(svgs >= 7)
    local html = read(dir .. '/rep/index.html')
    assert.truthy(html:find('<a href="plots/loss.svg">plots/loss.svg</a> · <a href="plots/loss.png">PNG</a> · '
      .. '<a href="plots/loss.pdf">PDF</a>', 1, true))
    assert.falsy(html:find('were not made', 1, true))
    -- rebuilding the report (the runs are done) writes the same PDF
    local before = read(dir .. '/rep/plots/loss.pdf')
    run(exp{seeds = 2}, {'--out', dir})
    assert.equal(before, read(dir .. '/rep/plots/loss.pdf'))
  end)

  it('still writes the report without rsvg-convert, and says once why there is no PNG or PDF', function()
    local other = tmpdir()
    local saved = export.command
    export.command = 'rnnlua-no-such-rsvg-convert'
    local ok, err = pcall(run, exp{seeds = 2}, {'--out', other})
    export.command = saved
    assert.is_true(ok, err)
    local html = read(other .. '/rep/index.html')
    local _, times = html:gsub('PNG and PDF copies of the plots were not made', '')
    assert.equal(1, times)
    assert.truthy(html:find('rnnlua-no-such-rsvg-convert was not found (it is in the Debian package librsvg2-bin)', 1,
      true))
    assert.falsy(html:find('>PNG</a>', 1, true))
    assert.is_true(exists(other .. '/rep/plots/loss.svg'))
    assert.is_false(exists(other .. '/rep/plots/loss.png'))
    os.execute('rm -rf "' .. other .. '"')
  end)
end)

describe('rnn.experiment report: labels on every plot', function()
  it("labels the forest plots in the metric's name and units; a text xlabel serves every plot against steps",
    function()
    local dir = tmpdir()
    local e = exp{seeds = 2, plots = {xlabel = 'update', ylabel = {val_loss = 'validation MSE'},
                                     units = {val_loss = 'nats'}, log_y = {val_loss = false}}}
    run(e, {'--out', dir})
    local forest = read(dir .. '/rep/plots/forest_val_loss.svg')
    assert.equal('difference of validation MSE (a − b) (nats)', text_of(forest, 'xlabel'))
    assert.equal('update', text_of(read(dir .. '/rep/plots/loss.svg'), 'xlabel'))
    assert.equal('update', text_of(read(dir .. '/rep/plots/eval_val_loss.svg'), 'xlabel'))
    assert.equal('validation MSE (nats)', text_of(read(dir .. '/rep/plots/eval_val_loss.svg'), 'ylabel'))
    assert.equal('t', text_of(read(dir .. '/rep/plots/series_curve.svg'), 'xlabel'))
    local ok, err = pcall(exp, {plots = {xlabel = 3}})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('plots.xlabel must be a table', 1, true), tostring(err))
    os.execute('rm -rf "' .. dir .. '"')
  end)

  it('starts the converter with its arguments, and reports its failure', function()
    local dir = tmpdir()
    local conv = dir .. "/a converter's $(name)"
    local f = assert(io.open(conv, 'w'))
    f:write('#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "cannot: $*" >&2\nexit 2\n')
    f:close()
    os.execute("chmod +x '" .. conv:gsub("'", "'\\''") .. "'")
    local saved = export.command
    export.command = conv
    local ok, err = pcall(run, exp{seeds = 2}, {'--out', dir .. '/out'})
    export.command = saved
    assert.is_true(ok, err)
    local html = read(dir .. '/out/rep/index.html')
    assert.truthy(html:find('Some PNG or PDF copies of the plots could not be made; the first: plots/[%w_]+%.png: '
      .. 'cannot: %-f png %-z 2 %-o plots/[%w_]+%.png%.tmp%.%d+%.%d+ plots/[%w_]+%.svg'), html)
    assert.is_false(exists(dir .. '/out/rep/plots/loss.png'))
    assert.same({}, (function()
      local left = {}
      for _, name in ipairs(ls(dir .. '/out/rep/plots')) do
        if name:find('.tmp.', 1, true) then left[#left + 1] = name end
      end
      return left
    end)())
    os.execute('rm -rf "' .. dir .. '"')
  end)
end)
