-- Views, copies, dtype conversion, indexing and joining.
local rnn = require 'rnn'

-- a (2,3,4) float32 tensor holding 0..23
local function base() return rnn.arange(24):reshape(2, 3, 4) end

-- the element at a 1-based multi-index of a nested table
local function at(tbl, idx)
  local v = tbl
  for _, i in ipairs(idx) do v = v[i] end
  return v
end

describe('reshape and view', function()
  it('reshape with varargs or a table, sharing storage when contiguous', function()
    local t = base()
    local r = t:reshape(6, 4)
    assert.are.same({6, 4}, r:shape())
    assert.are.equal(t:data_ptr(), r:data_ptr())
    assert.are.same({4, 5, 6, 7}, r[2]:totable())
    assert.are.same({4, 6}, t:reshape{4, 6}:shape())
    assert.are.same({4, 6}, rnn.reshape(t, 4, 6):shape())
    assert.are.same({24}, t:reshape(24):shape())
    assert.are.same({}, rnn.tensor{5}:reshape{}:shape()) -- to 0-d
  end)

  it('infers one -1 size', function()
    local t = base()
    assert.are.same({2, 12}, t:reshape(2, -1):shape())
    assert.are.same({3, 8}, t:reshape(-1, 8):shape())
    assert.are.same({2, 3, 2, 2}, t:reshape(2, 3, -1, 2):shape())
    assert.are.same({24}, t:view(-1):shape())
    assert.are.same({0, 5}, rnn.zeros(0, 5):reshape(-1, 5):shape())
  end)

  it('view shares storage; writing through it changes the base', function()
    local t = base()
    local v = t:view(4, 6)
    assert.are.equal(t:data_ptr(), v:data_ptr())
    v[{1, 1}] = 100
    assert.are.equal(100, t[{1, 1, 1}])
  end)

  it('reshape of a non-contiguous tensor copies, with row-major values', function()
    local t = rnn.arange(6):reshape(2, 3):t()   -- (3,2): {{0,3},{1,4},{2,5}}
    local r = t:reshape(6)
    assert.are.same({0, 3, 1, 4, 2, 5}, r:totable())
    r[1] = 99
    assert.are.equal(0, t[{1, 1}]) -- a copy
  end)

  it('flatten', function()
    local t = base()
    local f = t:flatten()
    assert.are.same({24}, f:shape())
    assert.are.equal(t:data_ptr(), f:data_ptr())
    assert.are.same({0, 12, 4, 16}, t:transpose(1, 3):flatten():narrow(1, 1, 4):totable())
    assert.are.same({1}, rnn.tensor(3):flatten():shape())
  end)
end)

