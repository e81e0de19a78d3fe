--- SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch 1.13's
-- update formulas, the update of all parameters fused in one C call per
-- step (core/optim.c); learning-rate schedules in rnn.optim.schedule.
--
--     local opt = rnn.optim.Adam(model:parameters(), {lr = 1e-3})
--     for step = 1, n do
--       opt:zero_grad()
--       local loss = f(model, batch)
--       loss:backward()
--       opt:step()
--     end
--
-- Constructors: `rnn.optim.<Name>(params [, options])`. params is an array
-- of tensors, a module (its parameters() are taken) or an array of
-- parameter groups `{params = {...}, lr = ..., ...}` whose own options
-- override the constructor's. Every parameter must be a float32 or float64
-- leaf that requires grad, and may appear once. Options and defaults (as
-- PyTorch 1.13):
--
--   SGD      lr (required), momentum = 0, dampening = 0, weight_decay = 0,
--            nesterov = false, maximize = false
--   Adam     lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
--            amsgrad = false, maximize = false
--   AdamW    as Adam with weight_decay = 1e-2, decoupled (p = p·(1 - lr·wd))
--   RMSprop  lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0,
--            momentum = 0, centered = false, maximize = false
--   Adagrad  lr = 1e-2, lr_decay = 0, weight_decay = 0,
--            initial_accumulator_value = 0, eps = 1e-10, maximize = false
--
-- Methods:
--   opt:step([closure])  one update of every parameter that has a gradient
--                        (parameters whose grad is nil are skipped, their
--                        state untouched). Nothing is recorded on the tape.
--                        closure, if given, is called first and its result
--                        returned (PyTorch's closure form).
--   opt:zero_grad([set_to_none])  zeroes each existing gradient in place
--                        (PyTorch 1.13's default, set_to_none = false); with
--                        true, sets the gradients to nil. The difference
--                        matters: a zero gradient is a step (moments decay,
--                        momentum moves the parameter, Adagrad's step
--                        counts), a nil one is skipped. Module:zero_grad()
--                        defaults to nil instead (PyTorch 2's default).
--   opt.lr               the learning rate of the first group; assigning it
--                        sets every group's (schedules do this). Any other
--                        option reads and writes the same way (opt.momentum).
--   opt.param_groups     the groups: {params = {...}, lr = ..., ...}
--   opt.state            parameter tensor -> its state table
--   opt:state_dict() / opt:load_state_dict(sd)
--   opt:state_tensors([prefix]) / opt:load_state_tensors(tensors, metadata [, prefix])
--   opt:add_param_group(group)
--
-- State: each parameter has a table {step = n, <buffers>} — step counts the
-- updates of that parameter (every optimizer keeps it; PyTorch's SGD and
-- RMSprop count too, or not at all), the buffers are tensors of the
-- parameter's shape and dtype, made at its first update:
--   SGD momentum_buffer (momentum ~= 0; starts as the first gradient)
--   Adam/AdamW exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
--   RMSprop square_avg, momentum_buffer (momentum > 0), grad_avg (centered)
--   Adagrad sum (starts at initial_accumulator_value)
--
-- state_dict() is a table of plain Lua values and tensors:
--   {optimizer = 'Adam',
--    state = {[i] = {step = 3, exp_avg = <tensor>, ...}, ...},  -- i: the
--            parameter's position over all groups, 1-based; only parameters
--            that have state
--    param_groups = {{lr = ..., betas = {...}, ..., params = {1, 2, ...}}, ...}}
-- The tensors are the optimizer's own (as PyTorch): clone them for a
-- snapshot. load_state_dict copies them (converted to each parameter's
-- dtype) and restores every group's options, so a run resumed from it
-- continues exactly where it was; the groups and their sizes must match,
-- and everything is checked before anything changes.
--
-- For files: state_tensors(prefix) returns `tensors, metadata` for
-- rnn.save(path, tensors, metadata): tensors named
-- '<prefix>state.<i>.<buffer>' and strings
--   '<prefix>optimizer' = 'Adam', '<prefix>state.<i>.step' = '3',
--   '<prefix>group.<g>.<option>' = '0.001' (numbers exact, '%.17g';
--   betas '0.9,0.999'; booleans 'true'/'false'), '<prefix>group.<g>.params' = '1,2'.
-- load_state_tensors(tensors, metadata, prefix) reads them back (keys
-- without the prefix, or not of these forms, are ignored: the same file
-- may hold the model's tensors). prefix defaults to ''.
--
-- Errors are raised at the caller's line as 'rnn.optim.<Name>: ...'.
-- @module rnn.optim
-- @alias optim
local core = require 'rnn.core'

local optim = {}

-- ---------------------------------------------------------------- errors

local raise, raisef = require('rnn.raise').outside{'[/@]rnn/optim%.lua$', '[/@]rnn/schedule%.lua$'}

-- a core error without its "file:line: " prefix
local function strip(msg)
  msg = tostring(msg)
  return msg:match('^[^\n]-:%d+: (rnn%..*)$') or msg
end

-- calls a core function, re-raising its error at the user's line
local function ccall(f, ...)
  local ok, r = pcall(f, ...)
  if not ok then raise(strip(r)) end
  return r
end

optim._raise = raise -- for rnn.optim.schedule

-- the keys of t in a fixed order (numbers first, ascending; then strings),
-- so that the first problem reported does not depend on pairs()
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

-- ---------------------------------------------------------------- kinds

local REQUIRED = setmetatable({}, {__tostring = function() return 'required' end})

local KINDS = {
  SGD = {kind = 'sgd', defaults = {lr = REQUIRED, momentum = 0, dampening = 0, weight_decay = 0,
                                   nesterov = false, maximize = false}},
  Adam = {kind = 'adam', defaults = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
                                     amsgrad = false, maximize = false}},
  AdamW = {kind = 'adamw', defaults = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2,
                                       amsgrad = false, maximize = false}},
  RMSprop = {kind = 'rmsprop', defaults = {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
                                           centered = false, maximize = false}},
  Adagrad = {kind = 'adagrad', defaults = {lr = 1e-2, lr_decay = 0, weight_decay = 0,
                                           initial_accumulator_value = 0, eps = 1e-10, maximize = false}},
}

-- group keys besides the options: set by schedules (PyTorch's name)
local EXTRA_KEYS = {initial_lr = 'number'}

local function known_list(defaults)
  local ks = {}
  for k in pairs(defaults) do ks[#ks + 1] = k end
  table.sort(ks)
  return table.concat(ks, ', ')
end

local function describe(v)
  if core.is_tensor(v) then return 'a tensor' end
  if type(v) == 'string' then return "'" .. v .. "'" end
  if type(v) == 'number' or type(v) == 'boolean' then return tostring(v) end
  return type(v)
end

-- checks one option value; returns the value to store (betas copied)
local function check_value(fn, key, v, default)
  if key == 'betas' then
    if type(v) ~= 'table' or core.is_tensor(v) or #v ~= 2 or type(v[1]) ~= 'number' or type(v[2]) ~= 'number' then
      raisef('%s: option betas must be a table of two numbers {beta1, beta2}, got %s', fn, describe(v))
    end
    return {v[1], v[2]}
  end
  local want = EXTRA_KEYS[key] or (default == REQUIRED and 'number') or type(default)
  if type(v) ~= want then
    raisef('%s: option %s must be a %s, got %s', fn, key, want, describe(v))
  end
  return v
end

local function copy_value(v)
  if type(v) == 'table' and v ~= REQUIRED then return {v[1], v[2]} end -- betas
  return v
end

-- ---------------------------------------------------------------- parameters

-- an rnn.nn module (its class is marked), or any table with a parameters()
-- method that is not itself an array
local function is_module(x)
  if type(x) ~= 'table' then return false end
  local mt = getmetatable(x)
  if type(mt) == 'table' and rawget(mt, '_is_module_class') == true and mt ~= x then return true end
  return rawget(x, 1) == nil and type(x.parameters) == 'function'
end

-- the array of tensors of a params value (array or module); checks each
local function param_list(fn, params, what, seen, first_index)
  if is_module(params) then params = params:parameters() end
  if type(params) ~= 'table' or core.is_tensor(params) then
    raisef('%s: %s must be an array of tensors or a module, got %s', fn, what, describe(params))
  end
  local out, mine = {}, {}
  local n = #params
  for k in pairs(params) do
    if math.type(k) ~= 'integer' or k < 1 or k > n then
      raisef('%s: %s must be an array of tensors (key %s is not an index 1..%d)', fn, what, describe(k), n)
    end
  end
  for i = 1, n do
    local p = params[i]
    local id = first_index + i - 1
    if not core.is_tensor(p) then
      raisef('%s: parameter %d is not a tensor (got %s)', fn, id, describe(p))
    end
    local dt = p:dtype()
    if dt ~= 'float32' and dt ~= 'float64' then
      raisef('%s: parameter %d is %s; only float32 and float64 tensors can be optimized', fn, id, dt)
    end
    if not p:is_leaf() then
      raisef("%s: parameter %d is not a leaf (the result of '%s'); optimize leaves, e.g. t:detach():requires_grad(true)",
        fn, id, p:grad_fn())
    end
    if not p:requires_grad() then
      raisef('%s: parameter %d does not require grad (call :requires_grad(true) on it)', fn, id)
    end
    local before = seen[p] or mine[p]
    if before then
      raisef('%s: parameter %d is the same tensor as parameter %d; each may appear once', fn, id, before)
    end
    mine[p] = id
    out[i] = p
  end
  for p, id in pairs(mine) do seen[p] = id end -- only once all are good
  return out
end

-- ---------------------------------------------------------------- constructors (documented; made at the end)

--- Stochastic gradient descent, with momentum, dampening, Nesterov and
-- weight decay as PyTorch 1.13's. `rnn.optim.SGD(params, {lr = 0.1})`:
-- params is an array of tensors, a module (its parameters) or an array of
-- groups {params = ..., <options>}.
-- @call rnn.optim.SGD(params, {lr = ... [, options]})
-- @option lr (required) the learning rate
-- @option momentum (0) momentum factor
-- @option dampening (0) dampening of the momentum
-- @option weight_decay (0) L2 penalty added to the gradient
-- @option nesterov (false) Nesterov momentum
-- @option maximize (false) ascend instead of descend
-- @treturn Optimizer
-- @see rnn.optim.Optimizer
-- @function SGD

--- Adam (Kingma and Ba), as PyTorch 1.13's, with the amsgrad variant.
-- `rnn.optim.Adam(params [, options])`: params is an array of tensors, a
-- module or an array of groups {params = ..., <options>}.
-- @call rnn.optim.Adam(params [, options])
-- @option lr (1e-3) the learning rate
-- @option betas ({0.9, 0.999}) the decay rates of the moment estimates
-- @option eps (1e-8) added to the denominator
-- @option weight_decay (0) L2 penalty added to the gradient
-- @option amsgrad (false) keep the maximum of the second moments
-- @option maximize (false) ascend instead of descend
-- @treturn Optimizer
-- @see rnn.optim.Optimizer
-- @function Adam

--- AdamW (Loshchilov and Hutter): Adam with decoupled weight decay
-- (p = p·(1 - lr·weight_decay) before the Adam step), as PyTorch 1.13's.
-- @call rnn.optim.AdamW(params [, options])
-- @option lr (1e-3) the learning rate
-- @option betas ({0.9, 0.999}) the decay rates of the moment estimates
-- @option eps (1e-8) added to the denominator
-- @option weight_decay (1e-2) decoupled weight decay
-- @option amsgrad (false) keep the maximum of the second moments
-- @option maximize (false) ascend instead of descend
-- @treturn Optimizer
-- @see rnn.optim.Optimizer
-- @function AdamW

--- RMSprop, as PyTorch 1.13's, with momentum and the centered variant.
-- @call rnn.optim.RMSprop(params [, options])
-- @option lr (1e-2) the learning rate
-- @option alpha (0.99) the decay rate of the squared-gradient average
-- @option eps (1e-8) added to the denominator
-- @option weight_decay (0) L2 penalty added to the gradient
-- @option momentum (0) momentum factor
-- @option centered (false) divide by the estimated variance instead
-- @option maximize (false) ascend instead of descend
-- @treturn Optimizer
-- @see rnn.optim.Optimizer
-- @function RMSprop

--- Adagrad, as PyTorch 1.13's.
-- @call rnn.optim.Adagrad(params [, options])
-- @option lr (1e-2) the learning rate
-- @option lr_decay (0) the learning rate is lr / (1 + (step - 1)·lr_decay)
-- @option weight_decay (0) L2 penalty added to the gradient
-- @option initial_accumulator_value (0) the start of the sum of squares
-- @option eps (1e-10) added to the denominator
-- @option maximize (false) ascend instead of descend
-- @treturn Optimizer
-- @see rnn.optim.Optimizer
-- @function Adagrad

-- ---------------------------------------------------------------- the class

local Optimizer = {}
Optimizer.__name = 'rnn.optim.Optimizer' -- what rnn.help shows for an optimizer

--- The methods of every optimizer (`opt:step()`, ...), and its fields:
-- `opt.lr` (the learning rate of the first group; assigning it sets every
-- group's, as schedules do; any other option reads and writes the same
-- way), `opt.param_groups` (the groups: {params = {...}, lr = ..., ...}),
-- `opt.state` (parameter tensor -> its state table {step = n, buffers}),
-- `opt.defaults` (the constructor's options).
-- @type Optimizer
local methods = {}

local function info(self) return rawget(self, '_info') end
local function fname(self) return 'rnn.optim.' .. rawget(self, '_name') end
local function cname(self) return 'optim.' .. rawget(self, '_name') end

-- core check of a group's options (ranges), errors as the optimizer's
local function check_group(self, g)
  ccall(core._optim_check, cname(self), info(self).kind, g)
end

-- a new group from a spec (user's table) over the optimizer's defaults
local function make_group(self, spec, gi)
  local fn = fname(self)
  local defaults = rawget(self, 'defaults')
  local kdefaults = info(self).defaults
  local g = {}
  for k, v in pairs(defaults) do g[k] = copy_value(v) end
  for _, k in ipairs(sorted_keys(spec)) do
    local v = spec[k]
    if k ~= 'params' then
      if kdefaults[k] == nil and not EXTRA_KEYS[k] then
        raisef("%s: unknown option '%s' in parameter group %d (known: %s)", fn, tostring(k), gi,
          known_list(kdefaults))
      end
      g[k] = check_value(fn, k, v, kdefaults[k])
    end
  end
  if g.lr == REQUIRED then raisef('%s: option lr is required', fn) end
  check_group(self, g)
  return g
end

local function add_group(self, spec, gi)
  local fn = fname(self)
  if type(spec) ~= 'table' or core.is_tensor(spec) or spec.params == nil then
    raisef('%s: parameter group %d must be a table {params = {...}, <options>}, got %s', fn, gi, describe(spec))
  end
  local all = rawget(self, '_params')
  local seen = rawget(self, '_seen')
  local g = make_group(self, spec, gi)
  local params = param_list(fn, spec.params, string.format('parameter group %d: params', gi), seen, #all + 1)
  if #params == 0 then raisef('%s: parameter group %d has no parameters', fn, gi) end
  g.params = params
  local states = {}
  local state_of = rawget(self, 'state')
  for i, p in ipairs(params) do
    local st = {}
    all[#all + 1] = p
    rawget(self, '_state')[#all] = st
    states[i] = st
    state_of[p] = st
  end
  local groups = rawget(self, 'param_groups')
  groups[#groups + 1] = g
  rawget(self, '_gstates')[#groups] = states
  return g
end

local function new_optimizer(name, params, opts)
  local kinfo = KINDS[name]
  local self = setmetatable({}, Optimizer)
  rawset(self, '_name', name)
  rawset(self, '_info', kinfo)
  rawset(self, 'param_groups', {})
  rawset(self, 'state', {})
  rawset(self, '_params', {})
  rawset(self, '_state', {})
  rawset(self, '_gstates', {})
  rawset(self, '_seen', {})
  local fn = fname(self)
  if opts ~= nil and (type(opts) ~= 'table' or core.is_tensor(opts)) then
    raisef('%s: argument 2 (options) must be a table, got %s', fn, describe(opts))
  end
  -- the constructor's options become the defaults of every group
  local defaults = {}
  for k, v in pairs(kinfo.defaults) do defaults[k] = copy_value(v) end
  for _, k in ipairs(sorted_keys(opts or {})) do
    local v = opts[k]
    if kinfo.defaults[k] == nil then
      raisef("%s: unknown option '%s' (known: %s)", fn, tostring(k), known_list(kinfo.defaults))
    end
    defaults[k] = check_value(fn, k, v, kinfo.defaults[k])
  end
  rawset(self, 'defaults', defaults)

  if params == nil then raisef('%s: argument 1 (params) is missing', fn) end
  if is_module(params) then params = params:parameters() end
  if type(params) ~= 'table' or core.is_tensor(params) then
    raisef('%s: argument 1 (params) must be an array of tensors, a module or an array of parameter groups, got %s',
      fn, describe(params))
  end
  if #params == 0 then raisef('%s: argument 1 (params) is an empty parameter list', fn) end
  local first = params[1]
  if type(first) == 'table' and not core.is_tensor(first) and first.params ~= nil then
    for gi = 1, #params do add_group(self, params[gi], gi) end
  else
    add_group(self, {params = params}, 1)
  end
  return self
end

-- opt.lr and the other options: group 1's on reading, every group's on writing
function Optimizer.__index(self, k)
  local m = methods[k]
  if m ~= nil then return m end
  local kinfo = rawget(self, '_info')
  if kinfo and (kinfo.defaults[k] ~= nil or EXTRA_KEYS[k]) then
    local g = rawget(self, 'param_groups')[1]
    return g and copy_value(g[k])
  end
  return nil
end

function Optimizer.__newindex(self, k, v)
  local kinfo = rawget(self, '_info')
  if kinfo.defaults[k] == nil and not EXTRA_KEYS[k] then
    rawset(self, k, v)
    return
  end
  local fn = fname(self)
  v = check_value(fn, k, v, kinfo.defaults[k])
  for _, g in ipairs(rawget(self, 'param_groups')) do
    local old = g[k]
    g[k] = copy_value(v)
    local ok, err = pcall(core._optim_check, cname(self), kinfo.kind, g)
    if not ok then
      g[k] = old
      raise(strip(err))
    end
  end
end

function Optimizer.__tostring(self)
  local lines = {rawget(self, '_name') .. ' ('}
  for gi, g in ipairs(rawget(self, 'param_groups')) do
    lines[#lines + 1] = string.format('Parameter Group %d (%d parameters)', gi, #g.params)
    local ks = {}
    for k in pairs(g) do if k ~= 'params' then ks[#ks + 1] = k end end
    table.sort(ks)
    for _, k in ipairs(ks) do
      local v = g[k]
      if type(v) == 'table' then v = '{' .. table.concat(v, ', ') .. '}' end
      lines[#lines + 1] = string.format('    %s: %s', k, tostring(v))
    end
  end
  lines[#lines + 1] = ')'
  return table.concat(lines, '\n')
end

--- One update of every parameter that has a gradient (a parameter whose
-- grad is nil is skipped, its state untouched), fused in one C call.
-- Nothing is recorded on the tape.
-- @tparam[opt] function closure called first (PyTorch's closure form)
-- @return what closure returned, if given
-- @function Optimizer:step
function methods:step(closure)
  local loss
  if closure ~= nil then
    if type(closure) ~= 'function' then
      raisef('%s.step: argument 1 (closure) must be a function or nil, got %s', fname(self), describe(closure))
    end
    loss = closure()
  end
  ccall(core._optim_step, cname(self), info(self).kind, rawget(self, 'param_groups'), rawget(self, '_gstates'))
  return loss
end

--- Zeroes each existing gradient in place (PyTorch 1.13's default), or
-- with set_to_none = true sets the gradients to nil. The difference
-- matters: a zero gradient is a step (moments decay, momentum moves the
-- parameter), a nil one is skipped. (Module:zero_grad defaults to nil.)
-- @tparam[opt=false] boolean set_to_none
-- @function Optimizer:zero_grad
function methods:zero_grad(set_to_none)
  if set_to_none ~= nil and type(set_to_none) ~= 'boolean' then
    raisef('%s.zero_grad: argument 1 (set_to_none) must be a boolean or nil, got %s', fname(self),
      describe(set_to_none))
  end
  core._optim_zero_grad(rawget(self, '_params'), set_to_none == true)
end

--- Adds a parameter group (PyTorch's add_param_group); options it does not
-- give are the constructor's.
-- @tparam table group {params = {tensors...} or a module, <options>}
-- @raise for a bad option or a parameter already in another group
-- @function Optimizer:add_param_group
function methods:add_param_group(group)
  add_group(self, group, #rawget(self, 'param_groups') + 1)
end

--- The parameters, in order over all groups (the indices of state_dict).
-- @treturn {Tensor,...}
-- @function Optimizer:parameters
function methods:parameters()
  local out = {}
  for i, p in ipairs(rawget(self, '_params')) do out[i] = p end
  return out
end

-- ---------------------------------------------------------------- state_dict

--- The whole state as plain Lua values and tensors:
-- {optimizer = 'Adam', state = {[i] = {step = 3, exp_avg = <tensor>, ...}},
-- param_groups = {{lr = ..., betas = {...}, ..., params = {1, 2, ...}}}},
-- i the parameter's 1-based position over all groups. The tensors are the
-- optimizer's own (as PyTorch): clone them for a snapshot.
-- @treturn table
-- @function Optimizer:state_dict
function methods:state_dict()
  local state = {}
  for i, st in ipairs(rawget(self, '_state')) do
    if next(st) ~= nil then
      local c = {}
      for k, v in pairs(st) do c[k] = v end
      state[i] = c
    end
  end
  local groups = {}
  local first = 1
  for gi, g in ipairs(rawget(self, 'param_groups')) do
    local c = {}
    for k, v in pairs(g) do
      if k ~= 'params' then c[k] = copy_value(v) end
    end
    c.params = {}
    for i = 1, #g.params do c.params[i] = first + i - 1 end
    first = first + #g.params
    groups[gi] = c
  end
  return {optimizer = rawget(self, '_name'), state = state, param_groups = groups}
end

local function shape_str(t) return '(' .. table.concat(t:shape(), ',') .. ')' end


local function same_shape(a, b)
  local sa, sb = a:shape(), b:shape()
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

--- Restores a state_dict(): every group's options and every parameter's
-- state (buffers copied, in the parameter's dtype), so a resumed run
-- continues exactly. Checked completely before anything changes.
-- @tparam table sd from state_dict() of an optimizer of the same kind
-- @raise when the kind, the groups or their sizes differ, or a buffer's shape
-- @function Optimizer:load_state_dict
function methods:load_state_dict(sd)
  local fn = fname(self) .. '.load_state_dict'
  local kinfo = info(self)
  if type(sd) ~= 'table' or core.is_tensor(sd) then
    raisef('%s: argument 1 (state_dict) must be a table, got %s', fn, describe(sd))
  end
  if sd.optimizer ~= nil and sd.optimizer ~= rawget(self, '_name') then
    raisef('%s: the state is of a %s optimizer, this one is %s', fn, tostring(sd.optimizer), rawget(self, '_name'))
  end
  for _, k in ipairs(sorted_keys(sd)) do
    if k ~= 'optimizer' and k ~= 'state' and k ~= 'param_groups' then
      raisef("%s: unexpected key '%s' (known: optimizer, param_groups, state)", fn, tostring(k))
    end
  end
  local groups = rawget(self, 'param_groups')
  local sgroups = sd.param_groups
  if type(sgroups) ~= 'table' then raisef('%s: param_groups must be a table, got %s', fn, describe(sgroups)) end
  if #sgroups ~= #groups then
    raisef('%s: the state has %d parameter groups, the optimizer %d', fn, #sgroups, #groups)
  end
  -- new group options, checked on copies
  local new_groups = {}
  local group_of = {} -- flat index -> new group options
  local first = 1
  for gi, sg in ipairs(sgroups) do
    if type(sg) ~= 'table' then raisef('%s: parameter group %d must be a table, got %s', fn, gi, describe(sg)) end
    local n = #groups[gi].params
    if type(sg.params) ~= 'table' or #sg.params ~= n then
      raisef('%s: parameter group %d has %s parameters in the state, %d in the optimizer', fn, gi,
        type(sg.params) == 'table' and tostring(#sg.params) or 'no list of', n)
    end
    local g = {}
    for _, k in ipairs(sorted_keys(sg)) do
      local v = sg[k]
      if k ~= 'params' then
        if kinfo.defaults[k] == nil and not EXTRA_KEYS[k] then
          raisef("%s: unknown option '%s' in parameter group %d (known: %s)", fn, tostring(k), gi,
            known_list(kinfo.defaults))
        end
        g[k] = check_value(fn, k, v, kinfo.defaults[k])
      end
    end
    for _, k in ipairs(sorted_keys(kinfo.defaults)) do
      if g[k] == nil then raisef('%s: parameter group %d has no option %s', fn, gi, k) end
    end
    local ok, err = pcall(core._optim_check, cname(self), kinfo.kind, g)
    if not ok then raisef('%s: parameter group %d: %s', fn, gi, (strip(err):gsub('^rnn%.[%w_.]+: ', ''))) end
    new_groups[gi] = g
    for i = first, first + n - 1 do group_of[i] = g end
    first = first + n
  end
  -- the states, as new tables of converted copies
  local params = rawget(self, '_params')
  local sstate = sd.state or {}
  if type(sstate) ~= 'table' then raisef('%s: state must be a table, got %s', fn, describe(sstate)) end
  local new_state = {}
  for _, i in ipairs(sorted_keys(sstate)) do
    local st = sstate[i]
    if math.type(i) ~= 'integer' or i < 1 or i > #params then
      raisef('%s: state key %s is not a parameter index 1..%d', fn, describe(i), #params)
    end
    if type(st) ~= 'table' then raisef('%s: the state of parameter %d must be a table, got %s', fn, i, describe(st)) end
    local p = params[i]
    local names = core._optim_state_names(kinfo.kind, group_of[i])
    local allowed = {step = true}
    for _, nm in ipairs(names) do allowed[nm] = true end
    local step = st.step or 0
    if math.type(step) ~= 'integer' or step < 0 then
      raisef('%s: the state of parameter %d has step %s; it must be a non-negative integer', fn, i, describe(st.step))
    end
    local c = {step = st.step}
    for _, k in ipairs(sorted_keys(st)) do
      local v = st[k]
      if k ~= 'step' then
        if not allowed[k] then
          local list = #names > 0 and table.concat(names, ', ') or 'none'
          raisef("%s: the state of parameter %d has '%s', which these options do not use (buffers: %s)", fn, i,
            tostring(k), list)
        end
        if not core.is_tensor(v) then
          raisef('%s: the state of parameter %d: %s must be a tensor, got %s', fn, i, k, describe(v))
        end
        if not same_shape(v, p) then
          raisef('%s: the state of parameter %d: %s has shape %s, the parameter %s', fn, i, k, shape_str(v),
            shape_str(p))
        end
        if v:dtype() ~= 'float32' and v:dtype() ~= 'float64' then
          raisef('%s: the state of parameter %d: %s is %s, not a float tensor', fn, i, k, v:dtype())
        end
        c[k] = v
      end
    end
    if step > 0 then
      for _, nm in ipairs(names) do
        if c[nm] == nil and not (kinfo.kind == 'sgd') then
          raisef('%s: the state of parameter %d has step %d but no %s', fn, i, step, nm)
        end
      end
    end
    new_state[i] = c
  end
  -- apply: copies (in each parameter's dtype) made under no_grad, then
  -- every table updated in place (the step loop holds them)
  core.no_grad(function()
    for i, c in pairs(new_state) do
      local dt = params[i]:dtype()
      for k, v in pairs(c) do
        if k ~= 'step' then
          local d = v:detach()
          local t = d:to(dt)
          if rawequal(t, d) then t = d:clone() end
          c[k] = t:contiguous()
        end
      end
    end
  end)
  for gi, g in ipairs(groups) do
    local ng = new_groups[gi]
    for k in pairs(g) do
      if k ~= 'params' then g[k] = nil end
    end
    for k, v in pairs(ng) do g[k] = v end
  end
  for i, st in ipairs(rawget(self, '_state')) do
    for k in pairs(st) do st[k] = nil end
    for k, v in pairs(new_state[i] or {}) do st[k] = v end
  end
end

-- ---------------------------------------------------------------- files

local numstr = require 'rnn.numstr'
local encode_number, decode_number = numstr.encode, numstr.decode

optim._encode_number, optim._decode_number = encode_number, decode_number

local function encode(v)
  if type(v) == 'number' then return encode_number(v) end
  if type(v) == 'boolean' then return tostring(v) end
  if type(v) == 'table' then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = encode_number(x) end
    return table.concat(parts, ',')
  end
  return tostring(v)
end

local function split_numbers(s)
  local out = {}
  for part in (s .. ','):gmatch('([^,]*),') do
    local x = decode_number(part)
    if x == nil then return nil end
    out[#out + 1] = x
  end
  return out
end

local function check_prefix(fn, prefix)
  if prefix == nil then return '' end
  if type(prefix) ~= 'string' then
    raisef('%s: argument (prefix) must be a string, got %s', fn, describe(prefix))
  end
  return prefix
end

--- The state as `tensors, metadata` for rnn.save: tensors named
-- '<prefix>state.<i>.<buffer>' and strings '<prefix>optimizer',
-- '<prefix>state.<i>.step', '<prefix>group.<g>.<option>' (numbers exact).
-- @tparam[opt=''] string prefix put before every name
-- @treturn table name -> Tensor
-- @treturn table name -> string
-- @usage local t, meta = opt:state_tensors('optim.')
-- rnn.save('opt.safetensors', t, meta)
-- @function Optimizer:state_tensors
function methods:state_tensors(prefix)
  prefix = check_prefix(fname(self) .. '.state_tensors', prefix)
  local sd = self:state_dict()
  local tensors, meta = {}, {}
  meta[prefix .. 'optimizer'] = sd.optimizer
  for gi, g in ipairs(sd.param_groups) do
    for k, v in pairs(g) do
      meta[string.format('%sgroup.%d.%s', prefix, gi, k)] = encode(v)
    end
  end
  for i, st in pairs(sd.state) do
    for k, v in pairs(st) do
      local key = string.format('%sstate.%d.%s', prefix, i, k)
      if core.is_tensor(v) then tensors[key] = v else meta[key] = encode(v) end
    end
  end
  return tensors, meta
end

local function escape(s) return (s:gsub('[%^%$%(%)%%%.%[%]%*%+%-%?]', '%%%0')) end

--- Reads what state_tensors wrote (from rnn.load) back into the
-- optimizer. Keys without the prefix, or not of its forms, are ignored (the
-- same file may hold the model's tensors).
-- @tparam table tensors name -> Tensor
-- @tparam table metadata name -> string
-- @tparam[opt=''] string prefix
-- @raise when the state does not fit this optimizer
-- @function Optimizer:load_state_tensors
function methods:load_state_tensors(tensors, metadata, prefix)
  local fn = fname(self) .. '.load_state_tensors'
  prefix = check_prefix(fn, prefix)
  if type(tensors) ~= 'table' or core.is_tensor(tensors) then
    raisef('%s: argument 1 (tensors) must be a table, got %s', fn, describe(tensors))
  end
  if type(metadata) ~= 'table' then
    raisef('%s: argument 2 (metadata) must be a table of strings, got %s', fn, describe(metadata))
  end
  local kinfo = info(self)
  local p = '^' .. escape(prefix)
  local name = metadata[prefix .. 'optimizer']
  if name == nil then
    raisef("%s: the metadata has no '%soptimizer' entry (not an optimizer state, or another prefix?)", fn, prefix)
  end
  local sd = {optimizer = name, state = {}, param_groups = {}}
  for _, k in ipairs(sorted_keys(metadata)) do
    local v = metadata[k]
    if type(k) == 'string' then
      local gi, opt = k:match(p .. 'group%.(%d+)%.([%a_][%w_]*)$')
      local si, skey = k:match(p .. 'state%.(%d+)%.([%a_][%w_]*)$')
      if gi then
        gi = math.tointeger(tonumber(gi))
        sd.param_groups[gi] = sd.param_groups[gi] or {}
        local value
        if opt == 'params' then
          value = split_numbers(v)
        elseif opt == 'betas' then
          value = split_numbers(v)
        elseif EXTRA_KEYS[opt] or type(kinfo.defaults[opt]) == 'number' or kinfo.defaults[opt] == REQUIRED then
          value = decode_number(v)
        elseif type(kinfo.defaults[opt]) == 'boolean' then
          if v == 'true' then value = true elseif v == 'false' then value = false end
        else
          raisef("%s: unknown option '%s' in metadata key '%s' (known: %s)", fn, opt, k, known_list(kinfo.defaults))
        end
        if value == nil then raisef("%s: metadata '%s' = '%s' cannot be read", fn, k, tostring(v)) end
        sd.param_groups[gi][opt] = value
      elseif si then
        if skey ~= 'step' then raisef("%s: unexpected metadata key '%s'", fn, k) end
        si = math.tointeger(tonumber(si))
        local step = math.tointeger(tonumber(v))
        if step == nil then raisef("%s: metadata '%s' = '%s' is not an integer", fn, k, tostring(v)) end
        sd.state[si] = sd.state[si] or {}
        sd.state[si].step = step
      end
    end
  end
  local ng = 0
  for gi in pairs(sd.param_groups) do ng = math.max(ng, gi) end
  for gi = 1, ng do
    if sd.param_groups[gi] == nil then raisef('%s: the metadata has no options for parameter group %d', fn, gi) end
  end
  for k, v in pairs(tensors) do
    if type(k) == 'string' then
      local si, buf = k:match(p .. 'state%.(%d+)%.([%a_][%w_]*)$')
      if si then
        si = math.tointeger(tonumber(si))
        sd.state[si] = sd.state[si] or {}
        sd.state[si][buf] = v
      end
    end
  end
  -- errors of load_state_dict name this function
  local ok, err = pcall(methods.load_state_dict, self, sd)
  if not ok then
    raise((strip(err):gsub('^rnn%.optim%.[%w_]+%.load_state_dict: ', fn .. ': ')))
  end
end

-- ---------------------------------------------------------------- constructors

for name in pairs(KINDS) do
  optim[name] = setmetatable({name = name}, {
    __call = function(_, params, opts) return new_optimizer(name, params, opts) end,
    __tostring = function() return 'rnn.optim.' .. name end,
  })
end

--- @section end

--- Whether x is an optimizer of this module.
-- @param x any value
-- @treturn boolean
function optim.is_optimizer(x)
  return getmetatable(x) == Optimizer
end

optim.Optimizer = methods

optim.schedule = require 'rnn.schedule'

return optim
