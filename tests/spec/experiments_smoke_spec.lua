-- The research scripts of experiments/ run end to end through the harness
-- at tiny sizes: exit status 0, the summary and the report written, the
-- summary table printed. (Whether their results agree with the literature
-- is for their default and larger sizes, not for a test.)
local rnn = require 'rnn'

-- the interpreter running the specs (./rnnlua or the sanitizer build)
local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or './rnnlua'
end

local function run(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok, code
end

local function tmpdir()
  local p = assert(io.popen('mktemp -d "${TMPDIR:-/tmp}/rnnlua-experiments-smoke.XXXXXX"'))
  local d = p:read('l')
  p:close()
  assert(d and #d > 0, 'mktemp failed')
  return d
end

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

-- tiny settings: 3 steps, one seed, small sizes; one BLAS thread
local scripts = {
  {name = 'clipping_comparison', runs = 32,
   args = '--set T=10 --set hidden=4 --set batch=4 --set warmup=2 --set val_batch=8'},
  {name = 'vanishing_gradients', runs = 12,
   args = '--set T=8 --set hidden=4 --set batch=4 --set probe_batch=4 --set val_batch=8'},
  {name = 'adding_problem', runs = 3, args = '--set T=8 --set hidden=4 --set batch=4 --set val_batch=8'},
  {name = 'copy_task', runs = 3, args = '--set T=4 --set length=3 --set hidden=4 --set batch=4 --set val_batch=8'},
  {name = 'char_rnn', runs = 1,
   args = '--set hidden=8 --set embed=4 --set batch=4 --set bptt=8 --set sample_length=10 --set val_bptt=64'},
}

describe('experiments/ research scripts', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function()
    if dir and dir:match('rnnlua%-experiments%-smoke') then os.execute("rm -rf '" .. dir .. "'") end
  end)

  for _, s in ipairs(scripts) do
    it(s.name .. '.lua runs at a tiny size and writes its summary and report', function()
      local cmd = string.format("%s experiments/%s.lua --steps 3 --seeds 1 --threads 1 --out '%s' %s",
        interpreter(), s.name, dir, s.args)
      local out, ok = run(cmd)
      assert.is_true(ok, cmd .. '\n' .. out)
      local base = dir .. '/' .. s.name
      for _, f in ipairs{'summary.md', 'summary.csv', 'index.html'} do
        assert.is_true(exists(base .. '/' .. f), base .. '/' .. f .. ' missing\n' .. out)
      end
      assert.truthy(out:find(s.name .. ': ' .. s.runs .. ' runs in [%d.]+ s %(0 failed%)'), out)
      assert.truthy(read(base .. '/summary.md'):find('| seeds', 1, true))
      assert.truthy(read(base .. '/index.html'):find('<svg', 1, true), 'no plot in index.html')
      if s.name == 'char_rnn' then
        assert.truthy(out:find('-- sample', 1, true), out)
        local sample = read(base .. '/default/seed-1/sample.txt')
        assert.are.equal('The ', sample:sub(1, 4))
      end
      if s.name == 'vanishing_gradients' then
        assert.is_true(exists(base .. '/nonlinearity=relu,init=identity/seed-1/series.json'))
      end
    end)
  end

  -- the paper presets at a tiny size: their grids and configurations run
  -- (the h0 study on the small corpus; its own corpus is the 6.9 MB one)
  local presets = {
    {name = 'adding_problem', runs = 4, args = '--set T=8 --set hidden=4 --set batch=4 --set val_batch=8'},
    {name = 'clipping_comparison', runs = 24,
     args = '--set T=10 --set hidden=4 --set batch=4 --set warmup=2 --set val_batch=8'},
    {name = 'h0_comparison', runs = 4,
     args = '--set corpus=fortunes-min --set hidden=4 --set embed=2 --set batch=4 --set max_len=8 --set eval_every=2'},
    {name = 'copy_task', runs = 3, args = '--set T=4 --set length=3 --set hidden=4 --set batch=4 --set val_batch=8'},
    {name = 'char_rnn', runs = 1,
     args = '--set hidden=8 --set embed=4 --set batch=4 --set bptt=8 --set sample_length=10 --set val_bptt=64'},
  }
  for _, s in ipairs(presets) do
    it(s.name .. '.lua --preset paper runs at a tiny size into ' .. s.name .. '-paper', function()
      local cmd = string.format("%s experiments/%s.lua --preset paper --steps 3 --seeds 1 --threads 1 --out '%s' %s",
        interpreter(), s.name, dir, s.args)
      local out, ok = run(cmd)
      assert.is_true(ok, cmd .. '\n' .. out)
      assert.truthy(out:find(s.name .. '%-paper: ' .. s.runs .. ' runs in [%d.]+ s %(0 failed%)'), out)
      assert.is_true(exists(dir .. '/' .. s.name .. '-paper/summary.md'))
      if s.name ~= 'char_rnn' then assert.is_true(exists(dir .. '/' .. s.name .. '-paper/comparisons.csv')) end
      if s.name == 'h0_comparison' then
        -- without the start symbol the first position predicts a record's second character
        assert.is_true(exists(dir .. '/h0_comparison-paper/h0=learned,task=text_nostart/seed-1/best.safetensors'))
      end
      local help = run(interpreter() .. ' experiments/' .. s.name .. '.lua --help')
      assert.truthy(help:find('Preset paper (--preset paper)', 1, true), help)
    end)
  end

  it("h0_comparison.lua --preset paper reads its own corpus: every fortune file and the KJV verses", function()
    local cmd = string.format("%s experiments/h0_comparison.lua --preset paper --steps 2 --seeds 1 --threads 1 "
      .. "--out '%s/kjv' --set task=text --set hidden=4 --set embed=2 --set batch=4 --set max_len=8 --set eval_every=2",
      interpreter(), dir)
    local out, ok = run(cmd)
    assert.is_true(ok, cmd .. '\n' .. out)
    assert.truthy(out:find('h0_comparison%-paper: 2 runs in [%d.]+ s %(0 failed%)'), out)
  end)

  it('--help lists the configuration of each script', function()
    for _, s in ipairs(scripts) do
      local out, ok = run(interpreter() .. ' experiments/' .. s.name .. '.lua --help')
      assert.is_true(ok, out)
      assert.truthy(out:find('Configuration', 1, true), out)
    end
  end)
end)

assert(rnn)
