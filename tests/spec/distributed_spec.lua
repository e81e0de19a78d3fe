-- rnn.distributed in the world of size 1 (no launcher: the busted run of
-- tests/run.sh): rank 0, size 1, MPI never initialized, collectives are
-- identities that still check their arguments and count as in-place writes
-- (autograd refuses a backward through a tensor they wrote), and
-- average_gradients on a module. The collectives over 2 ranks are tested by
-- tests/mpi/mpi_test.sh under mpirun.
local rnn = require 'rnn'
local D = rnn.distributed

local launched = os.getenv('OMPI_COMM_WORLD_SIZE') or os.getenv('PMIX_RANK') or os.getenv('PMI_RANK')

-- f must raise "<this file>:<line in f>: rnn.distributed.<fn>: ..." with each
-- further argument as a plain substring
local function fails(fn, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error from rnn.distributed.' .. fn)
  local file, line, text = msg:match('^(.-):(%d+): (.*)$')
  assert(file and file:match('distributed_spec%.lua$'), 'not located in this spec: ' .. msg)
  local info = debug.getinfo(f, 'S')
  line = tonumber(line)
  assert(line >= info.linedefined and line <= info.lastlinedefined, 'located outside the call: ' .. msg)
  local prefix = 'rnn.distributed.' .. fn .. ': '
  assert(text:sub(1, #prefix) == prefix, 'does not start with "' .. prefix .. '": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), ('message lacks "%s": %s'):format(want, msg))
  end
  return text
end

local function same_values(a, b)
  assert.are.equal(a:dtype(), b:dtype())
  assert.are.same(a:shape(), b:shape())
  assert.are.same(a:totable(), b:totable())
end

describe('rnn.distributed in a world of size 1', function()
  if launched then
    pending('started by an MPI launcher: tests/mpi/mpi_test.sh covers this')
    return
  end

  it('is rank 0 of 1 and initializes without MPI', function()
    local r, s = D.init()
    assert.are.equal(0, r)
    assert.are.equal(1, s)
    assert.are.equal(0, D.rank())
    assert.are.equal(1, D.size())
    assert.is_true(D.is_initialized())
    assert.is_true(math.type(D.rank()) == 'integer')
    D.barrier()
    -- the MPI module is built and loads, but MPI_Init was never called
    local ok = D.is_available()
    assert.is_true(ok)
    assert.is_false(require('rnn.mpi').is_initialized())
  end)

  it('has identities for collectives, on every dtype and op', function()
    for _, dtype in ipairs{'float32', 'float64', 'int64'} do
      local src = rnn.tensor({{1, -2, 3}, {4, 5, -6}}, dtype)
      for _, op in ipairs{'sum', 'max', 'min', 'mean'} do
        if not (op == 'mean' and dtype == 'int64') then
          local t = src:clone()
          assert.are.equal(t, D.allreduce_(t, op)) -- in place: returns t itself
          same_values(src, t)
        end
      end
      local t = src:clone()
      assert.are.equal(t, D.allreduce_(t)) -- default 'sum'
      same_values(src, t)
      assert.are.equal(t, D.broadcast_(t, 0))
      assert.are.equal(t, D.broadcast_(t)) -- default root 0
      same_values(src, t)
    end
    -- 0-d and empty tensors
    local s = rnn.tensor(2.5, 'float64')
    D.allreduce_(s, 'mean')
    assert.are.equal(2.5, s:item())
    D.broadcast_(rnn.zeros({0, 3}), 0)
    D.allreduce_(rnn.zeros({0}), 'sum')
  end)

  it('raises clear errors for bad arguments, at the calling line', function()
    fails('allreduce_', function() D.allreduce_(nil) end, 'argument 1 (tensor) must be a tensor, got nil')
    fails('allreduce_', function() D.allreduce_({1, 2}) end, 'must be a tensor, got table')
    local m = rnn.zeros(3, 4)
    fails('allreduce_', function() D.allreduce_(m:t()) end, 'argument 1 (tensor) must be contiguous',
      'strides (1,4) of shape (4,3)', ':contiguous()')
    fails('allreduce_', function() D.allreduce_(rnn.zeros(1, 3):expand(2, 3)) end, 'must be contiguous')
    fails('allreduce_', function() D.allreduce_(m, 'avg') end,
      "argument 2 (op) must be 'sum', 'mean', 'max' or 'min', got 'avg'")
    fails('allreduce_', function() D.allreduce_(m, 2) end, 'argument 2 (op)', 'got number')
    fails('allreduce_', function() D.allreduce_(rnn.zeros({2}, 'int64'), 'mean') end,
      "'mean' of an int64 tensor would not be exact")
    fails('allreduce_', function() D.allreduce_(m, 'sum', 3) end, 'expected at most 2 arguments, got 3')
    fails('broadcast_', function() D.broadcast_(m, 1) end, 'argument 2 (root) is 1, not a rank: ranks are 0 to 0')
    fails('broadcast_', function() D.broadcast_(m, -1) end, 'argument 2 (root) is -1')
    fails('broadcast_', function() D.broadcast_(m, 0.5) end, 'argument 2 (root) must be an integer rank', '0.5')
    fails('broadcast_', function() D.broadcast_(m, 'zero') end, 'argument 2 (root) must be an integer rank',
      'string')
    fails('broadcast_', function() D.broadcast_(m:narrow(2, 1, 2), 0) end, 'must be contiguous')
    fails('broadcast_', function() D.broadcast_('x', 0) end, 'argument 1 (tensor) must be a tensor, got string')
    fails('average_gradients', function() D.average_gradients(m) end,
      'argument 1 (params) must be an array of tensors or an rnn.nn module, got a tensor')
    fails('average_gradients', function() D.average_gradients(42) end, 'got number')
    fails('average_gradients', function() D.average_gradients({m, 'w'}) end, 'entry 2 is a string, not a tensor')
    fails('average_gradients', function() D.average_gradients({m}, {bucket_mb = 0}) end,
      'option bucket_mb must be a number > 0')
    fails('average_gradients', function() D.average_gradients({m}, {bucket = 1}) end, "unknown option 'bucket'")
    fails('barrier', function() D.barrier(1) end, 'expected at most 0 arguments')
    -- a failed check wrote nothing
    local t = rnn.tensor{1, 2}
    pcall(D.broadcast_, t, 3)
    assert.are.same({1, 2}, t:totable())
  end)

  it('counts as an in-place write: a backward through a tensor it wrote fails', function()
    for _, collective in ipairs{function(t) D.allreduce_(t, 'sum') end, function(t) D.broadcast_(t, 0) end} do
      local x = rnn.randn({3}, 'float64'):requires_grad(true)
      local c = rnn.randn({3}, 'float64')
      local y = (x * c):sum() -- mul saves c
      collective(c)
      local ok, err = pcall(function() y:backward() end)
      assert.is_false(ok)
      assert.truthy(err:find('modified in place', 1, true), err)
    end
    -- the weights saved by a fused LSTM, written by a broadcast of the parameters
    rnn.manual_seed(3)
    local lstm = rnn.nn.LSTM{input_size = 2, hidden_size = 4, dtype = 'float64'}
    local out = lstm(rnn.randn({5, 2, 2}, 'float64'))
    for _, p in ipairs(lstm:parameters()) do D.broadcast_(p, 0) end
    local ok, err = pcall(function() out:sum():backward() end)
    assert.is_false(ok)
    assert.truthy(err:find('modified in place', 1, true), err)
  end)

  it('writes leaves that require grad (parameters) but refuses recorded results while recording', function()
    local w = rnn.randn({2, 3}):requires_grad(true)
    D.broadcast_(w, 0) -- parameters at the start: allowed while recording, as an optimizer step
    D.allreduce_(w, 'mean')
    local y = w * 2
    fails('allreduce_', function() D.allreduce_(y) end, "the result of a recorded operation ('mul')",
      't:detach()', 'rnn.no_grad')
    fails('broadcast_', function() D.broadcast_(w[1], 0) end, 'the result of a recorded operation')
    -- detached, or under no_grad: allowed
    D.allreduce_(y:detach(), 'sum')
    rnn.no_grad(function() D.allreduce_(y, 'sum') end)
  end)

  it('averages the gradients of a module: the mean over one rank is the gradient itself', function()
    rnn.manual_seed(7)
    local net = rnn.nn.Sequential(rnn.nn.Linear(3, 4), rnn.nn.Linear(4, 2))
    local x = rnn.randn(5, 3)
    local loss = (net(x) ^ 2):mean()
    loss:backward()
    local before = {}
    for i, p in ipairs(net:parameters()) do before[i] = p.grad:clone() end
    assert.are.equal(4, D.average_gradients(net))
    for i, p in ipairs(net:parameters()) do same_values(before[i], p.grad) end
    -- an array of parameters, one without a gradient (left without one), two dtypes
    local a = rnn.randn({2, 2}, 'float64'):requires_grad(true)
    local b = rnn.randn({3}):requires_grad(true)
    local c = rnn.randn({3}):requires_grad(true)
    ;((a * a):sum() + (b * 3):sum():double()):backward()
    local ga, gb = a.grad:clone(), b.grad:clone()
    assert.are.equal(2, D.average_gradients({a, b, c}, {bucket_mb = 1e-5}))
    same_values(ga, a.grad)
    same_values(gb, b.grad)
    assert.is_nil(c.grad)
    assert.are.equal(0, D.average_gradients({}))
    -- it wrote the gradients (version bump): a graph that saved a gradient notices
    local g = a.grad
    local z = (g * rnn.ones({2, 2}, 'float64'):requires_grad(true)):sum()
    D.average_gradients({a})
    assert.is_false(pcall(function() z:backward() end))
  end)

  it('finalizes once; collectives afterwards raise, rank and size still answer', function()
    -- a fresh copy of the module, so that the others of this run stay usable
    local saved = package.loaded['rnn.distributed']
    package.loaded['rnn.distributed'] = nil
    local D2 = require 'rnn.distributed'
    package.loaded['rnn.distributed'] = saved
    assert.is_false(D2.is_initialized())
    D2.finalize()
    D2.finalize() -- idempotent
    assert.is_false(D2.is_initialized())
    assert.are.equal(0, D2.rank())
    assert.are.equal(1, D2.size())
    fails('barrier', function() D2.barrier() end, 'called after rnn.distributed.finalize()')
    fails('allreduce_', function() D2.allreduce_(rnn.zeros(2)) end, 'called after rnn.distributed.finalize()')
    fails('init', function() D2.init() end, 'MPI cannot be started again')
  end)
end)
