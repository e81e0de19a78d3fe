-- Tensor creation, queries, element access and printing.
local rnn = require 'rnn'

-- |a - b| <= tol elementwise over nested tables (or plain numbers)
local function assert_near(expected, actual, tol, path)
  path = path or ''
  if type(expected) == 'table' then
    assert.are.equal(#expected, #actual, 'length at ' .. path)
    for i = 1, #expected do assert_near(expected[i], actual[i], tol, path .. '[' .. i .. ']') end
  else
    assert(math.abs(expected - actual) <= tol,
      string.format('at %s: expected %.17g, got %.17g (tol %g)', path, expected, actual, tol))
  end
end

describe('rnn.tensor', function()
  it('builds from nested tables, float32 by default', function()
    local t = rnn.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({2, 3}, t:shape())
    assert.are.equal('float32', t:dtype())
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
  end)

  it('takes a dtype argument', function()
    local d = rnn.tensor({0.1, 0.2}, 'float64')
    assert.are.equal('float64', d:dtype())
    assert.are.same({0.1, 0.2}, d:totable()) -- exact in float64
    local f = rnn.tensor({0.1}, 'float32')
    assert.are_not.equal(0.1, f:item())      -- rounded to float32
    assert_near({0.1}, f:totable(), 1e-8)
    local i = rnn.tensor({{1, -2}, {3, 4}}, 'int64')
    assert.are.equal('int64', i:dtype())
    assert.are.same({{1, -2}, {3, 4}}, i:totable())
    assert.are.equal('integer', math.type(i[{1, 2}]))
  end)

  it('builds 3-d tensors', function()
    local t = rnn.tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}
    assert.are.same({2, 2, 2}, t:shape())
    assert.are.equal(7, t[{2, 2, 1}])
  end)

  it('makes a 0-d tensor from a number', function()
    local t = rnn.tensor(3.5)
    assert.are.equal(0, t:dim())
    assert.are.same({}, t:shape())
    assert.are.equal(1, t:numel())
    assert.are.equal(3.5, t:item())
    assert.are.equal(3.5, t:totable())
    local i = rnn.tensor(7, 'int64')
    assert.are.equal(7, i:item())
    assert.are.equal('integer', math.type(i:item()))
  end)

  it('makes an empty tensor from an empty table', function()
    local t = rnn.tensor{}
    assert.are.same({0}, t:shape())
    assert.are.equal(0, t:numel())
    assert.are.same({}, t:totable())
    assert.are.same({1, 0}, rnn.tensor{{}}:shape())
  end)

  it('copies a tensor, keeping its dtype unless one is given', function()
    local src = rnn.tensor({1, 2, 3}, 'int64')
    local c = rnn.tensor(src)
    assert.are.equal('int64', c:dtype())
    c[1] = 10
    assert.are.equal(1, src[1])
    local d = rnn.tensor(src, 'float64')
    assert.are.equal('float64', d:dtype())
    assert.are.same({1, 2, 3}, d:totable())
  end)
end)

