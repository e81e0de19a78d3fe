--- Learning-rate schedules, as PyTorch 1.13's
-- torch.optim.lr_scheduler — the same recursions ("chainable" forms) and,
-- for step(epoch), the same closed forms, so the learning rates are the
-- same numbers.
--
--     local opt = rnn.optim.SGD(params, {lr = 0.1})
--     local sched = rnn.optim.schedule.CosineAnnealingLR(opt, {T_max = 100})
--     for step = 1, 100 do
--       ... opt:step()
--       sched:step()                 -- sets opt.lr for the next step
--     end
--
-- Constructors take the optimizer, then options as a table or positionally
-- in the order shown:
--
--   StepLR(opt, step_size, gamma = 0.1)       lr * gamma every step_size steps
--   MultiStepLR(opt, milestones, gamma = 0.1) lr * gamma at each milestone
--   ExponentialLR(opt, gamma)                 lr * gamma every step
--   CosineAnnealingLR(opt, T_max, eta_min = 0)
--       eta_min + (base - eta_min)(1 + cos(pi t/T_max))/2, by PyTorch's
--       recursion (which continues past T_max as a cosine wave)
--   LinearLR(opt, start_factor = 1/3, end_factor = 1, total_iters = 5)
--       base * factor, the factor going linearly from start to end over
--       total_iters steps. start_factor must be in (0, 1] (PyTorch accepts
--       0, then divides by zero at the first step).
--   LinearWarmup(opt, warmup_steps, start_factor = 1/(warmup_steps + 1))
--       LinearLR(start_factor, 1, warmup_steps): with the default, lr at
--       step t is base*(t+1)/(warmup_steps+1) up to base at warmup_steps.
--   LambdaLR(opt, fn)                         base * fn(t)
--
-- Composition:
--   chain{s1, s2, ...}  (ChainedScheduler)  every step steps each one, in
--       order; the recursive forms multiply, e.g. chain{LinearWarmup(opt,
--       5), CosineAnnealingLR(opt, 100)} is warm-up times cosine.
--   sequential(opt, {s1, s2, ...}, milestones)  (SequentialLR)  s1 until
--       the first milestone, then s2 restarted from the base lr, ...; e.g.
--       sequential(opt, {LinearWarmup(opt, 5), CosineAnnealingLR(opt, 95)}, {5}).
--   As in PyTorch, make the parts on the optimizer first (each applies its
--   step 0 when made), then the composite.
--
-- Methods: sched:step() (PyTorch's deprecated step(epoch) too: the closed
-- form at that epoch), sched:get_lr() (the learning rate of the first
-- parameter group after the last step), sched:get_last_lr() (every
-- group's, an array), sched.last_epoch, sched:state_dict() /
-- sched:load_state_dict(sd) (plain Lua values; the optimizer's own state is
-- separate), sched:state_metadata([prefix]) / sched:load_state_metadata(m
-- [, prefix]) (the same as strings for rnn.save's metadata; prefix
-- defaults to 'schedule.').
--
-- The schedules read and write the optimizer's param_groups[i].lr and keep
-- the first lr of each group as param_groups[i].initial_lr (PyTorch's key),
-- the base of every closed form.
-- @module rnn.optim.schedule
-- @alias S
local core = require 'rnn.core'

local S = {}

-- ---------------------------------------------------------------- errors

local raise, raisef = require('rnn.raise').outside{'[/@]rnn/optim%.lua$', '[/@]rnn/schedule%.lua$'}

local function describe(v)
  if core.is_tensor(v) then return 'a tensor' end
  if type(v) == 'string' then return "'" .. v .. "'" end
  if type(v) == 'number' or type(v) == 'boolean' then return tostring(v) end
  return type(v)
end

-- ---------------------------------------------------------------- options

-- the keys of t in a fixed order, so that errors do not depend on pairs()
local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b)
    local na, nb = type(a) == 'number', type(b) == 'number'
    if na ~= nb then return na end
    if na then return a < b end
    return tostring(a) < tostring(b)
  end)
  return ks
end

