-- Forward values of the losses in rnn.nn.functional and of softmax /
-- log_softmax against the same math written in Lua (math.exp, math.log),
-- each reduction, ignore_index, and the errors for bad arguments.
-- Tolerances: 1e-12 relative for float64, 1e-6 for float32.
local rnn = require 'rnn'
local F = rnn.nn.functional

local F64, F32 = 1e-12, 1e-6

local function T(values, dt) return rnn.tensor(values, dt or 'float64') end
local function I(values) return rnn.tensor(values, 'int64') end

local function assert_near(expected, actual, tol, path)
  path = path or ''
  if type(expected) == 'table' then
    assert.are.equal('table', type(actual), 'at ' .. path)
    assert.are.equal(#expected, #actual, 'length at ' .. path)
    for i = 1, #expected do assert_near(expected[i], actual[i], tol, path .. '[' .. i .. ']') end
  elseif expected ~= expected then
    assert(actual ~= actual, string.format('at %s: expected nan, got %.17g', path, actual))
  else
    local err = math.abs(expected - actual)
    assert(err <= tol * math.max(1, math.abs(expected)),
      string.format('at %s: expected %.17g, got %.17g (tol %g)', path, expected, actual, tol))
  end
end

-- fails(fn, f, ...): f must raise "<this file>:<line in f>: rnn.nn.functional.<fn>: <text>"
-- with <text> containing each further argument. As in errors_spec.lua.
local function fails(fn, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error from rnn.nn.functional.' .. fn .. ', got none')
  assert(type(msg) == 'string', 'error is a ' .. type(msg) .. ', not a string')
  local file, line, text = msg:match('^(.-):(%d+): (.*)$')
  assert(file, 'no "file:line:" location at the start of: ' .. msg)
  assert(file:match('losses_spec%.lua$'), 'location is not this spec file: ' .. msg)
  local info = debug.getinfo(f, 'S')
  line = tonumber(line)
  assert(line >= info.linedefined and line <= info.lastlinedefined,
    string.format('location line %d is outside the calling function (lines %d-%d): %s',
      line, info.linedefined, info.lastlinedefined, msg))
  local prefix = 'rnn.nn.functional.' .. fn .. ': '
  assert(text:sub(1, #prefix) == prefix, 'message does not start with "' .. prefix .. '": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
  return text
end

-- the math, in Lua
local function lse(row)
  local m = -math.huge
  for _, v in ipairs(row) do m = math.max(m, v) end
  local s = 0
  for _, v in ipairs(row) do s = s + math.exp(v - m) end
  return m + math.log(s)
end
local function log_softmax_row(row)
  local l, r = lse(row), {}
  for i, v in ipairs(row) do r[i] = v - l end
  return r
end
local function softmax_row(row)
  local r = log_softmax_row(row)
  for i, v in ipairs(r) do r[i] = math.exp(v) end
  return r
end
local function sigmoid(x) return 1 / (1 + math.exp(-x)) end
local function bce(x, y) -- the plain definition, fine for moderate x
  return -(y * math.log(sigmoid(x)) + (1 - y) * math.log(1 - sigmoid(x)))
end
local function total(t) local s = 0 for _, v in ipairs(t) do s = s + v end return s end
local function mean(t) return total(t) / #t end

local LOGITS = {{1.0, 2.0, 0.5, -1.0}, {0.1, -0.3, 2.2, 0.0}, {-1.5, 0.5, 0.5, 3.0}}
local TARGET = {2, 3, 1}

describe('softmax and log_softmax', function()
  it('match the formula along the last dim, float64 and float32', function()
    for _, dt in ipairs{'float64', 'float32'} do
      local tol = dt == 'float64' and F64 or F32
      local x = T(LOGITS, dt)
      local es, el = {}, {}
      for i, row in ipairs(LOGITS) do
        es[i], el[i] = softmax_row(row), log_softmax_row(row)
      end
      assert_near(es, x:softmax(2):totable(), tol)
      assert_near(el, x:log_softmax(2):totable(), tol)
      assert_near(es, F.softmax(x, -1):totable(), tol)
      assert_near(el, rnn.log_softmax(x, -1):totable(), tol)
      assert.are.equal(dt, x:softmax(2):dtype())
    end
  end)

  it('along dim 1', function()
    local x = T(LOGITS)
    local cols = {}
    for j = 1, 4 do
      local col = {}
      for i = 1, 3 do col[i] = LOGITS[i][j] end
      cols[j] = log_softmax_row(col)
    end
    local e = {}
    for i = 1, 3 do e[i] = {} for j = 1, 4 do e[i][j] = cols[j][i] end end
    assert_near(e, x:log_softmax(1):totable(), F64)
    local s = x:softmax(1):sum(1):totable()
    assert_near({1, 1, 1, 1}, s, F64)
  end)

  it('along the middle dim of a 3-d tensor', function()
    local x = rnn.randn({2, 3, 2}, 'float64')
    local v = x:totable()
    local y = x:softmax(2):totable()
    for a = 1, 2 do
      for c = 1, 2 do
        local col = {v[a][1][c], v[a][2][c], v[a][3][c]}
        local e = softmax_row(col)
        assert_near(e, {y[a][1][c], y[a][2][c], y[a][3][c]}, F64)
      end
    end
  end)

  it('are stable for large logits', function()
    local x = T{{1000, 1001, 1002}, {-1000, -1001, -1002}}
    local e = log_softmax_row{0, 1, 2}
    assert_near({e, {e[3], e[2], e[1]}}, x:log_softmax(2):totable(), F64)
    local s = rnn.tensor({{1000, 1001, 1002}}, 'float32'):softmax(2):totable()
    assert_near({softmax_row{0, 1, 2}}, s, F32)
  end)

  it('of -inf entries give 0 probability (and -inf log-probability)', function()
    local x = T{{0, -math.huge, 0}}
    assert_near({{0.5, 0, 0.5}}, x:softmax(2):totable(), F64)
    local l = x:log_softmax(2):totable()[1]
    assert_near(math.log(0.5), l[1], F64)
    assert.are.equal(-math.huge, l[2])
  end)
end)

describe('mse', function()
  local P = {{1.5, -2.0, 0.25}, {3.0, 0.0, -1.0}}
  local Q = {{1.0, 0.5, 0.25}, {-1.0, 2.0, -0.5}}
  local sq = {}
  for i = 1, 2 do for j = 1, 3 do sq[#sq + 1] = (P[i][j] - Q[i][j]) ^ 2 end end

  it('reduction mean (the default), sum, none', function()
    assert_near(mean(sq), F.mse(T(P), T(Q)):item(), F64)
    assert_near(mean(sq), F.mse(T(P), T(Q), {reduction = 'mean'}):item(), F64)
    assert_near(total(sq), F.mse(T(P), T(Q), {reduction = 'sum'}):item(), F64)
    local none = F.mse(T(P), T(Q), {reduction = 'none'})
    assert.are.same({2, 3}, none:shape())
    assert_near({{sq[1], sq[2], sq[3]}, {sq[4], sq[5], sq[6]}}, none:totable(), F64)
    assert.are.equal(0, F.mse(T(P), T(Q)):dim())
    assert.are.equal(F.mse, F.mse_loss)
  end)

  it('float32 in, float32 out', function()
    local l = F.mse(T(P, 'float32'), T(Q, 'float32'))
    assert.are.equal('float32', l:dtype())
    assert_near(mean(sq), l:item(), F32)
  end)
end)

describe('nll', function()
  local LOGP = {}
  for i, row in ipairs(LOGITS) do LOGP[i] = log_softmax_row(row) end
  local losses = {}
  for i, t in ipairs(TARGET) do losses[i] = -LOGP[i][t] end

  it('each reduction', function()
    local lp = T(LOGP)
    assert_near(mean(losses), F.nll(lp, I(TARGET)):item(), F64)
    assert_near(total(losses), F.nll(lp, I(TARGET), {reduction = 'sum'}):item(), F64)
    local none = F.nll(lp, I(TARGET), {reduction = 'none'})
    assert.are.same({3}, none:shape())
    assert_near(losses, none:totable(), F64)
    assert.are.equal(F.nll, F.nll_loss)
  end)

  it('picks -input[target] of any input, not only log-probabilities', function()
    local x = T{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({-2, -6}, F.nll(x, I{2, 3}, {reduction = 'none'}):totable())
    assert.are.equal(-8, F.nll(x, I{2, 3}, {reduction = 'sum'}):item())
  end)

  it('ignore_index: no loss there, and the mean divides by the count of the others', function()
    local lp = T(LOGP)
    local tg = I{2, -100, 1}
    local o = {ignore_index = -100}
    assert_near((losses[1] + losses[3]) / 2, F.nll(lp, tg, o):item(), F64)
    assert_near(losses[1] + losses[3], F.nll(lp, tg, {ignore_index = -100, reduction = 'sum'}):item(), F64)
    assert_near({losses[1], 0, losses[3]}, F.nll(lp, tg, {ignore_index = -100, reduction = 'none'}):totable(), F64)
  end)
end)

describe('cross_entropy', function()
  local losses = {}
  for i, t in ipairs(TARGET) do losses[i] = lse(LOGITS[i]) - LOGITS[i][t] end

  it('each reduction', function()
    local x = T(LOGITS)
    assert_near(mean(losses), F.cross_entropy(x, I(TARGET)):item(), F64)
    assert_near(mean(losses), F.cross_entropy(x, I(TARGET), {reduction = 'mean'}):item(), F64)
    assert_near(total(losses), F.cross_entropy(x, I(TARGET), {reduction = 'sum'}):item(), F64)
    local none = F.cross_entropy(x, I(TARGET), {reduction = 'none'})
    assert.are.same({3}, none:shape())
    assert_near(losses, none:totable(), F64)
  end)

  it('equals nll of log_softmax', function()
    local x = T(LOGITS)
    assert_near(F.nll(x:log_softmax(2), I(TARGET)):item(), F.cross_entropy(x, I(TARGET)):item(), F64)
  end)

  it('float32', function()
    local l = F.cross_entropy(T(LOGITS, 'float32'), I(TARGET))
    assert.are.equal('float32', l:dtype())
    assert_near(mean(losses), l:item(), F32)
  end)

  it('is stable for large logits', function()
    local x = T{{1000, 0, -1000}, {0, 1000, 2000}}
    local l = F.cross_entropy(x, I{1, 2}, {reduction = 'none'}):totable()
    assert_near({0, 1000}, l, F64)
  end)

  it('(T,B,C) input with (T,B) targets: the mean over T*B, none keeps (T,B)', function()
    -- T=2, B=3, C=4: rows of LOGITS and their reverses
    local x, tg, e = {}, {}, {}
    for t = 1, 2 do
      x[t], tg[t], e[t] = {}, {}, {}
      for b = 1, 3 do
        local row = LOGITS[b]
        if t == 2 then row = {row[4], row[3], row[2], row[1]} end
        x[t][b] = row
        tg[t][b] = (t + b) % 4 + 1
        e[t][b] = lse(row) - row[tg[t][b]]
      end
    end
    local flat = {}
    for t = 1, 2 do for b = 1, 3 do flat[#flat + 1] = e[t][b] end end
    assert_near(mean(flat), F.cross_entropy(T(x), I(tg)):item(), F64)
    assert_near(total(flat), F.cross_entropy(T(x), I(tg), {reduction = 'sum'}):item(), F64)
    local none = F.cross_entropy(T(x), I(tg), {reduction = 'none'})
    assert.are.same({2, 3}, none:shape())
    assert_near(e, none:totable(), F64)
  end)

  it('a 1-d input with a 0-d target (one sample)', function()
    local l = F.cross_entropy(T(LOGITS[1]), rnn.tensor(2, 'int64'))
    assert.are.equal(0, l:dim())
    assert_near(losses[1], l:item(), F64)
  end)

  it('ignore_index: the mean divides by the count of non-ignored targets', function()
    local x = T(LOGITS)
    local tg = I{2, 0, 1}
    assert_near((losses[1] + losses[3]) / 2, F.cross_entropy(x, tg, {ignore_index = 0}):item(), F64)
    assert_near(losses[1] + losses[3], F.cross_entropy(x, tg, {ignore_index = 0, reduction = 'sum'}):item(), F64)
    assert_near({losses[1], 0, losses[3]},
      F.cross_entropy(x, tg, {ignore_index = 0, reduction = 'none'}):totable(), F64)
    -- an ignore_index that is a valid class ignores that class's targets
    assert_near((losses[1] + losses[2]) / 2, F.cross_entropy(x, I(TARGET), {ignore_index = 1}):item(), F64)
    -- given as a float with an integer value
    assert_near((losses[1] + losses[3]) / 2, F.cross_entropy(x, tg, {ignore_index = 0.0}):item(), F64)
    -- without ignore_index the same targets are an error (0 is not a class)
    assert.has_error(function() local _ = F.cross_entropy(x, tg) end)
  end)

  it('all targets ignored: mean is NaN, sum is 0, none is all zeros; the gradient is zero', function()
    local x = T(LOGITS):requires_grad(true)
    local tg = I{-1, -1, -1}
    local m = F.cross_entropy(x, tg, {ignore_index = -1})
    assert.is_true(m:item() ~= m:item())
    assert.are.equal(0, F.cross_entropy(x, tg, {ignore_index = -1, reduction = 'sum'}):item())
    assert.are.same({0, 0, 0}, F.cross_entropy(x, tg, {ignore_index = -1, reduction = 'none'}):totable())
    m:backward()
    assert.are.same({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}, x.grad:totable())
  end)
end)

describe('binary_cross_entropy_with_logits', function()
  local X = {{0.5, -1.2, 3.0}, {0.0, 2.0, -0.7}}
  local Y = {{1.0, 0.0, 0.25}, {0.5, 1.0, 0.0}}
  local ls = {}
  for i = 1, 2 do for j = 1, 3 do ls[#ls + 1] = bce(X[i][j], Y[i][j]) end end

  it('each reduction', function()
    local f = F.binary_cross_entropy_with_logits
    assert_near(mean(ls), f(T(X), T(Y)):item(), F64)
    assert_near(mean(ls), f(T(X), T(Y), {reduction = 'mean'}):item(), F64)
    assert_near(total(ls), f(T(X), T(Y), {reduction = 'sum'}):item(), F64)
    local none = f(T(X), T(Y), {reduction = 'none'})
    assert.are.same({2, 3}, none:shape())
    assert_near({{ls[1], ls[2], ls[3]}, {ls[4], ls[5], ls[6]}}, none:totable(), F64)
  end)

  it('float32', function()
    local l = F.binary_cross_entropy_with_logits(T(X, 'float32'), T(Y, 'float32'))
    assert.are.equal('float32', l:dtype())
    assert_near(mean(ls), l:item(), F32)
  end)

  it('is stable for large logits (no inf or NaN)', function()
    local l = F.binary_cross_entropy_with_logits(T{100, -100, 800, -800}, T{1, 0, 0, 1}, {reduction = 'none'})
    local v = l:totable()
    -- log(1 + e^-100) = e^-100 to double precision
    assert.is_true(math.abs(v[1] - math.exp(-100)) <= 1e-12 * math.exp(-100))
    assert.is_true(math.abs(v[2] - math.exp(-100)) <= 1e-12 * math.exp(-100))
    assert_near(800, v[3], F64)
    assert_near(800, v[4], F64)
  end)

  it('at zero logits is log 2 whatever the target', function()
    local l = F.binary_cross_entropy_with_logits(rnn.zeros({3}, 'float64'), T{0, 0.3, 1}, {reduction = 'none'})
    assert_near({math.log(2), math.log(2), math.log(2)}, l:totable(), F64)
  end)
end)

describe('embedding and dropout', function()
  it('embedding picks rows, any index shape', function()
    local w = T{{1, 2}, {3, 4}, {5, 6}}
    local e = F.embedding(I{{3, 1}, {2, 2}}, w)
    assert.are.same({2, 2, 2}, e:shape())
    assert.are.same({{{5, 6}, {1, 2}}, {{3, 4}, {3, 4}}}, e:totable())
  end)

  it('dropout: the identity when not training or p = 0, zeros at p = 1, scaled survivors otherwise', function()
    local x = rnn.ones({1000}, 'float64')
    assert.are.equal(x, F.dropout(x, 0.5, false))
    assert.are.equal(x, F.dropout(x, 0))
    assert.are.equal(0, F.dropout(x, 1):sum():item())
    rnn.manual_seed(3)
    local y = F.dropout(x, 0.25):totable()
    local kept = 0
    for _, v in ipairs(y) do
      assert(v == 0 or math.abs(v - 1 / 0.75) < 1e-12, 'value ' .. v)
      if v ~= 0 then kept = kept + 1 end
    end
    assert.is_true(kept > 680 and kept < 820, 'kept ' .. kept)
    -- the same seed, the same mask
    rnn.manual_seed(3)
    assert.are.same(y, F.dropout(x, 0.25):totable())
  end)
end)

describe('loss errors', function()
  local x, tg = T(LOGITS), I(TARGET)

  it('shape mismatches', function()
    fails('mse', function() local _ = F.mse(T{1, 2}, T{1, 2, 3}) end, '(2)', '(3)')
    fails('mse', function() local _ = F.mse(T{{1, 2}}, T{1, 2}) end, '(1,2)', '(2)')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{1, 2}) end, '(3,4)', '(2)')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{{1, 2, 3}}) end, '(3,4)', '(1,3)')
    fails('cross_entropy', function() local _ = F.cross_entropy(T(1), I{1}) end)
    fails('nll', function() local _ = F.nll(x, I{1, 2, 3, 4}) end, '(3,4)', '(4)')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{1, 2}, T{1, 2, 3}) end, '(2)', '(3)')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{{1, 2, 3}}, T{1, 2, 3}) end, '(1,3)', '(3)')
  end)

  it('dtype mismatches', function()
    fails('mse', function() local _ = F.mse(T{1, 2}, T({1, 2}, 'float32')) end, 'float64', 'float32')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{1, 2}, T({1, 2}, 'float32')) end,
      'float64', 'float32')
  end)

  it('targets that are not int64', function()
    fails('cross_entropy', function() local _ = F.cross_entropy(x, T(TARGET)) end, 'int64', 'float64')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, T(TARGET, 'float32')) end, 'int64', 'float32')
    fails('nll', function() local _ = F.nll(x, T(TARGET)) end, 'int64', 'float64')
  end)

  it('targets out of range', function()
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{2, 5, 1}) end, '5', '1..4')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{0, 1, 1}) end, '0', '1..4')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{1, 1, -1}) end, '-1', '1..4')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, I{1, 7, 1}, {ignore_index = 0}) end, '7')
    fails('nll', function() local _ = F.nll(x, I{1, 2, 5}) end, '5', '1..4')
    fails('nll', function() local _ = F.nll(x, I{1, 2, 0}) end, '0', '1..4')
  end)

  it('bad reduction strings', function()
    fails('mse', function() local _ = F.mse(T{1}, T{1}, {reduction = 'avg'}) end, "'avg'", "'mean'")
    fails('cross_entropy', function() local _ = F.cross_entropy(x, tg, {reduction = 'MEAN'}) end, 'MEAN')
    fails('nll', function() local _ = F.nll(x, tg, {reduction = ''}) end, 'reduction')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{1}, T{1}, {reduction = 'elementwise'}) end,
      'elementwise')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, tg, {reduction = 1}) end, 'reduction', 'string')
  end)

  it('unknown option keys and options that are not a table', function()
    fails('mse', function() local _ = F.mse(T{1}, T{1}, {reduce = 'sum'}) end, "unknown option 'reduce'", 'reduction')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, tg, {ignore = 0}) end, "'ignore'",
      'ignore_index')
    fails('nll', function() local _ = F.nll(x, tg, {weight = 1}) end, "'weight'")
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{1}, T{1}, {pos_weight = 2}) end, "'pos_weight'")
    fails('cross_entropy', function() local _ = F.cross_entropy(x, tg, 'sum') end, 'options must be a table')
  end)

  it('ignore_index that is not an integer', function()
    fails('cross_entropy', function() local _ = F.cross_entropy(x, tg, {ignore_index = 1.5}) end,
      'ignore_index', '1.5')
    fails('nll', function() local _ = F.nll(x, tg, {ignore_index = 'a'}) end, 'ignore_index', 'number')
  end)

  it('arguments that are not tensors', function()
    fails('mse', function() local _ = F.mse({1}, T{1}) end, 'argument 1', 'tensor', 'table')
    fails('cross_entropy', function() local _ = F.cross_entropy(x, {1, 2, 3}) end, 'argument 2', 'tensor')
    fails('nll', function() local _ = F.nll(nil, tg) end, 'argument 1', 'nil')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(T{1}, 1) end, 'argument 2', 'number')
  end)

  it('integer logits', function()
    fails('cross_entropy', function() local _ = F.cross_entropy(I{{1, 2}}, I{1}) end, 'int64')
    fails('binary_cross_entropy_with_logits',
      function() local _ = F.binary_cross_entropy_with_logits(I{1}, I{1}) end, 'int64')
  end)

  it('embedding and dropout arguments', function()
    local w = T{{1, 2}, {3, 4}}
    fails('embedding', function() local _ = F.embedding(T{1}, w) end, 'int64')
    fails('embedding', function() local _ = F.embedding(I{3}, w) end, '3')
    fails('embedding', function() local _ = F.embedding(I{0}, w) end, '0')
    fails('embedding', function() local _ = F.embedding(I{1}, T{1, 2}) end, '(V, D)')
    fails('dropout', function() local _ = F.dropout(w, 1.5) end, '1.5')
    fails('dropout', function() local _ = F.dropout(w, -0.1) end, '-0.1')
  end)
end)
