-- rnn.linalg: qr, svdvals, eigvals from Lua. QR checked by reconstruction,
-- orthonormality and triangularity; singular values and eigenvalues on
-- matrices with known answers and by invariants; errors; results outside
-- the autograd graph. Tolerances: float64 1e-12, float32 1e-5 (relative to
-- entries of order 1).
local rnn = require 'rnn'

local function fails(prefix, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error, got none')
  local file, line, text = tostring(msg):match('^(.-):(%d+): (.*)$')
  assert(file and file:match('linalg_spec%.lua$'), 'location is not this spec file: ' .. tostring(msg))
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

local function maxdiff(a, b)
  local x, y, m = flat(a), flat(b), 0
  assert(#x == #y, 'element counts differ')
  for i = 1, #x do m = math.max(m, math.abs(x[i] - y[i])) end
  return m
end

local function near(got, want, tol, what)
  assert(math.abs(got - want) <= tol,
    string.format('%s: got %.10g, want %.10g (tol %.3g)', what or 'value', got, want, tol))
end

local TOL = {float32 = 1e-5, float64 = 1e-12}

describe('rnn.linalg.qr', function()
  it('reduced QR: A = QR, Q\'Q = I, R upper-triangular, square, tall and wide', function()
    rnn.manual_seed(1)
    for _, dt in ipairs{'float32', 'float64'} do
      for _, shape in ipairs{{6, 6}, {9, 4}, {4, 9}, {1, 5}, {5, 1}} do
        local m, n = shape[1], shape[2]
        local k = math.min(m, n)
        local a = rnn.randn(shape, dt)
        local q, r = rnn.linalg.qr(a)
        assert.are.same({m, k}, q:shape())
        assert.are.same({k, n}, r:shape())
        assert.are.equal(dt, q:dtype())
        assert.are.equal(dt, r:dtype())
        near(maxdiff(rnn.matmul(q, r), a), 0, 4 * TOL[dt], dt .. ' QR = A')
        near(maxdiff(rnn.matmul(q:t(), q), rnn.eye(k, dt)), 0, TOL[dt], dt .. " Q'Q = I")
        for i = 1, k do
          for j = 1, math.min(i - 1, n) do assert.are.equal(0, r:get(i, j)) end
        end
      end
    end
  end)

  it('reads a strided view and leaves its input unchanged', function()
    local base = rnn.randn({5, 8}, 'float64')
    local copy = base:clone()
    local a = base:t()
    local q, r = rnn.linalg.qr(a)
    near(maxdiff(rnn.matmul(q, r), a), 0, 1e-12, 'QR = A')
    assert.are.same(copy:totable(), base:totable())
  end)

  it('is not differentiable: results never require grad and record nothing', function()
    local w = rnn.randn({4, 4}, 'float64'):requires_grad(true)
    local nodes = rnn._nodes_alive()
    local q, r = rnn.linalg.qr(w)
    local s = rnn.linalg.svdvals(w)
    local re, im = rnn.linalg.eigvals(w)
    for _, t in ipairs{q, r, s, re, im} do
      assert.is_false(t:requires_grad())
      assert.is_true(t:is_leaf())
    end
    assert.are.equal(nodes, rnn._nodes_alive())
  end)
end)

describe('rnn.linalg.svdvals', function()
  it('a diagonal matrix: |diagonal| in descending order', function()
    for _, dt in ipairs{'float32', 'float64'} do
      local s = rnn.linalg.svdvals(rnn.tensor({{3, 0, 0, 0}, {0, -5, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 0.5}}, dt))
      assert.are.same({4}, s:shape())
      assert.are.equal(dt, s:dtype())
      near(maxdiff(s, rnn.tensor{5, 3, 1, 0.5}), 0, TOL[dt] * 5, dt)
      local w = rnn.linalg.svdvals(rnn.tensor({{2, 0, 0, 0, 0}, {0, 7, 0, 0, 0}, {0, 0, -4, 0, 0}}, dt))
      near(maxdiff(w, rnn.tensor{7, 4, 2}), 0, TOL[dt] * 7, dt .. ' wide')
    end
  end)

  it('rank one u v\': |u| |v| and zeros', function()
    local u = rnn.tensor({{1}, {-2}, {0.5}, {3}, {1}}, 'float64')
    local v = rnn.tensor({{2, 0, -1, 1}}, 'float64')
    local s = rnn.linalg.svdvals(rnn.matmul(u, v)):totable()
    local nu, nv = math.sqrt(1 + 4 + 0.25 + 9 + 1), math.sqrt(4 + 1 + 1)
    near(s[1], nu * nv, 1e-12, 'sigma_1')
    for i = 2, 4 do near(s[i], 0, 1e-12, 'sigma_' .. i) end
  end)

  it('c times an orthogonal matrix: every singular value is c', function()
    rnn.manual_seed(2)
    for _, dt in ipairs{'float32', 'float64'} do
      local q = rnn.linalg.qr(rnn.randn({12, 12}, dt))
      for _, x in ipairs(rnn.linalg.svdvals(q * 0.8):totable()) do near(x, 0.8, TOL[dt], dt) end
      local w = rnn.init.orthogonal_(rnn.empty({30, 10}, dt), 1.5)
      for _, x in ipairs(rnn.linalg.svdvals(w):totable()) do near(x, 1.5, TOL[dt] * 2, dt .. ' tall') end
    end
  end)

  it('sum of squares = squared Frobenius norm; descending, >= 0', function()
    rnn.manual_seed(3)
    for _, dt in ipairs{'float32', 'float64'} do
      for _, shape in ipairs{{10, 10}, {15, 6}, {6, 15}} do
        local a = rnn.randn(shape, dt)
        local s = rnn.linalg.svdvals(a):totable()
        local sq, fro = 0, 0
        for i, x in ipairs(s) do
          sq = sq + x * x
          assert.is_true(x >= 0)
          if i > 1 then assert.is_true(x <= s[i - 1]) end
        end
        for _, x in ipairs(flat(a)) do fro = fro + x * x end
        near(sq, fro, TOL[dt] * 10 * fro, dt .. ' Frobenius')
      end
    end
  end)

  it("relates W_hh to Pascanu et al.'s condition: sigma_max of a scaled orthogonal RNN weight", function()
    local r = rnn.nn.RNN{input_size = 3, hidden_size = 16, dtype = 'float64'}
    rnn.init.orthogonal_(r.weight_hh_l0, 0.9)
    local smax = rnn.linalg.svdvals(r.weight_hh_l0):totable()[1]
    near(smax, 0.9, 1e-12, 'sigma_max')
    assert.is_true(smax < 1) -- tanh: gamma = 1, so gradients vanish when sigma_max < 1
  end)
end)

describe('rnn.linalg.eigvals', function()
  it('a rotation: the complex pair cos t +- i sin t, positive imaginary part first', function()
    local th = 0.3
    for _, dt in ipairs{'float32', 'float64'} do
      local re, im = rnn.linalg.eigvals(rnn.tensor({{math.cos(th), -math.sin(th)}, {math.sin(th), math.cos(th)}}, dt))
      assert.are.same({2}, re:shape())
      assert.are.same({2}, im:shape())
      assert.are.equal(dt, re:dtype())
      near(maxdiff(re, rnn.tensor({math.cos(th), math.cos(th)}, dt)), 0, TOL[dt], dt .. ' real')
      near(maxdiff(im, rnn.tensor({math.sin(th), -math.sin(th)}, dt)), 0, TOL[dt], dt .. ' imaginary')
    end
  end)

  it('a symmetric matrix: real eigenvalues, zero imaginary parts', function()
    for _, dt in ipairs{'float32', 'float64'} do
      local re, im = rnn.linalg.eigvals(rnn.tensor({{4, 1, 0}, {1, 4, 1}, {0, 1, 4}}, dt))
      local v = re:totable()
      table.sort(v)
      near(v[1], 4 - math.sqrt(2), TOL[dt] * 10, dt)
      near(v[2], 4, TOL[dt] * 10, dt)
      near(v[3], 4 + math.sqrt(2), TOL[dt] * 10, dt)
      assert.are.same({0, 0, 0}, im:totable())
    end
  end)

  it('sum of eigenvalues = trace; the orthogonal init has |lambda| = gain', function()
    rnn.manual_seed(4)
    local a = rnn.randn({8, 8}, 'float64')
    local re, im = rnn.linalg.eigvals(a)
    local tr, s, si = 0, 0, 0
    for i = 1, 8 do tr = tr + a:get(i, i) end
    for _, x in ipairs(re:totable()) do s = s + x end
    for _, x in ipairs(im:totable()) do si = si + x end
    near(s, tr, 1e-12, 'trace')
    near(si, 0, 1e-12, 'conjugate pairs')
    local w = rnn.init.orthogonal_(rnn.empty({10, 10}, 'float64'), 1.5)
    local wr, wi = rnn.linalg.eigvals(w)
    wr, wi = wr:totable(), wi:totable()
    for i = 1, 10 do near(math.sqrt(wr[i] ^ 2 + wi[i] ^ 2), 1.5, 1e-12, '|lambda|') end
  end)
end)

describe('rnn.linalg errors', function()
  it('name the function, the shape and what was wrong', function()
    fails('rnn.linalg.eigvals: ', function() rnn.linalg.eigvals(rnn.zeros(3, 4)) end, 'matrix (3,4) is not square')
    fails('rnn.linalg.svdvals: ', function() rnn.linalg.svdvals(rnn.zeros(4)) end, 'expected a 2-d matrix', '(4)')
    fails('rnn.linalg.qr: ', function() rnn.linalg.qr(rnn.zeros(2, 3, 3)) end, '(2,3,3)')
    fails('rnn.linalg.qr: ', function() rnn.linalg.qr(rnn.zeros({3, 3}, 'int64')) end, 'float32 or float64', 'int64')
    fails('rnn.linalg.eigvals: ', function() rnn.linalg.eigvals(rnn.zeros({2, 2}, 'int64')) end, 'int64')
    fails('rnn.linalg.svdvals: ', function() rnn.linalg.svdvals({{1, 2}}) end, 'argument 1 (A) must be a tensor')
    fails('rnn.linalg.svdvals: ', function() rnn.linalg.svdvals(rnn.tensor{{1, 0 / 0}, {0, 1}}) end, 'NaN or Inf')
    fails('rnn.linalg.eigvals: ', function() rnn.linalg.eigvals(rnn.tensor{{1, math.huge}, {0, 1}}) end, 'NaN or Inf')
  end)

  it('empty matrices give empty results', function()
    local q, r = rnn.linalg.qr(rnn.zeros(0, 3))
    assert.are.same({0, 0}, q:shape())
    assert.are.same({0, 3}, r:shape())
    assert.are.same({0}, rnn.linalg.svdvals(rnn.zeros(3, 0)):shape())
    local re, im = rnn.linalg.eigvals(rnn.zeros(0, 0))
    assert.are.same({0}, re:shape())
    assert.are.same({0}, im:shape())
  end)
end)
