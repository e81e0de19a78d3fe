-- Values into int64 tensors: NaN, infinities and anything outside
-- [-2^63, 2^63) are errors that name the function and the value, wherever
-- they come in (they were 0 or INT64_MAX, silently, in full, arange, casts,
-- copy_ and clamp). (double)INT64_MAX is 2^63 itself: out of range.
local rnn = require 'rnn'

local nan, inf = 0 / 0, math.huge
local two63 = 2.0 ^ 63
local below = 9223372036854774784.0 -- the largest double below 2^63

local function fails(fn_name, f, ...)
  local ok, err = pcall(f)
  assert.is_false(ok, fn_name .. ' should raise')
  err = tostring(err)
  assert.truthy(err:find('rnn.' .. fn_name .. ':', 1, true), err)
  for _, part in ipairs{...} do assert.truthy(err:find(part, 1, true), err) end
end

describe('int64 conversions', function()
  it('rnn.full refuses NaN, infinities, fractions and out-of-range values', function()
    fails('full', function() return rnn.full({2}, nan, 'int64') end, 'nan')
    fails('full', function() return rnn.full({2}, inf, 'int64') end, 'inf')
    fails('full', function() return rnn.full({2}, -inf, 'int64') end, '-inf')
    fails('full', function() return rnn.full({2}, 1e30, 'int64') end, '1e+30', 'int64 range')
    fails('full', function() return rnn.full({2}, two63, 'int64') end, '9.2233720368547758e+18', 'int64 range')
    fails('full', function() return rnn.full({2}, 1.5, 'int64') end, '1.5')
  end)

  it('rnn.full keeps integers exactly, to the ends of the range', function()
    assert.are.same({math.maxinteger}, rnn.full({1}, math.maxinteger, 'int64'):totable())
    assert.are.same({math.mininteger}, rnn.full({1}, -two63, 'int64'):totable())
    assert.are.same({(1 << 53) + 1}, rnn.full({1}, (1 << 53) + 1, 'int64'):totable())
    assert.are.same({9223372036854774784}, rnn.full({1}, below, 'int64'):totable())
    assert.are.same({3, 3}, rnn.full({2}, 3.0, 'int64'):totable())
  end)

  it('rnn.tensor names the element and its value', function()
    fails('tensor', function() return rnn.tensor({1, nan}, 'int64') end, '[2]', 'nan')
    fails('tensor', function() return rnn.tensor({{1, 1e30}}, 'int64') end, '[1][2]', '1e+30')
    fails('tensor', function() return rnn.tensor(inf, 'int64') end, 'inf')
  end)

  it('rnn.arange and rnn.linspace refuse values past the int64 range', function()
    fails('arange', function() return rnn.arange(1e30, 1e30 + 1e16, 1e15, 'int64') end, '1e+30')
    fails('arange', function() return rnn.arange(two63 - 4096, two63 + 4096, 2048, 'int64') end, 'int64 range')
    assert.are.same({0, 1, 2}, rnn.arange(0, 3, 1, 'int64'):totable())
    fails('linspace', function() return rnn.linspace(0, 1e30, 3, 'int64') end, '1e+30')
    fails('linspace', function() return rnn.linspace(-inf, 0, 3, 'int64') end, '-inf')
  end)

  it('fill_, set and index assignment name the value', function()
    local t = rnn.zeros({2, 2}, 'int64')
    fails('fill_', function() t:fill_(1e300) end, '1e+300')
    fails('fill_', function() t:fill_(nan) end, 'nan')
    fails('set', function() t:set(1, 1, nan) end, 'nan')
    fails('Tensor.__newindex', function() t[{1, 1}] = two63 end, '9.2233720368547758e+18')
    fails('Tensor.__newindex', function() t[1] = inf end, 'inf')
    assert.are.same({{0, 0}, {0, 0}}, t:totable())
  end)

  it('casts from float tensors refuse NaN, infinities and out-of-range values', function()
    fails('long', function() return rnn.tensor({1, nan}):long() end, 'nan', 'float32', 'int64')
    fails('long', function() return rnn.tensor({1e30}):long() end, 'int64 range')
    fails('to', function() return rnn.tensor({inf}, 'float64'):to('int64') end, 'inf', 'float64')
    fails('long', function() return rnn.tensor({two63}, 'float64'):long() end, 'int64 range')
    fails('tensor', function() return rnn.tensor(rnn.tensor({nan}), 'int64') end, 'nan')
    assert.are.same({math.mininteger, 9223372036854774784, -2, 2},
      rnn.tensor({-two63, below, -2.7, 2.7}, 'float64'):long():totable())
  end)

  it('copy_ into an int64 tensor checks every value first and leaves it unchanged', function()
    local t = rnn.tensor({7, 7, 7}, 'int64')
    fails('copy_', function() t:copy_(rnn.tensor({1, 2, nan})) end, 'nan')
    assert.are.same({7, 7, 7}, t:totable())
  end)

  it('scalar ops and clamp bounds with an int64 tensor', function()
    local t = rnn.tensor({1, 2}, 'int64')
    fails('add', function() return t + nan end, 'nan')
    fails('mul', function() return t * 1e30 end, '1e+30')
    fails('clamp', function() return t:clamp(nan, 1) end, 'nan')
    fails('clamp', function() return t:clamp(-1e30, 1e30) end, '1e+30')
    fails('clamp_', function() return t:clamp_(0, inf) end, 'inf')
    fails('clamp', function() return rnn.tensor({1.0}):clamp(nil, nan) end, 'nan')
    assert.are.same({1, 1}, t:clamp(nil, 1):totable())
  end)
end)