describe('views', function()
  it('transpose swaps dims and shares storage', function()
    local t = base()
    local v = t:transpose(1, 3)
    assert.are.same({4, 3, 2}, v:shape())
    assert.are.equal(t[{2, 3, 4}], v[{4, 3, 2}])
    assert.are.equal(t:data_ptr(), v:data_ptr())
    v[{1, 2, 2}] = -1
    assert.are.equal(-1, t[{2, 2, 1}])
    assert.are.same({4, 3, 2}, rnn.transpose(t, -1, 1):shape())
  end)

  it('t() of a 2-d tensor', function()
    local m = rnn.tensor{{1, 2, 3}, {4, 5, 6}}
    local mt = m:t()
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, mt:totable())
    mt[{3, 1}] = 30
    assert.are.equal(30, m[{1, 3}])
  end)

  it('permute with varargs or a table', function()
    local t = base()
    local p = t:permute(3, 1, 2)
    assert.are.same({4, 2, 3}, p:shape())
    local tv, pv = t:totable(), p:totable()
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      assert.are.equal(tv[i][j][k], pv[k][i][j])
    end end end
    assert.are.same({4, 2, 3}, t:permute{3, 1, 2}:shape())
    assert.are.same({4, 2, 3}, t:permute(-1, 1, 2):shape())
    p[{1, 1, 1}] = 500
    assert.are.equal(500, t[{1, 1, 1}])
  end)

  it('narrow (1-based start, negative from the end)', function()
    local t = base()
    local n = t:narrow(3, 2, 2)
    assert.are.same({2, 3, 2}, n:shape())
    assert.are.same({{1, 2}, {5, 6}, {9, 10}}, n[1]:totable())
    n:fill_(0)
    assert.are.same({0, 0, 0, 3}, t[{1, 1}]:totable())
    assert.are.same({2, 3, 1}, t:narrow(-1, -1, 1):shape())
    assert.are.equal(23, t:narrow(3, -1, 1)[{2, 3, 1}])
    assert.are.same({2, 3, 0}, t:narrow(3, 2, 0):shape())
    assert.are.same({2, 3, 0}, t:narrow(3, 5, 0):shape()) -- empty, just past the end
  end)

  it('select drops a dim', function()
    local t = base()
    local s = t:select(2, 3)
    assert.are.same({2, 4}, s:shape())
    assert.are.same({{8, 9, 10, 11}, {20, 21, 22, 23}}, s:totable())
    s[{2, 4}] = -23
    assert.are.equal(-23, t[{2, 3, 4}])
    assert.are.same({4, 5, 6, 7}, t:select(1, 1):select(1, -2):totable())
    assert.are.same({}, rnn.tensor{1, 2}:select(1, 2):shape()) -- to 0-d
  end)

  it('squeeze and unsqueeze', function()
    local t = rnn.zeros(1, 3, 1, 2)
    assert.are.same({3, 2}, t:squeeze():shape())
    assert.are.same({3, 1, 2}, t:squeeze(1):shape())
    assert.are.same({1, 3, 2}, t:squeeze(3):shape())
    assert.are.same({1, 3, 1, 2}, t:squeeze(2):shape()) -- size 3: unchanged
    local u = rnn.arange(3)
    assert.are.same({1, 3}, u:unsqueeze(1):shape())
    assert.are.same({3, 1}, u:unsqueeze(2):shape())
    assert.are.same({3, 1}, u:unsqueeze(-1):shape())
    assert.are.same({1, 3}, u:unsqueeze(-2):shape())
    local v = u:unsqueeze(1)
    v[{1, 2}] = 10
    assert.are.equal(10, u[2])
    local s = t:squeeze()
    s[{3, 2}] = 7
    assert.are.equal(7, t[{1, 3, 1, 2}])
  end)

  it('expand repeats size-1 dims with stride 0', function()
    local c = rnn.tensor{{1}, {2}, {3}}
    local e = c:expand(3, 4)
    assert.are.same({3, 4}, e:shape())
    assert.are.same({{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}, e:totable())
    assert.are.equal(0, e:stride(2))
    assert.are.equal(c:data_ptr(), e:data_ptr())
    c[{2, 1}] = 20
    assert.are.same({20, 20, 20, 20}, e[2]:totable())
    local r = rnn.tensor{1, 2}:expand(3, 2)       -- new leading dim
    assert.are.same({{1, 2}, {1, 2}, {1, 2}}, r:totable())
    assert.are.same({3, 4}, c:expand{-1, 4}:shape()) -- -1 keeps the size
  end)

  it('views of views stay views', function()
    local t = base()
    local v = t:transpose(1, 2):narrow(1, 2, 2):select(3, 4) -- (2,2)
    v:fill_(-5)
    assert.are.equal(-5, t[{1, 2, 4}])
    assert.are.equal(-5, t[{2, 3, 4}])
    assert.are.equal(3, t[{1, 1, 4}])
  end)
end)

