--- @module rnn.data

-- rnn.data time series: sine mixtures, Mackey-Glass, NARMA10.
--
--     local x, y = rnn.data.sine_mixture{T = 100, batch = 32}
--     local x, y = rnn.data.mackey_glass{T = 1000, tau = 17}
--     local x, y = rnn.data.narma10{T = 1000}
--
-- Each returns x (T, B, 1) and y (T, B, 1) (or (B, T, 1) with batch_first),
-- and a table of details. For sine mixtures and Mackey-Glass y is x one step
-- ahead (y[t] = s[t+1]); for NARMA10, a system to identify, x is the input u
-- and y[t] the system's output y(t+1), which depends on u up to step t.
-- Series are computed in double and returned in `dtype` (float32 by default).
-- Randomness comes from the seeded generator, or from `seed` (see rnn.data).
local core = require 'rnn.core'
local U = require 'rnn.data.util'

local M = {}

local NIL = U.NIL

-- s: array over b of arrays 1..T+1 -> x, y (T, B, 1) tensors
local function one_step_ahead(s, T, B, o)
  local xs, ys = {}, {}
  for t = 1, T do
    local xr, yr = {}, {}
    for b = 1, B do
      xr[b] = {s[b][t]}
      yr[b] = {s[b][t + 1]}
    end
    xs[t], ys[t] = xr, yr
  end
  return U.layout(core.tensor(xs, o.dtype), o.batch_first), U.layout(core.tensor(ys, o.dtype), o.batch_first)
end

-- -------------------------------------------------------------------------

local SINE = {T = 100, batch = 32, n_components = 3, freq_min = 0.01, freq_max = 0.1,
              amp_min = 0.5, amp_max = 1.0, noise_std = 0.0, dtype = 'float32', seed = NIL,
              batch_first = false}

local function sine_mixture(o)
  local T, B, K = o.T, o.batch, o.n_components
  -- draws, in this order: frequencies (B,K), amplitudes (B,K), phases (B,K),
  -- then, when noise_std > 0, the noise (B, T+1)
  local f = core.rand({B, K}, 'float64'):totable()
  local a = core.rand({B, K}, 'float64'):totable()
  local p = core.rand({B, K}, 'float64'):totable()
  local noise = o.noise_std > 0 and core.randn({B, T + 1}, 'float64'):totable() or nil
  local s = {}
  for b = 1, B do
    local fb, ab, pb = f[b], a[b], p[b]
    for k = 1, K do
      fb[k] = o.freq_min + (o.freq_max - o.freq_min) * fb[k]
      ab[k] = o.amp_min + (o.amp_max - o.amp_min) * ab[k]
      pb[k] = 2 * math.pi * pb[k]
    end
    local row = {}
    for t = 1, T + 1 do
      local v = 0
      for k = 1, K do v = v + ab[k] * math.sin(2 * math.pi * fb[k] * (t - 1) + pb[k]) end
      v = v / K
      if noise then v = v + o.noise_std * noise[b][t] end
      row[t] = v
    end
    s[b] = row
  end
  local x, y = one_step_ahead(s, T, B, o)
  return x, y, {freqs = core.tensor(f, 'float64'), amps = core.tensor(a, 'float64'),
                phases = core.tensor(p, 'float64')}
end

--- Sums of sines, for one-step-ahead prediction (y[t] = x[t+1]). Each
-- sequence is s(t) = (1/K) Σ_k a_k sin(2π f_k t + φ_k) + noise_std·ε_t,
-- t = 0, 1, ..., T, with its own f_k ~ U(freq_min, freq_max) (cycles per
-- step), a_k ~ U(amp_min, amp_max), φ_k ~ U(0, 2π) and ε_t ~ N(0, 1).
-- @tparam[opt] table opts options
-- @option T (100) the sequence length
-- @option batch (32) the batch size B
-- @option n_components (3) K, the sines per sequence
-- @option freq_min (0.01) the lowest frequency, in cycles per step
-- @option freq_max (0.1) the highest frequency
-- @option amp_min (0.5) the smallest amplitude
-- @option amp_max (1.0) the largest amplitude
-- @option noise_std (0) the standard deviation of Gaussian noise added
-- @option dtype ('float32') 'float32' or 'float64'
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T, ...) instead of (T, B, ...)
-- @treturn Tensor x (T, B, 1)
-- @treturn Tensor y (T, B, 1): x one step ahead
-- @treturn table info: freqs, amps, phases, each (B, K) float64
function M.sine_mixture(opts)
  local fn = 'rnn.data.sine_mixture'
  local o = U.resolve(fn, opts, SINE, {seed = 'number'})
  U.int(fn, o, 'T', 1)
  U.int(fn, o, 'batch', 1)
  U.int(fn, o, 'n_components', 1)
  U.num(fn, o, 'freq_min', 0)
  U.num(fn, o, 'freq_max', o.freq_min)
  U.num(fn, o, 'amp_min', nil)
  U.num(fn, o, 'amp_max', o.amp_min)
  U.num(fn, o, 'noise_std', 0)
  U.float_dtype(fn, o)
  U.seed(fn, o)
  return U.with_seed(o.seed, sine_mixture, o)
