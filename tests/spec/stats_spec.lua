-- rnn.stats against SciPy 1.10 (fixture written by tests/fixtures/stats/
-- make_fixtures.py; committed, so no Python is needed), the bootstrap's
-- determinism and isolation from rnn's generator, the degenerate cases and
-- the errors.
--
-- Tolerances (the brief's; the observed errors are far smaller, about
-- 1e-14 relative for the distributions and 1e-15 absolute for power):
--   t and normal CDFs and quantiles   1e-10 relative (absolute below 1e-12)
--   lgamma, ibeta                      1e-12 relative (absolute below 1)
--   p-values                           1e-9 relative
--   means, sds, t, df, effects, CIs    1e-10 relative to max(1, |value|)
--   power                              1e-6 absolute
--   n_for_power, holm                  exact
local rnn = require 'rnn'
local stats = require 'rnn.stats'

local function fixture_dir()
  local src = debug.getinfo(1, 'S').source
  local dir = src:sub(1, 1) == '@' and src:sub(2):match('^(.*)/[^/]*$') or 'tests/spec'
  return dir .. '/../fixtures/stats/'
end
local REF = assert(loadfile(fixture_dir() .. 'reference.lua', 't', {}))()

-- |got - want| <= rel * max(|want|, floor), with a message naming the case
local function near(got, want, rel, floor, what)
  local scale = math.max(math.abs(want), floor or 0)
  local ok = type(got) == 'number' and math.abs(got - want) <= rel * scale
  assert(ok, string.format('%s: got %.17g, want %.17g (tolerance %g relative)', what, got or 0 / 0, want, rel))
end

local function same_bits(a, b) return string.format('%a', a) == string.format('%a', b) end

-- runs f, which must fail with a message from the caller's line (this
-- file) that matches the pattern
local function fails(pattern, f)
  local ok, err = pcall(f)
  assert(not ok, 'expected an error matching ' .. pattern)
  assert(type(err) == 'string' and err:find('stats_spec%.lua:%d+: ' .. pattern),
    string.format('error %q does not match %q', tostring(err), pattern))
end

describe('rnn.stats distributions', function()
  it('t_cdf matches scipy.stats.t.cdf (df 1 to 1e7, non-integer df, tails) to 1e-10', function()
    for _, c in ipairs(REF.t_cdf) do
      near(stats.t_cdf(c[1], c[2]), c[3], 1e-10, 1e-300, string.format('t_cdf(%g, %g)', c[1], c[2]))
    end
  end)

  it('t_quantile matches the (polished) scipy t.ppf to 1e-10, p from 1e-12 to 0.999999', function()
    for _, c in ipairs(REF.t_quantile) do
      near(stats.t_quantile(c[1], c[2]), c[3], 1e-10, 1e-12, string.format('t_quantile(%g, %g)', c[1], c[2]))
    end
  end)

  it('normal_cdf and normal_quantile match scipy.stats.norm to 1e-10', function()
    for _, c in ipairs(REF.normal_cdf) do
      near(stats.normal_cdf(c[1]), c[2], 1e-10, 1e-300, string.format('normal_cdf(%g)', c[1]))
    end
    for _, c in ipairs(REF.normal_quantile) do
      near(stats.normal_quantile(c[1]), c[2], 1e-10, 1e-12, string.format('normal_quantile(%g)', c[1]))
    end
  end)

  it('lgamma and ibeta match scipy.special.gammaln and betainc to 1e-12', function()
    for _, c in ipairs(REF.lgamma) do
      near(stats.lgamma(c[1]), c[2], 1e-12, 1, string.format('lgamma(%g)', c[1]))
    end
    for _, c in ipairs(REF.ibeta) do
      near(stats.ibeta(c[1], c[2], c[3]), c[4], 1e-12, 1e-300, string.format('ibeta(%g, %g, %g)', c[1], c[2], c[3]))
    end
  end)

  it('quantiles invert the CDFs, at the ends and for infinite df', function()
    for _, df in ipairs{1, 2, 3, 2.5, 17, 1e6} do
      for _, p in ipairs{1e-300, 1e-50, 1e-9, 0.01, 0.3, 0.6, 0.99} do
        local t = stats.t_quantile(p, df)
        near(stats.t_cdf(t, df), p, 1e-12, 0, string.format('t_cdf(t_quantile(%g, %g))', p, df))
      end
    end
    for _, p in ipairs{1e-300, 1e-20, 0.2, 0.5, 0.8} do
      near(stats.normal_cdf(stats.normal_quantile(p)), p, 1e-13, 0, 'normal round trip ' .. p)
    end
    assert.are.equal(-math.huge, stats.t_quantile(1e-200, 0.5))  -- beyond the doubles: about -1e400
    assert.are.equal(-math.huge, stats.t_quantile(0, 3))
    assert.are.equal(math.huge, stats.t_quantile(1, 3))
    assert.are.equal(0, stats.t_quantile(0.5, 3.5))
    assert.are.equal(0.5, stats.t_cdf(0, 3))
    assert.are.equal(0, stats.t_cdf(-math.huge, 3))
    assert.are.equal(1, stats.t_cdf(math.huge, 3))
    assert.are.equal(stats.normal_cdf(-1.3), stats.t_cdf(-1.3, math.huge))
    assert.are.equal(stats.normal_quantile(0.01), stats.t_quantile(0.01, math.huge))
    near(stats.t_cdf(-1.3, 1e12), stats.normal_cdf(-1.3), 1e-10, 0, 't with 1e12 df')
    assert.is_true(stats.t_cdf(0 / 0, 3) ~= stats.t_cdf(0 / 0, 3))  -- NaN in, NaN out
  end)
end)

