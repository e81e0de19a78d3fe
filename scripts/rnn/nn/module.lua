--- @module rnn.nn
local core = require 'rnn.core'
local U = require 'rnn.nn.util'

--- The base class of every layer, and of the user's own models.
--
-- A class is made with `extend`, in plain Lua:
--
--     local Net = rnn.nn.Module:extend('Net')
--
--     function Net:__init(opts)             -- run by Net{...}
--       self.encoder = rnn.nn.LSTM{input_size = opts.n_in, hidden_size = 32}
--       self.head = rnn.nn.Linear(32, opts.n_out)  -- modules assigned to a
--                                                  -- new field are children
--       self:register_parameter('scale', rnn.ones{1})  -- tensors are not:
--                                                      -- register them
--     end
--
--     function Net:forward(x)
--       local out = self.encoder(x)         -- calling a module runs forward
--       return self.head(out) * self.scale
--     end
--
--     local net = Net{n_in = 8, n_out = 2}
--     net:named_parameters()  --> encoder.weight_ih_l0, ..., head.weight,
--                             --  head.bias, scale (registration order,
--                             --  a module's own parameters before its children's)
--
-- A subclass of a subclass works the same way (`Net:extend('BigNet')`); its
-- __init calls the parent's explicitly when it wants it:
-- `Net.__init(self, opts)`. Before __init runs, the instance already has
-- its registries and `training = true`, so __init need not call
-- Module.__init.
--
-- Registered parameters, buffers and children live in ordinary fields of
-- the instance (`net.head`, `lin.weight`), so reading them is plain field
-- access and assigning a new tensor to `lin.weight` replaces the parameter
-- (register it again, or set requires_grad, if it must be trained). The
-- registries only remember the names and their order. A parameter may be
-- registered as nil (Linear's bias with bias = false), as in PyTorch: it is
-- then absent from parameters() and state_dict().
--
-- Names are PyTorch's, so a state_dict moves between the two unchanged:
-- children's entries are dotted (`encoder.weight_ih_l0`, `0.weight` in a
-- Sequential).
--
-- Every module has the field `training` (true until eval()), and calling
-- it (`m(x)`) runs its forward.
-- @type Module
local Module = {}
Module.__index = Module
Module.__name = 'Module'
Module._qualname = 'rnn.nn.Module'
Module._is_module_class = true

local function is_module(x)
  if type(x) ~= 'table' then return false end
  local mt = getmetatable(x)
  return type(mt) == 'table' and rawget(mt, '_is_module_class') == true and mt ~= x
end

local function is_class(x)
  return type(x) == 'table' and rawget(x, '_is_module_class') == true
end

Module.is_module = is_module

local function class_name(self)
  local mt = getmetatable(self)
  return mt and rawget(mt, '__name') or 'Module'
end

-- the name used in error messages: rnn.nn.Linear for ours, Net for the user's
local function qualname(self)
  local mt = getmetatable(self)
  return (mt and rawget(mt, '_qualname')) or class_name(self)
end
Module._error_name = qualname

