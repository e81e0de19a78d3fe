-- rnn.gradcheck (central finite differences in float64) for every
-- differentiable operation, each in its own test. Inputs are drawn with a
-- fixed seed per test, in ranges where the op is smooth (no kinks, ties or
-- poles within a few eps of any input). Tolerances: gradcheck's defaults,
-- eps 1e-6, an element passes when |analytic - numeric| <= 1e-6 + 1e-4 |numeric|.
local rnn = require 'rnn'
local F = rnn.nn.functional

local D = 'float64'

-- float64 normal / uniform [lo, hi) leaves
local function N(shape) return rnn.randn(shape, D) end
local function U(shape, lo, hi) return rnn.rand(shape, D) * (hi - lo) + lo end
-- uniform magnitude in [lo, hi) with a random sign: away from 0 by lo
local function away(shape, lo, hi)
  local mag = U(shape, lo, hi)
  local sign = rnn.rand(shape, D):gt(0.5):to(D) * 2 - 1
  return mag * sign
end
local function T(values) return rnn.tensor(values, D) end
local function I(values) return rnn.tensor(values, 'int64') end

-- passes or raises gradcheck's own report
local function check(fn, inputs, opts)
  local ok, report = rnn.gradcheck(fn, inputs, opts)
  assert.is_true(ok)
  assert.is_true(report.max_abs_err <= 1e-6 + 1e-4 * math.abs(report.numeric or 0))
  return report
end

before_each(function() rnn.manual_seed(1234) end)

describe('gradcheck: binary arithmetic', function()
  -- input ranges per op: [lo, hi) for a and b
  local ops = {
    {'add', function(a, b) return a + b end, {-2, 2}, {-2, 2}},
    {'sub', function(a, b) return a - b end, {-2, 2}, {-2, 2}},
    {'mul', function(a, b) return a * b end, {-2, 2}, {-2, 2}},
    {'div', function(a, b) return a / b end, {-2, 2}, {0.5, 2}},
    {'pow', function(a, b) return a ^ b end, {0.5, 2}, {-1.5, 1.5}},
  }
  local shapes = {
    {'same shape (2,3)x(2,3)', {2, 3}, {2, 3}},
    {'broadcast b (2,3)x(3)', {2, 3}, {3}},
    {'broadcast a (3)x(2,3)', {3}, {2, 3}},
    {'broadcast b (2,3)x(2,1)', {2, 3}, {2, 1}},
    {'both ways (3,1)x(1,4)', {3, 1}, {1, 4}},
    {'0-d b (2,3)x()', {2, 3}, {}},
    {'0-d a ()x(2,3)', {}, {2, 3}},
    {'0-d ()x()', {}, {}},
    {'leading dims (2,1,3)x(4,1)', {2, 1, 3}, {4, 1}},
  }
  for _, op in ipairs(ops) do
    local name, f, ra, rb = op[1], op[2], op[3], op[4]
    for _, sh in ipairs(shapes) do
      it(name .. ' ' .. sh[1], function()
        check(f, {U(sh[2], ra[1], ra[2]), U(sh[3], rb[1], rb[2])})
      end)
    end
    it(name .. ' through rnn.' .. name, function()
      check(rnn[name], {U({2, 3}, ra[1], ra[2]), U({3}, rb[1], rb[2])})
    end)
    it(name .. ' tensor-scalar', function()
      local s = (rb[1] + rb[2]) / 2 + 0.3
      check(function(a) return rnn[name](a, s) end, {U({2, 3}, ra[1], ra[2])})
      check(function(a) return f(a, s) end, {U({2, 3}, ra[1], ra[2])})
    end)
    it(name .. ' scalar-tensor', function()
      local s = (ra[1] + ra[2]) / 2 + 0.3
      check(function(b) return rnn[name](s, b) end, {U({2, 3}, rb[1], rb[2])})
      check(function(b) return f(s, b) end, {U({2, 3}, rb[1], rb[2])})
    end)
  end

  it('pow with a negative base and an integer exponent', function()
    check(function(a) return a ^ 3 end, {away({2, 3}, 0.5, 2)})
    check(function(a) return a ^ 2 end, {away({2, 3}, 0.5, 2)})
  end)

  -- pow at a zero base: finite gradients, with PyTorch's conventions
  -- (d/db a^b = 0 where a = 0 and b >= 0; d/da a^b = 0 where b = 0)
  it('pow at a zero base, tensor ^ tensor', function()
    local a = T{0, 0, 0, 2}:requires_grad(true)
    local b = T{0, 1, 2, 0}:requires_grad(true)
    local y = (a ^ b):sum()
    y:backward()
    assert.are.same({0, 1, 0, 0}, a.grad:totable())
    local gb = b.grad:totable()
    assert.are.same({0, 0, 0}, {gb[1], gb[2], gb[3]})
    assert.are.equal(math.log(2), gb[4]) -- 2^0 log 2
  end)

  it('pow at a zero base, tensor ^ scalar', function()
    local x = T{0, 1}:requires_grad(true)
    local z = (x ^ 2):sum() + (x ^ 0):sum() + (x ^ 1):sum()
    z:backward()
    assert.are.same({1, 3}, x.grad:totable())
  end)

  it('pow at a zero base, scalar ^ tensor (0^e)', function()
    local e = T{0, 1, 2}:requires_grad(true)
    local w = rnn.pow(0, e):sum()
    w:backward()
    assert.are.same({0, 0, 0}, e.grad:totable())
  end)

  it('the same tensor on both sides (x * x, x - x, x / x)', function()
    check(function(x) return x * x + x / (x * x + 1) - x end, {N{2, 3}})
  end)
end)

