-- Agreement with PyTorch: the fused recurrent kernel rnn._recurrent and the
-- rnn.nn.LSTM layer against fixtures written by PyTorch 1.13
-- (tests/fixtures/recurrent/make_fixtures.py; the files are committed, so
-- this needs no Python). Each fixture holds weights, inputs, initial states,
-- outputs, final states and the gradients of
--   loss = sum(out * G) + sum(h_n * Gh) [+ sum(c_n * Gc)]
-- An element passes when |ours - torch| <= tol * max(1, |torch|), with tol
-- 1e-5 in float32 and 1e-10 in float64.
local rnn = require 'rnn'

local function fixture_dir()
  local src = debug.getinfo(1, 'S').source
  local dir = src:sub(1, 1) == '@' and src:sub(2):match('^(.*)/[^/]*$') or 'tests/spec'
  return dir .. '/../fixtures/recurrent/'
end
local DIR = fixture_dir()

local TOL = {float32 = 1e-5, float64 = 1e-10}

local function load_fixture(name)
  local chunk = assert(loadfile(DIR .. name .. '.lua', 't', {}))
  return chunk()
end

-- a fixture tensor as an rnn tensor of its dtype (a fresh leaf)
local function tensor(spec, grad)
  local t = rnn.tensor(spec.data, spec.dtype):view(spec.shape)
  if grad then t:requires_grad(true) end
  return t
end

local function shape_str(s)
  return '(' .. table.concat(s, ',') .. ')'
end