describe('constructors', function()
  it('empty/zeros/ones/full', function()
    local e = rnn.empty(2, 3)
    assert.are.same({2, 3}, e:shape())
    assert.are.equal('float32', e:dtype())
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, rnn.zeros(2, 3):totable())
    assert.are.same({{1, 1}, {1, 1}, {1, 1}}, rnn.ones(3, 2):totable())
    local f = rnn.full({2, 2}, 7.25, 'float64')
    assert.are.equal('float64', f:dtype())
    assert.are.same({{7.25, 7.25}, {7.25, 7.25}}, f:totable())
    assert.are.same({-3, -3}, rnn.full({2}, -3, 'int64'):totable())
    assert.are.equal(5, rnn.full({}, 5):item()) -- 0-d
  end)

  it('zeros_like/ones_like keep shape and dtype, or take a dtype', function()
    local src = rnn.randn({2, 3, 4}, 'float64')
    local z = rnn.zeros_like(src)
    assert.are.same({2, 3, 4}, z:shape())
    assert.are.equal('float64', z:dtype())
    assert.are.equal(0, z:sum():item())
    local o = rnn.ones_like(src, 'float32')
    assert.are.equal('float32', o:dtype())
    assert.are.equal(24, o:sum():item())
  end)

  it('arange follows PyTorch: [start, stop) in steps', function()
    assert.are.same({0, 1, 2, 3, 4}, rnn.arange(5):totable())
    assert.are.same({2, 3, 4}, rnn.arange(2, 5):totable())
    assert.are.same({0, 0.25, 0.5, 0.75}, rnn.arange(0, 1, 0.25):totable()) -- stop excluded
    assert.are.same({5, 3, 1}, rnn.arange(5, 0, -2):totable())
    assert.are.same({1, 3}, rnn.arange(1, 4, 2):totable())
    assert.are.equal(0, rnn.arange(3, 3):numel())
    assert.are.equal(0, rnn.arange(3, 1):numel())      -- empty, not an error
    assert.are.equal('float32', rnn.arange(3):dtype())
    local i = rnn.arange(0, 4, 'int64')
    assert.are.equal('int64', i:dtype())
    assert.are.same({0, 1, 2, 3}, i:totable())
    assert.are.equal('float64', rnn.arange(1, 2, 0.5, 'float64'):dtype())
  end)

  it('linspace includes both endpoints', function()
    assert.are.same({0, 0.25, 0.5, 0.75, 1}, rnn.linspace(0, 1, 5):totable())
    local t = rnn.linspace(-1, 1, 7, 'float64')
    assert.are.equal('float64', t:dtype())
    assert.are.equal(-1, t[1])
    assert.are.equal(1, t[7])
    assert_near({-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1}, t:totable(), 1e-15)
    assert.are.equal(0, rnn.linspace(0, 1, 0):numel())
  end)

  it('linspace(a, b, 1) is {a} as in PyTorch', function()
    assert.are.same({2}, rnn.linspace(2, 5, 1):totable())
  end)

  it('eye', function()
    assert.are.same({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, rnn.eye(3):totable())
    assert.are.same({{1, 0, 0}, {0, 1, 0}}, rnn.eye(2, 3):totable())
    assert.are.same({{1, 0}, {0, 1}, {0, 0}}, rnn.eye(3, 2):totable())
    assert.are.equal('float64', rnn.eye(2, 'float64'):dtype())
    assert.are.equal('float64', rnn.eye(2, 4, 'float64'):dtype())
  end)

  it('rand and randn make float tensors of the asked shape', function()
    rnn.manual_seed(7)
    local u = rnn.rand(4, 5)
    assert.are.same({4, 5}, u:shape())
    assert.are.equal('float32', u:dtype())
    assert.is_true(u:min():item() >= 0 and u:max():item() < 1)
    local n = rnn.randn({3, 2}, 'float64')
    assert.are.same({3, 2}, n:shape())
    assert.are.equal('float64', n:dtype())
  end)

  it('randint is int64 in [low, high)', function()
    rnn.manual_seed(3)
    local r = rnn.randint(-2, 3, {1000})
    assert.are.equal('int64', r:dtype())
    assert.are.same({1000}, r:shape())
    local seen = {}
    for _, v in ipairs(r:totable()) do
      assert.are.equal('integer', math.type(v))
      assert.is_true(v >= -2 and v < 3)
      seen[v] = true
    end
    for v = -2, 2 do assert.is_true(seen[v], 'value ' .. v .. ' never drawn') end
    assert.are.equal('float64', rnn.randint(0, 2, {2, 2}, 'float64'):dtype())
  end)

  it('randperm is a permutation of 1..n (int64)', function()
    rnn.manual_seed(5)
    local p = rnn.randperm(50)
    assert.are.equal('int64', p:dtype())
    local v = p:totable()
    local sorted = {table.unpack(v)}
    table.sort(sorted)
    for i = 1, 50 do assert.are.equal(i, sorted[i]) end
    local moved = 0
    for i = 1, 50 do if v[i] ~= i then moved = moved + 1 end end
    assert.is_true(moved > 0)
    assert.are.equal(0, rnn.randperm(0):numel())
  end)
end)