describe('gradcheck: maximum and minimum', function()
  for _, name in ipairs{'maximum', 'minimum'} do
    it(name .. ' without ties', function()
      local a = N{3, 4}
      local b = a + away({3, 4}, 0.1, 1) -- every pair at least 0.1 apart
      check(rnn[name], {a, b})
    end)
    it(name .. ' broadcast (3,4)x(4)', function()
      local a = rnn.tensor({{-1.5, 0.3, 2.0, -0.2}, {0.7, -0.9, 1.1, 0.25}, {0.05, 1.4, -2.2, 0.9}}, D)
      local b = rnn.tensor({0.5, -0.5, 1.5, 0.6}, D)
      check(rnn[name], {a, b})
      check(function(x, y) return x[name](x, y) end, {a, b})
    end)
    it(name .. ' with a scalar', function()
      local a = rnn.tensor({-1.5, 0.3, 2.0, -0.2, 0.7, 1.1}, D)
      check(function(x) return rnn[name](x, 0.5) end, {a})
      check(function(x) return rnn[name](0.5, x) end, {a})
    end)
  end
end)

describe('gradcheck: unary', function()
  local cases = {
    {'neg', N, function(x) return -x end},
    {'abs', function(s) return away(s, 0.1, 2) end},
    {'exp', N},
    {'log', function(s) return U(s, 0.2, 3) end},
    {'sqrt', function(s) return U(s, 0.2, 3) end},
    {'tanh', N},
    {'sigmoid', N},
    {'relu', function(s) return away(s, 0.1, 2) end},
    {'sin', N},
    {'cos', N},
    {'log1p', function(s) return U(s, -0.8, 3) end},
    {'expm1', N},
    {'reciprocal', function(s) return away(s, 0.3, 2) end},
    {'square', N},
    {'rsqrt', function(s) return U(s, 0.2, 3) end},
  }
  for _, c in ipairs(cases) do
    local name, gen, meta = c[1], c[2], c[3]
    it(name, function()
      local x = gen{2, 3}
      check(rnn[name], {x})
      check(function(t) return t[name](t) end, {x})
      if meta then check(meta, {x}) end
    end)
    it(name .. ' on a 0-d tensor and a transposed view', function()
      check(rnn[name], {gen{}})
      check(function(t) return rnn[name](t:t()) end, {gen{3, 2}})
    end)
  end

  it('floor ceil round sign: zero gradient away from their steps', function()
    local x = T{-1.7, -0.6, 0.3, 1.2, 2.4}
    for _, name in ipairs{'floor', 'ceil', 'round', 'sign'} do
      check(function(t) return rnn[name](t) * 1 + t * 0 end, {x})
    end
  end)
end)

