-- Inputs found by fuzzing the Lua API under the sanitizers: each once
-- crashed, hung, corrupted memory or gave a silently wrong answer.
local rnn = require 'rnn'

describe('adversarial inputs', function()
  it('cat of a lazy list whose entries are collected while being read keeps each entry', function()
    local lazy = setmetatable({}, {__len = function() return 3 end,
      __index = function(_, i) collectgarbage() return rnn.full({i}, i) end})
    assert.are.same({1, 2, 2, 3, 3, 3}, rnn.cat(lazy):totable())
  end)

  it('calling __gc by hand while a binding uses the tensor does not free it', function()
    local t = rnn.zeros(3, 4)
    local idx = setmetatable({}, {__len = function() getmetatable(t).__gc(t) return 1 end,
      __index = function() return 1 end})
    local ok = pcall(t.index_select, t, 1, idx)
    assert.is_true(ok)
    assert.are.same({3, 4}, t:shape())
  end)

  it('sizes that would overflow 64 bits are errors', function()
    assert.has_error(function() rnn.zeros(3):narrow(1, 2, math.maxinteger) end)
    assert.has_error(function() rnn.zeros(1):reshape(-1, 1 << 32, 1 << 32) end)
    local e = rnn.zeros(1):expand(1 << 62)
    assert.has_error(function() rnn.cat{e, e} end)
  end)

  it('a tensor cannot be its own gradient, nor share storage with it', function()
    local t = rnn.ones(2):requires_grad(true)
    assert.has_error(function() t.grad = t end)
    local p = rnn.ones(2):requires_grad(true)
    assert.has_error(function() p.grad = p:detach() end)
  end)

  it('printing a huge expanded tensor is quick and abbreviated', function()
    local t0 = rnn.clock()
    local s = tostring(rnn.zeros(1):expand(1 << 40))
    assert.truthy(s:find('...', 1, true))
    assert.is_true(rnn.clock() - t0 < 1)
  end)

  it('writes into an expanded tensor are refused', function()
    local a = rnn.zeros(1)
    local b = a:expand(3)
    assert.has_error(function() b:copy_(rnn.tensor{1, 2, 3}) end)
    assert.has_error(function() b:add_(1) end)
    assert.are.equal(0, a:item())
  end)

  it('in-place ops read an overlapping input as it was before', function()
    local a = rnn.tensor{{1, 2}, {3, 4}}
    a:add_(a:t())
    assert.are.same({{2, 5}, {5, 8}}, a:totable())
    local b = rnn.tensor{{1, 2}, {3, 4}}
    b:copy_(b:t())
    assert.are.same({{1, 3}, {2, 4}}, b:totable())
    local x = rnn.arange(1, 6, 1, 'float64')
    x:narrow(1, 2, 4):add_(x:narrow(1, 1, 4))
    assert.are.same({1, 3, 5, 7, 9}, x:totable())
  end)

  it('int64 scalars beyond 2^53 stay exact', function()
    local big = (1 << 53) + 1
    local t = rnn.tensor({big}, 'int64')
    assert.are.equal(1, t:eq(big):item())
    assert.are.equal(0, (t - big):item())
    assert.are.equal(big, rnn.zeros({1}, 'int64'):fill_(big):item())
  end)

  it('an optimizer step over a lazy parameter list keeps every parameter and gradient alive', function()
    local params = setmetatable({}, {__len = function() return 3 end, __index = function()
      collectgarbage()
      local p = rnn.ones(3):requires_grad(true)
      p.grad = rnn.ones(3)
      return p
    end})
    local ok, n = pcall(rnn.core._optim_step, 'SGD', 'sgd',
      {lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0}, params, {{}, {}, {}})
    assert.is_true(ok, tostring(n))
  end)

  it('a ragged nested table with an empty row is an error', function()
    assert.has_error(function() rnn.tensor{{}, {1, 2}} end)
  end)

  it('a graph that used x.grad refuses backward after x.grad was accumulated into', function()
    local w = rnn.ones(2):requires_grad(true)
    local x = rnn.ones(2):requires_grad(true)
    local z0 = (x * x):sum()
    z0:backward()
    local y = (w * x.grad):sum()
    local z = (x * x):sum()
    z:backward()
    local ok, err = pcall(function() y:backward() end)
    assert.is_false(ok)
    assert.truthy(err:find('modified in place', 1, true))
  end)
end)
