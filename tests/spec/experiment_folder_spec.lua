-- rnn.experiment's run folders against damage and bad input (issue 14):
-- checkpoint checksums and the previous checkpoint, no NaN in a checkpoint,
-- metrics with a newline in a string resumed as written, experiment names
-- that would leave --out, and text that is not UTF-8.
local rnn = require 'rnn'
local E = rnn.experiment
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local checkpoint = require 'rnn.experiment.checkpoint'
local F = rnn.nn.functional

local support = require 'tests.spec.support'
local function tmpdir() return support.tmpdir('folder-spec') end
local read, write = support.read, support.write


-- flips one bit of the byte at `at` bytes from the end of the file
local function flip_from_end(path, at)
  local s = read(path)
  local i = #s - at
  write(path, s:sub(1, i - 1) .. string.char(s:byte(i) ~ 1) .. s:sub(i + 1))
end

local function spec(fields)
  local t = {
    name = 'folder',
    config = {steps = 6, checkpoint_every = 2, tag = 'x'},
    seeds = 1,
    setup = function()
      local model = rnn.nn.Linear(3, 1)
      return {model = model, opt = rnn.optim.Adam(model:parameters(), {lr = 0.01})}
    end,
    step = function(s, cfg, step)
      local x = rnn.randn{4, 3}
      s.opt:zero_grad()
      local loss = F.mse(s.model(x), rnn.zeros(4, 1))
      loss:backward()
      s.opt:step()
      return {loss = loss:item()}
    end,
  }
  for k, v in pairs(fields or {}) do t[k] = v end
  return t
end

local function run(exp, dir, extra)
  local argv = {'--out', dir, '--quiet', '--jobs', '1'}
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  local o = assert(exp:parse(argv))
  o.print = function() end
  return exp:execute(o)
end

describe('rnn.experiment run folders', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  describe('checkpoints', function()
    it('carry a checksum that a flipped byte of the data fails, naming the file', function()
      local model = rnn.nn.Linear(3, 2)
      local path = dir .. '/c.safetensors'
      checkpoint.save(path, {model = model}, 3, {})
      local _, meta = rnn.load(path)
      assert.truthy(json.decode(meta.checksum):match('^fnv1a64:%x+$'))
      assert.equal(3, checkpoint.load(path, {model = rnn.nn.Linear(3, 2)}))
      flip_from_end(path, 5) -- in the data section, the end of the file
      local ok, err = pcall(checkpoint.load, path, {model = rnn.nn.Linear(3, 2)})
      assert.is_false(ok)
      assert.truthy(tostring(err):find(path, 1, true))
      assert.truthy(tostring(err):find('checksum', 1, true))
    end)

    it('without a checksum (made before them) still load', function()
      local model = rnn.nn.Linear(3, 2)
      local path = dir .. '/c.safetensors'
      local tensors, meta = checkpoint.collect({model = model}, 4, {})
      meta.checksum = nil
      rnn.save(path, tensors, meta)
      assert.equal(4, checkpoint.load(path, {model = rnn.nn.Linear(3, 2)}))
    end)

    it('are never saved with a NaN or an infinity in the parameters or the optimizer state', function()
      local model = rnn.nn.Linear(3, 2)
      local path = dir .. '/c.safetensors'
      rnn.no_grad(function() model.weight:fill_(0 / 0) end)
      local ok, err = pcall(checkpoint.save, path, {model = model}, 1, {})
      assert.is_false(ok)
      assert.truthy(tostring(err):find('model.weight', 1, true))
      assert.is_false(files.exists(path))
    end)

    it('keep the previous one, the fallback of a damaged newest one', function()
      local exp = E.new(spec())
      run(exp, dir, {'--steps', '4'})
      local rdir = dir .. '/folder/default/seed-1'
      assert.truthy(files.exists(rdir .. '/checkpoint.prev.safetensors'))
      local _, m = rnn.load(rdir .. '/checkpoint.prev.safetensors')
      assert.equal('2', m.step)
    end)
  end)

  it('stops a run whose parameters go non-finite with a finite loss as diverged, with no NaN checkpoint', function()
    local exp = E.new(spec{step = function(s, cfg, step)
      if step == 3 then rnn.no_grad(function() s.model.bias:fill_(1 / 0) end) end
      return {loss = 1.0}
    end})
    run(exp, dir)
    local rdir = dir .. '/folder/default/seed-1'
    local done = json.decode(read(rdir .. '/done'))
    assert.truthy(done.diverged)
    assert.equal(4, math.tointeger(done.diverged.step))
    assert.truthy(done.diverged.error:find('model.bias', 1, true))
    local t, m = rnn.load(rdir .. '/checkpoint.safetensors')
    assert.equal('2', m.step)
    assert.is_nil(checkpoint.nonfinite(t))
  end)

  it('resumes metrics whose string values hold a newline to the files of an uninterrupted run', function()
    local function make(stop_at)
      return E.new(spec{step = function(s, cfg, step)
        if stop_at and step == stop_at then error('stop here') end
        return {loss = step * 0.5, note = 'line one\nline "two", step ' .. step}
      end})
    end
    run(make(nil), dir .. '/a')
    assert.has_error(function() run(make(4), dir .. '/b') end)
    run(make(nil), dir .. '/b')
    for _, f in ipairs{'metrics.csv', 'metrics.jsonl', 'done'} do
      assert.equal(read(dir .. '/a/folder/default/seed-1/' .. f), read(dir .. '/b/folder/default/seed-1/' .. f))
    end
  end)

  it("refuses the names '.' and '..', which would put results outside --out", function()
    for _, name in ipairs{'.', '..'} do
      local ok, err = pcall(E.new, spec{name = name})
      assert.is_false(ok)
      assert.truthy(tostring(err):find("name must not be '" .. name .. "'", 1, true))
    end
    local exp = E.new(spec())
    exp.name = '..' -- (as a preset or a script could leave it)
    local ok, err = pcall(run, exp, dir .. '/out')
    assert.is_false(ok)
    assert.truthy(tostring(err):find('outside --out', 1, true))
    assert.is_nil(require('lfs').attributes(dir .. '/default', 'mode'))
  end)

  it('refuses a --set value that is not UTF-8, and json.encode never writes such text', function()
    local exp = E.new(spec())
    local o, err = exp:parse{'--set', 'tag=a\255b'}
    assert.is_nil(o)
    assert.truthy(err:find('UTF-8', 1, true))
    local ok, e = pcall(json.encode, {tag = 'a\255b'})
    assert.is_false(ok)
    assert.truthy(tostring(e):find('UTF-8', 1, true))
    assert.equal('{"t":"é"}', json.encode{t = 'é'})
  end)

  it('reads a run file whose text is not UTF-8 as damaged: json.decode refuses it, naming the byte',
    function()
    local ok, e = pcall(json.decode, '{"rnnlua": "0.\2550"}')
    assert.is_false(ok)
    assert.truthy(tostring(e):find('^rnn%.experiment%.json%.decode: the text is not valid UTF%-8 %(byte 15%)'), e)
    assert.equal('é', json.decode('{"t":"é"}').t)
  end)
end)