describe('rnn.stats summaries and tests against scipy', function()
  local function check_summary(xs, s, what)
    near(stats.mean(xs), s.mean, 1e-10, 1, what .. ' mean')
    near(stats.sd(xs), s.sd, 1e-10, 1, what .. ' sd')
    local lo, hi = stats.ci_mean(xs)
    near(lo, s.ci95[1], 1e-10, 1, what .. ' ci_mean low')
    near(hi, s.ci95[2], 1e-10, 1, what .. ' ci_mean high')
    lo, hi = stats.ci_mean(xs, {level = 0.9})
    near(lo, s.ci90[1], 1e-10, 1, what .. ' ci_mean 90% low')
    near(hi, s.ci90[2], 1e-10, 1, what .. ' ci_mean 90% high')
  end

  for _, ds in ipairs(REF.datasets) do
    it(ds.name .. ': mean, sd, ci_mean, paired (ttest_rel) and welch (ttest_ind, equal_var=False)', function()
      check_summary(ds.a, ds.summary_a, ds.name .. ' a')
      check_summary(ds.b, ds.summary_b, ds.name .. ' b')
      local want = ds.paired
      if want then
        local r = stats.paired(ds.a, ds.b, {resamples = 200})
        local r90 = stats.paired(ds.a, ds.b, {level = 0.9, resamples = 200})
        assert.are.equal(want.n, r.n)
        assert.are.equal(want.df, r.df)
        near(r.diff, want.diff, 1e-10, 1, 'paired diff')
        near(r.sd, want.sd, 1e-10, 1, 'paired sd')
        near(r.t, want.t, 1e-10, 1, 'paired t')
        near(r.p, want.p, 1e-9, 0, 'paired p')
        near(r.effect, want.effect, 1e-10, 1, 'paired effect (d_z)')
        near(r.ci_low, want.ci95[1], 1e-10, 1, 'paired ci_low')
        near(r.ci_high, want.ci95[2], 1e-10, 1, 'paired ci_high')
        near(r90.ci_low, want.ci90[1], 1e-10, 1, 'paired 90% ci_low')
        near(r90.ci_high, want.ci90[2], 1e-10, 1, 'paired 90% ci_high')
        assert.is_true(r.boot_low <= r.diff and r.diff <= r.boot_high)
      end
      want = ds.welch
      local w = stats.welch(ds.a, ds.b)
      local w90 = stats.welch(ds.a, ds.b, {level = 0.9})
      assert.are.equal(want.n_a, w.n_a)
      assert.are.equal(want.n_b, w.n_b)
      near(w.diff, want.diff, 1e-10, 1, 'welch diff')
      near(w.t, want.t, 1e-10, 1, 'welch t')
      near(w.df, want.df, 1e-10, 1, 'welch df')
      near(w.p, want.p, 1e-9, 0, 'welch p')
      near(w.ci_low, want.ci95[1], 1e-10, 1, 'welch ci_low')
      near(w.ci_high, want.ci95[2], 1e-10, 1, 'welch ci_high')
      near(w90.ci_low, want.ci90[1], 1e-10, 1, 'welch 90% ci_low')
      near(w90.ci_high, want.ci90[2], 1e-10, 1, 'welch 90% ci_high')
      near(w.effect, want.effect, 1e-10, 1, 'welch effect (Hedges g)')
    end)
  end

  it("wilson matches SciPy's binomtest(k, n).proportion_ci(method = 'wilson') to 1e-12", function()
    for _, w in ipairs(REF.wilson) do
      local k, n, level, lo, hi = w[1], w[2], w[3], w[4], w[5]
      local glo, ghi = stats.wilson(k, n, {level = level})
      near(glo, lo, 1e-12, 1e-12, string.format('wilson(%d, %d) low', k, n))
      near(ghi, hi, 1e-12, 1e-12, string.format('wilson(%d, %d) high', k, n))
      assert.is_true(glo >= 0 and ghi <= 1 and glo <= k / n and ghi >= k / n)
    end
    fails('rnn%.stats%.wilson: argument 1 %(k%) must be an integer in %[0, n = 10%], got 11', function()
      stats.wilson(11, 10)
    end)
    fails('rnn%.stats%.wilson: argument 2 %(n%) must be a positive integer, got 0', function() stats.wilson(0, 0) end)
  end)

  it('holm matches the step-down adjustment exactly, nil entries kept out of the family', function()
    for _, f in ipairs(REF.holm) do
      local got = stats.holm(f.ps)
      for i = 1, f.n do
        assert.are.equal(f.adjusted[i], got[i])
      end
    end
    -- monotone in the order of the raw p-values, capped at 1
    local ps = {0.2, 0.001, 0.04, 0.5, 0.03, 0.7}
    local adj = stats.holm(ps)
    local order = {2, 5, 3, 1, 4, 6}
    for k = 2, #order do assert.is_true(adj[order[k]] >= adj[order[k - 1]]) end
    for i = 1, #ps do assert.is_true(adj[i] >= ps[i] and adj[i] <= 1) end
    assert.are.same({}, stats.holm{})
    assert.are.same({0.3}, stats.holm(table.pack(0.3)))
  end)
end)

