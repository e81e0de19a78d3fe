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

local function tmpdir()
  local p = io.popen('mktemp -d "${TMPDIR:-/tmp}/rnnlua-exp-spec.XXXXXX"')
  local d = p:read('l')
  p:close()
  return d
end

local function read(path)
  local f = assert(io.open(path, 'rb'), 'missing ' .. path)
  local s = f:read('a')
  f:close()
  return s
end

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
    assert.truthy(csv:find('^opt,lr,cell,runs,val_loss_mean,val_loss_std,train_loss_mean'))
    local md = read(ed .. '/summary.md')
    assert.truthy(md:find('±', 1, true))
    assert.truthy(md:find('| sgd ', 1, true))
    assert.equal(4, #r.rows)
    assert.equal(2, r.rows[1].n)
    assert.is_number(r.rows[1].stats.val_loss.std)
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
  it('computes mean and sample standard deviation', function()
    local m, s = report.mean_std{1, 2, 3, 4}
    assert.equal(2.5, m)
    assert.near(math.sqrt(5 / 3), s, 1e-15)
    m, s = report.mean_std{7}
    assert.equal(7, m)
    assert.is_nil(s)
    assert.equal('2.5 ± 1.3', report.format_mean_std(2.5, math.sqrt(5 / 3)))
    assert.equal('7', report.format_mean_std(7, nil))
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
    assert.near(math.sqrt(2), rows[1].stats.v.std, 1e-15)
    assert.equal(4, rows[1].stats.train_loss.mean)
    assert.same({k = 1, n = 2}, rows[1].success)
    assert.equal(1, rows[2].n)
    assert.equal(2, rows[2].total)
    local md = report.markdown({'a'}, rows, names)
    assert.truthy(md:find('| x | 2      | 2 ± 1.4 | 4 ± 1.4    | 1/2 (50%)  |', 1, true))
    assert.truthy(md:find('1 of 2', 1, true))
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