describe('gradcheck: clamp', function()
  -- every value at least 0.1 from the bounds -0.5 and 0.5
  local x = function() return T{{-2, -0.9, -0.6, -0.4}, {0, 0.35, 0.6, 1.7}} end
  it('both bounds', function()
    check(function(t) return t:clamp(-0.5, 0.5) end, {x()})
    check(function(t) return rnn.clamp(t, -0.5, 0.5) end, {x()})
  end)
  it('only a lower bound', function()
    check(function(t) return t:clamp(-0.5) end, {x()})
    check(function(t) return t:clamp(-0.5, nil) end, {x()})
  end)
  it('only an upper bound', function()
    check(function(t) return t:clamp(nil, 0.5) end, {x()})
  end)
end)

describe('gradcheck: matmul', function()
  local cases = {
    {'2-d (3,4)x(4,5)', {3, 4}, {4, 5}},
    {'1-d . 1-d', {4}, {4}},
    {'2-d x 1-d', {3, 4}, {4}},
    {'1-d x 2-d', {4}, {4, 5}},
    {'batched 3-d (2,3,4)x(2,4,5)', {2, 3, 4}, {2, 4, 5}},
    {'3-d x 2-d (2,3,4)x(4,5)', {2, 3, 4}, {4, 5}},
    {'2-d x 3-d (3,4)x(2,4,5)', {3, 4}, {2, 4, 5}},
    {'batch broadcast (1,3,4)x(2,4,5)', {1, 3, 4}, {2, 4, 5}},
    {'4-d batch broadcast (2,1,3,4)x(3,4,2)', {2, 1, 3, 4}, {3, 4, 2}},
    {'3-d x 1-d', {2, 3, 4}, {4}},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      check(rnn.matmul, {N(c[2]), N(c[3])})
      check(function(a, b) return a:matmul(b) end, {N(c[2]), N(c[3])})
    end)
  end
  it('transposed operands', function()
    check(function(a, b) return rnn.matmul(a:t(), b) end, {N{4, 3}, N{4, 5}})
    check(function(a, b) return rnn.matmul(a, b:t()) end, {N{3, 4}, N{5, 4}})
    check(function(a, b) return rnn.matmul(a:t(), b:t()) end, {N{4, 3}, N{5, 4}})
    check(function(a, b) return rnn.matmul(a:transpose(2, 3), b) end, {N{2, 4, 3}, N{2, 4, 5}})
  end)
  it('transposed leaves (non-contiguous inputs)', function()
    check(rnn.matmul, {N{4, 3}:t(), N{5, 4}:t()})
  end)
  it('the same tensor on both sides (x^T x)', function()
    check(function(a) return rnn.matmul(a:t(), a) end, {N{3, 4}})
  end)
end)

describe('gradcheck: linear (x W^T + b)', function()
  it('with and without bias', function()
    check(rnn.linear, {N{3, 4}, N{5, 4}, N{5}})
    check(rnn.linear, {N{3, 4}, N{5, 4}})
  end)
  it('one row, and transposed (non-contiguous) input and weight', function()
    check(rnn.linear, {N{1, 4}, N{5, 4}, N{5}})
    check(rnn.linear, {N{4, 3}:t(), N{4, 5}:t(), N{5}})
  end)
  it('a weight used at every step of a loop (gradients added in place, in panels)', function()
    local xs = {}
    for t = 1, 12 do xs[t] = N{t % 3 + 1, 4} end -- batches of 1, 2 and 3 rows
    check(function(w, b)
      local total = rnn.zeros({}, D)
      for t = 1, 12 do total = total + (rnn.linear(xs[t], w, b):tanh() * t):sum() end
      return total
    end, {N{5, 4}, N{5}})
  end)
  it('the same tensor as input and weight', function()
    check(function(a) return rnn.linear(a, a) end, {N{3, 3}})
  end)
end)