describe('rnn.stats degenerate cases', function()
  it('paired: identical differences give sd 0 (p 1 and effect 0 at diff 0, else p 0 and effect inf)', function()
    local r = stats.paired({1, 2, 3}, {1, 2, 3})
    assert.are.same({0, 0, 1, 0, 0, 0, 0, 0}, {r.diff, r.sd, r.p, r.t, r.effect, r.ci_low, r.ci_high, r.boot_low})
    assert.are.equal(2, r.df)
    r = stats.paired({2, 3, 4}, {1, 2, 3})
    assert.are.same({1, 0, 0, math.huge, math.huge}, {r.diff, r.sd, r.p, r.t, r.effect})
    assert.are.same({1, 1, 1, 1}, {r.ci_low, r.ci_high, r.boot_low, r.boot_high})
    r = stats.paired({1, 2}, {3, 4})
    assert.are.equal(-math.huge, r.effect)
  end)

  it('paired with one pair: n and diff only, no p, CI or effect', function()
    local r = stats.paired({1.5}, {1})
    assert.are.equal(1, r.n)
    assert.are.equal(0.5, r.diff)
    assert.is_nil(r.p)
    assert.is_nil(r.ci_low)
    assert.is_nil(r.boot_low)
    assert.is_nil(r.effect)
    assert.is_nil(stats.sd{3})
    assert.are.same({}, {stats.ci_mean{3}})
    assert.are.same({}, {stats.bootstrap_ci{3}})
  end)

  it('welch: fewer than 2 per group, and zero variance in both groups', function()
    local w = stats.welch({1}, {1, 2, 3})
    assert.are.same({1, 3, -1}, {w.n_a, w.n_b, w.diff})
    assert.is_nil(w.p)
    w = stats.welch({2, 2, 2}, {1, 1})
    assert.are.same({1, 0, 3, math.huge, math.huge, 1, 1}, {w.diff, w.p, w.df, w.t, w.effect, w.ci_low, w.ci_high})
    w = stats.welch({2, 2}, {2, 2})
    assert.are.same({0, 1, 0}, {w.diff, w.p, w.effect})
  end)

  it('ci_mean of constant data is the point', function()
    assert.are.same({1.5, 1.5}, {stats.ci_mean{1.5, 1.5, 1.5}})
  end)
end)

