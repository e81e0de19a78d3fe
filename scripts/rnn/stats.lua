--- Statistics for experiments in which seeds pair the cells.
--
--     local stats = require 'rnn.stats'
--     local r = stats.paired(loss_a, loss_b)        -- one value per seed, same seeds
--     print(r.diff, r.ci_low, r.ci_high, r.p, r.effect)
--     local adj = stats.holm{r1.p, r2.p, r3.p}     -- Holm-adjusted, input order
--     local n = stats.n_for_power(r.effect)        -- seeds for 80% power at that d_z
--
-- Summaries: mean, sd, ci_mean (Student t), bootstrap_ci (percentile),
-- wilson (a success rate's score interval).
-- Tests: paired (paired t, Cohen's d_z), welch (Welch 1947, Hedges' g).
-- Multiplicity: holm (Holm 1979). Planning: power_t, n_for_power (exact,
-- through the noncentral t distribution).
-- Distributions: t_cdf, t_quantile, normal_cdf, normal_quantile.
--
-- Everything is plain Lua on doubles: no tensors, no C. Data are arrays of
-- finite numbers (anything else is refused with an error naming the
-- function and the argument). The bootstrap draws from its own generator
-- (splitmix64, seeded from an option with a fixed default): it never
-- touches rnn's random generator nor math.random, and the same seed gives
-- the same bits on every run.
--
-- Accuracy (checked against SciPy and mpmath by tests/spec/stats_spec.lua
-- and tests/fixtures/stats/make_fixtures.py): the t and normal CDFs and
-- quantiles to about 1e-14 relative, tails included (t up to df = 1e7),
-- p-values and intervals likewise, power to about 1e-14 absolute.
-- @module rnn.stats
local options = require 'rnn.options'

local M = {}

local abs, exp, log, sqrt, floor = math.abs, math.exp, math.log, math.sqrt, math.floor
local huge, pi = math.huge, math.pi

local LOG_SQRT_2PI = 0.91893853320467274178  -- log(sqrt(2 pi))
local LOG_SQRT_PI = 0.57236494292470008707   -- log(sqrt(pi)) = lgamma(1/2)
local TINY = 1e-300                           -- Lentz's guard against zero denominators
local CF_EPS = 1e-15                          -- continued fractions and series stop here
local CF_MAXIT = 100000

local DEFAULT_SEED = 0x5EED5EED

-- ---------------------------------------------------------------- checks

local function finite(v) return v == v and v ~= huge and v ~= -huge end

-- xs must be a non-empty array of finite numbers; errors point at the
-- caller of the public function (level 3: check -> public -> caller)
local function check_array(fn, argn, name, xs)
  if type(xs) ~= 'table' then
    error(string.format('%s: argument %d (%s) must be an array of numbers, got %s', fn, argn, name, type(xs)), 3)
  end
  local n = #xs
  if n == 0 then
    error(string.format('%s: argument %d (%s) is empty', fn, argn, name), 3)
  end
  for i = 1, n do
    local v = xs[i]
    if type(v) ~= 'number' then
      error(string.format('%s: %s[%d] is a %s, not a number', fn, name, i, type(v)), 3)
    elseif not finite(v) then
      error(string.format('%s: %s[%d] is not finite (%s)', fn, name, i, tostring(v)), 3)
    end
  end
  return n
end

local function check_number(fn, argn, name, v)
  if type(v) ~= 'number' then
    error(string.format('%s: argument %d (%s) must be a number, got %s', fn, argn, name, type(v)), 3)
  end
end

local function check_positive(fn, argn, name, v)
  if type(v) ~= 'number' or not (v > 0) then
    error(string.format('%s: argument %d (%s) must be a number > 0, got %s', fn, argn, name, tostring(v)), 3)
  end
end

local function check_prob(fn, argn, name, p)
  if type(p) ~= 'number' or not (p >= 0 and p <= 1) then
    error(string.format('%s: argument %d (%s) must be a number in [0, 1], got %s', fn, argn, name, tostring(p)), 3)
  end
end

local function in_unit(v) return type(v) == 'number' and v > 0 and v < 1 end

local function as_integer(v)
  return type(v) == 'number' and finite(v) and v == floor(v) and math.tointeger(v) or nil
end

-- resolves opts over defaults (unknown keys and wrong types refused) and
-- checks the ranges of the options this module knows; level 3 as above
local function resolve(fn, opts, defaults)
  local o = options.resolve(fn, opts, defaults, 3)
  local function bad(key, want)
    error(string.format('%s: opts.%s must be %s, got %s', fn, key, want, tostring(o[key])), 4)
  end
  if o.level ~= nil and not in_unit(o.level) then bad('level', 'a number in (0, 1)') end
  if o.alpha ~= nil and not in_unit(o.alpha) then bad('alpha', 'a number in (0, 1)') end
  if o.power ~= nil and not in_unit(o.power) then bad('power', 'a number in (0, 1)') end
  if o.resamples ~= nil then
    local r = as_integer(o.resamples)
    if not r or r < 1 then bad('resamples', 'an integer >= 1') end
    o.resamples = r
  end
  if o.seed ~= nil then
    local s = as_integer(o.seed)
    if not s then bad('seed', 'an integer') end
    o.seed = s
  end
  if o.max_n ~= nil then
    local m = as_integer(o.max_n)
    if not m or m < 2 then bad('max_n', 'an integer >= 2') end
    o.max_n = m
  end
  return o
end

-- ---------------------------------------------------------------- special functions

--- log(1 + x) to full relative precision for small x (Goldberg 1991, "What
-- every computer scientist should know about floating-point arithmetic",
-- Theorem 4: log(u) * x / (u - 1) with u = 1 + x rounded).
local function log1p(x)
  local u = 1 + x
  if u == 1 then return x end
  return log(u) * x / (u - 1)
end

-- lgamma(x) - Stirling's approximation, for x >= 10: the asymptotic series
-- sum B_2k / (2k (2k-1) x^(2k-1)), to x^-13 (the next term is < 3e-17 at 10)
local function stirling_corr(x)
  local r = 1 / x
  local r2 = r * r
  return r * (1 / 12 + r2 * (-1 / 360 + r2 * (1 / 1260 + r2 * (-1 / 1680 + r2 * (1 / 1188
    + r2 * (-691 / 360360 + r2 / 156))))))
end

--- log Gamma(x) for x > 0: Stirling's series at x >= 10, and below that
-- the recurrence Gamma(x) = Gamma(x + k) / (x (x+1) ... (x+k-1)).
-- Absolute error about 1e-15 near the zeros at 1 and 2, relative elsewhere.
local function lgamma(x)
  local shift = 1
  while x < 10 do
    shift = shift * x
    x = x + 1
  end
  return (x - 0.5) * log(x) - x + LOG_SQRT_2PI + stirling_corr(x) - log(shift)
end

--- log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b), without the
-- cancellation of the three large terms when a or b is large: the Stirling
-- parts are combined by hand (the arrangement of R's lbeta, after
-- Cody/Hillstrom and the SLATEC DLBETA).
local function lbeta(a, b)
  local p, q = math.min(a, b), math.max(a, b)
  if p >= 10 then
    local corr = stirling_corr(p) + stirling_corr(q) - stirling_corr(p + q)
    return -0.5 * log(q) + LOG_SQRT_2PI + corr + (p - 0.5) * log(p / (p + q)) + q * log1p(-p / (p + q))
  elseif q >= 10 then
    local corr = stirling_corr(q) - stirling_corr(p + q)
    return lgamma(p) + corr + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q))
  end
  return lgamma(p) + lgamma(q) - lgamma(p + q)