describe('copies', function()
  it('contiguous returns self when contiguous, a copy otherwise', function()
    local t = base()
    assert.are.equal(t, t:contiguous())
    local v = t:transpose(2, 3)
    local c = v:contiguous()
    assert.is_true(c:is_contiguous())
    assert.are_not.equal(v:data_ptr(), c:data_ptr())
    assert.are.same(v:totable(), c:totable())
    assert.are.same({12, 3, 1}, c:stride())
  end)

  it('clone is independent', function()
    local t = base()
    local c = t:clone()
    assert.are.same(t:totable(), c:totable())
    c[{1, 1, 1}] = 42
    assert.are.equal(0, t[{1, 1, 1}])
    t[{2, 2, 2}] = -1
    assert.are_not.equal(-1, c[{2, 2, 2}])
    local tc = rnn.clone(t:select(1, 1):t())
    assert.are.same({4, 3}, tc:shape())
    assert.is_true(tc:is_contiguous())
  end)

  it('copy_ broadcasts the source and converts its dtype', function()
    local dst = rnn.zeros(2, 3)
    assert.are.equal(dst, dst:copy_(rnn.tensor{1, 2, 3}))
    assert.are.same({{1, 2, 3}, {1, 2, 3}}, dst:totable())
    dst:copy_(rnn.tensor({{7}, {8}}, 'float64'))
    assert.are.same({{7, 7, 7}, {8, 8, 8}}, dst:totable())
    local i = rnn.zeros(3, 'int64')
    i:copy_(rnn.tensor({1.9, -1.9, 2}, 'float64'))
    assert.are.same({1, -1, 2}, i:totable()) -- truncation toward zero
    local d = rnn.zeros(2, 'float64'):copy_(rnn.tensor({0.1, 3}, 'float32'))
    assert.are.equal(rnn.tensor{0.1}:item(), d[1])
  end)

  it('copy_ into a view writes the base', function()
    local t = rnn.zeros(3, 3)
    t:narrow(2, 2, 2):copy_(rnn.ones(3, 2))
    assert.are.same({{0, 1, 1}, {0, 1, 1}, {0, 1, 1}}, t:totable())
    t:t()[1]:copy_(rnn.tensor{5, 6, 7})
    assert.are.same({{5, 1, 1}, {6, 1, 1}, {7, 1, 1}}, t:totable())
  end)

  it('fill_ and zero_, also on views', function()
    local t = rnn.ones(2, 3)
    assert.are.equal(t, t:fill_(2.5))
    assert.are.same({{2.5, 2.5, 2.5}, {2.5, 2.5, 2.5}}, t:totable())
    t:select(2, 2):zero_()
    assert.are.same({{2.5, 0, 2.5}, {2.5, 0, 2.5}}, t:totable())
    assert.are.equal(t, t:zero_())
    assert.are.equal(0, t:abs():sum():item())
    assert.are.same({7, 7}, rnn.zeros(2, 'int64'):fill_(7):totable())
  end)
end)

describe('dtype conversion', function()
  it('to, float, double, long', function()
    local t = rnn.tensor({1.5, -2.7, 3}, 'float32')
    local d = t:to('float64')
    assert.are.equal('float64', d:dtype())
    assert.are.same(t:totable(), d:totable())
    assert.are.equal(t, t:to('float32'))           -- same dtype: self
    assert.are.equal('float64', t:double():dtype())
    assert.are.equal('float32', d:float():dtype())
    local l = t:long()
    assert.are.equal('int64', l:dtype())
    assert.are.same({1, -2, 3}, l:totable())        -- toward zero
    assert.are.same({1, -2, 3}, t:to('int64'):totable())
    assert.are.equal('float32', l:float():dtype())
    assert.are.equal('float64', t:to('double'):dtype()) -- aliases
    assert.are.equal('int64', t:to('long'):dtype())
  end)

  it('conversions are copies', function()
    local t = rnn.zeros(2)
    local d = t:double()
    d[1] = 5
    assert.are.equal(0, t[1])
  end)

  it('float32 rounding on the way down', function()
    local d = rnn.tensor({1 + 2 ^ -30}, 'float64')
    assert.are.equal(1, d:float():item())
    assert.are.equal(1 + 2 ^ -30, d:item())
  end)
end)

describe('index_select', function()
  local m = rnn.tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
  it('with an int64 tensor of 1-based indices', function()
    local r = m:index_select(1, rnn.tensor({3, 1, 3}, 'int64'))
    assert.are.same({{7, 8, 9}, {1, 2, 3}, {7, 8, 9}}, r:totable())
    local c = m:index_select(2, rnn.tensor({2}, 'int64'))
    assert.are.same({{2}, {5}, {8}}, c:totable())
  end)

  it('with a plain table, negative dims, and as a function', function()
    assert.are.same({{3, 1}, {6, 4}, {9, 7}}, m:index_select(-1, {3, 1}):totable())
    assert.are.same({{4, 5, 6}}, rnn.index_select(m, 1, {2}):totable())
    assert.are.same({0, 3}, m:index_select(1, {}):shape())
  end)

  it('returns a copy', function()
    local r = m:index_select(1, {1})
    r[{1, 1}] = 100
    assert.are.equal(1, m[{1, 1}])
  end)

  it('from a non-contiguous tensor', function()
    assert.are.same({{3, 6, 9}, {1, 4, 7}}, m:t():index_select(1, {3, 1}):totable())
  end)
end)