describe('rnn.stats bootstrap', function()
  local xs = {1.8913, 1.9537, 1.9121, 1.9302, 1.9049, 1.9618, 1.9233, 1.9705, 1.8841, 1.9416}

  it('is deterministic: the same seed gives the same bits, another seed other numbers', function()
    local l1, h1 = stats.bootstrap_ci(xs)
    local l2, h2 = stats.bootstrap_ci(xs)
    assert.is_true(same_bits(l1, l2) and same_bits(h1, h2))
    local l3, h3 = stats.bootstrap_ci(xs, {seed = 7})
    local l4, h4 = stats.bootstrap_ci(xs, {seed = 7})
    assert.is_true(same_bits(l3, l4) and same_bits(h3, h4))
    assert.is_true(l3 ~= l1 or h3 ~= h1)
    assert.is_true(l1 < stats.mean(xs) and stats.mean(xs) < h1)
    assert.is_true(l1 >= 1.8841 and h1 <= 1.9705)
  end)

  it('paired bootstraps the differences: the same numbers as bootstrap_ci on a - b', function()
    local b = {1.92, 1.97, 1.92, 1.95, 1.95, 1.99, 1.90, 1.99, 1.93, 1.93}
    local d = {}
    for i = 1, #xs do d[i] = xs[i] - b[i] end
    local r = stats.paired(xs, b, {seed = 11, resamples = 3000, level = 0.9})
    local lo, hi = stats.bootstrap_ci(d, {seed = 11, resamples = 3000, level = 0.9})
    assert.is_true(same_bits(r.boot_low, lo) and same_bits(r.boot_high, hi))
  end)

  it('on a large sample agrees with the t interval to within 0.1 standard errors', function()
    rnn.manual_seed(2024)
    local x = (rnn.randn({400}, 'float64') * 0.05 + 1.9):totable()
    local tl, th = stats.ci_mean(x)
    local bl, bh = stats.bootstrap_ci(x, {seed = 3})
    local se = stats.sd(x) / math.sqrt(#x)
    assert.is_true(math.abs(bl - tl) < 0.1 * se, string.format('low %g vs %g (se %g)', bl, tl, se))
    assert.is_true(math.abs(bh - th) < 0.1 * se, string.format('high %g vs %g (se %g)', bh, th, se))
  end)

  it('of two values resamples means 0, 1/2 and 1: the 95% interval is [0, 1]', function()
    assert.are.same({0, 1}, {stats.bootstrap_ci({0, 1}, {resamples = 4000})})
  end)

  it('leaves rnn.manual_seed-driven draws and math.random alone', function()
    local function draws(with_bootstrap)
      rnn.manual_seed(77)
      math.randomseed(77)
      local a = rnn.randn({6}, 'float64'):totable()
      local ma = math.random()
      if with_bootstrap then
        stats.bootstrap_ci(xs, {resamples = 500})
        stats.paired(xs, xs, {resamples = 500})
      end
      return {a, ma, rnn.randn({6}, 'float64'):totable(), math.random()}
    end
    assert.are.same(draws(false), draws(true))
  end)
end)

describe('rnn.stats power', function()
  it('power_t matches scipy.stats.nct to 1e-6 (paired and two-sample, alpha 0.05 and 0.01)', function()
    for _, c in ipairs(REF.power) do
      local got = stats.power_t(c[1], c[2], {paired = c[3], alpha = c[4]})
      near(got, c[5], 1e-6, 1, string.format('power_t(%g, %d, paired = %s, alpha = %g)', c[1], c[2],
        tostring(c[3]), c[4]))
    end
  end)

  it('power is alpha at effect 0, symmetric in the sign of the effect, and grows with n', function()
    near(stats.power_t(0, 10), 0.05, 1e-12, 0, 'power at d = 0')
    assert.are.equal(stats.power_t(0.4, 12), stats.power_t(-0.4, 12))
    local last = 0
    for n = 2, 40 do
      local p = stats.power_t(0.5, n)
      assert.is_true(p > last)
      last = p
    end
  end)

  it('n_for_power equals the loop over scipy.stats.nct exactly', function()
    for _, c in ipairs(REF.n_for_power) do
      local got = stats.n_for_power(c[1], {paired = c[2], power = c[3], alpha = c[4]})
      assert.are.equal(c[5], got, string.format('n_for_power(%g, paired = %s)', c[1], tostring(c[2])))
      assert.are.equal(got, stats.n_for_power(-c[1], {paired = c[2], power = c[3], alpha = c[4]}))
    end
  end)

  it('n_for_power: nil for effect 0 or non-finite, or when max_n is not enough', function()
    assert.is_nil(stats.n_for_power(0))
    assert.is_nil(stats.n_for_power(math.huge))
    assert.is_nil(stats.n_for_power(0 / 0))
    assert.is_nil(stats.n_for_power(0.2, {max_n = 100}))
    assert.are.equal(199, stats.n_for_power(0.2, {max_n = 199}))
    assert.are.equal(2, stats.n_for_power(50))
  end)
end)

describe('rnn.stats errors', function()
  it('name the function and the argument, at the caller\'s line', function()
    fails('rnn%.stats%.mean: argument 1 %(xs%) must be an array of numbers, got string', function()
      stats.mean('1 2 3')
    end)
    fails('rnn%.stats%.sd: argument 1 %(xs%) is empty', function() stats.sd{} end)
    fails('rnn%.stats%.ci_mean: xs%[2%] is a string, not a number', function() stats.ci_mean{1, '2', 3} end)
    fails('rnn%.stats%.mean: xs%[3%] is not finite', function() stats.mean{1, 2, 0 / 0} end)
    fails('rnn%.stats%.bootstrap_ci: xs%[1%] is not finite %(inf%)', function() stats.bootstrap_ci{math.huge} end)
    fails('rnn%.stats%.paired: a and b differ in length %(5 and 4%)', function()
      stats.paired({1, 2, 3, 4, 5}, {1, 2, 3, 4})
    end)
    fails('rnn%.stats%.paired: argument 2 %(b%) must be an array of numbers, got nil', function()
      stats.paired({1, 2})
    end)
    fails('rnn%.stats%.welch: b%[2%] is a boolean, not a number', function() stats.welch({1, 2}, {1, true}) end)
    fails('rnn%.stats%.welch: argument 1 %(a%) is empty', function() stats.welch({}, {1, 2}) end)
  end)

  it('check the options: level in (0, 1), resamples, seed, unknown keys', function()
    fails('rnn%.stats%.ci_mean: opts%.level must be a number in %(0, 1%), got 1%.5', function()
      stats.ci_mean({1, 2}, {level = 1.5})
    end)
    fails('rnn%.stats%.ci_mean: opts%.level must be a number in %(0, 1%), got 0', function()
      stats.ci_mean({1, 2}, {level = 0})
    end)
    fails('rnn%.stats%.paired: opts%.level must be a number in %(0, 1%), got 1', function()
      stats.paired({1, 2}, {2, 1}, {level = 1})
    end)
    fails('rnn%.stats%.welch: option level must be a number, got string', function()
      stats.welch({1, 2}, {2, 1}, {level = '95%'})
    end)
    fails('rnn%.stats%.bootstrap_ci: opts%.resamples must be an integer >= 1, got 0', function()
      stats.bootstrap_ci({1, 2}, {resamples = 0})
    end)
    fails('rnn%.stats%.bootstrap_ci: opts%.seed must be an integer, got 1%.5', function()
      stats.bootstrap_ci({1, 2}, {seed = 1.5})
    end)
    fails("rnn%.stats%.bootstrap_ci: unknown option 'levle'", function() stats.bootstrap_ci({1, 2}, {levle = 0.9}) end)
    fails('rnn%.stats%.ci_mean: options must be a table, got number', function() stats.ci_mean({1, 2}, 0.9) end)
    fails('rnn%.stats%.n_for_power: opts%.power must be a number in %(0, 1%), got 80', function()
      stats.n_for_power(0.5, {power = 80})
    end)
    fails('rnn%.stats%.n_for_power: opts%.max_n must be an integer >= 2, got 1', function()
      stats.n_for_power(0.5, {max_n = 1})
    end)
    fails('rnn%.stats%.power_t: opts%.alpha must be a number in %(0, 1%), got 0', function()
      stats.power_t(0.5, 10, {alpha = 0})
    end)
  end)

  it('check the scalar arguments', function()
    fails('rnn%.stats%.t_cdf: argument 2 %(df%) must be a number > 0, got 0', function() stats.t_cdf(1, 0) end)
    fails('rnn%.stats%.t_cdf: argument 1 %(t%) must be a number, got string', function() stats.t_cdf('1', 3) end)
    fails('rnn%.stats%.t_quantile: argument 1 %(p%) must be a number in %[0, 1%], got 1%.5', function()
      stats.t_quantile(1.5, 3)
    end)
    fails('rnn%.stats%.t_quantile: argument 2 %(df%) must be a number > 0, got %-?nan', function()
      stats.t_quantile(0.5, 0 / 0)
    end)
    fails('rnn%.stats%.normal_quantile: argument 1 %(p%) must be a number in %[0, 1%], got %-0%.1', function()
      stats.normal_quantile(-0.1)
    end)
    fails('rnn%.stats%.normal_cdf: argument 1 %(z%) must be a number, got nil', function() stats.normal_cdf() end)
    fails('rnn%.stats%.holm: argument 1 %(ps%) must be an array of p%-values, got number', function()
      stats.holm(0.05)
    end)
    fails('rnn%.stats%.holm: ps%[2%] must be a number in %[0, 1%] or nil, got 1%.2', function()
      stats.holm{0.1, 1.2}
    end)
    fails('rnn%.stats%.holm: ps has a key x that is not an array index', function() stats.holm{0.1, x = 1} end)
    fails('rnn%.stats%.power_t: argument 2 %(n%) must be an integer >= 2, got 1', function() stats.power_t(0.5, 1) end)
    fails('rnn%.stats%.power_t: argument 2 %(n%) must be an integer >= 2, got 2%.5', function()
      stats.power_t(0.5, 2.5)
    end)
    fails('rnn%.stats%.power_t: argument 1 %(effect%) must be finite, got inf', function()
      stats.power_t(math.huge, 10)
    end)
    fails('rnn%.stats%.n_for_power: argument 1 %(effect%) must be a number, got string', function()
      stats.n_for_power('big')
    end)
  end)
end)

describe('rnn.stats module', function()
  it('defines no globals', function()
    local path = package.searchpath('rnn.stats', package.path)
    local env = setmetatable({}, {
      __index = _G,
      __newindex = function(_, k) error('global assignment: ' .. tostring(k), 2) end,
    })
    local M = assert(loadfile(path, 't', env))()
    assert.are.equal('function', type(M.paired))
    M.n_for_power(0.8)
    M.bootstrap_ci({1, 2, 3})
  end)
end)