describe('gradcheck: reductions', function()
  for _, name in ipairs{'sum', 'mean', 'prod'} do
    local gen = name == 'prod' and function(s) return away(s, 0.5, 1.5) end or N
    it(name .. ' of all elements', function()
      check(function(x) return x[name](x) end, {gen{2, 3, 2}})
      check(rnn[name], {gen{4}})
      check(rnn[name], {gen{}})
    end)
    it(name .. ' per dim', function()
      for _, dim in ipairs{1, 2, 3, -1} do
        check(function(x) return x[name](x, dim) end, {gen{2, 3, 2}})
      end
    end)
    it(name .. ' per dim, keepdim true and false', function()
      for _, keep in ipairs{true, false} do
        for _, dim in ipairs{1, 2} do
          check(function(x) return x[name](x, dim, keep) end, {gen{3, 4}})
        end
      end
    end)
  end

  it('prod with one zero in a slice', function()
    local x = T{{0.5, 0, 1.5, -2}, {1.2, -0.7, 0.9, 1.1}}
    check(function(t) return t:prod() end, {x})
    check(function(t) return t:prod(2) end, {x})
    check(function(t) return t:prod(1, true) end, {x})
    -- d prod / d x[1][2] = product of the others in the row
    x = T{{0.5, 0, 1.5, -2}}:requires_grad(true)
    x:prod(2):sum():backward()
    assert.are.same({{0, 0.5 * 1.5 * -2, 0, 0}}, x.grad:totable())
  end)

  it('prod with two zeros in a slice', function()
    local x = T{{0.5, 0, 1.5, 0}, {1.2, -0.7, 0.9, 1.1}}
    check(function(t) return t:prod(2) end, {x})
    check(function(t) return t:prod() end, {x})
    x = T{{0.5, 0, 1.5, 0}}:requires_grad(true)
    x:prod():backward()
    assert.are.same({{0, 0, 0, 0}}, x.grad:totable())
  end)

  for _, name in ipairs{'max', 'min'} do
    -- distinct values, at least 0.1 apart
    local function distinct(shape)
      local n = 1
      for _, s in ipairs(shape) do n = n * s end
      return (rnn.randperm(n):to(D) * 0.37 - 1):reshape(shape)
    end
    it(name .. ' of all elements (no ties)', function()
      check(function(x) return x[name](x) end, {distinct{3, 4}})
      check(rnn[name], {distinct{5}})
    end)
    it(name .. ' per dim, keepdim true and false (no ties)', function()
      for _, keep in ipairs{true, false} do
        for _, dim in ipairs{1, 2, -1} do
          check(function(x)
            local v = x[name](x, dim, keep)
            return v
          end, {distinct{3, 4}})
        end
      end
    end)
    it(name .. ' per dim: gradcheck ignores the int64 indices returned beside the values', function()
      check(function(x) return x[name](x, 2) end, {distinct{3, 4}})
    end)
  end
end)