end

-- the continued fraction of I_x(a, b) (Numerical Recipes 6.4, evaluated by
-- the modified Lentz method); converges fast for x < (a + 1) / (a + b + 2)
local function betacf_nr(a, b, x)
  local qab, qap, qam = a + b, a + 1, a - 1
  local c, d = 1, 1 - qab * x / qap
  if abs(d) < TINY then d = TINY end
  d = 1 / d
  local h = d
  for m = 1, CF_MAXIT do
    local m2 = 2 * m
    local aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if abs(d) < TINY then d = TINY end
    c = 1 + aa / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    h = h * d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if abs(d) < TINY then d = TINY end
    c = 1 + aa / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    local del = d * c
    h = h * del
    if abs(del - 1) < CF_EPS then break end
  end
  return h
end

-- The same fraction for x near 1 (there a > b), where x itself has lost
-- the digits of y = 1 - x: its even contraction 1 / (B0 + A1 / (B1 + A2 /
-- (B2 + ...))), with A_m = -d_{2m-1} d_{2m} and B_m = 1 + d_{2m} + d_{2m+1}
-- (d_k the partial numerators of Numerical Recipes' form), B_m written as
-- y + x r_m with r_m a ratio of polynomials in a, b and m, so that the
-- cancellation in 1 - x (1 - r_m) never happens. (The even part of a
-- continued fraction: Jones and Thron 1980, sec. 2.4.2; TOMS 708's BFRAC
-- uses the same idea.) Up to t_cdf at df = 1e7 this keeps 1e-14.
local function betacf_near1(a, b, x, y)
  local function bm(m)
    if m == 0 then return (1 - b + (a + b) * y) / (a + 1) end
    local n = (a + 2 * m - 1) * (a * (2 * m + 1 - b) + 3 * m * m + (2 - b) * m) + m * (b - m) * (a + 2 * m + 1)
    return y + x * n / ((a + 2 * m - 1) * (a + 2 * m) * (a + 2 * m + 1))
  end
  local f = bm(0)
  if abs(f) < TINY then f = TINY end
  local c, d = f, 0
  for m = 1, CF_MAXIT do
    local am = (a + m - 1) * (a + b + m - 1) * m * (b - m) * x * x
      / ((a + 2 * m - 2) * (a + 2 * m - 1) * (a + 2 * m - 1) * (a + 2 * m))
    local b_m = bm(m)
    d = b_m + am * d
    if abs(d) < TINY then d = TINY end
    c = b_m + am / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    local del = c * d
    f = f * del
    if abs(del - 1) < CF_EPS then break end
  end
  return 1 / f
end

local function betacf(a, b, x, y)
  if x > 0.5 then return betacf_near1(a, b, x, y) end
  return betacf_nr(a, b, x)
end

--- The regularized incomplete beta function I_x(a, b) and its complement
-- 1 - I_x(a, b), with y = 1 - x given separately (callers compute it
-- without cancellation). The prefactor x^a y^b / B(a, b) is taken in logs;
-- the continued fraction (Numerical Recipes 6.4; for x > 1/2 its even
-- contraction in terms of y) runs on whichever of (a, b, x) and (b, a, y)
-- converges fast, and the other value is its complement. lx, if given, is
-- log(x) (for an x too small for a double).
local function ibeta(a, b, x, y, lx)
  if y <= 0 then return 1, 0 end
  if not lx then
    if x <= 0 then return 0, 1 end
    lx = x < 0.5 and log(x) or log1p(-y)
  end
  local ly = y < 0.5 and log(y) or log1p(-x)
  local front = exp(a * lx + b * ly - lbeta(a, b))
  if x < (a + 1) / (a + b + 2) then
    local v = front * betacf(a, b, x, y) / a
    return v, 1 - v
  end
  local v = front * betacf(b, a, y, x) / b
  return 1 - v, v
end

--- The regularized upper incomplete gamma function Q(a, x), given
-- lga = log Gamma(a): the series of P(a, x) for x < a + 1, else the
-- continued fraction of Q (Numerical Recipes 6.2, modified Lentz). Returns
-- P and Q, the one computed directly exact to ~1e-15 relative.
local function igamma(a, x, lga)
  if x <= 0 then return 0, 1 end
  local front = exp(-x + a * log(x) - lga)
  if x < a + 1 then
    local ap, del = a, 1 / a
    local sum = del
    for _ = 1, CF_MAXIT do
      ap = ap + 1
      del = del * x / ap
      sum = sum + del
      if abs(del) < abs(sum) * CF_EPS then break end
    end
    local p = sum * front
    return p, 1 - p
  end
  local b = x + 1 - a
  local c, d = 1 / TINY, 1 / b
  local h = d
  for i = 1, CF_MAXIT do
    local an = -i * (i - a)
    b = b + 2
    d = an * d + b
    if abs(d) < TINY then d = TINY end
    c = b + an / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    local del = d * c
    h = h * del
    if abs(del - 1) < CF_EPS then break end
  end
  local q = front * h
  return 1 - q, q
end

-- ---------------------------------------------------------------- normal distribution

local function normal_cdf(z)
  if z ~= z then return z end
  -- Phi(z) = erfc(-z / sqrt 2) / 2 and erfc(u) = Q(1/2, u^2) for u >= 0
  local p, q = igamma(0.5, 0.5 * z * z, LOG_SQRT_PI)
  if z < 0 then return 0.5 * q end
  return 0.5 + 0.5 * p
end

--- stats.normal_cdf(z): the standard normal distribution function Phi(z),
-- through erfc(u) = Q(1/2, u^2), the regularized upper incomplete gamma
-- function (series or continued fraction, Numerical Recipes 6.2); about
-- 1e-15 relative, also deep in the lower tail.
function M.normal_cdf(z)
  check_number('rnn.stats.normal_cdf', 1, 'z', z)
  return normal_cdf(z)
end

-- Acklam's rational approximations (relative error < 1.15e-9)
local ACK_A = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
  1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
local ACK_B = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
  6.680131188771972e+01, -1.328068155288572e+01}
