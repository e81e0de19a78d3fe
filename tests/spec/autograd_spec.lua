-- Semantics of the tape seen from Lua: requires_grad, leaves and grad_fn,
-- accumulation, backward with and without a gradient, retain_graph,
-- no_grad, detach, retain_grad through a hand-written RNN, long chains,
-- in-place checks, dtypes. Float64 results are compared exactly where the
-- arithmetic is exact, else to 1e-12 relative (1e-6 for float32).
local rnn = require 'rnn'

local D = 'float64'

local function T(values, dt) return rnn.tensor(values, dt or D) end

-- |e - a| <= tol * max(1, |e|) elementwise over nested tables
local function assert_near(expected, actual, tol, path)
  path = path or ''
  if type(expected) == 'table' then
    assert.are.equal('table', type(actual), 'at ' .. path)
    assert.are.equal(#expected, #actual, 'length at ' .. path)
    for i = 1, #expected do assert_near(expected[i], actual[i], tol, path .. '[' .. i .. ']') end
  else
    local err = math.abs(expected - actual)
    assert(err <= tol * math.max(1, math.abs(expected)),
      string.format('at %s: expected %.17g, got %.17g (tol %g)', path, expected, actual, tol))
  end
end

-- f must raise an error whose message contains every further argument
local function raises(f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error, got none')
  msg = tostring(msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(msg:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
  return msg
end

before_each(function()
  rnn.manual_seed(99)
  rnn.set_grad_enabled(true)
end)

describe('requires_grad', function()
  it('requires_grad(true) returns the tensor itself; requires_grad() reads the flag', function()
    local x = rnn.randn({3}, D)
    assert.is_false(x:requires_grad())
    local r = x:requires_grad(true)
    assert.are.equal(x, r)
    assert.is_true(rawequal(x, r))
    assert.is_true(x:requires_grad())
    assert.are.equal(x, x:requires_grad(false))
    assert.is_false(x:requires_grad())
  end)

  it('float32 and float64 can require grad; int64 cannot', function()
    assert.is_true(rnn.zeros{2}:requires_grad(true):requires_grad())
    assert.is_true(rnn.zeros({2}, D):requires_grad(true):requires_grad())
    local i = rnn.tensor({1, 2}, 'int64')
    local msg = raises(function() i:requires_grad(true) end, 'rnn.requires_grad:', 'int64')
    assert.matches('autograd_spec%.lua:%d+: ', msg)
    assert.is_false(i:requires_grad())
    i:requires_grad(false) -- harmless
  end)

  it('the flag must be a boolean', function()
    raises(function() rnn.zeros{2}:requires_grad(1) end, 'rnn.requires_grad:', 'boolean')
  end)

  it('a result of recorded ops cannot be switched off (use detach)', function()
    local y = rnn.zeros{2}:requires_grad(true) * 2
    raises(function() y:requires_grad(false) end, 'rnn.requires_grad:', 'detach')
    assert.are.equal(y, y:requires_grad(true))
  end)
end)

describe('leaves and grad_fn', function()
  it('leaves have no grad_fn; results of recorded ops name their op', function()
    local x = rnn.randn({2, 3}, D):requires_grad(true)
    local w = rnn.randn({3, 4}, D):requires_grad(true)
    assert.is_true(x:is_leaf())
    assert.is_nil(x:grad_fn())
    local cases = {
      {'add', x + 1}, {'add', x + x}, {'sub', x - 1}, {'mul', x * x}, {'div', x / 2}, {'pow', x ^ 2},
      {'neg', -x}, {'tanh', x:tanh()}, {'sigmoid', x:sigmoid()}, {'exp', x:exp()},
      {'sum', x:sum()}, {'mean', x:mean(1)}, {'matmul', rnn.matmul(x, w)},
      {'transpose', x:t()}, {'reshape', x:reshape(6)}, {'select', x[1]}, {'narrow', x:narrow(2, 1, 2)},
      {'softmax', x:softmax(2)}, {'log_softmax', x:log_softmax(2)},
    }
    for _, c in ipairs(cases) do
      local name, y = c[1], c[2]
      assert.is_false(y:is_leaf(), name)
      assert.is_true(y:requires_grad(), name)
      assert.are.equal(name, y:grad_fn())
    end
  end)

  it('ops on tensors that do not require grad make leaves that do not either', function()
    local a, b = rnn.randn({3}, D), rnn.randn({3}, D)
    local y = (a * b + 1):tanh():sum()
    assert.is_true(y:is_leaf())
    assert.is_nil(y:grad_fn())
    assert.is_false(y:requires_grad())
    raises(function() y:backward() end, 'rnn.backward:', 'does not require grad')
  end)

  it('a leaf\'s grad is nil until a backward reaches it', function()
    local x = rnn.randn({3}, D):requires_grad(true)
    local unused = rnn.randn({3}, D):requires_grad(true)
    assert.is_nil(x.grad)
    local y = (x * 2):sum()
    assert.is_nil(x.grad)
    y:backward()
    assert.are.same({2, 2, 2}, x.grad:totable())
    assert.is_nil(unused.grad)
  end)

  it('an intermediate keeps no grad unless retain_grad was called', function()
    local x = rnn.randn({3}, D):requires_grad(true)
    local h = x * 3
    local k = x * 4
    assert.are.equal(k, k:retain_grad())
    local y = (h * h + k):sum()
    y:backward()
    assert.is_nil(h.grad)
    assert.are.same({1, 1, 1}, k.grad:totable())
    -- retain_grad on a leaf is allowed (it keeps its grad anyway); on a
    -- tensor outside any graph it is an error
    x:retain_grad()
    raises(function() rnn.zeros{2}:retain_grad() end, 'rnn.retain_grad:', 'does not require grad')
  end)
end)

describe('lifetimes', function()
  it('a retained tensor collected before backward is skipped (no dangling pointer)', function()
    local x = T{1, 2}:requires_grad(true)
    local y
    do
      local h = x * 2
      h:retain_grad()
      y = (h * h):sum()
    end
    collectgarbage()
    collectgarbage()
    y:backward()
    assert.are.same({8, 16}, x.grad:totable())
  end)

  it('the graph keeps leaves and intermediates alive until backward', function()
    local y, get
    do
      local x = T{3}:requires_grad(true)
      get = function() return x.grad end
      y = (x * x):tanh():sum()
    end
    collectgarbage()
    collectgarbage()
    y:backward()
    assert_near({2 * 3 * (1 - math.tanh(9) ^ 2)}, get():totable(), 1e-12)
  end)
end)

describe('accumulation', function()
  it('gradients accumulate over two backwards; t.grad = nil clears', function()
    local x = T{1, 2, 3}:requires_grad(true)
    local function f() return (x * x):sum() end
    f():backward()
    assert.are.same({2, 4, 6}, x.grad:totable())
    f():backward()
    assert.are.same({4, 8, 12}, x.grad:totable())
    x.grad = nil
    assert.is_nil(x.grad)
    f():backward()
    assert.are.same({2, 4, 6}, x.grad:totable())
  end)

  it('a handle on t.grad sees later accumulations (accumulated in place)', function()
    local x = T{1, 2}:requires_grad(true)
    x:sum():backward()
    local g = x.grad
    local y = (x * 3):sum()
    y:backward()
    assert.are.same({4, 4}, g:totable())
    assert.are.same({4, 4}, x.grad:totable())
  end)

  it('a use of the same tensor in several places sums the contributions', function()
    local x = T{1.5, -2}:requires_grad(true)
    local y = (x * x * x + x:exp() + x):sum()
    y:backward()
    local e = {}
    for i, v in ipairs{1.5, -2} do e[i] = 3 * v * v + math.exp(v) + 1 end
    assert_near(e, x.grad:totable(), 1e-12)
  end)

  it('t.grad set to an expanded (stride-0) tensor still accumulates elementwise', function()
    local x = T{1, 2, 3}:requires_grad(true)
    x.grad = rnn.zeros({1}, D):expand(3)
    local y = (x * x):sum()
    y:backward()
    assert.are.same({2, 4, 6}, x.grad:totable())
  end)

  -- matmul's backward adds a weight's gradient into the one already held
  -- from the second use on, through a transposed view (a node's buffer) and
  -- on a leaf used directly (the leaf's grad); with batches of 2 and 1 the
  -- updates are collected into panels of 16 rows (core/lowrank.c), which 20
  -- steps fill and overflow
  it('a weight multiplied at every step of a loop gets the sum of the steps\' gradients', function()
    rnn.manual_seed(7)
    local w = rnn.randn({4, 3}, D):requires_grad(true)
    local w2 = rnn.randn({5, 2}, D):requires_grad(true)
    local xs, gs, vs, g2s = {}, {}, {}, {}
    for t = 1, 20 do
      xs[t], gs[t] = rnn.randn({2, 3}, D), rnn.randn({2, 4}, D)
      vs[t], g2s[t] = rnn.randn({2, 1}, D), rnn.randn({5, 1}, D)
    end
    local function loss()
      local wt = w:t()
      local total = rnn.zeros({}, D)
      for t = 1, 20 do
        total = total + (rnn.matmul(xs[t], wt) * gs[t]):sum() + (rnn.matmul(w2, vs[t]) * g2s[t]):sum()
      end
      return total
    end
    local dw, dw2 = rnn.zeros({4, 3}, D), rnn.zeros({5, 2}, D)
    for t = 1, 20 do
      dw = dw + rnn.matmul(gs[t]:t(), xs[t])
      dw2 = dw2 + rnn.matmul(g2s[t], vs[t]:t())
    end
    loss():backward()
    assert_near(dw:totable(), w.grad:totable(), 1e-12)
    assert_near(dw2:totable(), w2.grad:totable(), 1e-12)
    local held = w2.grad -- a handle on the grad sees the next backward's sum
    loss():backward()
    assert_near((dw * 2):totable(), w.grad:totable(), 1e-12)
    assert_near((dw2 * 2):totable(), held:totable(), 1e-12)
  end)

  it('a retained intermediate weight used at every step holds the summed gradient', function()
    rnn.manual_seed(8)
    local w = rnn.randn({3, 4}, D):requires_grad(true)
    local wt = w:t()
    wt:retain_grad()
    local total, expect = rnn.zeros({}, D), rnn.zeros({4, 3}, D)
    for _ = 1, 20 do
      local x, g = rnn.randn({1, 4}, D), rnn.randn({1, 3}, D)
      total = total + (rnn.matmul(x, wt) * g):sum()
      expect = expect + rnn.matmul(x:t(), g)
    end
    total:backward()
    assert_near(expect:totable(), wt.grad:totable(), 1e-12)
    assert_near(expect:t():totable(), w.grad:totable(), 1e-12)
  end)

  it('a gradient that is also the seed of backward is not overwritten while it is read', function()
    -- one row: the product runs as GEMV, which reads its vector as it writes
    rnn.manual_seed(3)
    local w = rnn.randn({1, 200}, D):requires_grad(true)
    local x = rnn.randn({200, 200}, D)
    rnn.matmul(w, x):sum():backward() -- w.grad = 1 x^T
    local g0 = w.grad:clone()
    rnn.matmul(w, x):backward(w.grad) -- w.grad += seed x^T with seed = old w.grad
    local expect = g0 + rnn.matmul(g0, x:t())
    assert_near(expect:totable(), w.grad:totable(), 1e-10)
  end)

  it('t.grad can be set to a tensor of the right shape and dtype only', function()
    local x = T{1, 2}:requires_grad(true)
    x.grad = T{10, 20}
    x:sum():backward()
    assert.are.same({11, 21}, x.grad:totable())
    raises(function() x.grad = T{1, 2, 3} end, 'Tensor.grad', '(3)')
    raises(function() x.grad = rnn.tensor({1, 2}, 'float32') end, 'Tensor.grad', 'float32')
    raises(function() x.grad = 5 end, 'Tensor.grad')
  end)
end)

describe('backward', function()
  it('on a non-scalar without a gradient is an error', function()
    local x = rnn.randn({3}, D):requires_grad(true)
    local y = x * 2
    raises(function() y:backward() end, 'rnn.backward:', '(3)', 'y:backward(g)')
  end)

  it('with a gradient computes the vector-Jacobian product', function()
    local x = T{1, 2, 3}:requires_grad(true)
    local y = x * x -- J = diag(2x)
    y:backward(T{1, 10, 100})
    assert.are.same({2, 40, 600}, x.grad:totable())

    local w = T{{1, 2}, {3, 4}, {5, 6}}:requires_grad(true) -- (3,2)
    local v = T{7, 8}:requires_grad(true)
    local out = rnn.matmul(w, v) -- (3)
    local g = T{1, -1, 2}
    out:backward(g)
    -- d<g, W v>/dW = g v^T, /dv = W^T g
    assert.are.same({{7, 8}, {-7, -8}, {14, 16}}, w.grad:totable())
    assert.are.same({1 - 3 + 10, 2 - 4 + 12}, v.grad:totable())
  end)

  it('a one-element non-0-d result needs no gradient', function()
    local x = T{3}:requires_grad(true)
    local y = (x * x):reshape(1, 1)
    y:backward()
    assert.are.same({6}, x.grad:totable())
  end)

  it('the gradient must match shape and dtype', function()
    local x = rnn.randn({3}, D):requires_grad(true)
    local y = x * 2
    raises(function() y:backward(T{1, 2}) end, 'rnn.backward:', '(2)', '(3)')
    raises(function() y:backward(rnn.ones{3}) end, 'rnn.backward:', 'float32')
    raises(function() y:backward(T{1, 1, 1}, {retain = true}) end, 'rnn.backward:', "unknown option 'retain'")
    raises(function() y:backward('x') end, 'rnn.backward:')
  end)

  it('on a leaf accumulates the seed into its own grad', function()
    local x = T{1, 2}:requires_grad(true)
    x:backward(T{5, 6})
    assert.are.same({5, 6}, x.grad:totable())
  end)

  it('twice through the same graph is an error that mentions retain_graph', function()
    local x = T{1, 2}:requires_grad(true)
    local y = (x:tanh() * x):sum()
    y:backward()
    raises(function() y:backward() end, 'rnn.backward:', 'retain_graph')
  end)

  it('twice works with {retain_graph = true}, and gradients add up', function()
    local x = T{1, 2}:requires_grad(true)
    local y = (x * x):sum()
    y:backward{retain_graph = true}
    y:backward{retain_graph = true}
    assert.are.same({4, 8}, x.grad:totable())
    y:backward() -- the last one may release
    assert.are.same({6, 12}, x.grad:totable())
    raises(function() y:backward() end, 'retain_graph')
    -- with an explicit gradient too
    local z = x * 3
    z:backward(T{1, 1}, {retain_graph = true})
    z:backward(T{1, 2})
    x.grad = nil
  end)

  it('after a backward without retain_graph the buffers are released: a second backward through a shared part fails',
    function()
      local x = T{1, 2}:requires_grad(true)
      local z = x * x        -- saves x
      local a = z:sum()
      local b = (z * 3):sum()
      a:backward()
      raises(function() b:backward() end, 'rnn.backward:', 'retain_graph')
      -- a graph of ops that save nothing is released as well
      local c = (x + 1):sum()
      c:backward()
      raises(function() c:backward() end, 'retain_graph')
    end)

  it('the gradient of a float32 tensor is float32, of a float64 tensor float64', function()
    for _, dt in ipairs{'float32', 'float64'} do
      local x = rnn.randn({2, 3}, dt):requires_grad(true)
      local w = rnn.randn({3, 2}, dt):requires_grad(true)
      local y = rnn.matmul(x, w):tanh():sum()
      y:backward()
      assert.are.equal(dt, x.grad:dtype())
      assert.are.equal(dt, w.grad:dtype())
      assert.are.same({2, 3}, x.grad:shape())
    end
  end)
end)

describe('outputs that do not require grad', function()
  it('comparisons, argmax and argmin, and max/min indices', function()
    local x = rnn.randn({3, 4}, D):requires_grad(true)
    for _, name in ipairs{'eq', 'ne', 'lt', 'le', 'gt', 'ge'} do
      local c = x[name](x, 0)
      assert.is_false(c:requires_grad(), name)
      assert.is_nil(c:grad_fn(), name)
      assert.is_false(rnn[name](x, x * 2):requires_grad(), name)
    end
    assert.is_false(x:argmax():requires_grad())
    assert.is_false(x:argmin(2):requires_grad())
    local v, i = x:max(2)
    assert.is_true(v:requires_grad())
    assert.are.equal('int64', i:dtype())
    assert.is_false(i:requires_grad())
  end)
end)

describe('no_grad', function()
  it('records nothing and returns fn\'s results', function()
    local x = rnn.randn({3}, D):requires_grad(true)
    local base = rnn._nodes_alive()
    local a, b, c = rnn.no_grad(function() return x * 2, (x:tanh()):sum(), 'third' end)
    assert.is_false(a:requires_grad())
    assert.is_true(a:is_leaf())
    assert.is_false(b:requires_grad())
    assert.are.equal('third', c)
    assert.are.equal(base, rnn._nodes_alive())
    assert.is_true(rnn.is_grad_enabled())
  end)

  it('returns nothing when fn returns nothing', function()
    assert.are.equal(0, select('#', rnn.no_grad(function() end)))
  end)

  it('passes further arguments to fn and returns all its results', function()
    assert.are.same({7}, {rnn.no_grad(function(p, q) return p + q end, 3, 4)})
    assert.are.same({1, 2, 3}, {rnn.no_grad(function(...) return ... end, 1, 2, 3)})
    assert.are.equal(3, select('#', rnn.no_grad(function(...) return ... end, 1, nil, 3)))
  end)

  it('grad mode is off inside and restored after, also when nested', function()
    local inner
    rnn.no_grad(function()
      assert.is_false(rnn.is_grad_enabled())
      rnn.no_grad(function() inner = rnn.is_grad_enabled() end)
      assert.is_false(rnn.is_grad_enabled())
    end)
    assert.is_false(inner)
    assert.is_true(rnn.is_grad_enabled())
  end)

  it('restores grad mode after an error inside fn and re-raises it', function()
    local ok, msg = pcall(rnn.no_grad, function() error('boom') end)
    assert.is_false(ok)
    assert.matches('boom', msg)
    assert.is_true(rnn.is_grad_enabled())
    ok = pcall(rnn.no_grad, function() local _ = rnn.zeros(2) + rnn.zeros(3) end)
    assert.is_false(ok)
    assert.is_true(rnn.is_grad_enabled())
    -- also when the mode was off before
    rnn.set_grad_enabled(false)
    pcall(rnn.no_grad, function() error('x') end)
    assert.is_false(rnn.is_grad_enabled())
    rnn.set_grad_enabled(true)
    local x = rnn.randn({2}, D):requires_grad(true)
    assert.is_true((x * 2):requires_grad())
  end)

  it('refuses a non-function', function()
    raises(function() rnn.no_grad(5) end, 'rnn.no_grad:', 'function')
  end)

  it('set_grad_enabled(false) records nothing until switched back', function()
    local x = rnn.randn({2}, D):requires_grad(true)
    rnn.set_grad_enabled(false)
    local y = x * 2
    rnn.set_grad_enabled(true)
    assert.is_false(y:requires_grad())
    assert.is_true((x * 2):requires_grad())
  end)
end)

describe('detach', function()
  it('stops gradients and shares the data', function()
    local x = T{1, 2, 3}:requires_grad(true)
    local d = x:detach()
    assert.is_false(d:requires_grad())
    assert.is_true(d:is_leaf())
    local y = (d * x):sum()
    y:backward()
    assert.are.same({1, 2, 3}, x.grad:totable()) -- not 2x
    rnn.no_grad(function() x[1] = 10 end)
    assert.are.equal(10, d[1])
  end)

  it('truncated BPTT: gradients flow only through the last segment', function()
    local H, T_, K = 3, 10, 4
    local W = (rnn.randn({H, H}, D) * 0.5):requires_grad(true)
    local U = rnn.randn({H, 2}, D):requires_grad(true)
    local xs = {}
    for t = 1, T_ do xs[t] = rnn.randn({2}, D) end
    local function step(h, t) return (rnn.matmul(W, h) + rnn.matmul(U, xs[t])):tanh() end
    -- detached every K steps: the last cut is at T_ - (T_ % K) = 8
    local h = rnn.zeros({H}, D)
    for t = 1, T_ do
      h = step(h, t)
      if t % K == 0 then h = h:detach() end
    end
    h:sum():backward()
    local gW, gU = W.grad:totable(), U.grad:totable()
    -- the same from the state at step 8 computed without a graph
    W.grad, U.grad = nil, nil
    local h8 = rnn.no_grad(function()
      local s = rnn.zeros({H}, D)
      for t = 1, 8 do s = step(s, t) end
      return s
    end)
    h = h8
    for t = 9, T_ do h = step(h, t) end
    h:sum():backward()
    assert_near(W.grad:totable(), gW, 1e-12)
    assert_near(U.grad:totable(), gU, 1e-12)
    -- and not the full-BPTT gradient
    W.grad = nil
    h = rnn.zeros({H}, D)
    for t = 1, T_ do h = step(h, t) end
    h:sum():backward()
    local differs = false
    for i = 1, H do for j = 1, H do
      if math.abs(W.grad:totable()[i][j] - gW[i][j]) > 1e-9 then differs = true end
    end end
    assert.is_true(differs)
  end)
end)

describe('retain_grad through a hand-written tanh RNN', function()
  -- h_t = tanh(W h_{t-1} + U x_t) + e_t with e_t = 0, T = 20, float64.
  -- dL/dh_t (retained) equals dL/de_t, checked against central differences
  -- in e_t, with L = sum_t <h_t, r_t>.
  local H, IN, TT = 4, 3, 20
  local function setup()
    rnn.manual_seed(5)
    local W = rnn.randn({H, H}, D) * 0.6
    local U = rnn.randn({H, IN}, D) * 0.5
    local xs, rs = {}, {}
    for t = 1, TT do
      xs[t] = rnn.randn({IN}, D)
      rs[t] = rnn.randn({H}, D)
    end
    return W, U, xs, rs
  end
  local function run(W, U, xs, rs, es, hs)
    local h = rnn.zeros({H}, D)
    local L
    for t = 1, TT do
      h = (rnn.matmul(W, h) + rnn.matmul(U, xs[t])):tanh()
      if es then h = h + es[t] end
      if hs then
        h:retain_grad()
        hs[t] = h
      end
      local term = (h * rs[t]):sum()
      L = L and L + term or term
    end
    return L
  end

  it('gives dL/dh_t for every t, matching finite differences', function()
    local W, U, xs, rs = setup()
    W:requires_grad(true)
    U:requires_grad(true)
    local es = {}
    for t = 1, TT do es[t] = rnn.zeros({H}, D):requires_grad(true) end
    local hs = {}
    run(W, U, xs, rs, es, hs):backward()
    local eps = 1e-6
    rnn.no_grad(function()
      for t = 1, TT do
        assert.is_not_nil(hs[t].grad, 'h_' .. t)
        local g = hs[t].grad:totable()
        -- the retained gradient is the one e_t received
        assert_near(g, es[t].grad:totable(), 1e-12, 'e_' .. t)
        for j = 1, H do
          es[t][j] = eps
          local fp = run(W, U, xs, rs, es):item()
          es[t][j] = -eps
          local fm = run(W, U, xs, rs, es):item()
          es[t][j] = 0
          local numeric = (fp - fm) / (2 * eps)
          assert(math.abs(g[j] - numeric) <= 1e-7 + 1e-6 * math.abs(numeric),
            string.format('dL/dh_%d[%d]: retained %.12g, finite differences %.12g', t, j, g[j], numeric))
        end
      end
    end)
    -- the last step's gradient is r_T exactly (nothing after it)
    assert_near(rs[TT]:totable(), hs[TT].grad:totable(), 1e-15)
  end)

  it('without e_t: the norm sequence |dL/dh_t| is finite and nonzero for every t', function()
    local W, U, xs, rs = setup()
    W:requires_grad(true)
    local hs = {}
    run(W, U, xs, rs, nil, hs):backward()
    for t = 1, TT do
      local n = hs[t].grad:square():sum():sqrt():item()
      assert(n == n and n > 0 and n < math.huge, string.format('|dL/dh_%d| = %s', t, tostring(n)))
    end
    -- retaining does not change the parameters' gradients
    local gW = W.grad:totable()
    W.grad = nil
    run(W, U, xs, rs):backward()
    assert_near(gW, W.grad:totable(), 1e-14)
  end)

  it('retained gradients accumulate over backwards like a leaf\'s', function()
    local x = T{1, 2}:requires_grad(true)
    local h = x * 2
    h:retain_grad()
    local y = (h * h):sum()
    y:backward{retain_graph = true}
    assert.are.same({4, 8}, h.grad:totable())
    y:backward()
    assert.are.same({8, 16}, h.grad:totable())
  end)
end)

describe('long chains', function()
  local N = 100000

  it('backward through a chain of 100,000 ops works and is exact', function()
    local x = T{1.5}:requires_grad(true)
    local y = x
    for _ = 1, N do y = y * 1.0000001 end
    y:sum():backward()
    local expected = 1.0000001 ^ N
    assert_near({expected}, x.grad:totable(), 1e-10)
    assert_near({1.5 * expected}, y:totable(), 1e-10)
  end)

  it('a chain of alternating ops (add, mul) of 20,000 steps', function()
    local x = T{0.5, -0.25}:requires_grad(true)
    local y = x
    local M = 10000
    for _ = 1, M do
      y = y + 1e-6
      y = y * 0.99999
    end
    y:sum():backward()
    assert_near({0.99999 ^ M, 0.99999 ^ M}, x.grad:totable(), 1e-10)
  end)

  it('a deep graph is freed without stack overflow after collectgarbage', function()
    collectgarbage()
    collectgarbage()
    local base = rnn._nodes_alive()
    do
      local x = T{1}:requires_grad(true)
      local y = x
      for _ = 1, N do y = y * 1.0000001 end
      assert.is_true(rnn._nodes_alive() >= base + N)
      -- released without a backward ever running
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(base, rnn._nodes_alive())
    do -- and after a backward
      local x = T{1}:requires_grad(true)
      local y = x
      local M = 20000
      for _ = 1, M do y = y + 1 end
      y:sum():backward()
      assert.are.equal(M + 1, y:item())
      assert.are.same({1}, x.grad:totable())
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(base, rnn._nodes_alive())
  end)
end)

describe('in-place operations', function()
  local function leaf() return T{{1, 2}, {3, 4}}:requires_grad(true) end
  local ops = {
    {'add_', function(x) x:add_(1) end},
    {'mul_', function(x) x:mul_(2) end},
    {'fill_', function(x) x:fill_(0) end},
    {'zero_', function(x) x:zero_() end},
    {'copy_', function(x) x:copy_(T{{5, 6}, {7, 8}}) end},
    {'tanh_', function(x) x:tanh_() end},
    {'clamp_', function(x) x:clamp_(0, 1) end},
    {'Tensor.__newindex', function(x) x[1] = 5 end},           -- a row
    {'Tensor.__newindex', function(x) x[{1, 2}] = 5 end},      -- one element (set)
    {'Tensor.__newindex', function(x) x[2] = T{9, 9} end},     -- a row from a tensor
  }
  for k, op in ipairs(ops) do
    it(op[1] .. ' (' .. k .. ') on a leaf that requires grad errors outside no_grad', function()
      local x = leaf()
      raises(function() op[2](x) end, 'rnn.' .. op[1] .. ':', 'requires grad', 'no_grad')
      assert.are.same({{1, 2}, {3, 4}}, x:totable()) -- untouched
    end)
    it(op[1] .. ' (' .. k .. ') on a leaf that requires grad works inside no_grad', function()
      local x = leaf()
      rnn.no_grad(function() op[2](x) end)
      assert.is_true(x:requires_grad())
      assert.are_not.same({{1, 2}, {3, 4}}, x:totable())
    end)
  end

  it('on the result of a recorded op errors too', function()
    local x = leaf()
    local y = x * 2
    raises(function() y:add_(1) end, 'rnn.add_:', 'requires grad')
    raises(function() x[1]:fill_(0) end, 'rnn.fill_:')
  end)

  it('on a tensor that does not require grad works anywhere', function()
    local x = T{1, 2}
    x:add_(1)
    x[1] = 0
    assert.are.same({0, 3}, x:totable())
  end)

  it('modifying a tensor saved for backward makes backward fail with "modified in place"', function()
    local w = rnn.randn({3}, D):requires_grad(true)
    local x = rnn.randn({3}, D)
    local y = (w * x):sum() -- mul saves x
    x:add_(1)
    raises(function() y:backward() end, 'rnn.backward:', 'modified in place')
  end)

  it('also through a detached alias, an element write or a saved output', function()
    local w = rnn.randn({3}, D):requires_grad(true)
    local x = rnn.randn({3}, D)
    local y = (w * x):sum()
    x[2] = 0
    raises(function() y:backward() end, 'modified in place')

    local e = w:exp() -- exp saves its output
    local z = e:sum()
    rnn.no_grad(function() e:mul_(2) end)
    raises(function() z:backward() end, 'modified in place')

    local v = w * 1
    local u = (v * w):sum() -- saves v and w
    rnn.no_grad(function() v:detach():fill_(0) end)
    raises(function() u:backward() end, 'modified in place')
  end)

  it('a write before the op is recorded is fine', function()
    local w = T{1, 2}:requires_grad(true)
    local x = T{3, 4}
    x:add_(1)
    local y = (w * x):sum()
    y:backward()
    assert.are.same({4, 5}, w.grad:totable())
  end)
end)

describe('views of leaves that require grad', function()
  it('refuse in-place writes outside no_grad, even when the view was made under no_grad', function()
    local w = rnn.zeros({4}, 'float64'):requires_grad(true)
    local v = rnn.no_grad(function() return w:narrow(1, 1, 2) end)
    local ok, err = pcall(function() v:add_(1) end)
    assert.is_false(ok)
    assert.truthy(err:find('view of a tensor that requires grad', 1, true))
    rnn.no_grad(function() v:add_(1) end)
    assert.are.same({1, 1, 0, 0}, w:detach():totable())
  end)
end)