describe('gradcheck: shape ops', function()
  local cases = {
    {'reshape', {2, 3, 4}, function(x) return x:reshape(4, 6) end},
    {'reshape with -1 and a table', {2, 3, 4}, function(x) return x:reshape{-1, 2} end},
    {'reshape of a non-contiguous view', {3, 4}, function(x) return x:t():reshape(12) end},
    {'rnn.reshape', {2, 3}, function(x) return rnn.reshape(x, 3, 2) end},
    {'view', {2, 3, 4}, function(x) return x:view(6, 4) end},
    {'flatten', {2, 3, 4}, function(x) return x:flatten() end},
    {'transpose', {2, 3, 4}, function(x) return x:transpose(1, 3) end},
    {'transpose negative dims', {2, 3, 4}, function(x) return rnn.transpose(x, -1, -2) end},
    {'t', {3, 4}, function(x) return x:t() end},
    {'permute', {2, 3, 4}, function(x) return x:permute(3, 1, 2) end},
    {'permute (table)', {2, 3, 4}, function(x) return rnn.permute(x, {2, 3, 1}) end},
    {'narrow', {5, 3}, function(x) return x:narrow(1, 2, 3) end},
    {'narrow dim 2', {3, 5}, function(x) return rnn.narrow(x, 2, 4, 2) end},
    {'select', {3, 4}, function(x) return x:select(2, 3) end},
    {'select dim 1 negative index', {3, 4}, function(x) return rnn.select(x, 1, -1) end},
    {'squeeze one dim', {3, 1, 4}, function(x) return x:squeeze(2) end},
    {'squeeze all', {1, 3, 1, 4}, function(x) return x:squeeze() end},
    {'unsqueeze', {3, 4}, function(x) return x:unsqueeze(2) end},
    {'unsqueeze at the end', {3, 4}, function(x) return rnn.unsqueeze(x, 3) end},
    {'expand (3,1) to (3,4)', {3, 1}, function(x) return x:expand(3, 4) end},
    {'expand (4) to (2,3,4)', {4}, function(x) return x:expand{2, 3, 4} end},
    {'expand with -1', {1, 4}, function(x) return x:expand(3, -1) end},
    {'contiguous of a transpose', {3, 4}, function(x) return x:t():contiguous() end},
    {'contiguous of a contiguous tensor', {3, 4}, function(x) return x:contiguous() * 2 end},
    {'clone', {3, 4}, function(x) return x:clone() end},
    {'rnn.clone', {3, 4}, function(x) return rnn.clone(x) * x end},
    {'view of a view of a view', {2, 3, 4}, function(x) return x:transpose(1, 2):narrow(3, 2, 2):select(1, 2) end},
  }
  for _, c in ipairs(cases) do
    it(c[1], function() check(c[3], {N(c[2])}) end)
  end

  it('index_select with repeated indices (gradients accumulate)', function()
    check(function(x) return x:index_select(1, I{3, 1, 3, 3, 2}) end, {N{4, 3}})
    check(function(x) return rnn.index_select(x, 2, I{2, 2, 1}) end, {N{4, 3}})
    check(function(x) return x:index_select(1, {1, 1, 4}) end, {N{4, 3}})
    local x = N{4, 3}:requires_grad(true)
    x:index_select(1, I{3, 1, 3, 3}):sum():backward()
    assert.are.same({{1, 1, 1}, {0, 0, 0}, {3, 3, 3}, {0, 0, 0}}, x.grad:totable())
  end)

  it('gather with repeated indices (gradients accumulate)', function()
    local idx = I{{1, 1, 3}, {2, 2, 2}}
    check(function(x) return x:gather(2, idx) end, {N{2, 3}})
    check(function(x) return rnn.gather(x, 1, I{{2, 1, 2}, {2, 2, 1}, {1, 1, 1}}) end, {N{2, 3}})
    local x = N{2, 3}:requires_grad(true)
    x:gather(2, idx):sum():backward()
    assert.are.same({{2, 0, 1}, {0, 3, 0}}, x.grad:totable())
  end)

  it('cat of 3 inputs along each dim', function()
    check(function(a, b, c) return rnn.cat({a, b, c}) end, {N{2, 3}, N{1, 3}, N{3, 3}})
    check(function(a, b, c) return rnn.cat({a, b, c}, 1) end, {N{2, 3}, N{1, 3}, N{3, 3}})
    check(function(a, b, c) return rnn.cat({a, b, c}, 2) end, {N{2, 1}, N{2, 3}, N{2, 2}})
    check(function(a, b, c) return rnn.cat({a, b, c}, -1) end, {N{2, 2, 1}, N{2, 2, 3}, N{2, 2, 2}})
  end)

  it('cat with the same tensor twice and a tensor without grad', function()
    local c = N{2, 3}
    check(function(a) return rnn.cat({a, c, a}, 1) end, {N{2, 3}})
  end)

  it('stack along each dim', function()
    for _, dim in ipairs{1, 2, 3, -1} do
      check(function(a, b, c) return rnn.stack({a, b, c}, dim) end, {N{2, 3}, N{2, 3}, N{2, 3}})
    end
    check(function(a, b) return rnn.stack{a, b} end, {N{4}, N{4}})
  end)

  it('indexing t[i] (a row view)', function()
    check(function(x) return x[2] end, {N{3, 4}})
    check(function(x) return x[-1] * x[1] end, {N{3, 4}})
  end)

  it('indexing t[{i, j}] (a sub-view)', function()
    check(function(x) return x[{2, 3}] end, {N{2, 3, 4}})
    check(function(x) return x[{1}] + x[{2, 1}] end, {N{2, 3, 4}})
  end)

  it('to(float32) and back: the gradient is float64 again', function()
    local x = T{{0.5, -1.25}, {2, 3.5}}:requires_grad(true)
    local y = x:to('float32')
    assert.are.equal('float32', y:dtype())
    assert.is_true(y:requires_grad())
    local z = (y * y):sum()
    z:backward()
    assert.are.equal('float64', x.grad:dtype())
    assert.are.same({{1, -2.5}, {4, 7}}, x.grad:totable())
    -- and the other way: a float32 leaf through float64
    local w = rnn.tensor({1.5, -2}, 'float32'):requires_grad(true)
    local s = (w:to('float64') * 3):sum()
    s:backward()
    assert.are.equal('float32', w.grad:dtype())
    assert.are.same({3, 3}, w.grad:totable())
    -- float() and double() are conversions too
    local v = T{1, 2}:requires_grad(true)
    v:float():double():sum():backward()
    assert.are.equal('float64', v.grad:dtype())
    assert.are.same({1, 1}, v.grad:totable())
  end)
end)