-- Instances: children assigned to a new field are registered
local function newindex(self, k, v)
  if is_module(v) and type(k) == 'string' then
    local reg = rawget(self, '_modules')
    if reg and not reg.index[k] then
      reg.index[k] = true
      reg.names[#reg.names + 1] = k
    end
  end
  rawset(self, k, v)
end

-- metamethods are looked up without __index, so every class carries its own
local METAMETHODS = {'__call', '__tostring', '__newindex', '__len'}

local function new_instance(cls, ...)
  local self = setmetatable({}, cls)
  rawset(self, '_parameters', {names = {}, index = {}})
  rawset(self, '_buffers', {names = {}, index = {}, non_persistent = {}})
  rawset(self, '_modules', {names = {}, index = {}})
  rawset(self, 'training', true)
  self:__init(...)
  return self
end

--- A new class deriving from this one. Calling the class (`Cls(...)` or
-- `Cls{...}`) makes an instance and runs `instance:__init(...)`; methods
-- are defined on the class (`function Cls:forward(x) ... end`).
-- @function Module:extend
-- @tparam string name the class's name (shown by tostring and in errors)
-- @treturn table the class
-- @raise when not called on a class, or name is not a non-empty string
-- @usage local Net = rnn.nn.Module:extend('Net')
function Module.extend(parent, name)
  if not is_class(parent) then
    U.raise('rnn.nn.Module.extend: call it as Class:extend(name)')
  end
  if type(name) ~= 'string' or name == '' then
    U.raisef('rnn.nn.Module.extend: argument 1 (name) must be a non-empty string, got %s', type(name))
  end
  local cls = {}
  for _, mm in ipairs(METAMETHODS) do cls[mm] = rawget(parent, mm) end
  cls.__index = cls
  if parent._getitem then -- integer keys: self[i] is self:_getitem(i) (Sequential)
    cls.__index = function(t, k)
      if math.type(k) == 'integer' then return t:_getitem(k) end
      return cls[k]
    end
  end
  cls.__name = name
  cls._qualname = name
  cls._is_module_class = true
  cls._parent = parent
  return setmetatable(cls, {__index = parent, __call = new_instance,
                            __tostring = function() return 'class ' .. name end})
end

--- The base constructor: nothing to do (the registries exist already).
function Module:__init() end

--- Calling a module runs its forward.
function Module:__call(...)
  return self:forward(...)
end

--- The computation of the module, called by `m(...)`. Every class
-- defines its own; the base one raises.
-- @param ... the inputs
-- @return the outputs
function Module:forward()
  U.raisef('%s: forward is not implemented (define %s:forward)', qualname(self), class_name(self))
end

Module.__newindex = newindex

--- Whether self is an instance of cls (or of a class derived from it).
-- @tparam table cls a class (`rnn.nn.LSTM`, `rnn.nn.Module`, your own)
-- @treturn boolean
function Module:is_a(cls)
  local c = getmetatable(self)
  while c do
    if c == cls then return true end
    c = rawget(c, '_parent')
  end
  return false
end

local function check_name(self, fn, name, what)
  if type(name) ~= 'string' or name == '' then
    U.raisef('%s.%s: argument 1 (name) must be a non-empty string, got %s', qualname(self), fn,
      type(name) == 'string' and "''" or type(name))
  end
  if name:find('.', 1, true) then
    U.raisef("%s.%s: %s name '%s' must not contain '.'", qualname(self), fn, what, name)
  end
end

-- a name may be used by one registry only, and not by a plain field
local function check_free(self, fn, name, what, own)
  for _, reg in ipairs{'_parameters', '_buffers', '_modules'} do
    if reg ~= own and rawget(self, reg).index[name] then
      U.raisef("%s.%s: '%s' is already a %s", qualname(self), fn, name,
        ({_parameters = 'parameter', _buffers = 'buffer', _modules = 'child module'})[reg])
    end
  end
  if not rawget(self, own).index[name] and rawget(self, name) ~= nil then
    U.raisef("%s.%s: attribute '%s' already exists and is not a %s", qualname(self), fn, name, what)
  end
  if rawget(self, name) == nil and getmetatable(self)[name] ~= nil then
    U.raisef("%s.%s: '%s' is a method of %s and cannot be a %s name", qualname(self), fn, name, class_name(self), what)
  end
end

local function add_name(reg, name)
  if not reg.index[name] then
    reg.index[name] = true
    reg.names[#reg.names + 1] = name
  end
end

--- Registers tensor (a float32 or float64 leaf; nil for an absent optional
-- parameter) as parameter `name`: it is set to require gradients, stored in
-- self[name], and listed by parameters(), named_parameters(), state_dict().
-- @tparam string name without '.'; not a method's or another registry's name
-- @tparam ?Tensor tensor the parameter, or nil
-- @treturn ?Tensor tensor
-- @raise for a bad name, a name in use, a non-leaf or an int64 tensor
function Module:register_parameter(name, tensor)
  check_name(self, 'register_parameter', name, 'parameter')
  if tensor ~= nil then
    if not core.is_tensor(tensor) then
      U.raisef('%s.register_parameter: argument 2 (tensor) must be a tensor or nil, got %s', qualname(self),
        type(tensor))
    end
    if tensor:dtype() ~= 'float32' and tensor:dtype() ~= 'float64' then
      U.raisef("%s.register_parameter: parameter '%s' must be float32 or float64, got %s", qualname(self), name,
        tensor:dtype())
    end
    if not tensor:is_leaf() then
      U.raisef("%s.register_parameter: parameter '%s' is the result of %s, not a leaf (pass t:detach())",
        qualname(self), name, tensor:grad_fn())
    end
  end
  check_free(self, 'register_parameter', name, 'parameter', '_parameters')
  add_name(rawget(self, '_parameters'), name)
  if tensor ~= nil then tensor:requires_grad(true) end
  rawset(self, name, tensor)
  return tensor
end

--- Registers a tensor that is state but not a parameter (no gradient).
-- Persistent buffers (the default) are in state_dict(); all are converted
-- by :to(dtype) (floating-point ones only).
-- @tparam string name without '.'
-- @tparam ?Tensor tensor the buffer, or nil
-- @tparam[opt=true] boolean persistent whether state_dict() includes it
-- @treturn ?Tensor tensor
function Module:register_buffer(name, tensor, persistent)
  check_name(self, 'register_buffer', name, 'buffer')
  if tensor ~= nil and not core.is_tensor(tensor) then
    U.raisef('%s.register_buffer: argument 2 (tensor) must be a tensor or nil, got %s', qualname(self), type(tensor))
  end
  check_free(self, 'register_buffer', name, 'buffer', '_buffers')
  local reg = rawget(self, '_buffers')
  add_name(reg, name)
  reg.non_persistent[name] = (persistent == false) or nil
  rawset(self, name, tensor)
  return tensor
end

--- Registers module as child `name` (also done by assigning a module to a
-- new field: `self.name = module`). Also called register_module.
-- @tparam string name without '.'
-- @tparam ?Module module the child, or nil
-- @treturn ?Module module
-- @also Module:register_module
function Module:add_module(name, module)
  check_name(self, 'add_module', name, 'module')
  if module ~= nil and not is_module(module) then
    U.raisef('%s.add_module: argument 2 (module) must be a module, got %s', qualname(self), type(module))
  end
  check_free(self, 'add_module', name, 'module', '_modules')
  add_name(rawget(self, '_modules'), name)
  rawset(self, name, module)
  return module
end
Module.register_module = Module.add_module

--- Array of {name, module} for the direct children, in registration order.
-- @treturn {{string,Module},...}
function Module:named_children()
  local out = {}
  for _, name in ipairs(rawget(self, '_modules').names) do
    local m = rawget(self, name)
    if is_module(m) then out[#out + 1] = {name, m} end
  end
  return out
end

--- Array of the direct children, in registration order.
-- @treturn {Module,...}
function Module:children()
  local out = {}
  for _, p in ipairs(self:named_children()) do out[#out + 1] = p[2] end
  return out
end

-- depth first, self first; prefix '' for self; each module once
local function walk(self, prefix, out, seen)
  if seen[self] then return out end
  seen[self] = true
  out[#out + 1] = {prefix, self}
  for _, p in ipairs(self:named_children()) do
    walk(p[2], prefix == '' and p[1] or (prefix .. '.' .. p[1]), out, seen)
  end
  return out
end

--- Array of {name, module} for self ('') and every descendant, depth
-- first, with dotted names; each module once.
-- @treturn {{string,Module},...}
function Module:named_modules()
  return walk(self, '', {}, {})
end

--- Array of self and every descendant, depth first.
-- @treturn {Module,...}
function Module:modules()
  local out = {}
  for _, p in ipairs(self:named_modules()) do out[#out + 1] = p[2] end
  return out
end

local function named_tensors(self, reg_name, persistent_only)
  local out, seen = {}, {}
  for _, p in ipairs(self:named_modules()) do
    local prefix, m = p[1], p[2]
    local reg = rawget(m, reg_name)
    for _, name in ipairs(reg.names) do
      local t = rawget(m, name)
      if t ~= nil and not seen[t] and not (persistent_only and reg.non_persistent and reg.non_persistent[name]) then
        seen[t] = true
        out[#out + 1] = {prefix == '' and name or (prefix .. '.' .. name), t}
      end
    end
  end
  return out
end

--- Array of {name, tensor}: the module's own parameters in registration
-- order, then each child's (depth first), with dotted names. A tensor
-- shared by two modules is listed once.
-- @treturn {{string,Tensor},...}
function Module:named_parameters()
  return named_tensors(self, '_parameters')
end

--- Array of the parameters, in the order of named_parameters() (what an
-- optimizer takes).
-- @treturn {Tensor,...}
function Module:parameters()
  local out = {}
  for _, p in ipairs(self:named_parameters()) do out[#out + 1] = p[2] end
  return out
end

--- Array of {name, tensor} for the buffers (persistent or not), in the
-- order of named_parameters().
-- @treturn {{string,Tensor},...}
function Module:named_buffers()
  return named_tensors(self, '_buffers')
end

--- Array of the buffers, in the order of named_buffers().
-- @treturn {Tensor,...}
function Module:buffers()
  local out = {}
  for _, p in ipairs(self:named_buffers()) do out[#out + 1] = p[2] end
  return out
end

-- {name, tensor, module, local name} for every entry of the state dict
local function state_entries(self)
  local out = {}
  for _, p in ipairs(self:named_modules()) do
    local prefix, m = p[1], p[2]
    for _, reg_name in ipairs{'_parameters', '_buffers'} do
      local reg = rawget(m, reg_name)
      for _, name in ipairs(reg.names) do
        local t = rawget(m, name)
        if t ~= nil and not (reg.non_persistent and reg.non_persistent[name]) then
          out[#out + 1] = {prefix == '' and name or (prefix .. '.' .. name), t, m, name}
        end
      end
    end
  end
  return out
end

--- Table name -> tensor of every parameter and persistent buffer, with
-- dotted names. The tensors are the module's own (references, as in
-- PyTorch): clone them to keep a snapshot. The keys in order are
-- `state_dict_keys()`.
-- @treturn table name -> Tensor
-- @usage rnn.save('model.safetensors', model:state_dict())
function Module:state_dict()
  local out = {}
  for _, e in ipairs(state_entries(self)) do out[e[1]] = e[2] end
  return out
end

--- The names of state_dict() in order (parameters and buffers of each
-- module, depth first).
-- @treturn {string,...}
function Module:state_dict_keys()
  local out = {}
  for _, e in ipairs(state_entries(self)) do out[#out + 1] = e[1] end
  return out
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

--- Copies the tensors of t (name -> tensor) into the module's parameters
-- and buffers, converting to their dtype, under no_grad (the tensors keep
-- their identity, so optimizers holding them see the new values).
-- opts.strict (default true): any missing key or unexpected key is an
-- error. Shape mismatches are always an error. Nothing is copied unless all
-- checks pass; the error lists every problem at once.
-- @tparam table t name -> Tensor (from state_dict() or rnn.load)
-- @tparam[opt] table opts options
-- @option strict (true) missing and unexpected keys are errors
-- @treturn table {missing_keys = {...}, unexpected_keys = {...}}, sorted
-- @raise listing missing keys, unexpected keys (when strict), shape
-- mismatches and values that are not tensors
function Module:load_state_dict(t, opts)
  local fn = qualname(self) .. '.load_state_dict'
  if type(t) ~= 'table' or core.is_tensor(t) then
    U.raisef('%s: argument 1 (state_dict) must be a table of name -> tensor, got %s', fn,
      core.is_tensor(t) and 'a tensor' or type(t))
  end
  local o = U.resolve(fn, opts, {strict = true})
  local entries = state_entries(self)
  local own = {}
  for _, e in ipairs(entries) do own[e[1]] = e end
  local missing, unexpected, mismatched, bad = {}, {}, {}, {}
  for _, e in ipairs(entries) do
    if t[e[1]] == nil then missing[#missing + 1] = e[1] end
  end
  for _, k in ipairs(sorted_keys(t)) do
    local v = t[k]
    if not own[k] then
      unexpected[#unexpected + 1] = tostring(k)
    elseif not core.is_tensor(v) then
      bad[#bad + 1] = string.format('%s is a %s, not a tensor', k, type(v))
    elseif U.shape_str(v) ~= U.shape_str(own[k][2]) then
      mismatched[#mismatched + 1] = string.format('%s: expected %s, got %s', k, U.shape_str(own[k][2]),
        U.shape_str(v))
    end
  end
  table.sort(missing)
  local problems = {}
  if o.strict and #missing > 0 then
    problems[#problems + 1] = 'missing keys: ' .. table.concat(missing, ', ')
  end
  if o.strict and #unexpected > 0 then
    problems[#problems + 1] = 'unexpected keys: ' .. table.concat(unexpected, ', ')
  end
  if #mismatched > 0 then
    problems[#problems + 1] = 'shape mismatches: ' .. table.concat(mismatched, '; ')
  end
  if #bad > 0 then
    problems[#problems + 1] = 'not tensors: ' .. table.concat(bad, '; ')
  end
  if #problems > 0 then
    U.raisef('%s: %s', fn, table.concat(problems, '; '))
  end
  core.no_grad(function()
    for _, e in ipairs(entries) do
      local src = t[e[1]]
      if src ~= nil and src ~= e[2] then e[2]:copy_(src) end
    end
  end)
  return {missing_keys = missing, unexpected_keys = unexpected}
end

--- Sets training mode (mode defaults to true) on self and every
-- descendant (the field `training`): dropout, zoneout and h0 = 'random'
-- act only in training mode.
-- @tparam[opt=true] boolean mode
-- @treturn Module self
function Module:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= 'boolean' then
    U.raisef('%s.train: argument 1 (mode) must be a boolean, got %s', qualname(self), type(mode))
  end
  for _, m in ipairs(self:modules()) do rawset(m, 'training', mode) end
  return self
end

--- Evaluation mode: train(false).
-- @treturn Module self
function Module:eval()
  return self:train(false)
end

--- Clears the gradients of every parameter: set to nil (the default,
-- as PyTorch's set_to_none = true) or, with set_to_none = false, filled
-- with zeros. (An optimizer's zero_grad defaults to zeros, as PyTorch 1.13.)
-- @tparam[opt=true] boolean set_to_none
function Module:zero_grad(set_to_none)
  if set_to_none == nil then set_to_none = true end
  core.no_grad(function()
    for _, p in ipairs(self:parameters()) do
      if set_to_none then p.grad = nil
      elseif p.grad then p.grad:zero_() end
    end
  end)
end

--- Converts every floating-point parameter and buffer to dtype ('float32'
-- or 'float64') and sets `dtype` on every module. Tensors already of that
-- dtype are kept; the others are replaced by converted copies (their
-- gradients are dropped), so make optimizers after calling :to(). Returns
-- self.
-- @tparam string dtype 'float32' or 'float64'
-- @treturn Module self
function Module:to(dtype)
  U.check_dtype(qualname(self) .. '.to', dtype, 'argument 1 (dtype)')
  local converted = {} -- shared tensors stay shared
  core.no_grad(function()
    for _, m in ipairs(self:modules()) do
      for _, reg_name in ipairs{'_parameters', '_buffers'} do
        for _, name in ipairs(rawget(m, reg_name).names) do
          local t = rawget(m, name)
          if t ~= nil and t:dtype() ~= dtype and t:dtype() ~= 'int64' then
            if not converted[t] then
              local c = t:to(dtype)
              if reg_name == '_parameters' then c = c:detach():requires_grad(true) end
              converted[t] = c
            end
            rawset(m, name, converted[t])
          end
        end
      end
      if rawget(m, 'dtype') ~= nil then rawset(m, 'dtype', dtype) end
    end
  end)
  return self
end

--- Converts to float32: to('float32').
-- @treturn Module self
function Module:float() return self:to('float32') end
--- Converts to float64: to('float64').
-- @treturn Module self
function Module:double() return self:to('float64') end

--- Calls fn(m) for every descendant, then self (as PyTorch).
-- @tparam function fn called with each module
-- @treturn Module self
function Module:apply(fn)
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

--- The total number of elements of the parameters (a shared tensor counts
-- once).
-- @treturn integer
-- @usage rnn.nn.LSTM{input_size = 8, hidden_size = 64}:num_parameters()  --> 18944
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

--- The text inside the parentheses of tostring(module), for classes to
-- override (`Linear(in_features=3, out_features=4, bias=true)`).
-- @treturn string
function Module:extra_repr()
  return ''
end

--- PyTorch's repr: `Name(extra)` or, with children,
--   Name(
--     (child): ChildRepr
--   )
function Module:__tostring()
  local name = class_name(self)
  local extra = self:extra_repr()
  local kids = self:named_children()
  if #kids == 0 then return name .. '(' .. extra .. ')' end
  local lines = {name .. '('}
  if extra ~= '' then lines[#lines + 1] = '  ' .. extra:gsub('\n', '\n  ') end
  for _, p in ipairs(kids) do
    lines[#lines + 1] = '  (' .. p[1] .. '): ' .. tostring(p[2]):gsub('\n', '\n  ')
  end
  lines[#lines + 1] = ')'
  return table.concat(lines, '\n')
end

setmetatable(Module, {__call = new_instance, __tostring = function() return 'class Module' end})

return Module
