-- rnn.experiment: grid, folders, config and metrics files, resume, summary,
-- SVG plots, the report and the command line, on a toy experiment (linear
-- regression, 20 steps) in a temporary folder.
local rnn = require 'rnn'
local E = rnn.experiment
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local report = require 'rnn.experiment.report'
local svg = require 'rnn.experiment.svg'
local F = rnn.nn.functional

local support = require 'tests.spec.support'
local function tmpdir() return support.tmpdir('exp-spec') end
local read, write = support.read, support.write

-- a failure injected by the tests: the step that raises
local fail_at = nil

local function toy(fields)
  local spec = {
    name = 'toy',
    description = 'Linear regression, for the tests.',
    grid = {{'opt', {'sgd', 'adam'}}, {'lr', {0.05, 0.1}}},
    config = {steps = 20, checkpoint_every = 5, batch = 16, noise = 0.1, tag = 'x', flag = false},
    seeds = 2,
    setup = function(cfg)
      local model = rnn.nn.Linear(3, 1)
      local opt = cfg.opt == 'sgd' and rnn.optim.SGD(model:parameters(), {lr = cfg.lr, momentum = 0.9})
        or rnn.optim.Adam(model:parameters(), {lr = cfg.lr})
      return {model = model, opt = opt, clip = rnn.clip.adaptive{percentile = 50}, extra = {seen = 0}}
    end,
    step = function(s, cfg, step)
      if fail_at == step then error('injected failure at step ' .. step) end
      local x = rnn.randn{cfg.batch, 3}
      local y = rnn.matmul(x, rnn.tensor{{1}, {-2}, {0.5}}) + rnn.randn{cfg.batch, 1} * cfg.noise
      s.opt:zero_grad()
      local loss = F.mse(s.model(x), y)
      loss:backward()
      local st = s.clip(s.model)
      s.opt:step()
      s.extra.seen = s.extra.seen + cfg.batch
      return {loss = loss:item(), grad_norm = st.norm, clipped = st.clipped, seen = s.extra.seen}
    end,
    evaluate = function(s)
      local x = rnn.randn({64, 3}, 'float32')
      local y = rnn.matmul(x, rnn.tensor{{1}, {-2}, {0.5}})
      local mse = F.mse(s.model(x), y):item()
      return {val_loss = mse, success = mse < 0.5, series = {curve = {mse, mse / 2, mse / 3}}}
    end,
  }
  for k, v in pairs(fields or {}) do spec[k] = v end
  return E.new(spec)
end

local function run(exp, argv)
  local o = assert(exp:parse(argv))
  o.quiet = true
  return exp:execute(o)
end

