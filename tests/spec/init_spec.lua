-- rnn.init: every initialiser's statistics with a fixed seed, the exact
-- ones exactly, PyTorch's formulas for the bounds, orthogonality, the LSTM
-- forget-gate bias on every layer and direction, and the errors.
--
-- Tolerances of the statistical checks (N draws, fixed seeds, so each
-- check is deterministic; the bounds are several standard errors wide so
-- that a correct generator with another seed would pass too):
--   mean: 5 standard errors (sigma / sqrt(N));
--   variance and std: 3% relative for N >= 60000 (the standard error of a
--   sample variance is about sqrt(2/N) ~ 0.6% relative for normal draws).
local rnn = require 'rnn'

-- f must raise "<this file>:<line in f>: <prefix>..." containing each further argument
local function fails(prefix, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error, got none')
  local file, line, text = tostring(msg):match('^(.-):(%d+): (.*)$')
  assert(file and file:match('init_spec%.lua$'), 'location is not this spec file: ' .. tostring(msg))
  local info = debug.getinfo(f, 'S')
  line = tonumber(line)
  assert(line >= info.linedefined and line <= info.lastlinedefined, 'location outside the calling function: ' .. msg)
  assert(text:sub(1, #prefix) == prefix, 'message does not start with "' .. prefix .. '": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
end

local function flat(t)
  local out = {}
  local function walk(x)
    if type(x) == 'table' then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end
  end
  walk(t:totable())
  return out
end

local function stats(t)
  local v = flat(t)
  local s, lo, hi = 0, math.huge, -math.huge
  for _, x in ipairs(v) do
    s = s + x
    if x < lo then lo = x end
    if x > hi then hi = x end
  end
  local mean = s / #v
  local ss = 0
  for _, x in ipairs(v) do ss = ss + (x - mean) ^ 2 end
  return mean, ss / #v, lo, hi
end

local function near(got, want, tol, what)
  assert(math.abs(got - want) <= tol,
    string.format('%s: got %.10g, want %.10g (tol %.3g)', what or 'value', got, want, tol))
end

-- max |a - b| over all elements
local function maxdiff(a, b)
  local x, y, m = flat(a), flat(b), 0
  assert(#x == #y, 'element counts differ')
  for i = 1, #x do m = math.max(m, math.abs(x[i] - y[i])) end
  return m
end

describe('rnn.init basic fills', function()
  it('uniform_: bounds, mean and variance of U(a, b), in place, returns the tensor', function()
    rnn.manual_seed(1)
    local N = 100000
    for _, dt in ipairs{'float32', 'float64'} do
      local t = rnn.empty({N}, dt)
      local r = rnn.init.uniform_(t, -2, 3)
      assert.are.equal(t, r)
      local mean, var, lo, hi = stats(t)
      assert.is_true(lo >= -2 and hi <= 3)
      assert.is_true(lo < -1.99 and hi > 2.99)
      local sigma = 5 / math.sqrt(12)
      near(mean, 0.5, 5 * sigma / math.sqrt(N), dt .. ' mean')
      near(var, 25 / 12, 0.03 * 25 / 12, dt .. ' variance')
    end
    -- defaults a = 0, b = 1
    local _, _, lo, hi = stats(rnn.init.uniform_(rnn.empty(1000)))
    assert.is_true(lo >= 0 and hi <= 1)
  end)

  it('normal_: mean and std of N(mean, std^2)', function()
    rnn.manual_seed(2)
    local N = 100000
    for _, dt in ipairs{'float32', 'float64'} do
      local t = rnn.init.normal_(rnn.empty({200, 500}, dt), 1.5, 0.7)
      local mean, var = stats(t)
      near(mean, 1.5, 5 * 0.7 / math.sqrt(N), dt .. ' mean')
      near(math.sqrt(var), 0.7, 0.03 * 0.7, dt .. ' std')
    end
    local mean, var = stats(rnn.init.normal_(rnn.empty({N}, 'float64')))
    near(mean, 0, 5 / math.sqrt(N), 'default mean')
    near(math.sqrt(var), 1, 0.03, 'default std')
  end)

  it('constant_, zeros_, ones_ are exact', function()
    local t = rnn.randn{3, 4}
    assert.are.equal(t, rnn.init.constant_(t, 0.25))
    for _, x in ipairs(flat(t)) do assert.are.equal(0.25, x) end
    rnn.init.zeros_(t)
    for _, x in ipairs(flat(t)) do assert.are.equal(0, x) end
    rnn.init.ones_(t)
    for _, x in ipairs(flat(t)) do assert.are.equal(1, x) end
  end)

  it('the same seed gives the same weights', function()
    for _, f in ipairs{rnn.init.uniform_, rnn.init.normal_, rnn.init.xavier_uniform_, rnn.init.xavier_normal_,
                       rnn.init.kaiming_uniform_, rnn.init.kaiming_normal_, rnn.init.orthogonal_} do
      rnn.manual_seed(7)
      local a = f(rnn.empty(5, 4)):totable()
      rnn.manual_seed(7)
      local b = f(rnn.empty(5, 4)):totable()
      rnn.manual_seed(8)
      local c = f(rnn.empty(5, 4)):totable()
      assert.are.same(a, b)
      assert.are_not.same(a, c)
    end
  end)

  it('works on parameters that require grad, records nothing, and they stay trainable leaves', function()
    local w = rnn.empty(6, 6):requires_grad(true)
    local nodes = rnn._nodes_alive()
    for _, f in ipairs{rnn.init.uniform_, rnn.init.normal_, rnn.init.zeros_, rnn.init.ones_, rnn.init.xavier_uniform_,
                       rnn.init.xavier_normal_, rnn.init.kaiming_uniform_, rnn.init.kaiming_normal_,
                       rnn.init.orthogonal_, rnn.init.identity_} do
      assert.are.equal(w, f(w))
    end
    rnn.init.constant_(w, 0.5)
    assert.are.equal(nodes, rnn._nodes_alive())
    assert.is_true(w:requires_grad())
    assert.is_true(w:is_leaf())
    local loss = (w * w):sum()
    loss:backward()
    near(maxdiff(w.grad, rnn.full({6, 6}, 1.0)), 0, 0, 'grad of sum(w^2) at w = 0.5')
  end)

  it('writes through views', function()
    local t = rnn.zeros(4, 6)
    rnn.init.constant_(t:narrow(2, 2, 3), 7)
    assert.are.same({0, 7, 7, 7, 0, 0}, t:totable()[3])
    rnn.init.identity_(t:t(), 2)   -- a (6,4) transposed view
    assert.are.same({{2, 0, 0, 0, 0, 0}, {0, 2, 0, 0, 0, 0}, {0, 0, 2, 0, 0, 0}, {0, 0, 0, 2, 0, 0}}, t:totable())
  end)

  it('a tensor without elements is returned unchanged', function()
    local e = rnn.empty(0, 3)
    for _, f in ipairs{rnn.init.uniform_, rnn.init.normal_, rnn.init.xavier_uniform_, rnn.init.kaiming_normal_,
                       rnn.init.orthogonal_} do
      assert.are.equal(e, f(e))
    end
  end)
end)

describe('rnn.init fans and gains', function()
  it('fans as PyTorch _calculate_fan_in_and_fan_out', function()
    local fi, fo = rnn.init.fans(rnn.empty(5, 3))
    assert.are.same({3, 5}, {fi, fo})
    fi, fo = rnn.init.fans(rnn.empty(4, 3, 2, 2))
    assert.are.same({12, 16}, {fi, fo})
    fails('rnn.init.fans: ', function() rnn.init.fans(rnn.empty(5)) end, 'fewer than 2 dimensions', '(5)')
  end)

  it('calculate_gain as PyTorch', function()
    local g = rnn.init.calculate_gain
    assert.are.equal(1, g('linear'))
    assert.are.equal(1, g('sigmoid'))
    assert.are.equal(1, g('conv2d'))
    assert.are.equal(5 / 3, g('tanh'))
    assert.are.equal(math.sqrt(2), g('relu'))
    assert.are.equal(3 / 4, g('selu'))
    assert.are.equal(math.sqrt(2 / (1 + 0.01 ^ 2)), g('leaky_relu'))
    assert.are.equal(math.sqrt(2 / (1 + 0.2 ^ 2)), g('leaky_relu', 0.2))
    assert.are.equal(math.sqrt(2), g('leaky_relu', 0))
    fails('rnn.init.calculate_gain: ', function() g('swish') end, "unsupported nonlinearity 'swish'")
    fails('rnn.init.calculate_gain: ', function() g('leaky_relu', true) end, 'must be a number')
  end)
end)

describe('rnn.init xavier and kaiming', function()
  -- (300, 200): 60000 draws; fan_in 200, fan_out 300
  local function check_uniform(t, bound, what)
    local mean, var, lo, hi = stats(t)
    assert.is_true(lo >= -bound * (1 + 1e-6) and hi <= bound * (1 + 1e-6), what .. ': outside the bound')
    assert.is_true(lo < -0.99 * bound and hi > 0.99 * bound, what .. ': does not reach the bound')
    local sd = bound / math.sqrt(3)
    near(mean, 0, 5 * sd / math.sqrt(t:numel()), what .. ' mean')
    near(var, sd * sd, 0.03 * sd * sd, what .. ' variance')
  end
  local function check_normal(t, std, what)
    local mean, var = stats(t)
    near(mean, 0, 5 * std / math.sqrt(t:numel()), what .. ' mean')
    near(math.sqrt(var), std, 0.03 * std, what .. ' std')
  end

  it('xavier_uniform_: U(-a, a), a = gain*sqrt(6/(fan_in+fan_out))', function()
    rnn.manual_seed(11)
    check_uniform(rnn.init.xavier_uniform_(rnn.empty(300, 200)), math.sqrt(6 / 500), 'gain 1')
    local g = rnn.init.calculate_gain('tanh')
    check_uniform(rnn.init.xavier_uniform_(rnn.empty({300, 200}, 'float64'), g), g * math.sqrt(6 / 500), 'gain 5/3')
    -- a 3-d weight: receptive field 4
    check_uniform(rnn.init.xavier_uniform_(rnn.empty(150, 100, 4)), math.sqrt(6 / (400 + 600)), '3-d')
  end)

  it('xavier_normal_: std = gain*sqrt(2/(fan_in+fan_out))', function()
    rnn.manual_seed(12)
    check_normal(rnn.init.xavier_normal_(rnn.empty(300, 200)), math.sqrt(2 / 500), 'gain 1')
    check_normal(rnn.init.xavier_normal_(rnn.empty({300, 200}, 'float64'), 0.5), 0.5 * math.sqrt(2 / 500), 'gain 0.5')
  end)

  it('kaiming_uniform_: bound = gain*sqrt(3/fan), defaults a=0, fan_in, leaky_relu', function()
    rnn.manual_seed(13)
    check_uniform(rnn.init.kaiming_uniform_(rnn.empty(300, 200)), math.sqrt(2) * math.sqrt(3 / 200), 'defaults')
    check_uniform(rnn.init.kaiming_uniform_(rnn.empty(300, 200), {mode = 'fan_out', nonlinearity = 'relu'}),
      math.sqrt(2) * math.sqrt(3 / 300), 'fan_out relu')
    check_uniform(rnn.init.kaiming_uniform_(rnn.empty(300, 200), {a = math.sqrt(5)}),
      math.sqrt(2 / 6) * math.sqrt(3 / 200), 'a = sqrt(5) (nn.Linear)')
    check_uniform(rnn.init.kaiming_uniform_(rnn.empty(300, 200), 0, 'fan_in', 'tanh'),
      5 / 3 * math.sqrt(3 / 200), 'positional tanh')
  end)

  it('kaiming_normal_: std = gain/sqrt(fan)', function()
    rnn.manual_seed(14)
    check_normal(rnn.init.kaiming_normal_(rnn.empty(300, 200)), math.sqrt(2 / 200), 'defaults')
    check_normal(rnn.init.kaiming_normal_(rnn.empty({300, 200}, 'float64'), {mode = 'fan_out', nonlinearity = 'linear'}),
      1 / math.sqrt(300), 'fan_out linear')
  end)

  it('positional and table options give the same draws', function()
    rnn.manual_seed(3)
    local a = rnn.init.kaiming_uniform_(rnn.empty(8, 5), 0.1, 'fan_out', 'leaky_relu'):totable()
    rnn.manual_seed(3)
    local b = rnn.init.kaiming_uniform_(rnn.empty(8, 5), {a = 0.1, mode = 'fan_out'}):totable()
    assert.are.same(a, b)
  end)
end)

describe('rnn.init.orthogonal_', function()
  -- max |got - gain^2 I| for got = W'W (rows >= cols) or W W' (rows < cols)
  local function gram_error(w, gain)
    local rows = w:size(1)
    local m = w:reshape(rows, w:numel() // rows):to('float64')
    local g = m:size(1) >= m:size(2) and rnn.matmul(m:t(), m) or rnn.matmul(m, m:t())
    return maxdiff(g, rnn.eye(g:size(1), 'float64') * (gain * gain))
  end

  it('square: W\'W = I to 1e-5 (float32) and 1e-12 (float64)', function()
    rnn.manual_seed(21)
    assert.is_true(gram_error(rnn.init.orthogonal_(rnn.empty(64, 64)), 1) < 1e-5)
    assert.is_true(gram_error(rnn.init.orthogonal_(rnn.empty({64, 64}, 'float64')), 1) < 1e-12)
    local w = rnn.init.orthogonal_(rnn.empty({16, 16}, 'float64'))
    assert.is_true(gram_error(w:t(), 1) < 1e-12) -- W W' = I as well
  end)

  it('rectangular: rows > cols gives Q\'Q = I, rows < cols gives QQ\' = I', function()
    rnn.manual_seed(22)
    for _, dt in ipairs{'float32', 'float64'} do
      local tol = dt == 'float32' and 1e-5 or 1e-12
      local tall = rnn.init.orthogonal_(rnn.empty({100, 30}, dt))
      local wide = rnn.init.orthogonal_(rnn.empty({30, 100}, dt))
      assert.is_true(gram_error(tall, 1) < tol, dt .. ' tall')
      assert.is_true(gram_error(wide, 1) < tol, dt .. ' wide')
      -- an LSTM weight_hh (4H, H)
      assert.is_true(gram_error(rnn.init.orthogonal_(rnn.empty({4 * 20, 20}, dt)), 1) < tol, dt .. ' (4H,H)')
    end
  end)

  it('gain scales: W\'W = gain^2 I and every singular value is gain', function()
    rnn.manual_seed(23)
    local w = rnn.init.orthogonal_(rnn.empty({40, 40}, 'float64'), 1.5)
    assert.is_true(gram_error(w, 1.5) < 1e-12)
    for _, s in ipairs(rnn.linalg.svdvals(w):totable()) do near(s, 1.5, 1e-12, 'singular value') end
    local w32 = rnn.init.orthogonal_(rnn.empty(20, 50), 0.9)
    assert.is_true(gram_error(w32, 0.9) < 1e-5)
  end)

  it('more than 2 dims: flattened to (size(1), rest)', function()
    rnn.manual_seed(24)
    local w = rnn.init.orthogonal_(rnn.empty({6, 2, 3}, 'float64'))
    assert.is_true(gram_error(w, 1) < 1e-12)
  end)

  it('is PyTorch\'s algorithm: Q of a N(0,1) matrix (transposed if wide), columns times sign(diag R)', function()
    for _, shape in ipairs{{7, 4}, {4, 7}, {5, 5}} do
      local rows, cols = shape[1], shape[2]
      rnn.manual_seed(25)
      local w = rnn.init.orthogonal_(rnn.empty(shape, 'float64'), 2)
      rnn.manual_seed(25)
      local a = rnn.randn({rows, cols}, 'float64')
      if rows < cols then a = a:t() end
      local q, r = rnn.linalg.qr(a)
      local s = {}
      for i = 1, r:size(1) do s[i] = r:get(i, i) < 0 and -1 or 1 end
      q = q * rnn.tensor(s, 'float64')
      if rows < cols then q = q:t() end
      assert.is_true(maxdiff(w, q * 2) < 1e-14)
      -- the sign correction: with W in column form Qc (m,k), Qc' A = gain * diag(s) R
      -- is upper-triangular with a positive diagonal
      local qc = rows >= cols and w or w:t()
      local m = rnn.matmul(qc:t(), a)
      for i = 1, m:size(1) do
        assert.is_true(m:get(i, i) > 0)
        for j = 1, i - 1 do near(m:get(i, j), 0, 1e-12, 'below the diagonal') end
      end
    end
  end)

  it('refuses 1-d tensors', function()
    fails('rnn.init.orthogonal_: ', function() rnn.init.orthogonal_(rnn.empty(5)) end, 'at least 2 dimensions', '(5)')
  end)
end)

describe('rnn.init.identity_', function()
  it('square: exactly scale * I (IRNN)', function()
    local w = rnn.randn(4, 4)
    rnn.init.identity_(w, 0.5)
    assert.are.same({{0.5, 0, 0, 0}, {0, 0.5, 0, 0}, {0, 0, 0.5, 0}, {0, 0, 0, 0.5}}, w:totable())
    rnn.init.identity_(w)
    assert.are.same(rnn.eye(4):totable(), w:totable())
  end)

  it('rectangular: ones on the main diagonal (eye-like)', function()
    assert.are.same({{3, 0, 0, 0, 0}, {0, 3, 0, 0, 0}, {0, 0, 3, 0, 0}}, rnn.init.identity_(rnn.randn(3, 5), 3):totable())
    assert.are.same({{1, 0}, {0, 1}, {0, 0}}, rnn.init.identity_(rnn.randn({3, 2}, 'float64')):totable())
  end)

  it('IRNN: a ReLU RNN with W_hh = I and zero biases carries its state unchanged', function()
    local r = rnn.nn.RNN{input_size = 2, hidden_size = 3, nonlinearity = 'relu', dtype = 'float64'}
    rnn.init.identity_(r.weight_hh_l0)
    rnn.init.zeros_(r.weight_ih_l0)
    rnn.init.zeros_(r.bias_ih_l0)
    rnn.init.zeros_(r.bias_hh_l0)
    local h0 = rnn.tensor({{{0.5, 1, 2}}}, 'float64')
    local _, hn = r(rnn.randn({10, 1, 2}, 'float64'), h0)
    assert.are.same(h0:totable(), hn:totable())
  end)

  it('refuses a tensor that is not 2-d', function()
    fails('rnn.init.identity_: ', function() rnn.init.identity_(rnn.empty(2, 2, 2)) end, 'must be 2-d', '(2,2,2)')
  end)
end)

describe('rnn.init.lstm_forget_bias_', function()
  local function slices(t, H)
    local v = t:totable()
    local out = {}
    for g = 1, 4 do
      out[g] = {}
      for i = 1, H do out[g][i] = v[(g - 1) * H + i] end
    end
    return out
  end

  it('sets the f slice of bias_ih to 1 and of bias_hh to 0 on every layer and direction, nothing else', function()
    rnn.manual_seed(31)
    local H = 3
    local lstm = rnn.nn.LSTM{input_size = 4, hidden_size = H, num_layers = 2, bidirectional = true}
    local before = {}
    for _, p in ipairs(lstm:named_parameters()) do before[p[1]] = p[2]:clone() end
    assert.are.equal(lstm, rnn.init.lstm_forget_bias_(lstm))
    local seen = 0
    for _, p in ipairs(lstm:named_parameters()) do
      local name, t = p[1], p[2]
      if name:match('^bias_') then
        seen = seen + 1
        local now, was = slices(t, H), slices(before[name], H)
        local want = name:match('^bias_ih') and 1 or 0
        assert.are.same({want, want, want}, now[2], name)
        assert.are.same(was[1], now[1], name .. ' i')
        assert.are.same(was[3], now[3], name .. ' g')
        assert.are.same(was[4], now[4], name .. ' o')
      else
        assert.are.same(before[name]:totable(), t:totable(), name)
      end
    end
    assert.are.equal(8, seen) -- 2 layers x 2 directions x (ih, hh)
    assert.is_true(lstm.bias_ih_l1_reverse:requires_grad())
  end)

  it('a value, bias_hh as an option, and bias_hh = false', function()
    local H = 2
    local lstm = rnn.nn.LSTM{input_size = 3, hidden_size = H, dtype = 'float64'}
    rnn.init.lstm_forget_bias_(lstm, 2.5, {bias_hh = 0.5})
    assert.are.same({2.5, 2.5}, slices(lstm.bias_ih_l0, H)[2])
    assert.are.same({0.5, 0.5}, slices(lstm.bias_hh_l0, H)[2])
    local hh = lstm.bias_hh_l0:clone()
    rnn.init.lstm_forget_bias_(lstm, -1, {bias_hh = false})
    assert.are.same({-1, -1}, slices(lstm.bias_ih_l0, H)[2])
    assert.are.same(hh:totable(), lstm.bias_hh_l0:totable())
  end)

  it('an LSTMCell, a module containing LSTMs, and a single bias tensor', function()
    local cell = rnn.nn.LSTMCell{input_size = 3, hidden_size = 2}
    rnn.init.lstm_forget_bias_(cell)
    assert.are.same({1, 1}, slices(cell.bias_ih, 2)[2])
    assert.are.same({0, 0}, slices(cell.bias_hh, 2)[2])

    local net = rnn.nn.Sequential(rnn.nn.LSTM(3, 4), rnn.nn.Linear(4, 2))
    rnn.init.lstm_forget_bias_(net, 3)
    assert.are.same({3, 3, 3, 3}, slices(net:named_parameters()[3][2], 4)[2]) -- 0.bias_ih_l0
    assert.are.equal('0.bias_ih_l0', net:named_parameters()[3][1])

    local b = rnn.zeros(12)
    rnn.init.lstm_forget_bias_(b)
    assert.are.same({0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}, b:totable())
  end)

  it('refuses modules without LSTM or biases, and wrong tensors', function()
    fails('rnn.init.lstm_forget_bias_: ', function() rnn.init.lstm_forget_bias_(rnn.nn.GRU(2, 3)) end,
      'contains no rnn.nn.LSTM')
    fails('rnn.init.lstm_forget_bias_: ', function()
      rnn.init.lstm_forget_bias_(rnn.nn.LSTM{input_size = 2, hidden_size = 3, bias = false})
    end, 'no biases')
    fails('rnn.init.lstm_forget_bias_: ', function() rnn.init.lstm_forget_bias_(rnn.zeros(6)) end,
      '4*hidden_size', '(6)')
    fails('rnn.init.lstm_forget_bias_: ', function() rnn.init.lstm_forget_bias_(rnn.zeros(4, 4)) end, '1-d')
    fails('rnn.init.lstm_forget_bias_: ', function() rnn.init.lstm_forget_bias_({}) end, 'got table')
    fails('rnn.init.lstm_forget_bias_: ', function() rnn.init.lstm_forget_bias_(rnn.zeros(8), 1, {hh = 0}) end,
      "unknown option 'hh'")
  end)
end)

describe('rnn.init.apply', function()
  it('initialises parameters by name: longest key wins, unmatched are left alone', function()
    rnn.manual_seed(41)
    local H = 5
    local lstm = rnn.nn.LSTM{input_size = 3, hidden_size = H, num_layers = 2, dtype = 'float64'}
    local ih1 = lstm.weight_ih_l1:clone()
    assert.are.equal(lstm, rnn.init.apply(lstm, {
      weight_hh = 'orthogonal', weight_ih_l0 = {'xavier_uniform_', 2}, bias = 0, bias_hh = 'zeros',
    }))
    for _, l in ipairs{0, 1} do
      local w = lstm['weight_hh_l' .. l]
      local g = rnn.matmul(w:t(), w)
      near(maxdiff(g, rnn.eye(H, 'float64')), 0, 1e-12, 'weight_hh orthogonal')
      for _, x in ipairs(lstm['bias_ih_l' .. l]:totable()) do assert.are.equal(0, x) end
      for _, x in ipairs(lstm['bias_hh_l' .. l]:totable()) do assert.are.equal(0, x) end
    end
    local bound = 2 * math.sqrt(6 / (3 + 4 * H))
    local _, _, lo, hi = stats(lstm.weight_ih_l0)
    assert.is_true(lo >= -bound and hi <= bound)
    assert.are.same(ih1:totable(), lstm.weight_ih_l1:totable())
  end)

  it('chunks: each gate block on its own; functions; false skips', function()
    rnn.manual_seed(42)
    local H = 4
    local lstm = rnn.nn.LSTM{input_size = 2, hidden_size = H, dtype = 'float64'}
    local seen = {}
    rnn.init.apply(lstm, {
      weight_hh = {'orthogonal', 1.2, chunks = 4},
      weight_ih = function(t, name) seen[#seen + 1] = name; rnn.init.constant_(t, 0.1) end,
      bias = false,
    })
    for g = 0, 3 do
      local block = lstm.weight_hh_l0:narrow(1, g * H + 1, H)
      near(maxdiff(rnn.matmul(block:t(), block), rnn.eye(H, 'float64') * 1.44), 0, 1e-12, 'gate block ' .. g)
    end
    assert.are.same({'weight_ih_l0'}, seen)
    for _, x in ipairs(flat(lstm.weight_ih_l0)) do assert.are.equal(0.1, x) end
  end)

  it('refuses bad specs', function()
    local lin = rnn.nn.Linear(3, 2)
    fails('rnn.init.apply: ', function() rnn.init.apply(lin, {weight = 'glorot'}) end, "unknown initialiser 'glorot'")
    fails('rnn.init.apply: ', function() rnn.init.apply(lin, {weight = {'orthogonal', chunks = 0}}) end,
      'chunks must be a positive integer')
    fails('rnn.init.apply: ', function() rnn.init.apply(lin, {weight = {'orthogonal', chunks = 3}}) end,
      'weight (2,3)', 'do not split into 3')
    fails('rnn.init.apply: ', function() rnn.init.apply(lin, {weight = true}) end, 'got boolean')
    fails('rnn.init.apply: ', function() rnn.init.apply(rnn.zeros(2), {}) end, 'must be a module')
    fails('rnn.init.xavier_uniform_: ', function() rnn.init.apply(lin, {bias = 'xavier_uniform'}) end,
      'fewer than 2 dimensions', '(2)')
  end)
end)

describe('rnn.init errors', function()
  it('name the initialiser and what was wrong', function()
    fails('rnn.init.uniform_: ', function() rnn.init.uniform_(rnn.zeros({3}, 'int64')) end, 'float32 or float64',
      'int64 (3)')
    fails('rnn.init.normal_: ', function() rnn.init.normal_({1, 2}) end, 'must be a tensor, got table')
    fails('rnn.init.uniform_: ', function() rnn.init.uniform_(rnn.zeros(3), 2, 1) end, 'a (2) must be <= b (1)')
    fails('rnn.init.normal_: ', function() rnn.init.normal_(rnn.zeros(3), 0, -1) end, 'std must be >= 0')
    fails('rnn.init.normal_: ', function() rnn.init.normal_(rnn.zeros(3), 0 / 0) end, 'finite number')
    fails('rnn.init.constant_: ', function() rnn.init.constant_(rnn.zeros(3)) end, 'value) is required')
    fails('rnn.init.xavier_uniform_: ', function() rnn.init.xavier_uniform_(rnn.zeros(5)) end,
      'fewer than 2 dimensions', '(5)')
    fails('rnn.init.xavier_normal_: ', function() rnn.init.xavier_normal_(rnn.zeros(5, 5), 'big') end,
      "gain must be a finite number, got 'big'")
    fails('rnn.init.kaiming_uniform_: ', function() rnn.init.kaiming_uniform_(rnn.zeros(3, 3), {mode = 'fan'}) end,
      "mode must be 'fan_in' or 'fan_out', got 'fan'")
    fails('rnn.init.kaiming_normal_: ', function() rnn.init.kaiming_normal_(rnn.zeros(3, 3), {nonlinearity = 'gelu'}) end,
      "unsupported nonlinearity 'gelu'")
    fails('rnn.init.kaiming_normal_: ', function() rnn.init.kaiming_normal_(rnn.zeros(3, 3), {slope = 1}) end,
      "unknown option 'slope'")
    fails('rnn.init.kaiming_normal_: ', function() rnn.init.kaiming_normal_(rnn.zeros(3)) end,
      'fewer than 2 dimensions')
    fails('rnn.init.orthogonal_: ', function() rnn.init.orthogonal_(rnn.zeros({3, 3}, 'int64')) end, 'int64')
  end)

  it('through pcall directly, the error points at the pcall line', function()
    local ok, msg = pcall(rnn.init.xavier_uniform_, rnn.zeros(3)); local line = debug.getinfo(1, 'l').currentline
    assert.is_false(ok)
    assert.truthy(msg:find('init_spec.lua:' .. line .. ': rnn.init.xavier_uniform_:', 1, true), msg)
  end)
end)