-- opts from `...`: one table, or positional values in the order of names
local function args(fn, names, ...)
  local n = select('#', ...)
  local first = ...
  if n == 1 and type(first) == 'table' and not core.is_tensor(first) and first[1] == nil then
    return first -- an options table (an array is MultiStepLR's positional milestones)
  end
  if n > #names then
    raisef('%s: too many arguments (at most %d after the optimizer: %s)', fn, #names, table.concat(names, ', '))
  end
  local opts = {}
  for i = 1, n do opts[names[i]] = (select(i, ...)) end
  return opts
end

-- resolves opts against spec {name = {default = v | nil, check = fn(v) -> err}}
local function resolve(fn, opts, spec)
  for _, k in ipairs(sorted_keys(opts)) do
    if spec[k] == nil then
      local known = {}
      for name in pairs(spec) do known[#known + 1] = name end
      table.sort(known)
      raisef("%s: unknown option '%s' (known: %s)", fn, tostring(k), table.concat(known, ', '))
    end
  end
  local out = {}
  for _, k in ipairs(sorted_keys(spec)) do
    local s = spec[k]
    local v = opts[k]
    if v == nil then v = s.default end
    if v == nil and not s.optional then raisef('%s: option %s is required', fn, k) end
    if v ~= nil and s.check then
      local err = s.check(v)
      if err then raisef('%s: option %s %s, got %s', fn, k, err, describe(v)) end
    end
    out[k] = v
  end
  return out
end

local function is_number(v) if type(v) ~= 'number' or v ~= v then return 'must be a number' end end
local function pos_int(v) if math.type(v) ~= 'integer' or v < 1 then return 'must be a positive integer' end end
local function in_0_1(v)
  if type(v) ~= 'number' or not (v >= 0 and v <= 1) then return 'must be a number in [0, 1]' end
end
local function in_open_0_1(v)
  if type(v) ~= 'number' or not (v > 0 and v <= 1) then return 'must be a number in (0, 1]' end
end
local function milestones_check(strict)
  return function(v)
    if type(v) ~= 'table' or core.is_tensor(v) then return 'must be an array of integers' end
    local prev
    for i = 1, #v do
      local m = v[i]
      if math.type(m) ~= 'integer' or m < (strict and 1 or 0) then
        return string.format('must be an array of %s integers (entry %d)', strict and 'positive' or 'non-negative', i)
      end
      if strict and prev and m <= prev then return 'must be increasing' end
      prev = m
    end
    for k in pairs(v) do
      if math.type(k) ~= 'integer' or k < 1 or k > #v then return 'must be an array of integers' end
    end
  end
end

-- ---------------------------------------------------------------- base

--- The methods of every schedule (sched:step(), ...) and its fields:
-- `sched.last_epoch` (the number of steps taken; 0 once made, as each
-- schedule applies its step 0 when made), `sched.optimizer`,
-- `sched.base_lrs` (each group's initial_lr).
-- @type Scheduler
local Scheduler = {}
Scheduler.__index = Scheduler
S.Scheduler = Scheduler

local function groups(self) return self.optimizer.param_groups end

local function check_optimizer(fn, opt)
  if type(opt) ~= 'table' or core.is_tensor(opt) or type(opt.param_groups) ~= 'table' or #opt.param_groups == 0 then
    raisef('%s: argument 1 (optimizer) must be an optimizer (rnn.optim.*), got %s', fn, describe(opt))
  end
end

local function lrs(self)
  local out = {}
  for i, g in ipairs(groups(self)) do out[i] = g.lr end
  return out
end

-- PyTorch's _LRScheduler.__init__ with last_epoch = -1
local function init(cls, fn, opt, fields)
  check_optimizer(fn, opt)
  local self = setmetatable({}, cls)
  for k, v in pairs(fields) do self[k] = v end
  self.optimizer = opt
  for i, g in ipairs(opt.param_groups) do
    if type(g.lr) ~= 'number' then raisef('%s: parameter group %d has no number lr', fn, i) end
    if g.initial_lr == nil then g.initial_lr = g.lr end
  end
  self.base_lrs = {}
  for i, g in ipairs(opt.param_groups) do self.base_lrs[i] = g.initial_lr end
  self.last_epoch = -1
  self:_initial_step()
  return self
end

function Scheduler:_initial_step()
  self._step_count = 0
  self:step()
end

--- Advances one step (or, given epoch, jumps to it with the closed form:
-- PyTorch's deprecated step(epoch)) and sets every group's lr. Call it
-- after opt:step().
-- @tparam[opt] integer epoch a step to jump to (>= 0)
function Scheduler:step(epoch)
  self._step_count = self._step_count + 1
  local values
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    values = self:_get_lr()
  else
    if math.type(epoch) ~= 'integer' or epoch < 0 then
      raisef('rnn.optim.schedule.%s.step: argument 1 (epoch) must be a non-negative integer, got %s', self.name,
        describe(epoch))
    end
    self.last_epoch = epoch
    values = self._closed_form and self:_closed_form() or self:_get_lr()
  end
  for i, g in ipairs(groups(self)) do g.lr = values[i] end
  self._last_lr = lrs(self)
end

--- The first group's learning rate after the last step.
-- @treturn number
function Scheduler:get_lr()
  return self._last_lr[1]
end

--- Every group's learning rate after the last step.
-- @treturn {number,...}
function Scheduler:get_last_lr()
  local out = {}
  for i, v in ipairs(self._last_lr) do out[i] = v end
  return out
end

local SKIP = {optimizer = true, name = true, lr_lambda = true, schedulers = true}

local function copy_array(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = v end
  return out
end

--- The schedule's state as plain values: the counters, base_lrs, the last
-- lrs and the options (the optimizer's own state is separate).
-- @treturn table
function Scheduler:state_dict()
  local out = {}
  for k, v in pairs(self) do
    if not SKIP[k] and type(v) ~= 'function' then
      out[k] = type(v) == 'table' and copy_array(v) or v
    end
  end
  if self.schedulers then
    out.schedulers = {}
    for i, s in ipairs(self.schedulers) do out.schedulers[i] = s:state_dict() end
  end
  return out
end

local function load_into(self, sd, fn)
  if type(sd) ~= 'table' then raisef('%s: argument 1 (state_dict) must be a table, got %s', fn, describe(sd)) end
  local own = self:state_dict()
  for _, k in ipairs(sorted_keys(sd)) do
    local v = sd[k]
    if own[k] == nil then raisef("%s: unexpected key '%s' for a %s", fn, tostring(k), self.name) end
    if type(v) ~= type(own[k]) then
      raisef('%s: %s must be a %s, got %s', fn, tostring(k), type(own[k]), describe(v))
    end
  end
  if self.schedulers then
    local subs = sd.schedulers or {}
    if #subs ~= #self.schedulers then
      raisef('%s: the state has %d schedulers, this %s %d', fn, #subs, self.name, #self.schedulers)
    end
  end
  return own
end

--- Restores a state_dict() (of a schedule of the same kind and options).
-- @tparam table sd
-- @raise for a key or type this schedule does not have
function Scheduler:load_state_dict(sd)
  local fn = 'rnn.optim.schedule.' .. self.name .. '.load_state_dict'
  load_into(self, sd, fn)
  if self.schedulers then
    for i, s in ipairs(self.schedulers) do load_into(s, sd.schedulers[i], fn) end
  end
  for k, v in pairs(sd) do
    if k ~= 'schedulers' then self[k] = type(v) == 'table' and copy_array(v) or v end
  end
  if self.schedulers then
    for i, s in ipairs(self.schedulers) do s:load_state_dict(sd.schedulers[i]) end
  end
end

-- ---------------------------------------------------------------- metadata

local numstr = require 'rnn.numstr'
local encode_number, decode_number = numstr.encode, numstr.decode

local function flatten(sd, prefix, out)
  for k, v in pairs(sd) do
    local key = prefix .. k
    if k == 'schedulers' then
      for i, sub in ipairs(v) do flatten(sub, key .. '.' .. i .. '.', out) end
    elseif type(v) == 'table' then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = encode_number(x) end
      out[key] = table.concat(parts, ',')
    elseif type(v) == 'number' then
      out[key] = encode_number(v)
    else
      out[key] = tostring(v)
    end
  end
  return out
end

local function unflatten(fn, template, meta, prefix)
  local sd = {}
  for _, k in ipairs(sorted_keys(template)) do
    local like = template[k]
    local key = prefix .. k
    if k == 'schedulers' then
      sd.schedulers = {}
      for i, sub in ipairs(like) do sd.schedulers[i] = unflatten(fn, sub, meta, key .. '.' .. i .. '.') end
    else
      local s = meta[key]
      if s == nil then raisef("%s: the metadata has no '%s'", fn, key) end
      local v
      if type(like) == 'table' then
        v = {}
        if s ~= '' then
          for part in (s .. ','):gmatch('([^,]*),') do
            local x = decode_number(part)
            if x == nil then v = nil break end
            v[#v + 1] = x
          end
        end
      elseif type(like) == 'number' then
        v = decode_number(s)
      elseif type(like) == 'boolean' then
        v = (s == 'true') or (s ~= 'false' and nil)
      else
        v = s
      end
      if v == nil then raisef("%s: metadata '%s' = '%s' cannot be read", fn, key, s) end
      sd[k] = v
    end
  end
  return sd
end

local function check_prefix(fn, prefix)
  if prefix == nil then return 'schedule.' end
  if type(prefix) ~= 'string' then raisef('%s: argument (prefix) must be a string, got %s', fn, describe(prefix)) end
  return prefix
end

--- state_dict() as strings, for rnn.save's metadata: '<prefix><key>', and
-- '<prefix>kind' the schedule's name.
-- @tparam[opt=''] string prefix
-- @treturn table name -> string
function Scheduler:state_metadata(prefix)
  prefix = check_prefix('rnn.optim.schedule.' .. self.name .. '.state_metadata', prefix)
  local out = flatten(self:state_dict(), prefix, {})
  out[prefix .. 'kind'] = self.name
  return out
end

--- Reads state_metadata() back (from rnn.load's metadata).
-- @tparam table meta name -> string
-- @tparam[opt=''] string prefix
-- @raise when the metadata holds no schedule, or another kind, under prefix
function Scheduler:load_state_metadata(meta, prefix)
  local fn = 'rnn.optim.schedule.' .. self.name .. '.load_state_metadata'
  prefix = check_prefix(fn, prefix)
  if type(meta) ~= 'table' then raisef('%s: argument 1 (metadata) must be a table, got %s', fn, describe(meta)) end
  local kind = meta[prefix .. 'kind']
  if kind ~= self.name then
    raisef("%s: the metadata holds %s under '%s', this schedule is %s", fn,
      kind and ('a ' .. kind) or 'no schedule', prefix, self.name)
  end
  self:load_state_dict(unflatten(fn, self:state_dict(), meta, prefix))
end

function Scheduler:__tostring()
  return string.format('%s(last_epoch = %d, lr = %s)', self.name, self.last_epoch, tostring(self._last_lr[1]))
end

-- ---------------------------------------------------------------- classes

local function class(name)
  local cls = setmetatable({}, {__index = Scheduler})
  cls.__index = cls
  cls.__tostring = Scheduler.__tostring
  cls.name = name
  return cls
end

-- StepLR
local StepLR = class('StepLR')
function StepLR:_get_lr()
  local e = self.last_epoch
  if e == 0 or e % self.step_size ~= 0 then return lrs(self) end
  local out = {}
  for i, g in ipairs(groups(self)) do out[i] = g.lr * self.gamma end
  return out
end
function StepLR:_closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ (self.last_epoch // self.step_size) end
  return out
end
--- @section end

--- Multiplies the learning rate by gamma every step_size steps.
-- @call rnn.optim.schedule.StepLR(opt, step_size [, gamma])
-- rnn.optim.schedule.StepLR(opt, {step_size = n, gamma = 0.1})
-- @tparam Optimizer opt
-- @option step_size (required) a positive integer
-- @option gamma (0.1) the factor
-- @treturn Scheduler
function S.StepLR(opt, ...)
  local fn = 'rnn.optim.schedule.StepLR'
  local o = resolve(fn, args(fn, {'step_size', 'gamma'}, ...),
    {step_size = {check = pos_int}, gamma = {default = 0.1, check = is_number}})
  return init(StepLR, fn, opt, o)
end

-- MultiStepLR
local MultiStepLR = class('MultiStepLR')
local function count_of(ms, e)
  local n = 0
  for _, m in ipairs(ms) do if m == e then n = n + 1 end end
  return n
end
function MultiStepLR:_get_lr()
  local n = count_of(self.milestones, self.last_epoch)
  if n == 0 then return lrs(self) end
  local out = {}
  for i, g in ipairs(groups(self)) do out[i] = g.lr * self.gamma ^ n end
  return out
end
function MultiStepLR:_closed_form()
  local n = 0
  for _, m in ipairs(self.milestones) do if m <= self.last_epoch then n = n + 1 end end
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ n end
  return out
end
--- Multiplies the learning rate by gamma at each milestone.
-- @call rnn.optim.schedule.MultiStepLR(opt, milestones [, gamma])
-- rnn.optim.schedule.MultiStepLR(opt, {milestones = {30, 80}, gamma = 0.1})
-- @tparam Optimizer opt
-- @option milestones (required) an array of step numbers
-- @option gamma (0.1) the factor
-- @treturn Scheduler
function S.MultiStepLR(opt, ...)
  local fn = 'rnn.optim.schedule.MultiStepLR'
  local o = resolve(fn, args(fn, {'milestones', 'gamma'}, ...),
    {milestones = {check = milestones_check(false)}, gamma = {default = 0.1, check = is_number}})
  local ms = copy_array(o.milestones)
  table.sort(ms)
  o.milestones = ms
  return init(MultiStepLR, fn, opt, o)
end

-- ExponentialLR
local ExponentialLR = class('ExponentialLR')
function ExponentialLR:_get_lr()
  if self.last_epoch == 0 then return lrs(self) end
  local out = {}
  for i, g in ipairs(groups(self)) do out[i] = g.lr * self.gamma end
  return out
end
function ExponentialLR:_closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ self.last_epoch end
  return out
end
--- Multiplies the learning rate by gamma every step.
-- @call rnn.optim.schedule.ExponentialLR(opt, gamma)
-- rnn.optim.schedule.ExponentialLR(opt, {gamma = 0.99})
-- @tparam Optimizer opt
-- @option gamma (required) the factor
-- @treturn Scheduler
function S.ExponentialLR(opt, ...)
  local fn = 'rnn.optim.schedule.ExponentialLR'
  local o = resolve(fn, args(fn, {'gamma'}, ...), {gamma = {check = is_number}})
  return init(ExponentialLR, fn, opt, o)
end

-- CosineAnnealingLR
local CosineAnnealingLR = class('CosineAnnealingLR')
function CosineAnnealingLR:_get_lr()
  local e, T, eta = self.last_epoch, self.T_max, self.eta_min
  local out = {}
  for i, g in ipairs(groups(self)) do
    local base = self.base_lrs[i]
    if e == 0 then
      out[i] = g.lr
    elseif self._step_count == 1 and e > 0 then
      out[i] = eta + (base - eta) * (1 + math.cos(e * math.pi / T)) / 2
    elseif (e - 1 - T) % (2 * T) == 0 then
      out[i] = g.lr + (base - eta) * (1 - math.cos(math.pi / T)) / 2
    else
      out[i] = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (g.lr - eta) + eta
    end
  end
  return out
end
function CosineAnnealingLR:_closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  end
  return out
end
--- Cosine annealing: eta_min + (base - eta_min)(1 + cos(pi t/T_max))/2,
-- by PyTorch's recursion (which continues past T_max as a cosine wave).
-- @call rnn.optim.schedule.CosineAnnealingLR(opt, T_max [, eta_min])
-- rnn.optim.schedule.CosineAnnealingLR(opt, {T_max = 100, eta_min = 0})
-- @tparam Optimizer opt
-- @option T_max (required) the steps of a half period, a positive integer
-- @option eta_min (0) the lowest learning rate
-- @treturn Scheduler
function S.CosineAnnealingLR(opt, ...)
  local fn = 'rnn.optim.schedule.CosineAnnealingLR'
  local o = resolve(fn, args(fn, {'T_max', 'eta_min'}, ...),
    {T_max = {check = pos_int}, eta_min = {default = 0, check = is_number}})
  return init(CosineAnnealingLR, fn, opt, o)
end

-- LinearLR
local LinearLR = class('LinearLR')
function LinearLR:_get_lr()
  local e, s, f, n = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
  local out = {}
  for i, g in ipairs(groups(self)) do
    if e == 0 then
      out[i] = g.lr * s
    elseif e > n then
      out[i] = g.lr
    else
      out[i] = g.lr * (1.0 + (f - s) / (n * s + (e - 1) * (f - s)))
    end
  end
  return out
end
function LinearLR:_closed_form()
  local s, f, n = self.start_factor, self.end_factor, self.total_iters
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * (s + (f - s) * math.min(n, self.last_epoch) / n) end
  return out
end
local LINEAR_SPEC = {start_factor = {default = 1.0 / 3, check = in_open_0_1},
                     end_factor = {default = 1.0, check = in_0_1},
                     total_iters = {default = 5, check = pos_int}}
--- base·factor, the factor going linearly from start_factor to end_factor
-- over total_iters steps, then staying.
-- @call rnn.optim.schedule.LinearLR(opt [, start_factor [, end_factor [, total_iters]]])
-- rnn.optim.schedule.LinearLR(opt, {start_factor = 0.1, total_iters = 100})
-- @tparam Optimizer opt
-- @option start_factor (1/3) in (0, 1]
-- @option end_factor (1) in [0, 1]
-- @option total_iters (5) a positive integer
-- @treturn Scheduler
function S.LinearLR(opt, ...)
  local fn = 'rnn.optim.schedule.LinearLR'
  local o = resolve(fn, args(fn, {'start_factor', 'end_factor', 'total_iters'}, ...), LINEAR_SPEC)
  return init(LinearLR, fn, opt, o)
end

--- A linear warm-up: LinearLR from start_factor to 1 over warmup_steps.
-- With the default start, the lr at step t is base·(t+1)/(warmup_steps+1)
-- up to base at warmup_steps.
-- @call rnn.optim.schedule.LinearWarmup(opt, warmup_steps [, start_factor])
-- rnn.optim.schedule.LinearWarmup(opt, {warmup_steps = 100})
-- @tparam Optimizer opt
-- @option warmup_steps (required) a positive integer
-- @option start_factor (1/(warmup_steps + 1)) in (0, 1]
-- @treturn Scheduler
function S.LinearWarmup(opt, ...)
  local fn = 'rnn.optim.schedule.LinearWarmup'
  local o = resolve(fn, args(fn, {'warmup_steps', 'start_factor'}, ...),
    {warmup_steps = {check = pos_int}, start_factor = {optional = true, check = in_open_0_1}})
  local s = o.start_factor or 1.0 / (o.warmup_steps + 1)
  return init(LinearLR, fn, opt, {start_factor = s, end_factor = 1.0, total_iters = o.warmup_steps})
end

-- LambdaLR
local LambdaLR = class('LambdaLR')
function LambdaLR:_get_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    local f = self.lr_lambda(self.last_epoch)
    if type(f) ~= 'number' then
      raisef('rnn.optim.schedule.LambdaLR: lr_lambda(%d) returned %s, not a number', self.last_epoch, describe(f))
    end
    out[i] = b * f
  end
  return out
end
--- base·fn(t) at step t.
-- @tparam Optimizer opt
-- @tparam function fn_ step (0, 1, ...) -> factor
-- @treturn Scheduler
function S.LambdaLR(opt, fn_)
  local fn = 'rnn.optim.schedule.LambdaLR'
  if type(fn_) ~= 'function' then raisef('%s: argument 2 (lr_lambda) must be a function, got %s', fn, describe(fn_)) end
  return init(LambdaLR, fn, opt, {lr_lambda = fn_})
end

-- ---------------------------------------------------------------- composition

local function check_parts(fn, list, opt)
  if type(list) ~= 'table' or #list == 0 then
    raisef('%s: the schedulers must be a non-empty array of schedules, got %s', fn, describe(list))
  end
  for i, s in ipairs(list) do
    if type(s) ~= 'table' or getmetatable(s) == nil or s.step == nil or s.optimizer == nil then
      raisef('%s: scheduler %d is not a schedule (got %s)', fn, i, describe(s))
    end
    if not rawequal(s.optimizer, opt or list[1].optimizer) then
      raisef('%s: scheduler %d belongs to another optimizer than %s', fn, i, opt and 'the one given' or 'scheduler 1')
    end
  end
end

-- ChainedScheduler
local Chain = class('ChainedScheduler')
function Chain:step(epoch)
  if epoch ~= nil then
    raise('rnn.optim.schedule.ChainedScheduler.step: a chain cannot jump to an epoch (step() takes no argument)')
  end
  for _, s in ipairs(self.schedulers) do s:step() end
  self._last_lr = lrs(self)
end
--- Runs several schedules at once: every step steps each one, in order;
-- the recursive forms multiply, so chain{LinearWarmup(opt, 5),
-- CosineAnnealingLR(opt, 100)} is warm-up times cosine. Make the parts on
-- the optimizer first, then the chain. Also called ChainedScheduler.
-- @tparam {Scheduler,...} list schedules of one optimizer
-- @treturn Scheduler
-- @also ChainedScheduler
function S.chain(list)
  local fn = 'rnn.optim.schedule.chain'
  check_parts(fn, list, nil)
  local self = setmetatable({}, Chain)
  self.schedulers = copy_array(list)
  self.optimizer = list[1].optimizer
  self._last_lr = lrs(self)
  return self
end
S.ChainedScheduler = S.chain

-- SequentialLR
local Sequential = class('SequentialLR')
function Sequential:step(epoch)
  if epoch ~= nil then
    raise('rnn.optim.schedule.SequentialLR.step: a sequence cannot jump to an epoch (step() takes no argument)')
  end
  self.last_epoch = self.last_epoch + 1
  local idx = 0 -- bisect_right(milestones, last_epoch)
  for _, m in ipairs(self.milestones) do if m <= self.last_epoch then idx = idx + 1 end end
  local s = self.schedulers[idx + 1]
  if idx > 0 and self.milestones[idx] == self.last_epoch then s:step(0) else s:step() end
  self._last_lr = s:get_last_lr()
end
--- Schedules one after another: list[1] until the first milestone, then
-- list[2] restarted from the base lr, ... Also called SequentialLR.
-- @call rnn.optim.schedule.sequential(opt, {s1, s2, ...}, milestones)
-- rnn.optim.schedule.sequential(opt, {schedulers = {...}, milestones = {...}})
-- @tparam Optimizer opt
-- @tparam {Scheduler,...} list made on opt before
-- @tparam {integer,...} milestones #list - 1 increasing steps
-- @treturn Scheduler
-- @usage local S = rnn.optim.schedule
-- local sched = S.sequential(opt, {S.LinearWarmup(opt, 5), S.CosineAnnealingLR(opt, 95)}, {5})
-- @also SequentialLR
function S.sequential(opt, list, milestones)
  local fn = 'rnn.optim.schedule.sequential'
  if milestones == nil and type(list) == 'table' and list.schedulers ~= nil then
    local o = resolve(fn, list, {schedulers = {}, milestones = {}})
    list, milestones = o.schedulers, o.milestones
  end
  check_optimizer(fn, opt)
  check_parts(fn, list, opt)
  local err = milestones_check(true)(milestones)
  if err then raisef('%s: milestones %s, got %s', fn, err, describe(milestones)) end
  if #milestones ~= #list - 1 then
    raisef('%s: %d schedulers need %d milestones, got %d', fn, #list, #list - 1, #milestones)
  end
  for i, s in ipairs(list) do
    if s.schedulers then raisef('%s: scheduler %d is itself a composite; compose plain schedules', fn, i) end
  end
  local self = setmetatable({}, Sequential)
  self.schedulers = copy_array(list)
  self.milestones = copy_array(milestones)
  self.optimizer = opt
  self.last_epoch = 0
  for _, g in ipairs(opt.param_groups) do g.lr = g.initial_lr end
  for _, s in ipairs(list) do s.last_epoch = s.last_epoch - 1 end
  list[1]:_initial_step()
  self._last_lr = list[1]:get_last_lr()
  return self
end
S.SequentialLR = S.sequential

return S