end

-- -------------------------------------------------------------------------

local MG = {T = 1000, batch = 32, tau = 17, beta = 0.2, gamma = 0.1, n = 10, dt = 0.1,
            sample_every = 1, washout = 500, x0_min = 0.5, x0_max = 1.5, dtype = 'float32',
            seed = NIL, batch_first = false}

-- how many steps of `dt` make `v` (an exact multiple, to 1e-9)
local function steps_of(fn, name, v, dt)
  local k = v / dt
  local r = math.floor(k + 0.5)
  if math.abs(k - r) > 1e-9 * math.max(1, k) then
    error(string.format('%s: option %s (%s) must be a whole multiple of dt (%s)', fn, name, tostring(v), tostring(dt)), 3)
  end
  return math.tointeger(r)
end

local function mackey_glass(o, d, every, wash)
  local T, B = o.T, o.batch
  local beta, gamma, n, h = o.beta, o.gamma, o.n, o.dt
  local function f(x, xd) return beta * xd / (1 + xd ^ n) - gamma * x end
  -- draws: the initial value of each sequence (B)
  local x0 = core.rand({B}, 'float64'):totable()
  local steps = wash + T * every
  local s = {}
  for b = 1, B do
    local init = o.x0_min + (o.x0_max - o.x0_min) * x0[b]
    -- X[i] is x at time (i - 1 - d)·dt: X[1..d+1] is the history on [-τ, 0]
    local X = {}
    for i = 1, d + 1 do X[i] = init end
    for k = d + 1, d + steps do
      local x = X[k]
      local xd0, xd1 = X[k - d], X[k - d + 1]
      local xdh = 0.5 * (xd0 + xd1)
      local k1 = f(x, xd0)
      local k2 = f(x + 0.5 * h * k1, xdh)
      local k3 = f(x + 0.5 * h * k2, xdh)
      local k4 = f(x + h * k3, xd1)
      X[k + 1] = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    end
    local row = {}
    for j = 0, T do row[j + 1] = X[d + 1 + wash + j * every] end
    s[b] = row
  end
  local x, y = one_step_ahead(s, T, B, o)
  return x, y, {x0 = core.tensor(x0, 'float64') * (o.x0_max - o.x0_min) + o.x0_min}
end

--- The Mackey-Glass series, for one-step-ahead prediction. Integrates dx/dt = β x(t-τ) / (1 + x(t-τ)^n) - γ x(t) (chaotic for τ = 17)
-- by classical 4th-order Runge-Kutta with step dt; the delayed value at a
-- half step is the mean of its two neighbours on the grid (τ must be a
-- whole multiple of dt). History: x(t) = x0 on [-τ, 0], x0 ~ U(x0_min,
-- x0_max) per sequence (info.x0). The first `washout` time units are
-- dropped, then the series is read every `sample_every` time units; values
-- stay in about (0.2, 1.4). y[t] = x[t+1].
-- @tparam[opt] table opts options
-- @option T (1000) the sequence length
-- @option batch (32) the batch size B
-- @option tau (17) the delay τ, a whole multiple of dt
-- @option beta (0.2) β
-- @option gamma (0.1) γ
-- @option n (10) the exponent
-- @option dt (0.1) the Runge-Kutta step
-- @option sample_every (1) time units between samples, a multiple of dt
-- @option washout (500) time units dropped at the start, a multiple of dt
-- @option x0_min (0.5) the initial value's lower bound
-- @option x0_max (1.5) the initial value's upper bound
-- @option dtype ('float32') 'float32' or 'float64'
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T, ...) instead of (T, B, ...)
-- @treturn Tensor x (T, B, 1)
-- @treturn Tensor y (T, B, 1): x one step ahead
-- @treturn table info: x0, the (B) float64 initial values
-- @usage local x, y = rnn.data.mackey_glass{T = 1000, batch = 1}
function M.mackey_glass(opts)
  local fn = 'rnn.data.mackey_glass'
  local o = U.resolve(fn, opts, MG, {seed = 'number'})
  U.int(fn, o, 'T', 1)
  U.int(fn, o, 'batch', 1)
  U.num(fn, o, 'tau', 0, nil, true)
  U.num(fn, o, 'beta', nil)
  U.num(fn, o, 'gamma', nil)
  U.num(fn, o, 'n', nil)
  U.num(fn, o, 'dt', 0, nil, true)
  U.num(fn, o, 'sample_every', 0, nil, true)
  U.num(fn, o, 'washout', 0)
  U.num(fn, o, 'x0_min', 0, nil, true)
  U.num(fn, o, 'x0_max', o.x0_min)
  U.float_dtype(fn, o)
  U.seed(fn, o)
  local d = steps_of(fn, 'tau', o.tau, o.dt)
  local every = steps_of(fn, 'sample_every', o.sample_every, o.dt)
  local wash = steps_of(fn, 'washout', o.washout, o.dt)
  return U.with_seed(o.seed, mackey_glass, o, d, every, wash)