describe('sizes', function()
  it('accepts a table or varargs', function()
    assert.are.same({2, 3}, rnn.zeros{2, 3}:shape())
    assert.are.same({2, 3}, rnn.zeros(2, 3):shape())
    assert.are.same({2, 3}, rnn.ones{2, 3}:shape())
    assert.are.same({2, 3}, rnn.ones(2, 3):shape())
    assert.are.same({4}, rnn.rand(4):shape())
    assert.are.same({4, 1}, rnn.randn{4, 1}:shape())
  end)

  it('takes a dtype after a table or after varargs', function()
    local w = rnn.zeros({8, 16}, 'float64')
    assert.are.same({8, 16}, w:shape())
    assert.are.equal('float64', w:dtype())
    assert.are.equal('float64', rnn.zeros(8, 16, 'float64'):dtype())
    assert.are.equal('int64', rnn.ones({2}, 'int64'):dtype())
    assert.are.equal('float32', rnn.zeros({2}, 'float32'):dtype())
  end)

  it('zero-size dims and 0-d tensors', function()
    local z = rnn.zeros(0, 3)
    assert.are.same({0, 3}, z:shape())
    assert.are.equal(0, z:numel())
    local s = rnn.zeros{}
    assert.are.equal(0, s:dim())
    assert.are.equal(1, s:numel())
  end)
end)

describe('queries', function()
  local t = rnn.arange(24):reshape(2, 3, 4)

  it('shape, size, dim, numel, dtype', function()
    assert.are.same({2, 3, 4}, t:shape())
    assert.are.same({2, 3, 4}, t:size())
    assert.are.equal(2, t:size(1))
    assert.are.equal(3, t:size(2))
    assert.are.equal(4, t:size(3))
    assert.are.equal(4, t:size(-1))
    assert.are.equal(2, t:size(-3))
    assert.are.equal(3, t:dim())
    assert.are.equal(24, t:numel())
    assert.are.equal('float32', t:dtype())
  end)

  it('stride and is_contiguous', function()
    assert.are.same({12, 4, 1}, t:stride())
    assert.are.equal(4, t:stride(2))
    assert.are.equal(1, t:stride(-1))
    assert.is_true(t:is_contiguous())
    local tt = t:transpose(2, 3)
    assert.are.same({12, 1, 4}, tt:stride())
    assert.is_false(tt:is_contiguous())
  end)

  it('item of one-element tensors of any dim', function()
    assert.are.equal(5, rnn.tensor{{5}}:item())
    assert.are.equal(-2, rnn.tensor({-2}, 'int64'):item())
  end)

  it('totable of int64 gives Lua integers', function()
    local v = rnn.arange(0, 3, 'int64'):totable()
    for _, x in ipairs(v) do assert.are.equal('integer', math.type(x)) end
  end)
end)