describe('rnn.experiment grid', function()
  it('expands axes in order, the first outermost', function()
    local cells = E.expand_grid{{'a', {1, 2}}, {'b', {'x', 'y', 'z'}}}
    assert.equal(6, #cells)
    assert.equal('a=1,b=x', cells[1].name)
    assert.equal('a=1,b=y', cells[2].name)
    assert.equal('a=2,b=z', cells[6].name)
    assert.same({a = 2, b = 'z'}, cells[6].values)
    assert.equal('default', E.expand_grid({})[1].name)
  end)

  it('names values exactly and folders safely', function()
    assert.equal('0.1', E.value_string(0.1))
    assert.equal('1.0', E.value_string(1.0))
    assert.equal('3', E.value_string(3))
    assert.equal('true', E.value_string(true))
    assert.equal('1e-05', E.value_string(1e-5))
    local cells = E.expand_grid{{'h0', {'learned+noise', 'a b/c'}}, {'lr', {0.001}}}
    assert.equal('h0=learned+noise,lr=0.001', cells[1].dir)
    assert.equal('h0=a_b_c,lr=0.001', cells[2].dir)
    assert.equal('h0=a b/c,lr=0.001', cells[2].name)
  end)

  it('checks the declaration', function()
    assert.has_error(function() E.new{name = 'bad name', setup = print, step = print} end)
    assert.has_error(function() E.new{name = 'x', step = print} end)
    assert.has_error(function() E.new{name = 'x', setup = print, step = print, grid = {{'a', {}}}} end)
    assert.has_error(function() E.new{name = 'x', setup = print, step = print, config = {t = {}}} end)
    local ok, err = pcall(E.new, {name = 'x', setup = print, step = print, gird = {}})
    assert.is_false(ok)
    assert.truthy(err:find("unknown field 'gird'", 1, true))
    local e = E.new{name = 'x', setup = print, step = print, config = {steps = 50}}
    assert.equal(5, e.config.checkpoint_every)
    assert.equal(0, e.config.eval_every)
    assert.same({1}, e.seeds)
  end)
end)

describe('rnn.experiment JSON', function()
  it('sorts keys and writes numbers exactly', function()
    assert.equal('{"a":1,"b":[0.10000000000000001,true,"s"],"c":{"x":null,"y":-2.5}}',
      json.encode{c = {y = -2.5, x = json.null}, a = 1, b = {0.1, true, 's'}})
    assert.equal('[NaN,Infinity,-Infinity,3]', json.encode{0 / 0, math.huge, -math.huge, 3})
    assert.equal('[]', json.encode(json.array{}))
    assert.equal('{"step":3,"a":1,"z":2}', json.encode_ordered({z = 2, a = 1, step = 3}, {'step'}))
    local t = json.integers(json.decode('{"n":3,"f":0.5,"big":[1,2]}'))
    assert.equal('integer', math.type(t.n))
    assert.equal(0.5, t.f)
    assert.equal('integer', math.type(t.big[2]))
  end)

  it('formats metrics with %.17g and booleans as words', function()
    assert.equal('0.10000000000000001', files.csv_field(0.1))
    assert.equal('7', files.csv_field(7))
    assert.equal('nan', files.csv_field(0 / 0))
    assert.equal('-inf', files.csv_field(-math.huge))
    assert.equal('true', files.csv_field(true))
    assert.equal('"a,b"', files.csv_field('a,b'))
    assert.same({'1', 'a,b', '', 'x"y'}, files.csv_split('1,"a,b",,"x""y"'))
    assert.equal(0.1, files.csv_value('0.10000000000000001'))
  end)
end)

describe('rnn.experiment runs', function()
  local dir
  before_each(function() dir = tmpdir() fail_at = nil end)
  after_each(function() os.execute('rm -rf ' .. files.quote(dir)) fail_at = nil end)

  it('writes a folder per cell and seed with config, metrics, checkpoint and done marker', function()
    local threads_before = rnn.get_num_threads()
    local r = run(toy(), {'--out', dir})
    assert.equal(threads_before, rnn.get_num_threads())
    assert.equal(8, #r.runs)
    local rd = dir .. '/toy/opt=sgd,lr=0.05/seed-1'
    for _, f in ipairs{'config.json', 'metrics.csv', 'metrics.jsonl', 'eval.csv', 'eval.jsonl', 'series.json',
                       'checkpoint.safetensors', 'done'} do
      assert.is_true(files.exists(rd .. '/' .. f), f)
    end
    local cfg = json.decode(read(rd .. '/config.json'))
    assert.equal('toy', cfg.experiment)
    assert.equal(1, cfg.seed)
    assert.equal(0.05, cfg.config.lr)
    assert.equal('sgd', cfg.grid.opt)
    assert.equal(rnn._VERSION, cfg.environment.rnnlua)
    assert.truthy(cfg.environment.blas:find('BLAS'))
    -- every run on one BLAS thread unless --threads says otherwise, whatever the launcher; the
    -- caller's thread count is left as it was
    assert.equal(1, cfg.environment.threads)
    assert.truthy(cfg.environment.git_commit == json.null or cfg.environment.git_commit:match('^%x+$'))
    local lines = {}
    for l in read(rd .. '/metrics.csv'):gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.equal(21, #lines)
    assert.equal('step,loss,clipped,grad_norm,seen', lines[1])
    assert.truthy(lines[2]:match('^1,%-?[%d.e+-]+,%a+,[%d.e+-]+,16$'))
    -- the checkpoint holds the model, the optimizer and the metadata
    local t, meta = rnn.load(rd .. '/checkpoint.safetensors')
    assert.is_not_nil(t['model.weight'])
    assert.is_not_nil(t['optim.state.1.momentum_buffer'])
    assert.equal('20', meta.step)
    assert.equal(6, #json.decode(meta.rng))
    assert.equal(20, #json.decode(meta.clip).history)
    assert.equal(320, json.decode(meta.extra).seen)
    local done = json.decode(read(rd .. '/done'))
    assert.equal(20, done.step)
    assert.is_number(done.eval.val_loss)
  end)

  it('starts every run from a collected heap: the model of the run before is gone at setup', function()
    -- (the garbage of a bigger run before would set the collector's pace
    -- for this one: a small model's steps then run slower)
    local previous = setmetatable({}, {__mode = 'k'})
    local alive_at_setup = {}
    local spec = toy{grid = {{'opt', {'sgd', 'adam'}}}, seeds = 1, config = {steps = 2, checkpoint_every = 1,
      batch = 4, noise = 0.1, tag = 'x', flag = false, lr = 0.05}}
    local setup = spec.setup_fn
    spec.setup_fn = function(cfg, seed)
      local n = 0
      for _ in pairs(previous) do n = n + 1 end
      alive_at_setup[#alive_at_setup + 1] = n
      local s = setup(cfg, seed)
      previous[s.model] = true
      return s
    end
    run(spec, {'--out', dir})
    assert.are.same({0, 0}, alive_at_setup)
  end)

  it('trains every cell of a seed on the same batches, however much their setups drew', function()
    local exp = E.new{
      name = 'streams', grid = {{'width', {1, 50}}}, config = {steps = 3, checkpoint_every = 3}, seeds = {1, 2},
      setup = function(cfg) return {model = rnn.nn.Linear(cfg.width, 1)} end, -- 2 or 51 draws
      step = function() return {batch = rnn.rand(1):item(), noise = rnn.randn(1):item()} end,
    }
    local r = run(exp, {'--out', dir})
    assert.equal(4, #r.runs)
    for _, seed in ipairs{1, 2} do
      local narrow = read(dir .. '/streams/width=1/seed-' .. seed .. '/metrics.csv')
      local wide = read(dir .. '/streams/width=50/seed-' .. seed .. '/metrics.csv')
      assert.equal(narrow, wide)
    end
    assert.are_not.equal(read(dir .. '/streams/width=1/seed-1/metrics.csv'),
      read(dir .. '/streams/width=1/seed-2/metrics.csv'))
    -- and the first batch is not the setup's first draw replayed
    rnn.manual_seed(1)
    local first = rnn.rand(1):item()
    assert.falsy(read(dir .. '/streams/width=1/seed-1/metrics.csv'):find(string.format('%.6f', first):sub(1, 7), 1,
      true))
    local done = json.decode(read(dir .. '/streams/width=50/seed-1/done'))
    assert.equal(json.decode(read(dir .. '/streams/width=1/seed-1/done')).train_rng, done.train_rng)
  end)

  it('gives identical files for identical runs, and config JSON identical text', function()
    local dir2 = tmpdir()
    run(toy(), {'--out', dir, '--only', 'adam'})
    run(toy(), {'--out', dir2, '--only', 'adam'})
    for _, rel in ipairs{'opt=adam,lr=0.1/seed-2', 'opt=adam,lr=0.05/seed-1'} do
      for _, f in ipairs{'config.json', 'metrics.csv', 'metrics.jsonl', 'eval.csv', 'done', 'series.json'} do
        assert.equal(read(dir .. '/toy/' .. rel .. '/' .. f), read(dir2 .. '/toy/' .. rel .. '/' .. f), rel .. '/' .. f)
      end
    end
    os.execute('rm -rf ' .. files.quote(dir2))
  end)

  it('resumes a failed run from its checkpoint to the same files, and skips finished runs', function()
    local ref = tmpdir()
    run(toy(), {'--out', ref, '--only', 'opt=adam,lr=0.1', '--seeds', '1'})
    fail_at = 13
    local ok, err = pcall(run, toy(), {'--out', dir, '--only', 'opt=adam,lr=0.1', '--seeds', '1'})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('injected failure at step 13', 1, true))
    local rd = dir .. '/toy/opt=adam,lr=0.1/seed-1'
    assert.is_false(files.exists(rd .. '/done'))
    local _, meta = rnn.load(rd .. '/checkpoint.safetensors')
    assert.equal('10', meta.step)
    fail_at = nil
    local r = run(toy(), {'--out', dir, '--only', 'opt=adam,lr=0.1', '--seeds', '1'})
    assert.equal('ran', r.runs[1].status)
    for _, f in ipairs{'metrics.csv', 'metrics.jsonl', 'eval.csv', 'eval.jsonl', 'done'} do
      assert.equal(read(ref .. '/toy/opt=adam,lr=0.1/seed-1/' .. f), read(rd .. '/' .. f), f)
    end
    r = run(toy(), {'--out', dir, '--only', 'opt=adam,lr=0.1', '--seeds', '1'})
    assert.equal('skipped', r.runs[1].status)
    os.execute('rm -rf ' .. files.quote(ref))
  end)

  it('evaluating during training changes nothing of the training run', function()
    local dir2 = tmpdir()
    run(toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1'})
    run(toy(), {'--out', dir2, '--only', 'opt=sgd,lr=0.1', '--seeds', '1', '--set', 'eval_every=4'})
    local rel = '/toy/opt=sgd,lr=0.1/seed-1/'
    assert.equal(read(dir .. rel .. 'metrics.csv'), read(dir2 .. rel .. 'metrics.csv'))
    local _, rows = files.read_csv(dir2 .. rel .. 'eval.csv')
    assert.equal(5, #rows) -- steps 4, 8, 12, 16 and the final 20
    assert.equal(20, rows[5][1])
    os.execute('rm -rf ' .. files.quote(dir2))
  end)

  it('refuses to continue a run made with another configuration; --fresh starts over', function()
    run(toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1'})
    local ok, err = pcall(run, toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1', '--set',
      'noise=0.2'})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('another configuration', 1, true))
    assert.truthy(tostring(err):find('noise', 1, true))
    local r = run(toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1', '--set', 'noise=0.2', '--fresh'})
    assert.equal('ran', r.runs[1].status)
    assert.equal(0.2, json.decode(read(dir .. '/toy/opt=sgd,lr=0.1/seed-1/config.json')).config.noise)
  end)

  it('writes the summary, SVG plots and index.html', function()
    local r = run(toy(), {'--out', dir})
    local ed = dir .. '/toy'
    local csv = read(ed .. '/summary.csv')
    assert.truthy(csv:find('^opt,lr,cell,runs,diverged,val_loss_n,val_loss_mean,val_loss_sd,val_loss_ci_low,'
      .. 'val_loss_ci_high,'
      .. 'val_loss_diverged,train_loss_n'))
    local md = read(ed .. '/summary.md')
    assert.truthy(md:find('±', 1, true))
    assert.truthy(md:find('| sgd ', 1, true))
    assert.truthy(md:find('sample sd', 1, true))
    assert.equal(4, #r.rows)
    assert.equal(2, r.rows[1].n)
    assert.is_number(r.rows[1].stats.val_loss.sd)
    -- a grid of 2 x 2: opt pairs at each lr, lr pairs at each opt; per metric
    local cmp = read(ed .. '/comparisons.csv')
    assert.truthy(cmp:find('^metric,cell_a,cell_b,n,diff,ci_low,ci_high,p,p_holm,effect,n_for_power,'))
    local lines = select(2, cmp:gsub('\n', ''))
    local metrics = 0
    for _ in pairs(r.rows[1].stats) do metrics = metrics + 1 end
    assert.equal(1 + 4 * metrics, lines)
    assert.truthy(read(ed .. '/comparisons.md'):find('p (Holm)', 1, true))
    assert.truthy(md:find('n for 80% power', 1, true))
    local html = read(ed .. '/index.html')
    assert.truthy(html:find('Linear regression, for the tests.', 1, true))
    assert.truthy(html:find('<svg', 1, true))
    local n = 0
    for _, name in ipairs{'loss', 'grad_norm', 'clipped', 'seen', 'series_curve'} do
      local text = read(ed .. '/plots/' .. name .. '.svg')
      n = n + 1
      assert.truthy(text:find('^<%?xml version="1.0"'), name)
      assert.truthy(text:find('<path d="M', 1, true), name)
      -- well formed: every element opened is closed, in order
      local stack = {}
      for close, tag, selfclose in text:gmatch('<(/?)([%w:]+)[^>]-(/?)>') do
        if close == '/' then
          assert.equal(table.remove(stack), tag, name)
        elseif selfclose ~= '/' then
          stack[#stack + 1] = tag
        end
      end
      assert.equal(0, #stack, name)
    end
    assert.equal(5, n)
  end)
end)

describe('rnn.experiment summary', function()
  it('computes mean, sample sd and a t interval per cell; non-finite values are counted as diverged', function()
    local summary = require 'rnn.experiment.summary'
    local opts = summary.options()
    local s = summary.describe({[1] = 1, [2] = 2, [3] = 3, [4] = 4}, opts)
    assert.equal(2.5, s.mean)
    assert.near(math.sqrt(5 / 3), s.sd, 1e-15)
    -- mean -+ t(0.975, 3) sd / sqrt(4), by hand with scipy.stats.t.ppf
    assert.near(0.445739743239121, s.ci_low, 1e-12)
    assert.near(4.5542602567608785, s.ci_high, 1e-12)
    assert.equal('2.5 ± 1.3 [0.4457, 4.554]', summary.format(s))
    s = summary.describe({[1] = 1, [2] = 0 / 0, [3] = 3, [4] = math.huge}, opts)
    assert.same({2, 2, 4}, {s.n, s.diverged, s.runs})
    assert.equal(2, s.mean)
    assert.truthy(summary.format(s):find('diverged 2/4', 1, true))
    s = summary.describe({[1] = 0 / 0, [2] = 0 / 0}, opts)
    assert.equal('diverged 2/2', summary.format(s))
    assert.equal('7', summary.format(summary.describe({[1] = 7}, opts)))
    -- a bootstrap interval where asked: deterministic, near the t interval
    local xs = {}
    for i = 1, 40 do xs[i] = math.sin(i) end
    local b1 = summary.describe(xs, summary.options{ci = 'bootstrap'})
    local b2 = summary.describe(xs, summary.options{ci = 'bootstrap'})
    local t = summary.describe(xs, opts)
    assert.equal(b1.ci_low, b2.ci_low)
    assert.near(t.ci_low, b1.ci_low, 0.05)
    assert.near(t.ci_high, b1.ci_high, 0.05)
  end)

  it('summarizes per cell with success rates', function()
    local cells = E.expand_grid{{'a', {'x', 'y'}}}
    local runs = {
      {cell = 'a=x', seed = 1, done = {eval = {v = 1.0, success = true}, train = {loss = 3}}},
      {cell = 'a=x', seed = 2, done = {eval = {v = 3.0, success = false}, train = {loss = 5}}},
      {cell = 'a=y', seed = 1, done = {eval = {v = 2.0, success = true}, train = {loss = 1}}},
      {cell = 'a=y', seed = 2},
    }
    local rows, names = report.summarize(cells, runs)
    assert.same({'v', 'train_loss'}, names)
    assert.equal(2, rows[1].stats.v.mean)
    assert.near(math.sqrt(2), rows[1].stats.v.sd, 1e-15)
    assert.equal(4, rows[1].stats.train_loss.mean)
    -- Wilson's interval of 1/2: SciPy's binomtest(1, 2).proportion_ci(method='wilson')
    assert.equal(1, rows[1].success.k)
    assert.equal(2, rows[1].success.n)
    assert.near(0.09453120573423, rows[1].success.ci_low, 1e-12)
    assert.near(0.90546879426577, rows[1].success.ci_high, 1e-12)
    assert.equal(1, rows[2].n)
    assert.equal(2, rows[2].total)
    local md = report.markdown({'a'}, rows, names)
    assert.truthy(md:find('| x | 2      | 2 ± 1.4 [-10.71, 14.71] | 4 ± 1.4 [-8.706, 16.71] | 1/2 (50%) [9%, 91%]    |', 1, true))
    assert.truthy(md:find('1 of 2', 1, true))
    local summary = require 'rnn.experiment.summary'
    local csv = summary.csv({'a'}, rows, names)
    assert.truthy(csv:find('^a,cell,runs,diverged,'))
    assert.truthy(csv:find(',success_rate,success_count,success_runs,success_ci_low,success_ci_high\n', 1, true))
    assert.truthy(csv:find('\nx,a=x,2,0,.*,0%.5,1,2,0%.0945312057342%d*,0%.9054687942657%d*\n'), csv)
    -- an axis called cell keeps its name; the cell names become cell_name
    rows[1].values, rows[2].values = {cell = 'x'}, {cell = 'y'}
    assert.truthy(summary.csv({'cell'}, rows, names):find('^cell,cell_name,runs,diverged,'))
  end)

  it('draws log axes, bands and breaks lines at non-finite points', function()
    local text = svg.line_plot{title = 'a <b> & c', log_y = true, series = {
      {label = 'one', x = {1, 2, 3, 4}, y = {1, 0.1, 0 / 0, 0.01}, lo = {0.5, 0.05, 0 / 0, 0.005}, hi = {2, 0.2, 0 / 0, 0.02}},
    }}
    assert.truthy(text:find('a &lt;b&gt; &amp; c', 1, true))
    assert.truthy(text:find('<polygon', 1, true))
    local d = text:match('<path d="([^"]+)"')
    local moves = select(2, d:gsub('M', ''))
    assert.equal(2, moves)
    assert.truthy(text:find('>0.01<', 1, true))
    local empty = svg.line_plot{series = {}}
    assert.truthy(empty:find('no data', 1, true))
  end)
end)

describe('rnn.experiment command line', function()
  local exp = toy()

  it('parses seeds, steps, out, only, fresh and --set values', function()
    local o = assert(exp:parse{'--seeds', '3', '--steps', '7', '--out', 'x', '--only', 'adam', '--fresh', '--set',
      'noise=0.5', '--set', 'tag=hello', '--set', 'flag=true', '--set', 'batch=8'})
    assert.same({1, 2, 3}, o.seeds)
    assert.equal(7, o.overrides.steps)
    assert.equal('x', o.out)
    assert.same({'adam'}, o.only)
    assert.is_true(o.fresh)
    assert.equal(0.5, o.overrides.noise)
    assert.equal('hello', o.overrides.tag)
    assert.is_true(o.overrides.flag)
    assert.equal(8, o.overrides.batch)
    assert.equal('integer', math.type(o.overrides.batch))
    assert.equal('runs', assert(exp:parse{}).out)
  end)

  it('refuses unknown keys, listing the known ones, and values of the wrong type', function()
    local o, err = exp:parse{'--set', 'nosie=0.5'}
    assert.is_nil(o)
    assert.truthy(err:find("unknown key 'nosie'", 1, true))
    assert.truthy(err:find('known: batch, checkpoint_every, eval_every, flag, lr, noise, opt, steps, tag', 1, true))
    o, err = exp:parse{'--set', 'noise=abc'}
    assert.is_nil(o)
    assert.truthy(err:find('noise must be a number', 1, true))
    o, err = exp:parse{'--set', 'noise'}
    assert.is_nil(o)
    assert.truthy(err:find('key=value', 1, true))
    o, err = exp:parse{'--seeds', '0'}
    assert.is_nil(o)
    assert.truthy(err:find('--seeds must be a positive integer', 1, true))
    o, err = exp:parse{'--set', 'steps=2.5'}
    assert.is_nil(o)
    o, err = exp:parse{'--bogus'}
    assert.is_nil(o)
    assert.truthy(err:find('bogus', 1, true))
  end)

  it('reads the scale-out options and refuses bad ones, naming the option', function()
    local o = assert(exp:parse{})
    assert.equal('auto', o.jobs)
    assert.equal('local', o.launcher)
    o = assert(exp:parse{'--jobs', '3', '--threads', '2'})
    assert.equal(3, o.jobs)
    assert.equal(2, o.threads)
    o = assert(exp:parse{'--launcher', 'slurm', '--slurm', 'partition=cpu', '--slurm', 'time=02:00:00',
                         '--array-limit', '4'})
    assert.same({{'partition', 'cpu'}, {'time', '02:00:00'}}, o.slurm)
    assert.equal(4, o.array_limit)
    for _, case in ipairs{
      {{'--jobs', '0'}, '--jobs must be a positive integer'},
      {{'--jobs', 'many'}, '--jobs must be a positive integer'},
      {{'--launcher', 'pbs'}, "--launcher must be 'local' or 'slurm', got 'pbs'"},
      {{'--slurm', 'partition=cpu'}, '--slurm goes with --launcher slurm'},
      {{'--launcher', 'slurm', '--slurm', 'partition'}, 'expected key=value'},
      {{'--array-limit', '2'}, '--array-limit goes with --launcher slurm'},
    } do
      local bad, err = exp:parse(case[1])
      assert.is_nil(bad, table.concat(case[1], ' '))
      assert.truthy(err:find(case[2], 1, true), err)
    end
    -- the worker and report options are there but not in --help
    assert.equal('h/seed-1', assert(exp:parse{'--worker', 'h/seed-1'}).worker)
    assert.is_true(assert(exp:parse{'--report'}).report_only)
    assert.falsy(exp:help():find('--worker', 1, true))
    assert.truthy(exp:help():find('--jobs', 1, true))
  end)

  it('takes one worker a core, capped by the runs still to do; 1 with no command to start workers', function()
    local sweep = require 'rnn.experiment.sweep'
    local cores = require('luv').available_parallelism()
    local runs = {}
    for i = 1, 5 do runs[i] = {dir = '/nonexistent/run-' .. i} end
    assert.equal(math.min(cores, 5), (sweep.jobs({jobs = 'auto', command = {'x'}}, runs)))
    assert.equal(1, (sweep.jobs({jobs = 'auto', command = {'x'}}, {runs[1]})))
    assert.equal(1, (sweep.jobs({jobs = 'auto'}, runs)))
    assert.equal(5, (sweep.jobs({jobs = 8, command = {'x'}}, runs)))
    local o = assert(exp:parse{'--jobs', '2', '--out', '/nonexistent-rnnlua-dir'})
    local ok, err = pcall(exp.execute, exp, o)
    assert.is_false(ok)
    assert.truthy(tostring(err):find('jobs > 1 starts the script again', 1, true))
  end)

  it('narrows a grid axis set with --set and selects cells with --only', function()
    local o = assert(exp:parse{'--set', 'opt=adam'})
    local cells = exp:cells(o)
    assert.equal(2, #cells)
    assert.equal('opt=adam,lr=0.05', cells[1].name)
    o = assert(exp:parse{'--only', 'lr=0.1'})
    assert.equal(2, #exp:cells(o))
    o = assert(exp:parse{'--only', 'nothing'})
    assert.has_error(function() exp:execute(o) end)
  end)

  it('--help lists the description, options, configuration and grid', function()
    local o = assert(exp:parse{'--help'})
    assert.is_true(o.help)
    local h = exp:help()
    for _, want in ipairs{'Linear regression, for the tests.', '--seeds', '--steps', '--out', '--set', '--only',
                          '--fresh', 'checkpoint_every', 'noise', 'Grid (4 cells', 'sgd, adam'} do
      assert.truthy(h:find(want, 1, true), want)
    end
  end)
end)

describe('rnn.experiment comparisons', function()
  local compare = require 'rnn.experiment.compare'
  local summary = require 'rnn.experiment.summary'

  it('pairs the cells that differ in one axis, or each cell with its baseline', function()
    local cells = E.expand_grid{{'a', {'x', 'y', 'z'}}, {'b', {1, 2}}}
    local axes, values = {'a', 'b'}, {a = {'x', 'y', 'z'}, b = {1, 2}}
    local ps = compare.pairs(cells, axes, values)
    assert.equal(9, #ps) -- a: 3 pairs at each b; b: one pair at each a
    for _, p in ipairs(ps) do
      local other = p.axis == 'a' and 'b' or 'a'
      assert.equal(p.a.values[other], p.b.values[other])
      -- the later value of the axis is cell_a
      local function idx(v) for i, x in ipairs(values[p.axis]) do if x == v then return i end end end
      assert.is_true(idx(p.a.values[p.axis]) > idx(p.b.values[p.axis]))
    end
    ps = compare.pairs(cells, axes, values, {a = 'x'})
    assert.equal(4, #ps)
    for _, p in ipairs(ps) do assert.equal('x', p.b.values.a) end
  end)

  -- the values of two cells over four seeds; references: scipy.stats
  -- ttest_rel / ttest_ind(equal_var=False) and the t interval by hand
  local A = {1.0, 2.0, 3.5, 4.0}
  local B = {0.5, 1.7, 3.0, 3.9}
  local function ctx_of(a, b, extra)
    local runs = {}
    for i = 1, #a do
      runs[#runs + 1] = {cell = 'h=y', seed = i, done = {eval = {v = a[i]}, train_rng = 'f' .. i}}
      runs[#runs + 1] = {cell = 'h=x', seed = i, done = {eval = {v = b[i]}, train_rng = 'f' .. i}}
    end
    local ctx = {cells = E.expand_grid{{'h', {'x', 'y'}}}, axes = {'h'}, axis_values = {h = {'x', 'y'}}, runs = runs}
    for k, v in pairs(extra or {}) do ctx[k] = v end
    return ctx
  end

  it('tests paired seeds with the paired t test, and says whether they drew the same numbers', function()
    local rows = compare.compare(ctx_of(A, B), {'v'})
    assert.equal(1, #rows)
    local r = rows[1]
    assert.same({'v', 'h=y', 'h=x', 4, 'yes', 'yes'}, {r.metric, r.cell_a, r.cell_b, r.n, r.paired, r.same_draws})
    assert.near(0.35, r.diff, 1e-15)
    assert.near(0.0453039638341845, r.ci_low, 1e-12)
    assert.near(0.6546960361658156, r.ci_high, 1e-12)
    assert.near(0.035352847002517326, r.p, 1e-10)
    assert.near(0.7417826332156517, r.p_welch, 1e-10)
    assert.near(1.827815387534828, r.effect, 1e-12)
    assert.equal(r.p, r.p_holm) -- a family of one
    assert.is_true(r.boot_low < r.diff and r.diff < r.boot_high)
    assert.is_true(r.n_for_power >= 2 and r.n_for_power <= 6)
    local csv = compare.csv(rows)
    assert.truthy(csv:find('\nv,h=y,h=x,4,0.35', 1, true))
  end)

  it('leaves out and counts seeds with a non-finite value; draws differ when the setups did', function()
    local a = {A[1], 0 / 0, A[3], A[4]}
    local ctx = ctx_of(a, B)
    ctx.runs[1].done.train_rng = 'other'
    local r = compare.compare(ctx, {'v'})[1]
    assert.equal(3, r.n)
    assert.equal(1, r.diverged)
    assert.near(0.11070270820011234, r.p, 1e-10) -- ttest_rel on the three finite pairs
    assert.equal('some', r.same_draws)
    local md = compare.markdown({r})
    assert.truthy(md:find('3 (1 diverged)', 1, true))
    assert.falsy(md:find('nan', 1, true))
  end)

  it('uses Welch when seeds are declared unpaired, and Holm over the comparisons of a metric', function()
    local r = compare.compare(ctx_of(A, B, {paired = false}), {'v'})[1]
    assert.equal('no', r.paired)
    assert.near(0.7417826332156517, r.p, 1e-10)
    assert.is_nil(r.boot_low)
    -- three cells on one axis: three comparisons, one family
    local runs = {}
    local vals = {x = {1, 2, 3, 4}, y = {1.5, 2.4, 3.6, 4.3}, z = {3, 4.1, 5, 6.2}}
    for cell, vs in pairs(vals) do
      for i, v in ipairs(vs) do runs[#runs + 1] = {cell = 'h=' .. cell, seed = i, done = {eval = {v = v}}} end
    end
    local rows = compare.compare({cells = E.expand_grid{{'h', {'x', 'y', 'z'}}}, axes = {'h'},
      axis_values = {h = {'x', 'y', 'z'}}, runs = runs}, {'v'})
    assert.equal(3, #rows)
    local ps = {}
    for i, row in ipairs(rows) do ps[i] = row.p end
    local sorted = {table.unpack(ps)}
    table.sort(sorted)
    for _, row in ipairs(rows) do
      -- Holm: the k-th smallest p times (3 - k + 1), monotone, at most 1
      local k
      for i, p in ipairs(sorted) do if p == row.p then k = i end end
      local expect = 0
      for i = 1, k do expect = math.max(expect, math.min(1, sorted[i] * (3 - i + 1))) end
      assert.near(expect, row.p_holm, 1e-15)
    end
  end)

  it('leaves out metrics that no paired cells change: properties of the seed, not outcomes', function()
    local ctx = ctx_of(A, B)
    for _, r in ipairs(ctx.runs) do r.done.eval.w = 10 * r.seed end -- differs by seed, not by cell
    local rows = compare.compare(ctx, {'v', 'w'})
    assert.equal(1, #rows)
    assert.equal('v', rows[1].metric)
    ctx.runs[1].done.eval.w = 11 -- now one pair differs: w is compared
    rows = compare.compare(ctx, {'v', 'w'})
    assert.equal(2, #rows)
    assert.equal('w', rows[2].metric)
    -- unpaired seeds say nothing about seed-by-seed equality: w stays
    ctx = ctx_of(A, B, {paired = false})
    for _, r in ipairs(ctx.runs) do r.done.eval.w = 10 * r.seed end
    assert.equal(2, #compare.compare(ctx, {'v', 'w'}))
  end)

  it('takes the seeds for 80% power from a declared min_effect', function()
    local r = compare.compare(ctx_of(A, B, {min_effect = {v = 0.05}}), {'v'})[1]
    local big = compare.compare(ctx_of(A, B), {'v'})[1]
    assert.is_true(r.n_for_power > big.n_for_power)
  end)

  it('refuses bad statistics options in the declaration, naming the field', function()
    local function bad(fields, pattern)
      local ok, err = pcall(toy, fields)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(pattern), tostring(err))
    end
    bad({baseline = {nope = 1}}, "baseline: 'nope' is not a grid axis")
    bad({baseline = {opt = 'rmsprop'}}, "baseline: rmsprop is not a value of grid axis 'opt'")
    bad({stats = {level = 1.5}}, 'stats.level must be a number in %(0, 1%)')
    bad({stats = {ci = 'normal'}}, "stats.ci must be 't' or 'bootstrap'")
    bad({min_effect = {val_loss = -1}}, 'min_effect.val_loss must be a positive finite number')
    bad({paired = 'yes'}, 'paired must be a boolean')
  end)
end)

describe('rnn.experiment --target-ci', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute('rm -rf "' .. dir .. '"') end)

  it('parses metric=width, --max-seeds and --seed-batch, and refuses bad ones', function()
    local exp = toy()
    local o = assert(exp:parse{'--target-ci', 'val_loss=0.02', '--max-seeds', '9', '--seed-batch', '3'})
    assert.same({{'val_loss', 0.02}}, o.target_ci)
    assert.same({9, 3}, {o.max_seeds, o.seed_batch})
    assert.same({3, 5, 8}, assert(exp:parse{'--seed-list', '3,5,8'}).seeds)
    for _, case in ipairs{
      {{'--target-ci', 'val_loss'}, 'expected metric=width'},
      {{'--target-ci', 'val_loss=-1'}, 'expected metric=width with a positive width'},
      {{'--max-seeds', '4'}, '--max-seeds goes with --target-ci'},
      {{'--target-ci', 'val_loss=1', '--seed-batch', '0'}, '--seed-batch must be a positive integer'},
      {{'--target-ci', 'val_loss=1', '--launcher', 'slurm'}, 'not with --launcher slurm'},
    } do
      local bad, err = exp:parse(case[1])
      assert.is_nil(bad, table.concat(case[1], ' '))
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it('stops at once when the intervals are narrow enough, else adds seeds up to --max-seeds', function()
    local r = run(toy(), {'--out', dir, '--seeds', '2', '--only', 'lr=0.1', '--target-ci', 'val_loss=1e9'})
    assert.same({'target', 1}, {r.adaptive.reason, r.adaptive.rounds})
    assert.same({1, 2}, r.adaptive.seeds)
    r = run(toy(), {'--out', dir, '--seeds', '2', '--only', 'lr=0.1', '--target-ci', 'val_loss=1e-12',
      '--max-seeds', '5', '--seed-batch', '2'})
    assert.same({'max-seeds', 3}, {r.adaptive.reason, r.adaptive.rounds})
    assert.same({1, 2, 3, 4, 5}, r.adaptive.seeds)
    assert.truthy(io.open(dir .. '/toy/opt=adam,lr=0.1/seed-5/done'))
    assert.equal(5, r.comparisons[1].n)
    local md = read(dir .. '/toy/summary.md')
    assert.truthy(md:find('stopped at --max-seeds 5', 1, true), md)
    assert.truthy(read(dir .. '/toy/index.html'):find('--target-ci: 5 seeds in 3 rounds', 1, true))
    local ok, err = pcall(run, toy(), {'--out', dir, '--seeds', '2', '--only', 'lr=0.1', '--target-ci', 'nope=1'})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("no comparison has the metric 'nope'", 1, true), tostring(err))
  end)
end)

describe('rnn.experiment select (best and last)', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute('rm -rf "' .. dir .. '"') end)

  it('keeps the checkpoint of the best evaluation and reports best beside final', function()
    local r = run(toy{select = 'val_loss'}, {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--set', 'eval_every=3'})
    local rd = dir .. '/toy/opt=sgd,lr=0.1/seed-1'
    local done = json.integers(json.decode(read(rd .. '/done')))
    -- the lowest finite val_loss of eval.csv, the earliest on ties
    local header, rows = files.read_csv(rd .. '/eval.csv')
    local col
    for i, h in ipairs(header) do if h == 'val_loss' then col = i end end
    local best_step, best_v = nil, math.huge
    for _, row in ipairs(rows) do
      if row[col] < best_v then best_step, best_v = row[1], row[col] end
    end
    assert.same({best_step, best_v, 'val_loss', 'min'}, {done.best.step, done.best.value, done.best.metric,
      done.best.mode})
    local _, meta = rnn.load(rd .. '/best.safetensors')
    assert.equal(tostring(best_step), tostring(meta.step))
    local names = {}
    for name in pairs(r.rows[1].stats) do names[name] = true end
    assert.is_true(names.best_val_loss and names.best_step)
    local md = read(dir .. '/toy/summary.md')
    assert.truthy(md:find('| val_loss[^\n]*| best_val_loss[^\n]*| best_step'), md)
  end)

  it('refuses a bad select', function()
    for _, case in ipairs{
      {{select = 3}, 'select must be a metric name'},
      {{select = {metric = 'val_loss', mode = 'lowest'}}, "select: mode must be 'min' or 'max'"},
    } do
      local ok, err = pcall(toy, case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
    end
    local ok, err = pcall(E.new, {name = 'x', setup = print, step = print, select = 'v'})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('select needs an evaluate function', 1, true), tostring(err))
  end)
end)

describe('rnn.experiment forest plot', function()
  it('draws one row per comparison with its interval and a dashed zero line', function()
    local text = svg.forest_plot{title = 'val_loss <diffs>', xlabel = 'a − b', rows = {
      {label = 'h0=learned − h0=zero', est = -0.2, lo = -0.5, hi = 0.1},
      {label = 'h0=random − h0=zero', est = 0.3, lo = 0.1, hi = 0.5},
      {label = 'too few seeds', est = 0.1},
      {label = 'none'},
    }}
    assert.truthy(text:find('val_loss &lt;diffs&gt;', 1, true))
    assert.truthy(text:find('stroke-dasharray', 1, true))
    assert.equal(3, select(2, text:gsub('<rect x=', '')))
    assert.truthy(text:find('-0.2 [-0.5, 0.1]', 1, true))
    assert.truthy(text:find('>n/a<', 1, true))
    -- the zero line sits between the ticks at -0.5 and 0.5
    local zero = tonumber(text:match('<line x1="([%d.]+)"[^>]*stroke%-dasharray'))
    local function tick_x(v) return tonumber(text:match('<text x="([%d.]+)"[^>]*>' .. v .. '</text>')) end
    assert.is_true(tick_x('%-0.4') < zero and zero < tick_x('0.4'))
    local stack = {}
    for close, tag, selfclose in text:gmatch('<(/?)([%w:]+)[^>]-(/?)>') do
      if close == '/' then assert.equal(table.remove(stack), tag)
      elseif selfclose ~= '/' then stack[#stack + 1] = tag end
    end
    assert.equal(0, #stack)
  end)
end)

describe('rnn.experiment presets', function()
  local presets = {paper = {description = 'More seeds and steps.', config = {steps = 6, noise = 0.2, extra_key = 3},
                            seeds = 3, grid = {{'opt', {'sgd'}}, {'lr', {0.05, 0.1, 0.2}}}}}

  it('runs the preset: its config merged, its grid and seeds, results in <name>-<preset>', function()
    local exp = toy{presets = presets}
    local d = tmpdir()
    local o = assert(exp:parse{'--preset', 'paper', '--out', d, '--set', 'extra_key=4', '--seeds', '2'})
    assert.equal('paper', o.preset)
    assert.equal(4, o.overrides.extra_key)
    o.quiet = true
    local r = exp:execute(o)
    assert.equal(d .. '/toy-paper', r.dir)
    assert.equal(3 * 2, #r.runs)
    local cfg = json.decode(read(d .. '/toy-paper/opt=sgd,lr=0.2/seed-2/config.json'))
    assert.equal(6, cfg.config.steps)
    assert.equal(0.2, cfg.config.noise)
    assert.equal(4, cfg.config.extra_key)
    assert.equal(16, cfg.config.batch)  -- from the declaration
    assert.is_nil(io.open(d .. '/toy/summary.md'))
    -- without --seeds, the preset's three
    r = run(exp, {'--preset', 'paper', '--out', d, '--set', 'extra_key=4'})
    assert.equal(9, #r.runs)
    os.execute('rm -rf ' .. d)
  end)

  it('lists presets in --help and refuses an unknown one or a bad declaration', function()
    local exp = toy{presets = presets}
    local h = exp:help()
    assert.truthy(h:find('--preset', 1, true))
    assert.truthy(h:find('Preset paper (--preset paper): 3 cells x 3 seeds', 1, true))
    assert.truthy(exp.presets.paper:help():find('More seeds and steps.', 1, true))
    local o, err = exp:parse{'--preset', 'huge'}
    assert.is_nil(o)
    assert.equal('--preset huge: no such preset (presets: paper)', err)
    -- a key only the preset has is unknown without it
    o, err = exp:parse{'--set', 'extra_key=1'}
    assert.is_nil(o)
    assert.truthy(err:find("unknown key 'extra_key'", 1, true))
    local function refused(p, pattern)
      local ok, e = pcall(toy, {presets = p})
      assert.is_false(ok)
      assert.truthy(tostring(e):find(pattern), tostring(e))
    end
    refused({paper = {sedes = 3}}, "presets%.paper: unknown field 'sedes'")
    refused({paper = {seeds = 0}}, 'presets%.paper: seeds must be >= 1')
    refused({paper = {grid = {{'opt', {}}}}}, 'presets%.paper: grid entry 1')
    refused({paper = {baseline = {opt = 'rmsprop'}}}, 'presets%.paper: baseline: rmsprop is not a value')
    refused({['a b'] = {}}, 'a preset name must be letters')
    refused('paper', 'presets must be a table')
  end)
end)

---------------------------------------------------------------------------
-- Issue 13: the harness's sharp edges

-- the interpreter running the specs (./rnnlua or the sanitizer build)
local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or './rnnlua'
end

-- runs a shell command line (tests only); its output (stdout and stderr) and status
local function sh(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok, code
end


local function count(text, s)
  local n, i = 0, 1
  while true do
    local j = text:find(s, i, true)
    if not j then return n end
    n, i = n + 1, j + 1
  end
end

describe('rnn.experiment more steps for a finished run', function()
  local dir
  before_each(function() dir = tmpdir() fail_at = nil end)
  after_each(function() files.remove_tree(dir) fail_at = nil end)

  local REL = '/toy/opt=adam,lr=0.1/seed-1'
  local FILES = {'metrics.csv', 'metrics.jsonl', 'eval.csv', 'eval.jsonl', 'series.json', 'done',
                 'checkpoint.safetensors'}
  local function args(out, ...)
    local t = {'--out', out, '--only', 'opt=adam,lr=0.1', '--seeds', '1'}
    for _, a in ipairs{...} do t[#t + 1] = a end
    return t
  end
  local function same_files(a, b, names)
    for _, f in ipairs(names) do assert.equal(read(a .. '/' .. f), read(b .. '/' .. f), f) end
  end

  it('continues from its last checkpoint and ends with the files of a run started with that many steps', function()
    local ref = tmpdir()
    run(toy(), args(ref, '--steps', '20'))
    run(toy(), args(dir, '--steps', '12'))
    local rd = dir .. REL
    assert.equal(12, json.decode(read(rd .. '/done')).step)
    local r = run(toy(), args(dir, '--steps', '20'))
    assert.equal('ran', r.runs[1].status)
    -- (nothing in toy reads cfg.steps: the same bytes, checkpoint included)
    same_files(ref .. REL, rd, FILES)
    local cfg = json.integers(json.decode(read(rd .. '/config.json')))
    assert.equal(20, cfg.config.steps)
    assert.same({{from = 12, to = 20, keeps_eval = false}}, cfg.extended)
    -- --set steps=N asks the same; at the steps done the run is skipped
    r = run(toy(), args(dir, '--set', 'steps=20'))
    assert.equal('skipped', r.runs[1].status)
    r = run(toy(), args(dir, '--set', 'steps=24'))
    assert.equal('ran', r.runs[1].status)
    assert.equal(24, json.decode(read(rd .. '/done')).step)
    files.remove_tree(ref)
  end)

  it('keeps periodic evaluations and the best checkpoint, and survives a failure midway', function()
    local ref = tmpdir()
    local function e() return toy{select = 'val_loss'} end
    run(e(), args(ref, '--steps', '20', '--set', 'eval_every=5'))
    run(e(), args(dir, '--steps', '10', '--set', 'eval_every=5'))
    run(e(), args(dir, '--steps', '20', '--set', 'eval_every=5'))
    local names = {table.unpack(FILES)}
    names[#names + 1] = 'best.safetensors'
    same_files(ref .. REL, dir .. REL, names)
    -- evaluations every 3 steps, which 10 is not a multiple of: the old
    -- final evaluation goes; an extension that fails midway resumes to the same files
    local ref3, d3 = tmpdir(), tmpdir()
    run(toy(), args(ref3, '--steps', '20', '--set', 'eval_every=3'))
    run(toy(), args(d3, '--steps', '10', '--set', 'eval_every=3'))
    fail_at = 14
    assert.is_false(pcall(run, toy(), args(d3, '--steps', '20', '--set', 'eval_every=3')))
    assert.is_false(files.exists(d3 .. REL .. '/done'))
    fail_at = nil
    run(toy(), args(d3, '--steps', '20', '--set', 'eval_every=3'))
    same_files(ref3 .. REL, d3 .. REL, FILES)
    for _, d in ipairs{ref, ref3, d3} do files.remove_tree(d) end
  end)

  it('refuses fewer steps than a run has done, saying what to do', function()
    run(toy(), args(dir, '--steps', '12'))
    local ok, err = pcall(run, toy(), args(dir, '--steps', '8'))
    assert.is_false(ok)
    err = tostring(err)
    assert.truthy(err:find('finished at step 12, and steps = 8 asks for fewer', 1, true), err)
    assert.truthy(err:find('--steps 12', 1, true), err)
    assert.truthy(err:find('--fresh', 1, true), err)
    assert.falsy(err:find('stack traceback', 1, true), err)
    -- and any other change of the configuration is refused as before
    ok, err = pcall(run, toy(), args(dir, '--steps', '20', '--set', 'batch=8'))
    assert.is_false(ok)
    assert.truthy(tostring(err):find('another configuration (batch: 16 there, 8 now)', 1, true), tostring(err))
  end)

  it('continues, but to other numbers, when a schedule reads cfg.steps', function()
    -- a learning rate decaying linearly to 0 at cfg.steps: the first 10
    -- steps of a 10-step run already differ from those of a 20-step run
    local function decaying()
      return toy{step = function(s, cfg, step)
        local x = rnn.randn{cfg.batch, 3}
        local y = rnn.matmul(x, rnn.tensor{{1}, {-2}, {0.5}})
        s.opt.lr = cfg.lr * (1 - (step - 1) / cfg.steps)
        s.opt:zero_grad()
        local loss = F.mse(s.model(x), y)
        loss:backward()
        s.opt:step()
        return {loss = loss:item()}
      end}
    end
    local ref = tmpdir()
    run(decaying(), args(ref, '--steps', '20'))
    run(decaying(), args(dir, '--steps', '10'))
    run(decaying(), args(dir, '--steps', '20'))
    assert.equal(20, json.decode(read(dir .. REL .. '/done')).step)
    assert.are_not.equal(read(ref .. REL .. '/metrics.csv'), read(dir .. REL .. '/metrics.csv'))
    files.remove_tree(ref)
  end)
end)

-- loss = 1/step, except run k=2 seed 2, whose loss is NaN from step 6
local function diverging(fields)
  local spec = {
    name = 'div', grid = {{'k', {1, 2}}}, seeds = 2, config = {steps = 10, checkpoint_every = 4},
    setup = function(cfg, seed) return {model = rnn.nn.Linear(1, 1), seed = seed} end,
    step = function(s, cfg, step)
      local bad = cfg.k == 2 and s.seed == 2 and step >= 6
      return {loss = bad and 0 / 0 or 1 / step, grad_norm = 1}
    end,
    evaluate = function(s, cfg) return {val_loss = 0.5 + 0.1 * s.seed + cfg.k, success = true} end,
  }
  for k, v in pairs(fields or {}) do spec[k] = v end
  return E.new(spec)
end

describe('rnn.experiment divergence', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() files.remove_tree(dir) end)

  it('stops a run whose loss is NaN, marks it diverged with the step, and keeps its final evaluation', function()
    local r = run(diverging(), {'--out', dir})
    assert.equal(4, #r.runs)
    local rd = dir .. '/div/k=2/seed-2'
    local done = json.integers(json.decode(read(rd .. '/done')))
    assert.same({step = 6, metric = 'loss', value = 'nan'}, done.diverged)
    assert.equal(6, done.step)
    assert.equal(2.7, done.eval.val_loss) -- the final evaluation still ran
    local _, rows = files.read_csv(rd .. '/metrics.csv')
    assert.equal(6, #rows)
    local _, meta = rnn.load(rd .. '/checkpoint.safetensors')
    assert.equal('4', meta.step) -- the last periodic one, before it diverged
    assert.is_nil(json.decode(read(dir .. '/div/k=2/seed-1/done')).diverged)
    -- the summary: counted per cell, left out of the means, the metric columns kept
    local row = r.rows[2]
    assert.same({2, 1}, {row.n, row.diverged})
    assert.same({1, 1}, {row.stats.val_loss.n, row.stats.val_loss.diverged})
    assert.equal(2.6, row.stats.val_loss.mean)
    assert.same({1, 2}, {row.success.k, row.success.n})
    assert.equal(0, r.rows[1].diverged)
    local csv = read(dir .. '/div/summary.csv')
    local header, body = files.read_csv(dir .. '/div/summary.csv')
    local col = {}
    for i, h in ipairs(header) do col[h] = i end
    assert.truthy(col.val_loss_mean and col.val_loss_diverged and col.train_loss_mean, csv)
    assert.same({0, 1}, {body[1][col.diverged], body[2][col.diverged]})
    assert.equal(1, body[2][col.val_loss_diverged])
    local md = read(dir .. '/div/summary.md')
    assert.truthy(md:find('| 2 (1 diverged) ', 1, true), md)
    assert.truthy(md:find('diverged 1/2', 1, true), md)
    assert.truthy(read(dir .. '/div/index.html'):find('diverged at step 6 (loss nan)', 1, true))
    -- the comparison of k=2 with k=1 pairs seed 1 only, and counts seed 2
    for _, c in ipairs(r.comparisons) do
      if c.metric == 'val_loss' then assert.same({1, 1}, {c.n, c.diverged}) end
    end
    -- a diverged run is a result: rerunning skips it, even with more steps
    r = run(diverging(), {'--out', dir, '--steps', '12'})
    for _, x in ipairs(r.runs) do
      if x.rel == 'k=2/seed-2' then assert.equal('skipped', x.status) else assert.equal('ran', x.status) end
    end
    local status = require('rnn.experiment.status').collect(require('rnn.experiment.sweep').runs(
      diverging():cells(), {1, 2}, dir .. '/div'), dir .. '/div', 12)
    assert.equal('diverged at step 6 (loss nan)', status[4].detail)
  end)

  it('takes a step that raises on non-finite gradients for divergence; a failing evaluation is recorded', function()
    local exp = diverging{
      setup = function(cfg, seed)
        local m = rnn.nn.Linear(1, 1)
        return {model = m, opt = rnn.optim.SGD(m:parameters(), {lr = 0.1}), clip = rnn.clip.norm(1), seed = seed}
      end,
      step = function(s, cfg, step)
        local bad = cfg.k == 2 and step == 3
        s.broken = s.broken or bad
        local x = rnn.tensor{{bad and 0 / 0 or 1}}
        s.opt:zero_grad()
        local loss = F.mse(s.model(x), rnn.tensor{{0.5}})
        loss:backward()
        s.clip(s.model) -- rnn.clip.norm raises on a NaN norm
        s.opt:step()
        return {loss = loss:item()}
      end,
      evaluate = function(s)
        if s.broken then error('cannot evaluate a broken model') end
        return {val_loss = 1}
      end,
    }
    local r = run(exp, {'--out', dir})
    local done = json.integers(json.decode(read(dir .. '/div/k=2/seed-1/done')))
    assert.equal(3, done.diverged.step)
    assert.truthy(done.diverged.error:find('gradient norm is nan', 1, true), done.diverged.error)
    assert.truthy(done.eval_error:find('cannot evaluate a broken model', 1, true), done.eval_error)
    assert.same({}, done.eval)
    assert.same({2, 2}, {r.rows[2].n, r.rows[2].diverged})
    assert.same({0, 2}, {r.rows[2].stats.val_loss.n, r.rows[2].stats.val_loss.diverged})
  end)

  it('goes on with loss_metric = false, and refuses a bad one', function()
    local r = run(diverging{loss_metric = false}, {'--out', dir})
    assert.equal(10, json.decode(read(dir .. '/div/k=2/seed-2/done')).step)
    assert.equal(0, r.rows[2].diverged)
    local ok, err = pcall(diverging, {loss_metric = 3})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('loss_metric must be the name of a metric', 1, true), tostring(err))
  end)

  it('says so in the progress line', function()
    local progress = require 'rnn.experiment.progress'
    local lines = {}
    local out = {write = function(_, ...) for _, s in ipairs{...} do lines[#lines + 1] = s end end,
                 flush = function() end}
    local p = progress.new{mode = 'plain', out = out, runs = 1, steps = 10}
    p:start_run(1, 'k=2', 2, 0, 10)
    p:end_run({val_loss = 2.7}, {step = 6, metric = 'loss', value = 'nan'})
    local text = table.concat(lines)
    assert.truthy(text:find('k=2 seed 2: diverged at step 6 (loss nan) in', 1, true), text)
  end)
end)

describe('rnn.experiment code changes', function()
  local dir
  before_each(function() dir = tmpdir() fail_at = nil end)
  after_each(function() files.remove_tree(dir) fail_at = nil end)

  local SCRIPT = [[
local rnn = require 'rnn'
return rnn.experiment.new{name = 'scripted', config = {steps = 3, checkpoint_every = 1},
  setup = function() return {model = rnn.nn.Linear(1, 1)} end,
  step = function(s, cfg, step) return {loss = 1 / step} end}
]]

  it('records the code in config.json and refuses to reuse a run made by another script', function()
    local script = dir .. '/exp_script.lua'
    write(script, SCRIPT)
    local out = dir .. '/runs'
    run(dofile(script), {'--out', out})
    local cfg_path = out .. '/scripted/default/seed-1/config.json'
    local c = json.decode(read(cfg_path)).code
    assert.equal(script, c.script.path)
    assert.truthy(c.script.hash:match('^%x+$') and c.rnn:match('^%x+$') and c.core.hash:match('^%x+$'))
    -- the binary holding the C core: rnnlua has it built in (its preload);
    -- under plain lua5.4 it is rnn/core.so
    assert.equal(package.preload['rnn.core'] and 'rnnlua' or 'core.so', c.core.file)
    -- the same script again: skipped
    assert.equal('skipped', run(dofile(script), {'--out', out}).runs[1].status)
    write(script, SCRIPT .. '-- an edit\n')
    local ok, err = pcall(run, dofile(script), {'--out', out})
    assert.is_false(ok)
    err = tostring(err)
    for _, want in ipairs{'was made by other code: the experiment script changed', '--fresh',
                          '--allow-changed-code'} do
      assert.truthy(err:find(want, 1, true), err)
    end
    assert.equal('skipped', run(dofile(script), {'--out', out, '--allow-changed-code'}).runs[1].status)
    assert.equal('ran', run(dofile(script), {'--out', out, '--fresh'}).runs[1].status)
    assert.are_not.equal(c.script.hash, json.decode(read(cfg_path)).code.script.hash)
  end)

  it('notices another rnn library or C core, and continues a run by other code only when allowed', function()
    local only = {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1'}
    run(toy(), only)
    local cfg_path = dir .. '/toy/opt=sgd,lr=0.1/seed-1/config.json'
    local original = read(cfg_path)
    local function edit(fn)
      local doc = json.decode(original)
      fn(doc)
      write(cfg_path, json.encode(doc, {indent = 2}) .. '\n')
    end
    for _, case in ipairs{{function(d) d.code.rnn = '0000000000000000' end, 'the rnn library (Lua) changed'},
                          {function(d) d.code.core.hash = '0000000000000000' end, 'the C core changed'}} do
      edit(case[1])
      local ok, err = pcall(run, toy(), only)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
    end
    -- a run made before code was recorded is taken as it is
    edit(function(d) d.code = nil end)
    assert.equal('skipped', run(toy(), only).runs[1].status)
    -- an unfinished run by other code: refused, or continued and recorded
    files.remove_tree(dir .. '/toy')
    fail_at = 13
    assert.is_false(pcall(run, toy(), only))
    fail_at = nil
    original = read(cfg_path)
    edit(function(d) d.code.rnn = '0000000000000000' end)
    local ok, err = pcall(run, toy(), only)
    assert.is_false(ok)
    assert.truthy(tostring(err):find('was started by other code: the rnn library (Lua) changed', 1, true))
    assert.equal('ran', run(toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1',
      '--allow-changed-code'}).runs[1].status)
    local doc = json.integers(json.decode(read(cfg_path)))
    assert.equal('0000000000000000', doc.code.rnn)
    assert.equal(10, doc.continued_by[1].step)
    assert.equal(require('rnn.experiment.code').library(), doc.continued_by[1].code.rnn)
    -- the code that continued it last is this code: no question any more
    assert.equal('skipped', run(toy(), only).runs[1].status)
  end)

  it('hashes the library tree and reads the git commit without a git process', function()
    local code = require 'rnn.experiment.code'
    files.mkdir_p(dir .. '/t/sub')
    write(dir .. '/t/a.lua', 'return 1\n')
    write(dir .. '/t/sub/b.lua', 'return 2\n')
    local h1 = code.tree_hash(dir .. '/t')
    write(dir .. '/t/notes.txt', 'not code')
    assert.equal(h1, code.tree_hash(dir .. '/t'))
    write(dir .. '/t/sub/b.lua', 'return 3\n')
    assert.are_not.equal(h1, code.tree_hash(dir .. '/t'))
    assert.are_not.equal(code.hash('ab', 'c'), code.hash('a', 'bc'))
    assert.equal(code.library(), code.tree_hash(code.ROOT))
    local out, ok = sh('git rev-parse HEAD')
    if ok then assert.equal(out:match('%x+'), code.git_commit()) end
    assert.is_nil(code.git_commit('/'))
  end)
end)

describe('rnn.experiment grid axes named like columns', function()
  it('refuses them at declaration with a clear message; an axis called cell is fine', function()
    local function declare(axis)
      return pcall(E.new, {name = 'x', setup = print, step = print, grid = {{axis, {1, 2}}}})
    end
    for _, case in ipairs{{'seed', "grid axis 'seed' has the name of a column the harness writes"},
                          {'runs', 'a column of summary.csv'}, {'metric', 'comparisons.csv'},
                          {'diverged', 'runs that diverged'}, {'step', 'metrics.csv'},
                          {'val_loss_mean', "grid axis 'val_loss_mean' ends like the per-metric columns"},
                          {'lr_sd', 'ends like the per-metric columns'}} do
      local ok, err = declare(case[1])
      assert.is_false(ok, case[1])
      assert.truthy(tostring(err):find('rnn.experiment.new: ', 1, true), tostring(err))
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
    end
    assert.is_true((declare('cell')))
    assert.is_true((declare('n')))
    -- a preset's grid is checked the same way
    local ok, err = pcall(toy, {presets = {paper = {grid = {{'seed', {1}}}}}})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("presets.paper: grid axis 'seed'", 1, true), tostring(err))
  end)
end)

describe('rnn.experiment errors', function()
  local dir
  before_each(function() dir = tmpdir() fail_at = nil end)
  after_each(function() files.remove_tree(dir) fail_at = nil end)

  it('shows an error of the experiment once, at its file:line, without the harness frames', function()
    fail_at = 3
    local ok, err = pcall(run, toy(), {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1'})
    assert.is_false(ok)
    err = tostring(err)
    assert.truthy(err:find('failed in its step function at step 3', 1, true), err)
    assert.truthy(err:find('tests/spec/experiment_spec.lua:%d+: injected failure at step 3'), err)
    assert.equal(1, count(err, 'injected failure'))
    assert.falsy(err:find('stack traceback', 1, true), err)
    assert.falsy(err:find('rnn/experiment/', 1, true), err)
    assert.equal(err:match('\n(.*)$') .. '\n', read(dir .. '/toy/opt=sgd,lr=0.1/seed-1/error.txt'))
    -- an error from C gets the experiment's line; calls between its own functions are listed
    local function inner(x) return rnn.matmul(x, rnn.zeros(5, 2)) end
    local function middle(x)
      local y = inner(x)
      return y
    end
    ok, err = pcall(run, toy{step = function() middle(rnn.zeros(3, 4)) end}, {'--out', dir .. '/2', '--seeds', '1'})
    err = tostring(err)
    assert.truthy(err:find('experiment_spec.lua:%d+: rnn.matmul: shapes %(3,4%) and %(5,2%)'), err)
    assert.truthy(err:find('\n  called from [^\n]*experiment_spec.lua:%d+ %(middle%)'), err)
    assert.falsy(err:find('stack traceback', 1, true), err)
  end)

  it('prints a failing run once and a refusal alone, with or without worker processes', function()
    local cmd = string.format("RNNLUA_PROGRESS=plain %s tests/experiment/toy.lua --out '%s' --steps 6 --seeds 2 "
      .. '--only learned --quiet', interpreter(), dir)
    for _, jobs in ipairs{'1', '2'} do
      local out, ok = sh('TOY_FAIL=learned:1:3 ' .. cmd .. ' --jobs ' .. jobs)
      assert.falsy(ok)
      assert.equal(1, count(out, 'injected failure at step 3'), out)
      assert.truthy(out:find('tests/experiment/toy.lua:%d+: injected failure'), out)
      assert.falsy(out:find('stack traceback', 1, true), out)
      assert.falsy(out:find('rnn/experiment/', 1, true), out)
    end
    local out, ok = sh(cmd .. ' --jobs 1 --set lr=0.5')
    assert.falsy(ok)
    assert.truthy(out:find('was made with another configuration (lr: 0.01 there, 0.5 now)', 1, true), out)
    assert.truthy(out:find('and 1 more of the 2 runs of this command are refused', 1, true), out)
    assert.falsy(out:find('stack traceback', 1, true), out)
    assert.falsy(out:find('.lua:', 1, true), out)
  end)
end)

describe('rnn.experiment without shell strings', function()
  it('has no os.execute or io.popen anywhere in the library, and no kill function in its API', function()
    local lfs = require 'lfs'
    local root = require('rnn.experiment.code').ROOT
    local n = 0
    local function walk(d)
      for name in lfs.dir(d) do
        local p = d .. '/' .. name
        if name ~= '.' and name ~= '..' and lfs.attributes(p, 'mode') == 'directory' then walk(p)
        elseif name:match('%.lua$') then
          local text = read(p)
          n = n + 1
          assert.falsy(text:find('os%.execute%s*%('), p .. ' calls os.execute')
          assert.falsy(text:find('io%.popen%s*%('), p .. ' calls io.popen')
        end
      end
    end
    walk(root)
    assert.is_true(n > 30)
    assert.is_nil(require('rnn.experiment.run').kill_self)
    assert.is_nil(E.kill_self)
  end)

  it('passes arguments verbatim and removes trees without following links', function()
    local proc = require 'rnn.experiment.proc'
    local r = proc.run{'printf', '%s|', "a b'c", '$(echo x)', ';'}
    assert.same({0, "a b'c|$(echo x)|;|"}, {r.code, r.out})
    r = proc.run{'rnnlua-no-such-program'}
    assert.equal(127, r.code)
    assert.truthy(r.error:find('ENOENT', 1, true))
    local d, keep = tmpdir(), tmpdir()
    write(keep .. '/precious', 'x')
    files.mkdir_p(d .. '/a/b')
    write(d .. '/a/b/f', 'y')
    assert.is_true(require('lfs').link(keep, d .. '/a/link', true))
    files.remove_tree(d)
    assert.is_nil(require('lfs').attributes(d))
    assert.equal('x', read(keep .. '/precious'))
    files.remove_tree(keep)
    -- a pipe is no terminal
    local out = sh(interpreter() .. " -e \"io.write(require('rnn.experiment.progress').detect())\" | cat")
    assert.equal('plain', out)
  end)
end)

describe('rnn.experiment load_run', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() files.remove_tree(dir) end)

  it('rebuilds model and optimizer from a run folder: the evaluation recorded, last or best', function()
    local exp = toy{select = 'val_loss'}
    run(exp, {'--out', dir, '--only', 'opt=adam,lr=0.1', '--seeds', '1', '--set', 'eval_every=5'})
    local rd = dir .. '/toy/opt=adam,lr=0.1/seed-1'
    local done = json.integers(json.decode(read(rd .. '/done')))
    local before = rnn.get_rng_state()
    local r = exp:load_run(rd)
    assert.same(before, rnn.get_rng_state())
    assert.same({20, 'last', 1, 'opt=adam,lr=0.1'}, {r.step, r.which, r.seed, r.cell})
    assert.same({0.1, 'adam', 'float'}, {r.config.lr, r.config.opt, math.type(r.config.noise)})
    assert.is_false(r.model.training)
    local t = rnn.load(rd .. '/checkpoint.safetensors')
    for name, v in pairs(r.model:state_dict()) do assert.same(t['model.' .. name]:totable(), v:totable(), name) end
    local ot = r.opt:state_tensors('optim.')
    assert.is_not_nil(next(ot))
    for k, v in pairs(ot) do assert.same(t[k]:totable(), v:totable(), k) end
    assert.is_nil(r.code_changes)
    local ev = r:evaluate()
    assert.equal(done.eval.val_loss, ev.val_loss)
    assert.equal(done.eval.success, ev.success)
    assert.same(before, rnn.get_rng_state())
    local b = exp:load_run(rd, {which = 'best'})
    assert.equal(done.best.step, b.step)
    assert.equal(done.best.eval.val_loss, b:evaluate().val_loss)
  end)

  it('finds the experiment by the script config.json names', function()
    local out, ok = sh(string.format("%s tests/experiment/toy.lua --out '%s' --steps 6 --seeds 1 --only learned "
      .. '--jobs 1 --quiet', interpreter(), dir))
    assert.is_true(ok, out)
    local rd = dir .. '/toy/h0=learned/seed-1'
    local saved_arg = arg
    local r = E.load_run(rd)
    assert.equal(saved_arg, arg)
    assert.equal('toy', r.exp.name)
    local done = json.integers(json.decode(read(rd .. '/done')))
    assert.equal(done.eval.val_loss, r:evaluate().val_loss)
    assert.is_nil(io.open(dir .. '/toy/h0=random/seed-1/done')) -- (loading ran nothing)
  end)

  it('names the function and the argument on bad input', function()
    local exp = toy()
    for _, case in ipairs{
      {function() E.load_run(dir .. '/nothing') end, 'rnn.experiment.load_run: argument 1 (dir): '},
      {function() E.load_run(nil) end, 'rnn.experiment.load_run: argument 1 (dir) must be the folder of a run'},
      {function() exp:load_run(dir, {which = 'first'}) end, 'exp:load_run: argument 1 (dir)'},
    } do
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
    end
    run(exp, {'--out', dir, '--only', 'opt=sgd,lr=0.1', '--seeds', '1'})
    local rd = dir .. '/toy/opt=sgd,lr=0.1/seed-1'
    local ok, err = pcall(exp.load_run, exp, rd, {which = 'first'})
    assert.truthy(tostring(err):find("options.which must be 'last' or 'best'", 1, true), tostring(err))
    ok, err = pcall(exp.load_run, exp, rd, {which = 'best'})
    assert.is_false(ok)
    assert.truthy(tostring(err):find('has no best.safetensors', 1, true), tostring(err))
    ok, err = pcall(diverging().load_run, diverging(), rd)
    assert.truthy(tostring(err):find("is a run of experiment 'toy', not of 'div'", 1, true), tostring(err))
  end)
end)
