-- Clipping policies: each one's arithmetic and the stats it reports.
local rnn = require 'rnn'

local D = 'float64'

-- two parameters with gradients (3, 4) and (12): global L2 norm 13
local function params()
  local w = rnn.tensor({1, 2}, D):requires_grad(true)
  local v = rnn.tensor({2}, D):requires_grad(true)
  w.grad = rnn.tensor({3, 4}, D)
  v.grad = rnn.tensor({12}, D)
  return {w, v}
end

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-12) * math.max(1, math.abs(b)) end

describe('rnn.clip', function()
  it('none reports the norm and leaves the gradients', function()
    local ps = params()
    local s = rnn.clip.none()(ps)
    assert.is_true(close(s.norm, 13))
    assert.is_false(s.clipped)
    assert.are.equal(1, s.scale)
    assert.are.same({3, 4}, ps[1].grad:totable())
  end)

  it('value clamps every element and reports the clipped fraction', function()
    local ps = params()
    local s = rnn.clip.value(3.5)(ps)
    assert.is_true(close(s.norm, 13))
    assert.is_true(s.clipped)
    assert.is_nil(s.scale)
    assert.is_true(close(s.fraction, 2 / 3))
    assert.are.same({3, 3.5}, ps[1].grad:totable())
    assert.are.same({3.5}, ps[2].grad:totable())
  end)

  it('norm scales all gradients by c / (norm + 1e-6) when that is below 1, as clip_grad_norm_', function()
    local ps = params()
    local s = rnn.clip.norm(1)(ps)
    local coef = 1 / (13 + 1e-6)
    assert.is_true(close(s.norm, 13) and s.clipped and close(s.scale, coef))
    assert.is_true(close(ps[1].grad[1], 3 * coef) and close(ps[2].grad[1], 12 * coef))
    local after = rnn.clip.none()(ps)
    assert.is_true(close(after.norm, 1, 1e-6))
  end)

  it('norm leaves gradients under the threshold alone', function()
    local ps = params()
    local s = rnn.clip.norm(20)(ps)
    assert.is_false(s.clipped)
    assert.are.equal(1, s.scale)
    assert.are.same({3, 4}, ps[1].grad:totable())
  end)

  it('norm with norm_type = math.huge uses the largest magnitude', function()
    local ps = params()
    local s = rnn.clip.norm(6, {norm_type = math.huge})(ps)
    assert.are.equal(12, s.norm)
    assert.is_true(close(s.scale, 6 / (12 + 1e-6)))
  end)

  it('a non-finite norm raises by default, or skips the step when asked', function()
    local ps = params()
    ps[2].grad = rnn.tensor({0 / 0}, D)
    local ok, err = pcall(rnn.clip.norm(1), ps)
    assert.is_false(ok)
    assert.truthy(err:find('gradient norm is', 1, true))
    local s = rnn.clip.norm(1, {nonfinite = 'skip'})(ps)
    assert.is_true(s.skipped)
    assert.is_nil(ps[1].grad)
    assert.is_nil(ps[2].grad)
  end)

  it('norm_per_param clips each parameter on its own', function()
    local ps = params()
    local s = rnn.clip.norm_per_param(5)(ps)
    -- |(3,4)| = 5 stays (5 / (5 + 1e-6) < 1 is a hair of scaling), |12| goes to 5
    assert.is_true(close(s.scales[1], 5 / (5 + 1e-6)))
    assert.is_true(close(s.scales[2], 5 / (12 + 1e-6)))
    assert.is_true(close(ps[2].grad[1], 12 * 5 / (12 + 1e-6)))
    assert.is_true(close(s.scale, s.scales[2]))
  end)

  it('adaptive clips at the percentile of the norms seen so far, and its history round-trips', function()
    local clip = rnn.clip.adaptive{percentile = 50}
    local norms = {}
    for k, scale in ipairs{1, 3, 2, 10} do
      local ps = params()
      for _, p in ipairs(ps) do p.grad:mul_(scale) end
      local s = clip(ps)
      norms[k] = 13 * scale
      -- the median of the norms so far (linear interpolation)
      local sorted = {table.unpack(norms)}
      table.sort(sorted)
      local pos = 0.5 * (#sorted - 1) + 1
      local lo = math.floor(pos)
      local want = sorted[lo] + ((sorted[math.min(lo + 1, #sorted)] or 0) - sorted[lo]) * (pos - lo)
      assert.is_true(close(s.threshold, want))
      assert.are.equal(13 * scale > want, s.clipped)
    end
    local state = clip:state_dict()
    local again = rnn.clip.adaptive{percentile = 50}:load_state_dict(state)
    local ps1, ps2 = params(), params()
    assert.are.same(clip(ps1).threshold, again(ps2).threshold)
  end)

  it('takes a module as well as an array of parameters, and skips parameters without a gradient', function()
    local lin = rnn.nn.Linear(2, 1, {dtype = D})
    local out = lin(rnn.ones({1, 2}, D)):sum()
    out:backward()
    local s = rnn.clip.norm(1e-3)(lin)
    assert.is_true(s.clipped)
    local w = rnn.zeros({2}, D):requires_grad(true)
    assert.are.equal(0, rnn.clip.norm(1)({w}).norm)
  end)

  it('rejects bad thresholds, options and parameters with clear errors', function()
    assert.has_error(function() rnn.clip.norm(0) end, nil)
    local ok, err = pcall(rnn.clip.value, -1)
    assert.is_false(ok)
    assert.truthy(err:find('rnn.clip.value', 1, true))
    ok, err = pcall(rnn.clip.norm, 1, {nonfinite = 'ignore'})
    assert.truthy(err:find("'raise' or 'skip'", 1, true))
    ok, err = pcall(rnn.clip.norm, 1, {bogus = 1})
    assert.truthy(err:find("unknown option 'bogus'", 1, true))
    ok, err = pcall(rnn.clip.adaptive, {percentile = 101})
    assert.truthy(err:find('percentile', 1, true))
    ok, err = pcall(rnn.clip.norm(1), {1, 2})
    assert.truthy(err:find('parameter 1 is a number', 1, true))
  end)
end)