local ACK_C = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
  -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
local ACK_D = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
  3.754408661907416e+00}

-- the normal quantile for 0 < p <= 0.5 (Acklam's approximation, then
-- Halley steps on Phi(x) - p, written so that no intermediate overflows)
local function normal_quantile_lower(p)
  local x
  if p < 0.02425 then
    local q = sqrt(-2 * log(p))
    local c, d = ACK_C, ACK_D
    x = (((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6])
      / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1)
  else
    local q = p - 0.5
    local r = q * q
    local a, b = ACK_A, ACK_B
    x = (((((a[1] * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * r + a[6]) * q
      / (((((b[1] * r + b[2]) * r + b[3]) * r + b[4]) * r + b[5]) * r + 1)
  end
  local lp = log(p)
  for _ = 1, 3 do
    -- u = (Phi(x) - p) / phi(x) = (Phi(x)/p - 1) * p / phi(x)
    local u = (normal_cdf(x) / p - 1) * exp(lp + 0.5 * x * x + LOG_SQRT_2PI)
    local step = u / (1 + 0.5 * x * u)
    x = x - step
    if abs(step) <= 1e-16 * abs(x) then break end
  end
  return x
end

local function normal_quantile(p)
  if p == 0 then return -huge elseif p == 1 then return huge end
  if p == 0.5 then return 0 end
  if p > 0.5 then return -normal_quantile_lower(1 - p) end  -- 1 - p is exact here
  return normal_quantile_lower(p)
end

--- stats.normal_quantile(p): the inverse of Phi, -inf at 0 and inf at 1.
-- Acklam's rational approximation (relative error < 1.15e-9) refined by
-- Halley's method on normal_cdf, the upper half by symmetry from 1 - p
-- (exact in floating point): about 1e-15 relative.
function M.normal_quantile(p)
  check_prob('rnn.stats.normal_quantile', 1, 'p', p)
  return normal_quantile(p)
end

-- ---------------------------------------------------------------- Student t

local function t_cdf(t, df)
  if t ~= t then return t end
  if df == huge then return normal_cdf(t) end
  if t == 0 then return 0.5 end
  -- P(T <= -|t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2)
  local tt = t * t
  local x, y, lx
  if tt < huge then
    local s = df + tt
    x, y = df / s, tt / s
  else  -- |t| > 1e154: x = df / t^2 in logs
    lx = log(df) - 2 * log(abs(t))
    x, y = exp(lx), 1
  end
  local tail = 0.5 * ibeta(0.5 * df, 0.5, x, y, lx)
  if t < 0 then return tail end
  return 1 - tail
end

--- stats.t_cdf(t, df): the distribution function of Student's t with df > 0
-- degrees of freedom (not necessarily an integer: Welch's df are not; inf
-- gives the normal). P(T <= -|t|) = I_x(df/2, 1/2) / 2 with
-- x = df / (df + t^2), I the regularized incomplete beta function by its
-- continued fraction (Numerical Recipes 6.4; the lower tail is computed
-- directly, so small probabilities keep their relative precision).
function M.t_cdf(t, df)
  check_number('rnn.stats.t_cdf', 1, 't', t)
  check_positive('rnn.stats.t_cdf', 2, 'df', df)
  return t_cdf(t, df)
end

-- log of the t density
local function t_logpdf(t, df)
  return -lbeta(0.5 * df, 0.5) - 0.5 * log(df) - 0.5 * (df + 1) * log1p(t * t / df)
end

-- the t quantile for 0 < p < 0.5 (a negative number)
local function t_quantile_lower(p, df)
  local t
  if df == 1 then
    t = -1 / math.tan(pi * p)                 -- Cauchy
  elseif df == 2 then
    t = (2 * p - 1) / sqrt(2 * p * (1 - p))   -- closed form for 2 degrees of freedom
  else
    -- Cornish-Fisher expansion around the normal quantile (Abramowitz and Stegun 26.7.5)
    local z = normal_quantile_lower(p)
    local z2 = z * z
    t = z + z * (z2 + 1) / (4 * df) + z * ((5 * z2 + 16) * z2 + 3) / (96 * df * df)
  end
  if not (t < 0) then t = -1 end
  -- Newton's method on g(t) = log F(t) - log p inside a bracket lo < root < hi;
  -- g is convex in the far tail, where Newton then approaches from the right
  local lp = log(p)
  local lo, hi = -huge, 0
  for _ = 1, 500 do
    local f = t_cdf(t, df)
    if f == p then return t end
    if f > p then hi = t else lo = t end
    local nt = t - (log(f) - lp) * f / exp(t_logpdf(t, df))
    if not (nt > lo and nt < hi) then
      if lo == -huge then
        -- no lower end yet: extrapolate the power-law tail F(t) ~ C |t|^-df
        nt = -exp(log(-hi) + math.max(log(2), (log(f) - lp) / df))
        if nt == -huge then return -huge end  -- beyond the range of doubles
      elseif hi < -1 and lo < 4 * hi then
        nt = -exp(0.5 * (log(-lo) + log(-hi)))  -- geometric bisection over wide brackets
      else
        nt = 0.5 * (lo + hi)
      end
    end
    if abs(nt - t) <= 2e-16 * abs(nt) or nt == lo or nt == hi then return nt end
    t = nt
  end
  return t
end

local function t_quantile(p, df)
  if p == 0 then return -huge elseif p == 1 then return huge end
  if df == huge then return normal_quantile(p) end
  if p == 0.5 then return 0 end
  if p > 0.5 then return -t_quantile_lower(1 - p, df) end  -- 1 - p is exact here
  return t_quantile_lower(p, df)
end

--- stats.t_quantile(p, df): the inverse of t_cdf (-inf at 0, inf at 1).
-- A start from the closed forms (df 1 and 2) or the Cornish-Fisher
-- expansion, then Newton's method on log t_cdf(t) - log p, kept inside a
-- bracket that falls back to (geometric) bisection; the upper half by
-- symmetry from 1 - p. Converges to the last bits of t_cdf.
function M.t_quantile(p, df)
  check_prob('rnn.stats.t_quantile', 1, 'p', p)
  check_positive('rnn.stats.t_quantile', 2, 'df', df)
  return t_quantile(p, df)
end

-- ---------------------------------------------------------------- summaries

-- the mean as c + dm with c = xs[1] and dm the mean of the deviations
-- xs[i] - c (exact when within a factor 2 of c, Sterbenz): the rounding of
-- the sum then scales with the spread of the data, not with its offset
-- (the shifted-data idea of Chan, Golub and LeVeque 1983)
local function shifted_mean(xs, n)
  local c = xs[1]
  local s = 0
  for i = 1, n do s = s + (xs[i] - c) end
  return c, s / n
end

local function mean(xs, n)
  local c, dm = shifted_mean(xs, n)
  return c + dm
end

-- sample sd (two passes); nil for n < 2
local function sd(xs, n, m)
  if n < 2 then return nil end
  m = m or mean(xs, n)
  local s = 0
  for i = 1, n do
    local d = xs[i] - m
    s = s + d * d
  end
  return sqrt(s / (n - 1))
end

--- stats.mean(xs): the arithmetic mean of a non-empty array of finite numbers.
function M.mean(xs)
  return mean(xs, check_array('rnn.stats.mean', 1, 'xs', xs))
end

--- stats.sd(xs): the sample standard deviation (divisor n - 1, two passes
-- over the data); nil when n < 2.
function M.sd(xs)
  return sd(xs, check_array('rnn.stats.sd', 1, 'xs', xs))
end

-- the t interval m -/+ t_{df, (1+level)/2} se (the quantile taken in the
-- lower tail, -t_quantile((1-level)/2), which keeps its precision)
local function t_interval(m, se, df, level)
  local q = -t_quantile((1 - level) / 2, df)
  return m - q * se, m + q * se
end

--- stats.ci_mean(xs [, {level = 0.95}]) -> low, high: the Student t
-- interval for the mean, mean -/+ t_{n-1,(1+level)/2} sd / sqrt(n).
-- nil, nil when n < 2; low = high = the mean when sd = 0.
function M.ci_mean(xs, opts)
  local fn = 'rnn.stats.ci_mean'
  local n = check_array(fn, 1, 'xs', xs)
  local o = resolve(fn, opts, {level = 0.95})
  if n < 2 then return nil, nil end
  local m = mean(xs, n)
  return t_interval(m, sd(xs, n, m) / sqrt(n), n - 1, o.level)
end

--- stats.wilson(k, n [, {level = 0.95}]) -> low, high: Wilson's score
-- interval (Wilson 1927) of a success probability from k successes in n
-- trials. Unlike the normal approximation it stays inside [0, 1] and is
-- not empty at k = 0 or k = n (0/10 gives [0, 0.278]).
function M.wilson(k, n, opts)
  local fn = 'rnn.stats.wilson'
  if math.type(n) ~= 'integer' or n < 1 then
    error(string.format('%s: argument 2 (n) must be a positive integer, got %s', fn, tostring(n)), 2)
  end
  if math.type(k) ~= 'integer' or k < 0 or k > n then
    error(string.format('%s: argument 1 (k) must be an integer in [0, n = %d], got %s', fn, n, tostring(k)), 2)
  end
  local o = resolve(fn, opts, {level = 0.95})
  local z = -normal_quantile((1 - o.level) / 2)
  local p, z2 = k / n, z * z
  local centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  local half = z / (1 + z2 / n) * sqrt(p * (1 - p) / n + z2 / (4 * n * n))
  local lo, hi = centre - half, centre + half
  -- exact ends where they are exact (rounding could leave 1e-17 outside)
  if k == 0 then lo = 0 end
  if k == n then hi = 1 end
  return math.max(0, lo), math.min(1, hi)
end

-- ---------------------------------------------------------------- bootstrap

-- splitmix64 (Steele, Lea and Flood 2014, "Fast splittable pseudorandom
-- number generators") in Lua's wrapping 64-bit integers
local GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

-- the sample quantile of sorted values by linear interpolation between
-- order statistics (Hyndman and Fan 1996 type 7, R's and NumPy's default):
-- h = (B - 1) p + 1, x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])
local function quantile7(sorted, p)
  local b = #sorted
  local h = (b - 1) * p + 1
  local lo = floor(h)
  if lo >= b then return sorted[b] end
  return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo])
end

-- the percentile bootstrap of the mean: resamples of n indices drawn
-- uniformly with replacement (splitmix64 from o.seed, its top 63 bits, by
-- rejection above the largest multiple of n, so no index is favoured); the
-- means are taken on xs - xs[1] (as shifted_mean) and sorted
local function bootstrap(xs, n, o)
  if n < 2 then return nil, nil end
  local c = xs[1]
  local dev = {}
  for i = 1, n do dev[i] = xs[i] - c end
  local limit = math.maxinteger - math.maxinteger % n
  local state = o.seed
  local means = {}
  for r = 1, o.resamples do
    local s, k = 0, 0
    while k < n do
      state = state + GOLDEN
      local z = state
      z = (z ~ (z >> 30)) * MIX1
      z = (z ~ (z >> 27)) * MIX2
      z = (z ~ (z >> 31)) >> 1
      if z < limit then
        k = k + 1
        s = s + dev[z % n + 1]
      end
    end
    means[r] = c + s / n
  end
  table.sort(means)
  local alpha = 1 - o.level
  return quantile7(means, alpha / 2), quantile7(means, 1 - alpha / 2)
end

local BOOT_DEFAULTS = {level = 0.95, resamples = 10000, seed = DEFAULT_SEED}

--- stats.bootstrap_ci(xs [, {level = 0.95, resamples = 10000, seed = 0x5EED5EED}])
-- -> low, high: the percentile bootstrap interval for the mean (Efron and
-- Tibshirani 1993, ch. 13): `resamples` samples of size n drawn with
-- replacement from xs, the mean of each, and the (1-level)/2 and
-- (1+level)/2 quantiles of those means, quantiles by linear interpolation
-- between order statistics (Hyndman-Fan type 7). The draws come from the
-- module's own splitmix64 generator started at `seed`, so the same inputs
-- give the same bits; rnn's generator and math.random are left alone.
-- nil, nil when n < 2.
function M.bootstrap_ci(xs, opts)
  local fn = 'rnn.stats.bootstrap_ci'
  local n = check_array(fn, 1, 'xs', xs)
  local o = resolve(fn, opts, BOOT_DEFAULTS)
  return bootstrap(xs, n, o)
end

-- ---------------------------------------------------------------- tests

local function sign(v) return v > 0 and 1 or (v < 0 and -1 or 0) end

-- two-sided p-value of a t statistic
local function p_two_sided(t, df)
  return math.min(1, 2 * t_cdf(-abs(t), df))
end

--- stats.paired(a, b [, {level = 0.95, resamples = 10000, seed = ...}]) ->
-- {n, diff, sd, t, df, p, ci_low, ci_high, boot_low, boot_high, effect}:
-- the paired comparison of a[i] with b[i] (the same seed i in two cells),
-- on the differences d = a - b: diff = mean(d), sd = sd(d), the paired
-- t test t = diff / (sd / sqrt n) on df = n - 1 with its two-sided p, the
-- t interval of the mean difference (ci_*), the percentile bootstrap
-- interval of the differences (boot_*, as bootstrap_ci), and Cohen's d_z =
-- diff / sd (Cohen 1988, the standardized mean difference of paired data;
-- the effect that power_t and n_for_power take).
-- n < 2: only n and diff. Identical differences (sd = 0): t = 0, p = 1 and
-- effect = 0 when diff = 0, else t = effect = +/-inf and p = 0 (the data
-- leave no doubt); both intervals are then [diff, diff].
function M.paired(a, b, opts)
  local fn = 'rnn.stats.paired'
  local na = check_array(fn, 1, 'a', a)
  local nb = check_array(fn, 2, 'b', b)
  if na ~= nb then
    error(string.format('%s: a and b differ in length (%d and %d)', fn, na, nb), 2)
  end
  local o = resolve(fn, opts, BOOT_DEFAULTS)
  local n = na
  local d = {}
  for i = 1, n do d[i] = a[i] - b[i] end
  local diff = mean(d, n)
  local r = {n = n, diff = diff}
  if n < 2 then return r end
  local s = sd(d, n, diff)
  r.sd, r.df = s, n - 1
  if s == 0 then
    r.t = diff == 0 and 0 or sign(diff) * huge
    r.p = diff == 0 and 1 or 0
    r.effect = r.t
    r.ci_low, r.ci_high = diff, diff
  else
    local se = s / sqrt(n)
    r.t = diff / se
    r.p = p_two_sided(r.t, r.df)
    r.effect = diff / s
    r.ci_low, r.ci_high = t_interval(diff, se, r.df, o.level)
  end
  r.boot_low, r.boot_high = bootstrap(d, n, o)
  return r
end

-- Hedges' exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2)
-- Gamma((m-1)/2)) = sqrt(pi) / (B((m-1)/2, 1/2) sqrt(m/2))
local function hedges_j(m)
  return exp(LOG_SQRT_PI - lbeta(0.5 * (m - 1), 0.5)) / sqrt(0.5 * m)