end

-- -------------------------------------------------------------------------

local NARMA = {T = 1000, batch = 32, washout = 200, u_min = 0, u_max = 0.5, dtype = 'float32',
               seed = NIL, batch_first = false, max_tries = 10}

-- NARMA10 is not guaranteed to be bounded; a sequence whose output leaves
-- [-BOUND, BOUND] (or is not finite) is redrawn
local BOUND = 10

local function narma10(o)
  local T, B, W = o.T, o.batch, o.washout
  local N = W + T
  local xs, ys = {}, {}
  local redraws = 0
  -- draws: for each sequence in turn, u (N); a diverging one draws again
  for b = 1, B do
    local u, y
    for try = 1, o.max_tries + 1 do
      if try > o.max_tries then
        error(string.format('rnn.data.narma10: sequence %d diverged in %d draws; narrow u_min..u_max', b,
          o.max_tries), 0)
      end
      u = core.rand({N}, 'float64'):totable()
      for t = 1, N do u[t] = o.u_min + (o.u_max - o.u_min) * u[t] end
      y = {}
      for t = 1, 10 do y[t] = 0 end
      local ok = true
      -- y[t+1] = 0.3 y[t] + 0.05 y[t] Σ_{i=0..9} y[t-i] + 1.5 u[t-9] u[t] + 0.1
      for t = 10, N do
        local acc = 0
        for i = 0, 9 do acc = acc + y[t - i] end
        local v = 0.3 * y[t] + 0.05 * y[t] * acc + 1.5 * u[t - 9] * u[t] + 0.1
        if not (v >= -BOUND and v <= BOUND) then ok = false; break end
        y[t + 1] = v
      end
      if ok then break end
      redraws = redraws + 1
    end
    xs[b], ys[b] = u, y
  end
  local xt, yt = {}, {}
  for t = 1, T do
    local xr, yr = {}, {}
    for b = 1, B do
      xr[b] = {xs[b][W + t]}
      yr[b] = {ys[b][W + t + 1]}
    end
    xt[t], yt[t] = xr, yr
  end
  return U.layout(core.tensor(xt, o.dtype), o.batch_first), U.layout(core.tensor(yt, o.dtype), o.batch_first),
    {redraws = redraws}
end

--- The tenth-order NARMA system, a system to identify (Atiya and Parlos 2000):
--   y(t+1) = 0.3 y(t) + 0.05 y(t) Σ_{i=0}^{9} y(t-i) + 1.5 u(t-9) u(t) + 0.1
-- with u(t) ~ U(u_min, u_max) i.i.d. and y = 0 for the first ten steps. The
-- first `washout` steps are dropped; then x[t] = u(t) and y[t] = y(t+1). A
-- sequence whose output leaves [-10, 10] is redrawn (rare for U(0, 0.5);
-- info.redraws counts them).
-- @tparam[opt] table opts options
-- @option T (1000) the sequence length
-- @option batch (32) the batch size B
-- @option washout (200) steps dropped at the start
-- @option u_min (0) the input's lower bound
-- @option u_max (0.5) the input's upper bound
-- @option max_tries (10) draws of one sequence before giving up with an error
-- @option dtype ('float32') 'float32' or 'float64'
-- @option seed (none) draw from a generator seeded with this number and
-- restore the caller's generator after: the result depends on it alone
-- @option batch_first (false) (B, T, ...) instead of (T, B, ...)
-- @treturn Tensor x (T, B, 1): the input u
-- @treturn Tensor y (T, B, 1): the output one step ahead
-- @treturn table info: redraws
-- @raise when a sequence diverges in max_tries draws
function M.narma10(opts)
  local fn = 'rnn.data.narma10'
  local o = U.resolve(fn, opts, NARMA, {seed = 'number'})
  U.int(fn, o, 'T', 1)
  U.int(fn, o, 'batch', 1)
  U.int(fn, o, 'washout', 0)
  U.num(fn, o, 'u_min', nil)
  U.num(fn, o, 'u_max', o.u_min)
  U.int(fn, o, 'max_tries', 1)
  U.float_dtype(fn, o)
  U.seed(fn, o)
  return U.with_seed(o.seed, narma10, o)
end

return M