describe('element access', function()
  local function m() return rnn.tensor{{1, 2, 3}, {4, 5, 6}} end

  it('t[i] of a 1-d tensor is a number', function()
    local v = rnn.tensor{10, 20, 30}
    assert.are.equal(10, v[1])
    assert.are.equal(30, v[3])
    assert.are.equal(30, v[-1])
    assert.are.equal(10, v[-3])
  end)

  it('t[i] of a 2-d tensor is a row view', function()
    local t = m()
    local row = t[2]
    assert.is_true(rnn.is_tensor(row))
    assert.are.same({4, 5, 6}, row:totable())
    row[1] = 40
    assert.are.equal(40, t[{2, 1}])
    assert.are.same({1, 2, 3}, t[-2]:totable())
  end)

  it('t[{i, j}] reads and writes one element, negative from the end', function()
    local t = m()
    assert.are.equal(2, t[{1, 2}])
    assert.are.equal(6, t[{-1, -1}])
    assert.are.equal(4, t[{2, -3}])
    t[{1, 3}] = 9
    assert.are.equal(9, t[{1, 3}])
    t[{-1, -1}] = -6
    assert.are.same({{1, 2, 9}, {4, 5, -6}}, t:totable())
  end)

  it('t[{i}] is a view like t[i]', function()
    local t = m()
    assert.are.same({4, 5, 6}, t[{2}]:totable())
  end)

  it('t[i] = number fills a row', function()
    local t = m()
    t[1] = 0
    assert.are.same({{0, 0, 0}, {4, 5, 6}}, t:totable())
    t[-1] = 7.5
    assert.are.same({{0, 0, 0}, {7.5, 7.5, 7.5}}, t:totable())
  end)

  it('t[i] = tensor copies a row, with broadcasting', function()
    local t = m()
    t[1] = rnn.tensor{7, 8, 9}
    assert.are.same({{7, 8, 9}, {4, 5, 6}}, t:totable())
    t[2] = rnn.tensor{1}
    assert.are.same({1, 1, 1}, t[2]:totable())
  end)

  it('get and set', function()
    local t = m()
    assert.are.equal(5, t:get(2, 2))
    assert.are.equal(3, t:get(-2, -1))
    assert.are.equal(t, t:set(2, 2, 50)) -- returns self
    assert.are.equal(50, t:get(2, 2))
    t:set(-1, 1, 0.5)
    assert.are.equal(0.5, t[{2, 1}])
    assert.are.equal(3.5, rnn.tensor(3.5):get())
  end)

  it('float32 storage rounds stored values', function()
    local t = rnn.zeros(1)
    t[1] = 0.1
    assert_near(0.1, t[1], 1e-8)
    local d = rnn.zeros(1, 'float64')
    d[1] = 0.1
    assert.are.equal(0.1, d[1])
  end)

  it('int64 elements hold values beyond 2^53 exactly', function()
    local t = rnn.zeros(1, 'int64')
    t[1] = math.maxinteger
    assert.are.equal(math.maxinteger, t[1])
    t:set(1, math.mininteger)
    assert.are.equal(math.mininteger, t:get(1))
  end)

  it('#t is the size of the first dim', function()
    assert.are.equal(2, #m())
    assert.are.equal(5, #rnn.zeros(5, 3, 2))
    assert.are.equal(0, #rnn.zeros(0))
    assert.are.equal(0, #rnn.tensor(1)) -- 0-d
  end)

  it('method names resolve on tensors; unknown fields are nil', function()
    local t = m()
    assert.are.equal('function', type(t.sum))
    assert.is_nil(t.no_such_method)
  end)
end)

describe('__tostring', function()
  it('shows the values, the dtype and the shape', function()
    local s = tostring(rnn.tensor{{1, 2}, {3, 4}})
    assert.is_truthy(s:find('float32', 1, true))
    assert.is_truthy(s:find('(2,2)', 1, true))
    assert.is_truthy(s:find('tensor(', 1, true))
    assert.is_truthy(s:find('4', 1, true))
    assert.is_falsy(s:find('...', 1, true))
  end)

  it('float64, int64, 0-d and empty tensors', function()
    local d = tostring(rnn.tensor({1.5, 2.25}, 'float64'))
    assert.is_truthy(d:find('float64', 1, true))
    assert.is_truthy(d:find('1.5', 1, true))
    local i = tostring(rnn.tensor({10, -20}, 'int64'))
    assert.is_truthy(i:find('int64', 1, true))
    assert.is_truthy(i:find('-20', 1, true))
    local z = tostring(rnn.tensor(2.5))
    assert.is_truthy(z:find('()', 1, true))
    assert.is_truthy(z:find('2.5', 1, true))
    local e = tostring(rnn.zeros(0, 3))
    assert.is_truthy(e:find('(0,3)', 1, true))
  end)

  it('abbreviates large tensors with ...', function()
    local s = tostring(rnn.arange(10000):reshape(100, 100))
    assert.is_truthy(s:find('...', 1, true))
    assert.is_truthy(s:find('(100,100)', 1, true))
    assert.is_true(#s < 2000)
    assert.is_truthy(s:find('9999', 1, true))   -- the last element is shown
    local v = tostring(rnn.arange(5000))
    assert.is_truthy(v:find('...', 1, true))
  end)

  it('prints non-finite values', function()
    local s = tostring(rnn.tensor{1 / 0, -1 / 0, 0 / 0, 1})
    assert.is_truthy(s:find('inf', 1, true))
    assert.is_truthy(s:find('-inf', 1, true))
    assert.is_truthy(s:find('nan', 1, true))
  end)
end)