describe('gather', function()
  local m = rnn.tensor{{1, 2, 3}, {4, 5, 6}}
  it('along dim 2: out[i][j] = m[i][index[i][j]]', function()
    local idx = rnn.tensor({{3, 1}, {2, 2}}, 'int64')
    local g = m:gather(2, idx)
    assert.are.same({{3, 1}, {5, 5}}, g:totable())
    assert.are.same({{3, 1}, {5, 5}}, rnn.gather(m, -1, idx):totable())
  end)

  it('along dim 1: out[i][j] = m[index[i][j]][j]', function()
    local idx = rnn.tensor({{2, 1, 2}}, 'int64')
    assert.are.same({{4, 2, 6}}, m:gather(1, idx):totable())
  end)

  it('picks targets like cross-entropy would', function()
    rnn.manual_seed(2)
    local logits = rnn.randn(5, 7)
    local targets = rnn.randint(1, 8, {5, 1})
    local picked = logits:gather(2, targets):totable()
    local lv, tv = logits:totable(), targets:totable()
    for i = 1, 5 do assert.are.equal(lv[i][tv[i][1]], picked[i][1]) end
  end)
end)

describe('cat and stack', function()
  local a = rnn.tensor{{1, 2}, {3, 4}}
  local b = rnn.tensor{{5, 6}}
  local c = rnn.tensor{{7}, {8}}

  it('cat along dim 1 by default', function()
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, rnn.cat{a, b}:totable())
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, rnn.cat({a, b}, 1):totable())
  end)

  it('cat along dim 2 and negative dims', function()
    assert.are.same({{1, 2, 7}, {3, 4, 8}}, rnn.cat({a, c}, 2):totable())
    assert.are.same({{1, 2, 7}, {3, 4, 8}}, rnn.cat({a, c}, -1):totable())
    assert.are.same({{1, 2}, {3, 4}, {1, 2}, {3, 4}}, rnn.cat({a, a}, -2):totable())
  end)

  it('cat of one tensor and of views; the result is a copy', function()
    local r = rnn.cat{a}
    assert.are.same(a:totable(), r:totable())
    r[{1, 1}] = 0
    assert.are.equal(1, a[{1, 1}])
    assert.are.same({{1, 3, 1, 2}, {2, 4, 3, 4}}, rnn.cat({a:t(), a}, 2):totable())
  end)

  it('stack along a new dim 1 by default', function()
    local s = rnn.stack{a, a * 10}
    assert.are.same({2, 2, 2}, s:shape())
    assert.are.same({{{1, 2}, {3, 4}}, {{10, 20}, {30, 40}}}, s:totable())
  end)

  it('stack along inner and negative dims', function()
    local x, y = rnn.tensor{1, 2, 3}, rnn.tensor{4, 5, 6}
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, rnn.stack({x, y}, 1):totable())
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, rnn.stack({x, y}, 2):totable())
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, rnn.stack({x, y}, -1):totable())
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, rnn.stack({x, y}, -2):totable())
    local s3 = rnn.stack({a, a}, 3)
    assert.are.same({2, 2, 2}, s3:shape())
    assert.are.same({{{1, 1}, {2, 2}}, {{3, 3}, {4, 4}}}, s3:totable())
    assert.are.same({2}, rnn.stack{rnn.tensor(1), rnn.tensor(2)}:shape())
  end)

  it('stack then select gives back the inputs', function()
    rnn.manual_seed(9)
    local xs = {rnn.randn(3, 4), rnn.randn(3, 4), rnn.randn(3, 4)}
    for d = 1, 3 do
      local s = rnn.stack(xs, d)
      for i = 1, 3 do assert.are.same(xs[i]:totable(), s:select(d, i):totable()) end
    end
  end)

  it('int64 and float64 tensors', function()
    local i = rnn.cat{rnn.tensor({1}, 'int64'), rnn.tensor({2, 3}, 'int64')}
    assert.are.equal('int64', i:dtype())
    assert.are.same({1, 2, 3}, i:totable())
    assert.are.equal('float64', rnn.stack{rnn.zeros(2, 'float64')}:dtype())
  end)
end)

describe('element order after views', function()
  it('totable of a permuted view follows its logical order', function()
    local t = base()
    local p = t:permute(2, 3, 1)
    local tv, pv = t:totable(), p:totable()
    for i = 1, 3 do for j = 1, 4 do for k = 1, 2 do
      assert.are.equal(at(tv, {k, i, j}), at(pv, {i, j, k}))
    end end end
  end)
end)
