-- Arithmetic, comparisons, unary math, reductions and matmul, checked
-- against values computed by hand in Lua.
local rnn = require 'rnn'

local F32 = 1e-5   -- relative tolerance for float32 results
local F64 = 1e-12  -- relative tolerance for float64 results

-- |e - a| <= tol * max(1, |e|) elementwise over nested tables; NaN == NaN
local function assert_near(expected, actual, tol, path)
  path = path or ''
  if type(expected) == 'table' then
    assert.are.equal('table', type(actual), 'at ' .. path)
    assert.are.equal(#expected, #actual, 'length at ' .. path)
    for i = 1, #expected do assert_near(expected[i], actual[i], tol, path .. '[' .. i .. ']') end
  elseif expected ~= expected then
    assert(actual ~= actual, string.format('at %s: expected nan, got %.17g', path, actual))
  elseif expected == math.huge or expected == -math.huge then
    assert.are.equal(expected, actual, 'at ' .. path)
  else
    local err = math.abs(expected - actual)
    assert(err <= tol * math.max(1, math.abs(expected)),
      string.format('at %s: expected %.17g, got %.17g (tol %g)', path, expected, actual, tol))
  end
end

-- elementwise f over a (nested) table, or f(a, b) over two of the same shape
local function map(a, f)
  if type(a) ~= 'table' then return f(a) end
  local r = {}
  for i = 1, #a do r[i] = map(a[i], f) end
  return r
end

local A = {{1, -2, 3}, {-4, 5, 0.5}}   -- (2,3)
local ROW = {10, 20, 30}               -- (3)   broadcast along rows
local COL = {{2}, {-1}}                -- (2,1) broadcast along columns

-- the broadcast of A with ROW or COL, computed by hand
local function with_row(f)
  local r = {}
  for i = 1, 2 do r[i] = {} for j = 1, 3 do r[i][j] = f(A[i][j], ROW[j]) end end
  return r
end
local function with_col(f)
  local r = {}
  for i = 1, 2 do r[i] = {} for j = 1, 3 do r[i][j] = f(A[i][j], COL[i][1]) end end
  return r
end

describe('binary arithmetic', function()
  local ops = {
    {'add', function(x, y) return x + y end, function(a, b) return a + b end},
    {'sub', function(x, y) return x - y end, function(a, b) return a - b end},
    {'mul', function(x, y) return x * y end, function(a, b) return a * b end},
    {'div', function(x, y) return x / y end, function(a, b) return a / b end},
  }
  for _, dt in ipairs{'float32', 'float64'} do
    local tol = dt == 'float32' and F32 or F64
    for _, op in ipairs(ops) do
      local name, f, meta = op[1], op[2], op[3]
      it(name .. ' ' .. dt .. ': metamethod, method and function, broadcasting', function()
        local a = rnn.tensor(A, dt)
        local row, col = rnn.tensor(ROW, dt), rnn.tensor(COL, dt)
        assert_near(with_row(f), meta(a, row):totable(), tol)
        assert_near(with_row(f), a[name](a, row):totable(), tol)
        assert_near(with_row(f), rnn[name](a, row):totable(), tol)
        assert_near(with_col(f), meta(a, col):totable(), tol)
        -- (2,1) with (3) broadcasts to (2,3)
        local outer = meta(col, row)
        assert.are.same({2, 3}, outer:shape())
        assert_near({{f(2, 10), f(2, 20), f(2, 30)}, {f(-1, 10), f(-1, 20), f(-1, 30)}}, outer:totable(), tol)
        -- same shape
        assert_near(map(A, function(x) return f(x, x) end), meta(a, a):totable(), tol)
        assert.are.equal(dt, meta(a, row):dtype())
      end)
    end
  end

  it('number op tensor and tensor op number, both orders', function()
    local a = rnn.tensor(A, 'float64')
    assert_near(map(A, function(x) return x + 2 end), (a + 2):totable(), F64)
    assert_near(map(A, function(x) return 2 + x end), (2 + a):totable(), F64)
    assert_near(map(A, function(x) return x - 2 end), (a - 2):totable(), F64)
    assert_near(map(A, function(x) return 2 - x end), (2 - a):totable(), F64)
    assert_near(map(A, function(x) return x * 3 end), (a * 3):totable(), F64)
    assert_near(map(A, function(x) return 3 * x end), (3 * a):totable(), F64)
    assert_near(map(A, function(x) return x / 4 end), (a / 4):totable(), F64)
    assert_near(map(A, function(x) return 4 / x end), (4 / a):totable(), F64)
    assert_near(map(A, function(x) return x ^ 2 end), (a ^ 2):totable(), F64)
    assert_near(map(A, function(x) return 2 ^ x end), (2 ^ a):totable(), F64)
    assert_near(map(A, function(x) return x - 1 end), rnn.sub(a, 1):totable(), F64)
    assert_near(map(A, function(x) return 1 - x end), rnn.sub(1, a):totable(), F64)
  end)

  it('unary minus', function()
    local a = rnn.tensor(A)
    assert_near(map(A, function(x) return -x end), (-a):totable(), F32)
    assert.are.same({-1, 2}, (-rnn.tensor({1, -2}, 'int64')):totable())
  end)

  it('pow with tensors, maximum and minimum', function()
    local a = rnn.tensor({{1, 2}, {3, 4}}, 'float64')
    local b = rnn.tensor({2, 0.5}, 'float64')
    assert_near({{1, math.sqrt(2)}, {9, 2}}, (a ^ b):totable(), F64)
    assert_near({{1, math.sqrt(2)}, {9, 2}}, a:pow(b):totable(), F64)
    local x = rnn.tensor{1, 5, -3}
    local y = rnn.tensor{2, 4, -3}
    assert.are.same({2, 5, -3}, rnn.maximum(x, y):totable())
    assert.are.same({1, 4, -3}, rnn.minimum(x, y):totable())
    assert.are.same({1, 5, 1}, x:maximum(1):totable())
    local m = rnn.maximum(rnn.tensor{0 / 0, 1}, rnn.tensor{1, 0 / 0}):totable() -- NaN propagates
    assert.is_true(m[1] ~= m[1] and m[2] ~= m[2])
  end)

  it('int64 arithmetic is exact', function()
    local a = rnn.tensor({math.maxinteger - 1, -5}, 'int64')
    local b = rnn.tensor({1, 7}, 'int64')
    assert.are.same({math.maxinteger, 2}, (a + b):totable())
    assert.are.same({math.maxinteger - 2, -12}, (a - b):totable())
    assert.are.same({6, -10}, (rnn.tensor({3, -5}, 'int64') * 2):totable())
  end)

  it('division by zero gives inf and nan as IEEE', function()
    local r = (rnn.tensor{1, -1, 0} / 0):totable()
    assert.are.equal(math.huge, r[1])
    assert.are.equal(-math.huge, r[2])
    assert.is_true(r[3] ~= r[3])
  end)
end)

describe('in-place ops', function()
  it('add_ sub_ mul_ div_ pow_ modify self and return it', function()
    local a = rnn.tensor(A, 'float64')
    local ptr = a:data_ptr()
    assert.are.equal(a, a:add_(rnn.tensor(ROW, 'float64')))
    assert_near(with_row(function(x, y) return x + y end), a:totable(), F64)
    assert.are.equal(ptr, a:data_ptr())
    a:sub_(rnn.tensor(ROW, 'float64'))
    assert_near(A, a:totable(), F64)
    a:mul_(2)
    assert_near(map(A, function(x) return 2 * x end), a:totable(), F64)
    a:div_(rnn.tensor(COL, 'float64'))
    assert_near(with_col(function(x, y) return 2 * x / y end), a:totable(), F64)
    local p = rnn.tensor({1, 2, 3}, 'float64'):pow_(3)
    assert_near({1, 8, 27}, p:totable(), F64)
  end)

  it('maximum_, minimum_ and comparison ops in place', function()
    local a = rnn.tensor{1, 5, -3}
    a:maximum_(0)
    assert.are.same({1, 5, 0}, a:totable())
    a:minimum_(rnn.tensor{2})
    assert.are.same({1, 2, 0}, a:totable())
    local c = rnn.tensor{1, 2, 3}
    c:gt_(1.5)
    assert.are.same({0, 1, 1}, c:totable())
  end)

  it('in place through a view writes the base', function()
    local base = rnn.zeros(2, 3)
    base:select(1, 2):add_(5)
    assert.are.same({{0, 0, 0}, {5, 5, 5}}, base:totable())
    base:t():mul_(rnn.tensor{{1, 2}}) -- broadcast over the transposed view
    assert.are.same({{0, 0, 0}, {10, 10, 10}}, base:totable())
  end)

  it('unary in place: tanh_, exp_, abs_, neg_', function()
    local a = rnn.tensor({-1, 0, 2}, 'float64')
    assert.are.equal(a, a:tanh_())
    assert_near({-0.76159415595576489, 0, 0.96402758007581690}, a:totable(), F64) -- tanh(-1), tanh(2)
    local b = rnn.tensor({-1, 2}, 'float64'):abs_()
    assert.are.same({1, 2}, b:totable())
    b:neg_()
    assert.are.same({-1, -2}, b:totable())
    b:exp_()
    assert_near({math.exp(-1), math.exp(-2)}, b:totable(), F64)
  end)
end)

describe('comparisons', function()
  local a = rnn.tensor{1, 2, 3, 4}
  local b = rnn.tensor{4, 2, 1, 4}
  local cases = {
    eq = {0, 1, 0, 1}, ne = {1, 0, 1, 0}, lt = {1, 0, 0, 0},
    le = {1, 1, 0, 1}, gt = {0, 0, 1, 0}, ge = {0, 1, 1, 1},
  }
  for name, want in pairs(cases) do
    it(name .. ' gives 0/1 in the operands\' dtype', function()
      local r = a[name](a, b)
      assert.are.equal('float32', r:dtype())
      assert.are.same(want, r:totable())
      assert.are.same(want, rnn[name](a, b):totable())
    end)
  end

  it('with a number and with broadcasting', function()
    assert.are.same({0, 0, 1, 1}, a:gt(2):totable())
    assert.are.same({{1, 0}, {1, 1}}, rnn.tensor{{1, 3}, {0, 2}}:le(rnn.tensor{{2}, {2}}):totable())
    assert.are.same({1, 0}, rnn.tensor({5, 6}, 'int64'):eq(5):totable())
    assert.are.same({1, 0, 0, 1}, rnn.lt(2, b):totable()) -- number first: 2 < b
  end)

  it('NaN compares unequal to everything', function()
    local n = rnn.tensor{0 / 0}
    assert.are.same({0}, n:eq(n):totable())
    assert.are.same({1}, n:ne(n):totable())
  end)
end)

describe('unary functions against math.*', function()
  local function sigmoid(x) return 1 / (1 + math.exp(-x)) end
  local function tanh(x) local e = math.exp(2 * x) return (e - 1) / (e + 1) end
  local function sign(x) return x > 0 and 1 or (x < 0 and -1 or 0) end
  local function round(x) -- half to even
    local f = math.floor(x)
    local d = x - f
    if d > 0.5 or (d == 0.5 and f % 2 == 1) then return f + 1 end
    return f
  end
  local any = {-3.7, -1, -0.5, 0, 0.25, 0.5, 1, 2.5, 3.2}
  local positive = {0.01, 0.5, 1, 2, 10, 123.4}
  local near0 = {-0.5, -1e-6, 0, 1e-6, 0.3, 2}
  local cases = {
    {'neg', any, function(x) return -x end},
    {'abs', any, math.abs},
    {'exp', any, math.exp},
    {'log', positive, math.log},
    {'sqrt', positive, math.sqrt},
    {'tanh', any, tanh},
    {'sigmoid', any, sigmoid},
    {'relu', any, function(x) return math.max(x, 0) end},
    {'sin', any, math.sin},
    {'cos', any, math.cos},
    {'log1p', near0, function(x) return x == 0 and 0 or math.log(1 + x) end, 1e-9},
    {'expm1', near0, function(x) return math.exp(x) - 1 end, 1e-9},
    {'sign', any, sign},
    {'floor', any, math.floor},
    {'ceil', any, math.ceil},
    {'round', any, round},
    {'reciprocal', positive, function(x) return 1 / x end},
    {'square', any, function(x) return x * x end},
    {'rsqrt', positive, function(x) return 1 / math.sqrt(x) end},
  }
  for _, c in ipairs(cases) do
    local name, xs, f, tol64 = c[1], c[2], c[3], c[4]
    it(name, function()
      local want = map(xs, f)
      local d = rnn.tensor(xs, 'float64')
      assert_near(want, d[name](d):totable(), tol64 or F64)
      assert_near(want, rnn[name](d):totable(), tol64 or F64)
      local s = rnn.tensor(xs, 'float32')
      assert_near(want, s[name](s):totable(), math.max(F32, tol64 or 0))
      assert.are.equal('float32', s[name](s):dtype())
      local copy = d:clone()
      copy[name .. '_'](copy)
      assert.are.same(d[name](d):totable(), copy:totable())
      assert.are.same(xs, d:totable()) -- the function form left d alone
    end)
  end

  it('round halves to even, as PyTorch', function()
    assert.are.same({0, 2, 2, -0.0, -2, 4}, rnn.tensor{0.5, 1.5, 2.5, -0.5, -1.5, 3.5}:round():totable())
  end)

  it('integer-valued functions work on int64', function()
    local i = rnn.tensor({-3, 0, 4}, 'int64')
    assert.are.same({3, 0, 4}, i:abs():totable())
    assert.are.same({-1, 0, 1}, i:sign():totable())
    assert.are.same({9, 0, 16}, i:square():totable())
    assert.are.same({0, 0, 4}, i:relu():totable())
    assert.are.equal('int64', i:abs():dtype())
  end)

  it('log of zero and negatives, sqrt of negatives', function()
    local r = rnn.tensor({0, -1}, 'float64'):log():totable()
    assert.are.equal(-math.huge, r[1])
    assert.is_true(r[2] ~= r[2])
    local s = rnn.tensor({-4}, 'float64'):sqrt():item()
    assert.is_true(s ~= s)
  end)

  it('sigmoid saturates without overflow', function()
    local r = rnn.tensor({-1000, 1000}, 'float64'):sigmoid():totable()
    assert.are.same({0, 1}, r)
  end)
end)

describe('clamp', function()
  local xs = {-3, -1, 0, 0.5, 2, 7}
  it('with both bounds, one bound, method and function forms', function()
    local t = rnn.tensor(xs)
    assert.are.same({-1, -1, 0, 0.5, 2, 2}, t:clamp(-1, 2):totable())
    assert.are.same({-1, -1, 0, 0.5, 2, 2}, rnn.clamp(t, -1, 2):totable())
    assert.are.same({0, 0, 0, 0.5, 2, 7}, t:clamp(0):totable())
    assert.are.same({-3, -1, 0, 0.5, 1, 1}, t:clamp(nil, 1):totable())
    assert.are.same({1, 1, 1, 1, 1, 1}, t:clamp(1, 1):totable())
    assert.are.same(xs, t:totable())
  end)

  it('clamp_ in place; int64', function()
    local t = rnn.tensor(xs, 'float64')
    assert.are.equal(t, t:clamp_(-2, 1))
    assert.are.same({-2, -1, 0, 0.5, 1, 1}, t:totable())
    assert.are.same({0, 3, 5}, rnn.tensor({-1, 3, 9}, 'int64'):clamp(0, 5):totable())
  end)
end)

describe('reductions', function()
  local M = {{3, -1, 4}, {1, 5, -9}}  -- (2,3)
  local m = rnn.tensor(M, 'float64')

  it('sum, mean, prod over all elements give 0-d tensors', function()
    local s = m:sum()
    assert.are.equal(0, s:dim())
    assert.are.equal(3, s:item())
    assert.are.equal(3, rnn.sum(m):item())
    assert_near(0.5, m:mean():item(), F64)
    assert.are.equal(3 * -1 * 4 * 1 * 5 * -9, m:prod():item())
    assert.are.equal(0, rnn.zeros(0):sum():item())
    assert.are.equal(1, rnn.zeros(0):prod():item())
  end)

  it('per dim, negative dims and keepdim', function()
    assert.are.same({4, 4, -5}, m:sum(1):totable())
    assert.are.same({6, -3}, m:sum(2):totable())
    assert.are.same({6, -3}, m:sum(-1):totable())
    assert.are.same({{6}, {-3}}, m:sum(2, true):totable())
    assert.are.same({1, 3}, m:sum(1, true):shape())
    assert.are.same({3}, m:sum(1, false):shape())
    assert_near({2, 2, -2.5}, m:mean(1):totable(), F64)
    assert_near({{2}, {-1}}, m:mean(2, true):totable(), F64)
    assert.are.same({3, -5, -36}, m:prod(1):totable())
    assert.are.same({-12, -45}, m:prod(2):totable())
  end)

  it('3-d per dim against a loop', function()
    rnn.manual_seed(11)
    local x = rnn.randn({3, 4, 5}, 'float64')
    local v = x:totable()
    for d = 1, 3 do
      local s = x:sum(d, true)
      local shape = {3, 4, 5}
      shape[d] = 1
      assert.are.same(shape, s:shape())
      for i = 1, shape[1] do for j = 1, shape[2] do for k = 1, shape[3] do
        local acc = 0
        for r = 1, ({3, 4, 5})[d] do
          local idx = {i, j, k}
          idx[d] = r
          acc = acc + v[idx[1]][idx[2]][idx[3]]
        end
        assert_near(acc, s[{i, j, k}], F64)
      end end end
    end
  end)

  it('float32 sums accumulate in double', function()
    local ones = rnn.ones(1e6)
    assert.are.equal(1e6, ones:sum():item())
    local tenth = rnn.full({100000}, 0.1)
    assert_near(100000 * tenth[1], tenth:sum():item(), 1e-6)
  end)

  it('int64 sum is exact', function()
    local i = rnn.tensor({2 ^ 53, 1, 1}, 'int64')
    assert.are.equal(math.tointeger(2 ^ 53) + 2, i:sum():item())
    assert.are.equal('int64', i:sum():dtype())
  end)

  it('max and min over all elements', function()
    assert.are.equal(5, m:max():item())
    assert.are.equal(-9, m:min():item())
    assert.are.equal(0, m:max():dim())
    assert.are.equal(5, rnn.max(m):item())
  end)

  it('max and min per dim return values and 1-based indices', function()
    local v, i = m:max(1)
    assert.are.same({3, 5, 4}, v:totable())
    assert.are.same({1, 2, 1}, i:totable())
    assert.are.equal('int64', i:dtype())
    v, i = m:max(2)
    assert.are.same({4, 5}, v:totable())
    assert.are.same({3, 2}, i:totable())
    v, i = m:min(-1, true)
    assert.are.same({{-1}, {-9}}, v:totable())
    assert.are.same({{2}, {3}}, i:totable())
  end)

  it('argmax and argmin: flat 1-based position, or per dim', function()
    local a = m:argmax()
    assert.are.equal('int64', a:dtype())
    assert.are.equal(0, a:dim())
    assert.are.equal(5, a:item())          -- M[2][2] = 5 is the 5th element
    assert.are.equal(6, m:argmin():item()) -- M[2][3] = -9
    assert.are.same({1, 2, 1}, m:argmax(1):totable())
    assert.are.same({3, 2}, m:argmax(2):totable())
    assert.are.same({2, 1, 2}, m:argmin(1):totable())
    assert.are.same({{2}, {3}}, m:argmin(2, true):totable())
    assert.are.same({{2}, {3}}, rnn.argmin(m, -1, true):totable())
  end)

  it('ties pick the first position', function()
    local t = rnn.tensor{2, 7, 7, 1, 1}
    assert.are.equal(2, t:argmax():item())
    assert.are.equal(4, t:argmin():item())
    local _, i = t:max(1)
    assert.are.equal(2, i:item())
  end)

  it('reductions of a non-contiguous view', function()
    local t = m:t()  -- (3,2)
    assert.are.same({6, -3}, t:sum(1):totable())
    assert.are.same({3, 2}, t:argmax(1):totable())
    assert.are.equal(4, t:argmax():item()) -- t's row-major order: 3, 1, -1, 5, 4, -9
  end)
end)

describe('matmul', function()
  -- the reference: a Lua triple loop
  local function ref(a, b)
    local n, k, m = #a, #b, #b[1]
    assert(#a[1] == k)
    local c = {}
    for i = 1, n do
      c[i] = {}
      for j = 1, m do
        local s = 0
        for p = 1, k do s = s + a[i][p] * b[p][j] end
        c[i][j] = s
      end
    end
    return c
  end
  local function transpose(a)
    local r = {}
    for j = 1, #a[1] do r[j] = {} for i = 1, #a do r[j][i] = a[i][j] end end
    return r
  end

  before_each(function() rnn.manual_seed(1234) end)

  for _, dt in ipairs{'float32', 'float64'} do
    local tol = dt == 'float32' and 1e-5 or F64
    it('2-d ' .. dt, function()
      local a, b = rnn.randn({5, 7}, dt), rnn.randn({7, 3}, dt)
      local c = rnn.matmul(a, b)
      assert.are.same({5, 3}, c:shape())
      assert.are.equal(dt, c:dtype())
      assert_near(ref(a:totable(), b:totable()), c:totable(), tol)
      assert_near(ref(a:totable(), b:totable()), a:matmul(b):totable(), tol)
    end)
  end

  it('transposed and narrowed views as operands', function()
    local a = rnn.randn({7, 5}, 'float64')
    local b = rnn.randn({3, 7}, 'float64')
    local at, bt = a:t(), b:t()
    assert.is_false(at:is_contiguous())
    local want = ref(transpose(a:totable()), transpose(b:totable()))
    assert_near(want, rnn.matmul(at, bt):totable(), F64)
    assert_near(ref(transpose(a:totable()), a:totable()), at:matmul(a):totable(), F64)
    local w = rnn.randn({6, 8}, 'float64')
    local part = w:narrow(2, 2, 5)  -- (6,5), row stride 8
    assert_near(ref(part:totable(), at:totable()), part:matmul(at):totable(), F64)
    local cols = w:select(1, 1):narrow(1, 1, 7)  -- 1-d view
    assert.are.same({5}, at:matmul(cols):shape())
  end)

  it('batched (B,n,k) x (B,k,m) and broadcast (B,n,k) x (k,m)', function()
    local a = rnn.randn({4, 3, 5}, 'float64')
    local b = rnn.randn({4, 5, 2}, 'float64')
    local c = rnn.matmul(a, b)
    assert.are.same({4, 3, 2}, c:shape())
    local av, bv, cv = a:totable(), b:totable(), c:totable()
    for i = 1, 4 do assert_near(ref(av[i], bv[i]), cv[i], F64) end
    local w = rnn.randn({5, 2}, 'float64')
    local d = a:matmul(w)
    assert.are.same({4, 3, 2}, d:shape())
    local wv, dv = w:totable(), d:totable()
    for i = 1, 4 do assert_near(ref(av[i], wv), dv[i], F64) end
    -- broadcast batch dims: (2,1,3,5) x (4,5,2) -> (2,4,3,2)
    local e = rnn.randn({2, 1, 3, 5}, 'float64')
    local f = rnn.matmul(e, b)
    assert.are.same({2, 4, 3, 2}, f:shape())
    local ev, fv = e:totable(), f:totable()
    for i = 1, 2 do for j = 1, 4 do assert_near(ref(ev[i][1], bv[j]), fv[i][j], F64) end end
  end)

  it('1-d operands: dot, matrix-vector, vector-matrix', function()
    local x = rnn.tensor({1, 2, 3}, 'float64')
    local y = rnn.tensor({4, -5, 6}, 'float64')
    local dot = rnn.matmul(x, y)
    assert.are.equal(0, dot:dim())
    assert.are.equal(4 - 10 + 18, dot:item())
    local M = {{1, 0, 2}, {-1, 3, 1}}
    local mv = rnn.matmul(rnn.tensor(M, 'float64'), x)
    assert.are.same({2}, mv:shape())
    assert.are.same({7, 8}, mv:totable())
    local vm = rnn.matmul(rnn.tensor({2, -1}, 'float64'), rnn.tensor(M, 'float64'))
    assert.are.same({3}, vm:shape())
    assert.are.same({3, -3, 3}, vm:totable())
  end)

  it('empty inner dimension gives zeros', function()
    local c = rnn.matmul(rnn.zeros(2, 0), rnn.zeros(0, 3))
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, c:totable())
  end)

  it('float64 keeps precision float32 loses', function()
    local third = rnn.full({1, 3}, 1 / 3, 'float64')
    local three = rnn.full({3, 1}, 3, 'float64')
    assert_near(3, rnn.matmul(third, three):item(), 1e-15)
    local d = rnn.tensor({1e-10}, 'float64') + 1
    assert.are.equal(1 + 1e-10, d:item())
    local s = rnn.tensor({1e-10}, 'float32') + 1
    assert.are.equal(1, s:item())
    assert.are.equal(0.1 + 0.2, (rnn.tensor({0.1}, 'float64') + 0.2):item())
  end)
end)

describe('NaN through relu', function()
  it('relu keeps NaN, as PyTorch does', function()
    local r = rnn.tensor{0 / 0, -1, 2}:relu():totable()
    assert.is_true(r[1] ~= r[1])
    assert.are.same({0, 2}, {r[2], r[3]})
  end)
end)
