--- Gradient clipping policies as objects. A policy applied to
-- parameters clips their gradients in place and returns stats:
--
--     local clip = rnn.clip.norm(1.0)
--     opt:zero_grad(); loss:backward()
--     local stats = clip(model:parameters())  -- or clip(model)
--     opt:step()
--
-- stats.norm      the global L2 norm of all gradients before clipping
-- stats.clipped   whether anything was changed
-- stats.scale     the factor applied to the gradients (1 when untouched;
--                 nil for value clipping, which has no single factor)
-- stats.skipped   (norm policies with nonfinite = 'skip') the norm was not
--                 finite: every gradient was set to nil so that the
--                 optimizer's step leaves the parameters as they are
-- Parameters without a gradient are left out. Any policy works with any
-- optimizer: it only touches .grad. Per-step clipping inside BPTT:
-- rnn.clip_grad and the recurrent layers' bptt_clip option.
-- @module rnn.clip
local core = require 'rnn.core'
local options = require 'rnn.options'

local M = {}

-- a clipping policy's methods (documented before the first of them:
-- LDoc files every function after a @type under that type)
local Policy = {}
Policy.__call = function(self, params) return self:apply(params) end
Policy.__tostring = function(self) return 'rnn.clip.' .. self.kind .. self:describe() end

local function new(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Policy)
end