end

--- stats.welch(a, b [, {level = 0.95}]) -> {n_a, n_b, diff, t, df, p,
-- ci_low, ci_high, effect}: Welch's unequal-variance t test (Welch 1947)
-- of two independent samples: diff = mean(a) - mean(b), se^2 = var(a)/n_a +
-- var(b)/n_b, t = diff / se on the Welch-Satterthwaite df = se^4 /
-- ((var(a)/n_a)^2/(n_a-1) + (var(b)/n_b)^2/(n_b-1)), the two-sided p and
-- the interval diff -/+ t_{df,(1+level)/2} se. effect is Hedges' g
-- (Hedges 1981): diff over the pooled sd sqrt(((n_a-1) var(a) + (n_b-1)
-- var(b)) / (n_a+n_b-2)), times the exact small-sample correction
-- J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n_a + n_b - 2
-- (about 1 - 3/(4m - 1)).
-- n_a < 2 or n_b < 2: only n_a, n_b and diff. Both variances 0: df =
-- n_a + n_b - 2 and, as in paired, t = effect = 0 and p = 1 when diff = 0,
-- else +/-inf and 0, with the interval [diff, diff].
function M.welch(a, b, opts)
  local fn = 'rnn.stats.welch'
  local na = check_array(fn, 1, 'a', a)
  local nb = check_array(fn, 2, 'b', b)
  local o = resolve(fn, opts, {level = 0.95})
  local ca, da = shifted_mean(a, na)
  local cb, db = shifted_mean(b, nb)
  local ma, mb = ca + da, cb + db
  local diff = (ca - cb) + (da - db)  -- both parts nearly exact for close means
  local r = {n_a = na, n_b = nb, diff = diff}
  if na < 2 or nb < 2 then return r end
  local sa, sb = sd(a, na, ma), sd(b, nb, mb)
  local va, vb = sa * sa / na, sb * sb / nb
  local m = na + nb - 2
  local pooled = sqrt(((na - 1) * sa * sa + (nb - 1) * sb * sb) / m)
  if va + vb == 0 then
    r.df = m
    r.t = diff == 0 and 0 or sign(diff) * huge
    r.p = diff == 0 and 1 or 0
    r.effect = r.t
    r.ci_low, r.ci_high = diff, diff
    return r
  end
  local se = sqrt(va + vb)
  r.df = (va + vb) ^ 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
  r.t = diff / se
  r.p = p_two_sided(r.t, r.df)
  r.ci_low, r.ci_high = t_interval(diff, se, r.df, o.level)
  r.effect = hedges_j(m) * diff / pooled
  return r