describe('gradcheck: softmax and log_softmax', function()
  for _, name in ipairs{'softmax', 'log_softmax'} do
    it(name .. ' over each dim', function()
      for _, dim in ipairs{1, 2, 3, -1} do
        check(function(x) return x[name](x, dim) end, {N{2, 3, 4}})
      end
      check(function(x) return rnn[name](x, 1) end, {N{5}})
      check(function(x) return F[name](x, 2) end, {N{3, 4}})
    end)
    it(name .. ' with large logits (stable)', function()
      check(function(x) return x[name](x, 2) end, {N{2, 4} * 3 + 500})
    end)
  end
end)

describe('gradcheck: losses', function()
  for _, red in ipairs{'mean', 'sum', 'none'} do
    it('mse, reduction ' .. red, function()
      check(function(p, t) return F.mse(p, t, {reduction = red}) end, {N{3, 4}, N{3, 4}})
    end)
  end
  it('mse default reduction and 0-d', function()
    check(F.mse, {N{5}, N{5}})
    check(F.mse, {N{}, N{}})
  end)

  for _, red in ipairs{'mean', 'sum', 'none'} do
    it('cross_entropy, reduction ' .. red, function()
      local target = I{2, 1, 4, 2, 3}
      check(function(x) return F.cross_entropy(x, target, {reduction = red}) end, {N{5, 4}})
    end)
    it('cross_entropy with ignore_index, reduction ' .. red, function()
      local target = I{2, -100, 4, 2, -100, 3}
      check(function(x) return F.cross_entropy(x, target, {reduction = red, ignore_index = -100}) end,
        {N{6, 4}})
      -- an ignore_index that is also a valid class
      check(function(x) return F.cross_entropy(x, I{2, 1, 4, 1}, {reduction = red, ignore_index = 1}) end,
        {N{4, 4}})
    end)
    it('nll, reduction ' .. red, function()
      local target = I{3, 1, 2, 3}
      check(function(x) return F.nll(x:log_softmax(2), target, {reduction = red}) end, {N{4, 3}})
      -- nll on raw inputs (it is linear in them)
      check(function(x) return F.nll(x, target, {reduction = red}) end, {N{4, 3}})
      check(function(x) return F.nll(x, I{3, 0, 2, 0}, {reduction = red, ignore_index = 0}) end, {N{4, 3}})
    end)
  end

  it('cross_entropy on (T,B,C) input with (T,B) targets', function()
    local target = I{{1, 3}, {2, 2}, {3, 1}}
    check(function(x) return F.cross_entropy(x, target) end, {N{3, 2, 3}})
    check(function(x) return F.cross_entropy(x, target, {reduction = 'none'}) end, {N{3, 2, 3}})
    check(function(x) return F.cross_entropy(x, I{{1, 3}, {-1, 2}, {3, -1}}, {ignore_index = -1}) end,
      {N{3, 2, 3}})
  end)

  it('cross_entropy on a non-contiguous (B,T,C) -> (T,B,C) input', function()
    local target = I{{1, 3}, {2, 2}, {3, 1}}
    check(function(x) return F.cross_entropy(x:transpose(1, 2), target) end, {N{2, 3, 3}})
  end)

  it('cross_entropy on a 1-d input (one sample)', function()
    check(function(x) return F.cross_entropy(x, rnn.tensor(2, 'int64')) end, {N{4}})
  end)

  for _, red in ipairs{'mean', 'sum', 'none'} do
    it('binary_cross_entropy_with_logits, reduction ' .. red .. ', both inputs', function()
      check(function(x, y) return F.binary_cross_entropy_with_logits(x, y, {reduction = red}) end,
        {N{3, 4} * 3, U({3, 4}, 0, 1)})
    end)
  end

  it('binary_cross_entropy_with_logits at exactly-zero logits: grad is sigmoid(0) - y', function()
    local y = T{0, 0.25, 1, 0.5}
    local x = rnn.zeros({4}, D):requires_grad(true)
    F.binary_cross_entropy_with_logits(x, y, {reduction = 'sum'}):backward()
    assert.are.same({0.5, 0.25, -0.5, 0}, x.grad:totable())
    x.grad = nil
    F.binary_cross_entropy_with_logits(x, y):backward() -- mean over 4
    assert.are.same({0.125, 0.0625, -0.125, 0}, x.grad:totable())
    -- and gradcheck agrees at zero (the loss is smooth there)
    check(function(t) return F.binary_cross_entropy_with_logits(t, y, {reduction = 'none'}) end,
      {rnn.zeros({4}, D)})
    -- large logits: no overflow in the gradient either
    check(function(t) return F.binary_cross_entropy_with_logits(t, y, {reduction = 'sum'}) end,
      {T{-40, 40, -800, 800}})
  end)

  it('embedding with repeated indices (gradients accumulate)', function()
    local idx = I{{1, 3, 3}, {5, 1, 3}}
    check(function(w) return F.embedding(idx, w) end, {N{5, 2}})
    local w = N{5, 2}:requires_grad(true)
    F.embedding(idx, w):sum():backward()
    assert.are.same({{2, 2}, {0, 0}, {3, 3}, {0, 0}, {1, 1}}, w.grad:totable())
  end)

  it('dropout with a fixed seed (gradcheck re-seeds inside)', function()
    rnn.manual_seed(7)
    check(function(x) return F.dropout(x, 0.3, true) end, {N{4, 5}})
    check(function(x) return F.dropout(x:tanh(), 0.5) * x end, {N{4, 5}})
    check(function(x) return F.dropout(x, 0.3, false) end, {N{4, 5}})
  end)
end)