-- the gradients of params (an array of tensors, or a module)
local function gradients(fn, params)
  if type(params) == 'table' and type(params.parameters) == 'function' and not core.is_tensor(params) then
    params = params:parameters()
  end
  if type(params) ~= 'table' or core.is_tensor(params) then
    error(string.format('%s: the parameters must be an array of tensors or a module, got %s', fn,
      core.is_tensor(params) and 'a tensor' or type(params)), 3)
  end
  local out = {}
  for i, p in ipairs(params) do
    if not core.is_tensor(p) then
      error(string.format('%s: parameter %d is a %s, not a tensor', fn, i, type(p)), 3)
    end
    if p.grad then out[#out + 1] = p end
  end
  return out
end

local function param_norm(g, norm_type)
  if norm_type == math.huge then return g:abs():max():item() end
  return (g:double():abs() ^ norm_type):sum():item() ^ (1 / norm_type)
end

-- the global norm over all gradients, as torch.nn.utils.clip_grad_norm_
local function total_norm(ps, norm_type)
  if norm_type == math.huge then
    local m = 0
    for _, p in ipairs(ps) do
      local v = param_norm(p.grad, norm_type)
      if v > m or v ~= v then m = v end
    end
    return m
  end
  local s = 0
  for _, p in ipairs(ps) do s = s + param_norm(p.grad, norm_type) ^ norm_type end
  return s ^ (1 / norm_type)
end

local function scale_all(ps, factor)
  core.no_grad(function()
    for _, p in ipairs(ps) do p.grad:mul_(factor) end
  end)
end

local function check_threshold(fn, c)
  if type(c) ~= 'number' or not (c > 0) or c == math.huge then
    error(string.format('%s: argument 1 (threshold) must be a finite number > 0, got %s', fn, tostring(c)), 3)
  end
end

local function check_norm_type(fn, t)
  if not (t == math.huge or (type(t) == 'number' and t > 0)) then
    error(string.format('%s: option norm_type must be > 0 or math.huge, got %s', fn, tostring(t)), 3)
  end
end

local function check_nonfinite(fn, v)
  if v ~= 'raise' and v ~= 'skip' then
    error(string.format("%s: option nonfinite must be 'raise' or 'skip', got '%s'", fn, tostring(v)), 3)
  end
end

-- A non-finite total norm: raise, or drop every gradient and report it.
local function nonfinite(self, fn, ps, norm)
  if self.nonfinite == 'raise' then
    error(string.format('%s: the gradient norm is %s; pass {nonfinite = "skip"} to skip such steps', fn,
      tostring(norm)), 3)
  end
  for _, p in ipairs(ps) do p.grad = nil end
  return {norm = norm, clipped = true, scale = 0, skipped = true}
end

--- A policy that reports the norm and changes nothing.
-- @treturn Policy
function M.none()
  return new('none', {})
end

--- A policy that clips every gradient element into [-c, c] (char-rnn,
-- torch-rnn). Its stats have fraction: the share of elements clipped.
-- @tparam number c the threshold, > 0
-- @treturn Policy
function M.value(c)
  check_threshold('rnn.clip.value', c)
  return new('value', {c = c})
end

local NORM_DEFAULTS = {norm_type = 2, nonfinite = 'raise'}

--- A policy that clips the global norm over all parameters, as PyTorch's
-- clip_grad_norm_ and Pascanu, Mikolov and Bengio (2013): scale = c /
-- (norm + 1e-6), applied when < 1. Its stats have threshold = c.
-- @tparam number c the largest norm, > 0
-- @tparam[opt] table opts options
-- @option norm_type (2) the p of the p-norm (math.huge: the max norm)
-- @option nonfinite ('raise') on a NaN or infinite norm: 'raise' an error,
-- or 'skip' (set every gradient to nil, so the optimizer step leaves the
-- parameters alone; stats.skipped = true)
-- @treturn Policy
function M.norm(c, opts)
  check_threshold('rnn.clip.norm', c)
  local o = options.resolve('rnn.clip.norm', opts, NORM_DEFAULTS)
  check_norm_type('rnn.clip.norm', o.norm_type)
  check_nonfinite('rnn.clip.norm', o.nonfinite)
  return new('norm', {c = c, norm_type = o.norm_type, nonfinite = o.nonfinite})
end

--- A policy that clips each parameter's gradient to norm c on its own.
-- stats.scales lists the factor of each parameter (with a gradient),
-- stats.scale is the smallest.
-- @tparam number c the largest norm, > 0
-- @tparam[opt] table opts options
-- @option norm_type (2) the p of the p-norm
-- @option nonfinite ('raise') 'raise' or 'skip', as for norm
-- @treturn Policy
function M.norm_per_param(c, opts)
  check_threshold('rnn.clip.norm_per_param', c)
  local o = options.resolve('rnn.clip.norm_per_param', opts, NORM_DEFAULTS)
  check_norm_type('rnn.clip.norm_per_param', o.norm_type)
  check_nonfinite('rnn.clip.norm_per_param', o.nonfinite)
  return new('norm_per_param', {c = c, norm_type = o.norm_type, nonfinite = o.nonfinite})
end

--- AutoClip (Seetharaman et al. 2020): a policy that clips the global norm
-- at the given percentile (linear
-- interpolation, as NumPy's default) of all the norms seen so far,
-- this step's included. Its history is state: save it with
-- policy:state_dict() and restore it with policy:load_state_dict(t) so a
-- resumed run clips as an uninterrupted one. Its stats have threshold.
-- @tparam[opt] table opts options
-- @option percentile (10) in [0, 100]
-- @option nonfinite ('raise') 'raise' or 'skip', as for norm
-- @treturn Policy
-- @usage local clip = rnn.clip.adaptive{percentile = 10}
function M.adaptive(opts)
  local o = options.resolve('rnn.clip.adaptive', opts, {percentile = 10, nonfinite = 'raise'})
  if not (o.percentile >= 0 and o.percentile <= 100) then
    error('rnn.clip.adaptive: option percentile must be in [0, 100], got ' .. tostring(o.percentile), 2)
  end
  check_nonfinite('rnn.clip.adaptive', o.nonfinite)
  return new('adaptive', {percentile = o.percentile, nonfinite = o.nonfinite, norm_type = 2, history = {}})
end

local function percentile(values, p)
  local s = {}
  for i, v in ipairs(values) do s[i] = v end
  table.sort(s)
  local pos = (p / 100) * (#s - 1) + 1
  local lo = math.floor(pos)
  local hi = math.min(lo + 1, #s)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
end

--- The methods of every clipping policy. Calling a policy, `clip(params)`,
-- is `clip:apply(params)`.
-- @type Policy
M.Policy = Policy
Policy.__index = Policy

--- Clips the gradients of params in place (parameters without a gradient
-- are left out).
-- @tparam {Tensor,...}|Module params the parameters, or a module
-- @treturn table stats: norm (the global L2 norm before clipping), clipped
-- (whether anything changed), scale (the factor applied; 1 when untouched,
-- nil for value clipping), and by policy threshold, fraction, scales,
-- skipped
-- @raise on a non-finite norm with nonfinite = 'raise'
function Policy:apply(params)
  local fn = 'rnn.clip.' .. self.kind
  local ps = gradients(fn, params)
  local norm = total_norm(ps, self.norm_type or 2)
  if self.kind == 'none' then return {norm = norm, clipped = false, scale = 1} end

  if self.kind == 'value' then
    local c, over, count = self.c, 0, 0
    core.no_grad(function()
      for _, p in ipairs(ps) do
        over = over + (p.grad:abs():gt(c)):sum():item()
        count = count + p.grad:numel()
        p.grad:clamp_(-c, c)
      end
    end)
    return {norm = norm, clipped = over > 0, scale = nil, fraction = count > 0 and over / count or 0}
  end

  if norm ~= norm or norm == math.huge then return nonfinite(self, fn, ps, norm) end

  if self.kind == 'norm_per_param' then
    local scales, smallest = {}, 1
    for i, p in ipairs(ps) do
      local n = param_norm(p.grad, self.norm_type)
      local s = math.min(1, self.c / (n + 1e-6))
      if s < 1 then core.no_grad(function() p.grad:mul_(s) end) end
      scales[i] = s
      smallest = math.min(smallest, s)
    end
    return {norm = norm, clipped = smallest < 1, scale = smallest, scales = scales}
  end

  local c = self.c
  if self.kind == 'adaptive' then
    self.history[#self.history + 1] = norm
    c = percentile(self.history, self.percentile)
  end
  local coef = c / (norm + 1e-6)
  -- the adaptive threshold is itself one of the norms: at or under it is
  -- left alone (clip_grad_norm_'s 1e-6 would otherwise scale by a hair)
  if coef < 1 and not (self.kind == 'adaptive' and norm <= c) then
    scale_all(ps, coef)
    return {norm = norm, clipped = true, scale = coef, threshold = c}
  end
  return {norm = norm, clipped = false, scale = 1, threshold = c}
end

--- The policy's arguments as text, as tostring shows them: `(1)`,
-- `{percentile = 10} (3 norms seen)`.
-- @treturn string
function Policy:describe()
  if self.kind == 'none' then return '()' end
  if self.kind == 'adaptive' then
    return string.format('{percentile = %g} (%d norms seen)', self.percentile, #self.history)
  end
  return '(' .. tostring(self.c) .. ')'
end

--- The policy's state (the adaptive policy's history of norms), as a table
-- of plain values.
-- @treturn table {kind = ..., history = {...}}
function Policy:state_dict()
  local h = {}
  for i, v in ipairs(self.history or {}) do h[i] = v end
  return {kind = self.kind, history = h}
end

--- Restores state_dict() (of a policy of the same kind).
-- @tparam table t
-- @treturn Policy self
-- @raise when t is not the state of a policy of this kind
function Policy:load_state_dict(t)
  if type(t) ~= 'table' or t.kind ~= self.kind then
    error(string.format('rnn.clip.%s:load_state_dict: expected a state of a %s policy, got %s', self.kind, self.kind,
      type(t) == 'table' and tostring(t.kind) or type(t)), 2)
  end
  if self.history then
    self.history = {}
    for i, v in ipairs(t.history or {}) do
      if type(v) ~= 'number' then
        error('rnn.clip.adaptive:load_state_dict: history entries must be numbers', 2)
      end
      self.history[i] = v
    end
  end
  return self
end

return M