end

--- stats.holm(ps) -> adjusted: Holm's step-down adjustment (Holm 1979) of
-- a family of p-values, in the input order. With the m non-nil p-values
-- sorted, p(1) <= ... <= p(m), adjusted p(k) = max over j <= k of
-- min(1, (m - j + 1) p(j)) (monotone, capped at 1); reject at level alpha
-- where adjusted p <= alpha (controls the familywise error rate). nil
-- entries (up to ps.n if given, else the largest index) stay nil and do
-- not count in m.
function M.holm(ps)
  local fn = 'rnn.stats.holm'
  if type(ps) ~= 'table' then
    error(string.format('%s: argument 1 (ps) must be an array of p-values, got %s', fn, type(ps)), 2)
  end
  local len = as_integer(ps.n)
  local idx = {}
  for k, v in pairs(ps) do
    local i = math.type(k) == 'integer' and k or nil
    if i and i >= 1 and (not len or i <= len) then
      if type(v) ~= 'number' or not (v >= 0 and v <= 1) then
        error(string.format('%s: ps[%d] must be a number in [0, 1] or nil, got %s', fn, i, tostring(v)), 2)
      end
      idx[#idx + 1] = i
    elseif not (k == 'n' and len) then
      error(string.format('%s: ps has a key %s that is not an array index', fn, tostring(k)), 2)
    end
  end
  table.sort(idx, function(i, j)
    if ps[i] ~= ps[j] then return ps[i] < ps[j] end
    return i < j
  end)
  local m = #idx
  local out, running = {}, 0
  for k, i in ipairs(idx) do
    running = math.max(running, math.min(1, (m - k + 1) * ps[i]))
    out[i] = running
  end
  return out
end

-- ---------------------------------------------------------------- power

-- Gauss-Legendre nodes and weights on [-1, 1], by Newton's method on the
-- Legendre polynomial P_n from the Chebyshev-like start cos(pi (i - 1/4) / (n + 1/2))
local function gauss_legendre(n)
  local x, w = {}, {}
  for i = 1, (n + 1) // 2 do
    local z = math.cos(pi * (i - 0.25) / (n + 0.5))
    local dp
    for _ = 1, 100 do
      local p1, p2 = 1, 0
      for j = 1, n do
        p1, p2 = ((2 * j - 1) * z * p1 - (j - 1) * p2) / j, p1
      end
      dp = n * (z * p1 - p2) / (z * z - 1)
      local dz = p1 / dp
      z = z - dz
      if abs(dz) < 1e-16 then break end
    end
    x[i], x[n + 1 - i] = -z, z
    w[i] = 2 / ((1 - z * z) * dp * dp)
    w[n + 1 - i] = w[i]
  end
  return x, w
end

local GL_X, GL_W = gauss_legendre(20)

--- P(|T'| > c) for T' noncentral t with df degrees of freedom and
-- noncentrality delta: T' = (Z + delta) / (W / sqrt df), W ~ chi(df), so
-- P(T' > c) = E[Phi(delta - c W / sqrt df)] and P(T' < -c) =
-- E[Phi(-delta - c W / sqrt df)]. The expectation over the chi density
-- (proportional to w^(df-1) exp(-w^2/2)) is a composite 20-point
-- Gauss-Legendre rule on panels of width 1/2 over mode -/+ 12 (the mass
-- outside is below 1e-30), normalized by the same rule applied to the
-- density alone.
local function nct_two_sided(c, df, delta)
  local mode = sqrt(math.max(df - 1, 0))
  local a = math.max(0, mode - 12)
  local b = mode + 12
  local panels = math.ceil((b - a) / 0.5)
  local h = (b - a) / panels
  local lmode = mode > 0 and log(mode) or 0
  local k = c / sqrt(df)
  local num, den = 0, 0
  for j = 0, panels - 1 do
    local mid = a + (j + 0.5) * h
    for i = 1, #GL_X do
      local w = mid + 0.5 * h * GL_X[i]
      -- the chi density relative to its value at the mode (no normalizing constant needed)
      local dens = df > 1 and exp((df - 1) * (log(w) - lmode) - 0.5 * (w * w - mode * mode)) or exp(-0.5 * w * w)
      local g = GL_W[i] * dens
      num = num + g * (normal_cdf(delta - k * w) + normal_cdf(-delta - k * w))
      den = den + g
    end
  end
  return num / den
end

local POWER_DEFAULTS = {alpha = 0.05, paired = true}

local function power(d, n, alpha, paired)
  local df, nc
  if paired then
    df, nc = n - 1, d * sqrt(n)
  else
    df, nc = 2 * n - 2, d * sqrt(n / 2)
  end
  local c = -t_quantile(alpha / 2, df)
  return nct_two_sided(c, df, nc)
end

--- stats.power_t(effect, n [, {alpha = 0.05, paired = true}]): the power of
-- the two-sided t test at level alpha for the standardized effect d, exact
-- through the noncentral t distribution: power = P(|T'| > t_crit), t_crit
-- = t_{df, 1 - alpha/2}. Paired (one-sample on the differences, d = Cohen's
-- d_z): n pairs, df = n - 1, noncentrality d sqrt(n). Unpaired (two
-- samples, n per group, d = Cohen's d with the common sd): df = 2n - 2,
-- noncentrality d sqrt(n/2). The noncentral t distribution is integrated
-- numerically over the chi distribution of the sd (see nct_two_sided);
-- about 1e-10 absolute. n must be an integer >= 2.
function M.power_t(effect, n, opts)
  local fn = 'rnn.stats.power_t'
  check_number(fn, 1, 'effect', effect)
  if not finite(effect) then
    error(string.format('%s: argument 1 (effect) must be finite, got %s', fn, tostring(effect)), 2)
  end
  local ni = as_integer(n)
  if not ni or ni < 2 then
    error(string.format('%s: argument 2 (n) must be an integer >= 2, got %s', fn, tostring(n)), 2)
  end
  local o = resolve(fn, opts, POWER_DEFAULTS)
  return power(effect, ni, o.alpha, o.paired)
end

--- stats.n_for_power(effect [, {power = 0.8, alpha = 0.05, paired = true,
-- max_n = 100000}]): the smallest n >= 2 (pairs when paired, else per
-- group) at which power_t(effect, n, opts) >= power: doubling, then
-- bisection (the power grows with n). nil when effect is 0 or not finite
-- (a zero effect is detected with probability alpha whatever n, and an
-- infinite or NaN effect has no meaningful sample size), and nil when even
-- max_n does not reach the power.
function M.n_for_power(effect, opts)
  local fn = 'rnn.stats.n_for_power'
  check_number(fn, 1, 'effect', effect)
  local o = resolve(fn, opts, {power = 0.8, alpha = 0.05, paired = true, max_n = 100000})
  if effect == 0 or not finite(effect) then return nil end
  local d = abs(effect)
  local function enough(n) return power(d, n, o.alpha, o.paired) >= o.power end
  if enough(2) then return 2 end
  local lo, hi = 2, 2  -- enough(lo) is false
  repeat
    lo, hi = hi, math.min(2 * hi, o.max_n)
    if hi == lo then return nil end
  until enough(hi)
  while hi - lo > 1 do
    local mid = (lo + hi) // 2
    if enough(mid) then hi = mid else lo = mid end
  end
  return hi
end

--- stats.lgamma(x): log Gamma(x) for x > 0 (Stirling's series with the
-- recurrence below 10; about 1e-15 absolute near 1 and 2, relative elsewhere).
function M.lgamma(x)
  check_positive('rnn.stats.lgamma', 1, 'x', x)
  return lgamma(x)
end

--- stats.ibeta(a, b, x): the regularized incomplete beta function I_x(a, b)
-- (argument order of SciPy's betainc and Cephes' incbet), a, b > 0 and
-- 0 <= x <= 1: the continued fraction of Numerical Recipes 6.4.
function M.ibeta(a, b, x)
  local fn = 'rnn.stats.ibeta'
  check_positive(fn, 1, 'a', a)
  check_positive(fn, 2, 'b', b)
  check_prob(fn, 3, 'x', x)
  return (ibeta(a, b, x, 1 - x))
end

return M