-- compares an rnn tensor with a fixture tensor, element by element
local function check(what, got, want, tol)
  assert(got ~= nil, what .. ': missing (nil)')
  local gs = got:shape()
  assert(#gs == #want.shape, what .. ': shape ' .. shape_str(gs) .. ', torch has ' .. shape_str(want.shape))
  for d = 1, #gs do
    assert(gs[d] == want.shape[d], what .. ': shape ' .. shape_str(gs) .. ', torch has ' .. shape_str(want.shape))
  end
  local flat = got:contiguous():view(-1):totable()
  local worst, at = 0, nil
  for k = 1, #want.data do
    local a, b = flat[k], want.data[k]
    local err = math.abs(a - b) / math.max(1, math.abs(b))
    if not (err <= worst) then worst, at = err, k end -- NaN-safe: NaN is never <= worst
  end
  if at and not (worst <= tol) then
    error(string.format('%s: element %d of %d differs: ours %.17g, torch %.17g (relative error %.3g > %g)', what, at,
                        #want.data, flat[at], want.data[at], worst, tol), 2)
  end
end

local SINGLE = {}
for _, mode in ipairs{'rnn_tanh', 'rnn_relu', 'lstm', 'gru'} do
  for _, dt in ipairs{'f32', 'f64'} do
    for _, dir in ipairs{'forward', 'reverse'} do
      for _, len in ipairs{'', '_lengths'} do
        SINGLE[#SINGLE + 1] = string.format('%s_%s_%s%s', mode, dt, dir, len)
      end
    end
  end
end
SINGLE[#SINGLE + 1] = 'lstm_f64_reverse_lengths_nobias'
SINGLE[#SINGLE + 1] = 'gru_f64_forward_lengths_nobias'

-- runs rnn._recurrent on a single-layer fixture: returns the leaves and outputs
local function run_single(fx)
  local cfg, ts = fx.config, fx.tensors
  local suf = cfg.suffix or ''
  local lstm = cfg.mode == 'lstm'
  local v = {
    x = tensor(ts.x, true),
    h0 = tensor(ts.h0, true),
    c0 = lstm and tensor(ts.c0, true) or nil,
  }
  local pnames = {'weight_ih_l0' .. suf, 'weight_hh_l0' .. suf}
  if cfg.bias then
    pnames[3] = 'bias_ih_l0' .. suf
    pnames[4] = 'bias_hh_l0' .. suf
  end
  for _, n in ipairs(pnames) do v[n] = tensor(ts[n], true) end
  local lengths = cfg.lengths and rnn.tensor(cfg.lengths, 'int64') or nil
  local out, h_n, c_n = rnn._recurrent(cfg.mode, v.x, v.h0, v.c0, v[pnames[1]], v[pnames[2]], v[pnames[3]],
                                        v[pnames[4]], cfg.reverse, lengths)
  return v, pnames, out, h_n, c_n
end

local function loss_of(ts, out, h_n, c_n)
  local loss = (out * tensor(ts.G)):sum() + (h_n * tensor(ts.Gh)):sum()
  if c_n then loss = loss + (c_n * tensor(ts.Gc)):sum() end
  return loss
end

describe('rnn._recurrent against PyTorch', function()
  for _, name in ipairs(SINGLE) do
    it(name .. ': outputs and final states', function()
      local fx = load_fixture(name)
      local tol, ts = TOL[fx.config.dtype], fx.tensors
      local _, _, out, h_n, c_n = run_single(fx)
      check('out', out, ts.out, tol)
      check('h_n', h_n, ts.h_n, tol)
      if fx.config.mode == 'lstm' then check('c_n', c_n, ts.c_n, tol) end
    end)

    it(name .. ': gradients', function()
      local fx = load_fixture(name)
      local tol, ts = TOL[fx.config.dtype], fx.tensors
      local v, pnames, out, h_n, c_n = run_single(fx)
      loss_of(ts, out, h_n, c_n):backward()
      check('grad x', v.x.grad, ts.grad_x, tol)
      check('grad h0', v.h0.grad, ts.grad_h0, tol)
      if fx.config.mode == 'lstm' then check('grad c0', v.c0.grad, ts.grad_c0, tol) end
      for _, n in ipairs(pnames) do check('grad ' .. n, v[n].grad, ts['grad_' .. n], tol) end
    end)
  end
end)

describe('rnn.nn.LSTM (2 layers, bidirectional, lengths) against PyTorch', function()
  local NAME = 'lstm2_bidir_f64_lengths'

  local function build()
    local fx = load_fixture(NAME)
    local cfg, ts = fx.config, fx.tensors
    local lstm = rnn.nn.LSTM{input_size = cfg.I, hidden_size = cfg.H, num_layers = cfg.num_layers,
                             bidirectional = cfg.bidirectional, dtype = cfg.dtype}
    local sd = {}
    for _, n in ipairs(cfg.state_dict) do sd[n] = tensor(ts[n]) end
    lstm:load_state_dict(sd)
    local x, h0, c0 = tensor(ts.x, true), tensor(ts.h0, true), tensor(ts.c0, true)
    local lengths = rnn.tensor(cfg.lengths, 'int64')
    local out, state
    if type(lstm.forward) == 'function' then
      out, state = lstm:forward(x, {h = h0, c = c0}, {lengths = lengths})
    else
      out, state = lstm(x, {h = h0, c = c0}, {lengths = lengths})
    end
    return fx, lstm, x, h0, c0, out, state
  end

  local function available()
    return rnn.nn.LSTM ~= nil
  end

  it('outputs and final states', function()
    if not available() then
      pending('rnn.nn.LSTM does not exist yet: the 2-layer bidirectional fixture waits for it')
      return
    end
    local fx, _, _, _, _, out, state = build()
    local ts = fx.tensors
    check('out', out, ts.out, TOL.float64)
    check('state.h', state.h, ts.h_n, TOL.float64)
    check('state.c', state.c, ts.c_n, TOL.float64)
  end)

  it('gradients of parameters, input and initial state', function()
    if not available() then
      pending('rnn.nn.LSTM does not exist yet: the 2-layer bidirectional fixture waits for it')
      return
    end
    local fx, lstm, x, h0, c0, out, state = build()
    local ts = fx.tensors
    loss_of(ts, out, state.h, state.c):backward()
    check('grad x', x.grad, ts.grad_x, TOL.float64)
    check('grad h0', h0.grad, ts.grad_h0, TOL.float64)
    check('grad c0', c0.grad, ts.grad_c0, TOL.float64)
    local seen = {}
    for _, pair in ipairs(lstm:named_parameters()) do
      local n, p = pair[1], pair[2]
      seen[n] = true
      if ts['grad_' .. n] then check('grad ' .. n, p.grad, ts['grad_' .. n], TOL.float64) end
    end
    for _, n in ipairs(fx.config.state_dict) do
      assert(seen[n], 'named_parameters() has no ' .. n)
    end
  end)
end)