describe('gradcheck: composite', function()
  it('an LSTM-like cell written op by op', function()
    local H, I_, B = 3, 2, 2
    local function cell(x, h, c, w, u, b)
      local g = rnn.matmul(x, w) + rnn.matmul(h, u) + b
      local i = g:narrow(2, 1, H):sigmoid()
      local f = g:narrow(2, H + 1, H):sigmoid()
      local gg = g:narrow(2, 2 * H + 1, H):tanh()
      local o = g:narrow(2, 3 * H + 1, H):sigmoid()
      local c2 = f * c + i * gg
      return o * c2:tanh(), c2
    end
    check(cell, {N{B, I_}, N{B, H}, N{B, H}, N{I_, 4 * H} * 0.5, N{H, 4 * H} * 0.5, N{4 * H}})
  end)
end)

describe('gradcheck itself', function()
  local function wrong(x) -- half the product hidden from the tape
    return x * rnn.no_grad(function() return x:clone() end)
  end

  it('returns false and says where, with raise = false', function()
    local ok, report = rnn.gradcheck(wrong, {U({2, 3}, 0.5, 2)}, {raise = false})
    assert.is_false(ok)
    assert.are.equal(1, report.input)
    assert.are.equal('table', type(report.index))
    assert.are.equal(2, #report.index)
    assert.is_true(report.max_abs_err > 0.1)
    assert.is_true(report.max_rel_err > 0.1)
    -- analytic x, numeric 2x
    assert.is_true(math.abs(report.numeric - 2 * report.analytic) < 1e-6)
  end)

  it('raises naming the input and the index', function()
    local a = N{3}
    local ok, msg = pcall(rnn.gradcheck, function(p, q) return p + wrong(q) end, {a, U({2, 3}, 0.5, 2)})
    assert.is_false(ok)
    assert.matches('rnn%.gradcheck: gradient mismatch for input 2 at %[%d,%d%]', msg)
    assert.matches('analytic', msg)
    assert.matches('numeric', msg)
  end)

  it('fails where a gradient is not finite (NaN is never within tolerance)', function()
    -- log and sqrt at 0: analytic inf, numeric NaN (the function is NaN at -eps)
    local ok, report = rnn.gradcheck(rnn.sqrt, {T{1, 0, 4}}, {raise = false})
    assert.is_false(ok)
    assert.are.same({2}, report.index)
    assert.is_true(report.max_abs_err ~= report.max_abs_err)
    ok = rnn.gradcheck(rnn.log, {T{0, 1}}, {raise = false})
    assert.is_false(ok)
    -- analytic NaN
    ok = rnn.gradcheck(function(x) return x * rnn.no_grad(function() return x * (0 / 0) end) end, {T{1}},
      {raise = false})
    assert.is_false(ok)
  end)

  it('the raised error points at the line that called gradcheck', function()
    local ok, msg = pcall(function() local _ = rnn.gradcheck(rnn.log, {T{0}}) end)
    local line = debug.getinfo(1, 'l').currentline - 1
    assert.is_false(ok)
    assert.matches('gradcheck_spec%.lua:' .. line .. ': rnn%.gradcheck: gradient mismatch for input 1 at %[1%]', msg)
  end)

  it('reports the errors of a passing check', function()
    local ok, report = rnn.gradcheck(rnn.tanh, {N{3}})
    assert.is_true(ok)
    assert.is_true(report.max_abs_err < 1e-8)
  end)

  it('leaves the random generator where it was', function()
    rnn.manual_seed(3)
    local x = N{3}
    local state = rnn.get_rng_state()
    rnn.gradcheck(function(t) return F.dropout(t, 0.5) end, {x})
    assert.are.same(state, rnn.get_rng_state())
  end)

  it('refuses non-float64 inputs and non-leaves', function()
    assert.error_matches(function() rnn.gradcheck(rnn.tanh, {rnn.randn{3}}) end,
      'rnn.gradcheck: input 1 is float32', nil, true)
    local y = N{3}:requires_grad(true) * 2
    assert.error_matches(function() rnn.gradcheck(rnn.tanh, {y}) end, 'not a leaf', nil, true)
    assert.error_matches(function() rnn.gradcheck(rnn.tanh, {N{3}}, {bogus = 1}) end,
      "rnn.gradcheck: unknown option 'bogus'", nil, true)
  end)
end)
