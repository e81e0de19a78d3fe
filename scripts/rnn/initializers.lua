--- Weight initialisers, applied in place to a tensor (usually a
-- parameter), with PyTorch's torch.nn.init formulas and names.
--
--     rnn.init.orthogonal_(lstm.weight_hh_l0)
--     rnn.init.xavier_uniform_(lin.weight, rnn.init.calculate_gain('tanh'))
--     rnn.init.kaiming_normal_(w, {mode = 'fan_out', nonlinearity = 'relu'})
--     rnn.init.identity_(rnn_layer.weight_hh_l0, 0.9)      -- IRNN
--     rnn.init.lstm_forget_bias_(lstm, 1)                   -- every layer and direction
--     rnn.init.apply(lstm, {weight_hh = 'orthogonal', weight_ih = 'xavier_uniform', bias = 'zeros'})
--
-- Every initialiser writes under rnn.no_grad (so it works on parameters
-- that require grad, and records nothing on the tape) and returns its
-- tensor. All randomness comes from the seeded generator (rnn.manual_seed):
-- the same seed gives the same weights. Tensors must be float32 or
-- float64; views (narrow, select, transpose) are written through.
--
-- Tensors with no elements are returned unchanged (PyTorch warns and does
-- the same for the fan-based initialisers).
-- @module rnn.init
local core = require 'rnn.core'

local M = {}

-- raise(fmt, ...): errors point at the user's line, outside this file
local _, raise = require('rnn.raise').outside{'[/@]rnn/initializers%.lua$'}

local function shape_str(t) return '(' .. table.concat(t:shape(), ',') .. ')' end

local function describe(v)
  if type(v) == 'string' then return "'" .. v .. "'" end
  if core.is_tensor(v) then return 'a tensor ' .. shape_str(v) end
  return type(v) == 'number' and tostring(v) or type(v)
end

local function check_tensor(fn, t, min_dim)
  if not core.is_tensor(t) then raise('rnn.init.%s: argument 1 (tensor) must be a tensor, got %s', fn, describe(t)) end
  local dt = t:dtype()
  if dt ~= 'float32' and dt ~= 'float64' then
    raise('rnn.init.%s: the tensor must be float32 or float64, got %s %s', fn, dt, shape_str(t))
  end
  if min_dim and t:dim() < min_dim then
    raise('rnn.init.%s: the tensor must have at least %d dimensions, got %s', fn, min_dim, shape_str(t))
  end
  return t
end

-- v, or def when nil; must be a finite number (non-negative when nonneg)
local function number_arg(fn, v, def, name, nonneg)
  if v == nil then return def end
  if type(v) ~= 'number' or v ~= v or v == math.huge or v == -math.huge then
    raise('rnn.init.%s: %s must be a finite number, got %s', fn, name, describe(v))
  end
  if nonneg and v < 0 then raise('rnn.init.%s: %s must be >= 0, got %s', fn, name, tostring(v)) end
  return v
end

-- t[...] = src (same numel) under no_grad; returns t
local function write(t, src)
  core.no_grad(function() t:copy_(src:reshape(t:shape())) end)
  return t
end

--- Fills t from U(a, b).
-- @tparam Tensor t float32 or float64
-- @tparam[opt=0] number a
-- @tparam[opt=1] number b
-- @treturn Tensor t
function M.uniform_(t, a, b)
  check_tensor('uniform_', t)
  a = number_arg('uniform_', a, 0, 'a (lower bound)')
  b = number_arg('uniform_', b, 1, 'b (upper bound)')
  if a > b then raise('rnn.init.uniform_: a (%s) must be <= b (%s)', tostring(a), tostring(b)) end
  if t:numel() == 0 then return t end
  return write(t, core.rand(t:shape(), t:dtype()) * (b - a) + a)
end

--- Fills t from N(mean, std²).
-- @tparam Tensor t float32 or float64
-- @tparam[opt=0] number mean
-- @tparam[opt=1] number std >= 0
-- @treturn Tensor t
function M.normal_(t, mean, std)
  check_tensor('normal_', t)
  mean = number_arg('normal_', mean, 0, 'mean')
  std = number_arg('normal_', std, 1, 'std', true)
  if t:numel() == 0 then return t end
  return write(t, core.randn(t:shape(), t:dtype()) * std + mean)
end

--- Fills t with v.
-- @tparam Tensor t float32 or float64
-- @tparam number v
-- @treturn Tensor t
function M.constant_(t, v)
  check_tensor('constant_', t)
  if v == nil then raise('rnn.init.constant_: argument 2 (value) is required') end
  v = number_arg('constant_', v, nil, 'value')
  core.no_grad(function() t:fill_(v) end)
  return t
end

--- Fills t with 0.
-- @tparam Tensor t float32 or float64
-- @treturn Tensor t
function M.zeros_(t)
  check_tensor('zeros_', t)
  core.no_grad(function() t:fill_(0) end)
  return t
end

--- Fills t with 1.
-- @tparam Tensor t float32 or float64
-- @treturn Tensor t
function M.ones_(t)
  check_tensor('ones_', t)
  core.no_grad(function() t:fill_(1) end)
  return t
end

local GAIN_ONE = {linear = true, conv1d = true, conv2d = true, conv3d = true, conv_transpose1d = true,
                  conv_transpose2d = true, conv_transpose3d = true, sigmoid = true}

--- The recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
-- linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu:
-- sqrt(2 / (1 + slope²)) (slope = param or 0.01); selu: 3/4.
-- @tparam string nonlinearity
-- @tparam[opt] number param the negative slope of leaky_relu
-- @treturn number
-- @raise for an unknown nonlinearity
function M.calculate_gain(nonlinearity, param)
  if GAIN_ONE[nonlinearity] then return 1 end
  if nonlinearity == 'tanh' then return 5 / 3 end
  if nonlinearity == 'relu' then return math.sqrt(2) end
  if nonlinearity == 'selu' then return 3 / 4 end
  if nonlinearity == 'leaky_relu' then
    local slope = param
    if slope == nil then slope = 0.01 end
    if type(slope) ~= 'number' then
      raise('rnn.init.calculate_gain: negative_slope (param) must be a number, got %s', describe(param))
    end
    return math.sqrt(2 / (1 + slope * slope))
  end
  raise("rnn.init.calculate_gain: unsupported nonlinearity %s (known: linear, conv1d, conv2d, conv3d, " ..
    "conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu)", describe(nonlinearity))
end

local function fans(fn, t)
  check_tensor(fn, t)
  if t:dim() < 2 then
    raise('rnn.init.%s: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got %s',
      fn, shape_str(t))
  end
  local receptive = 1
  for d = 3, t:dim() do receptive = receptive * t:size(d) end
  return t:size(2) * receptive, t:size(1) * receptive
end

--- fan_in, fan_out of a weight tensor (PyTorch's
-- _calculate_fan_in_and_fan_out): for t (out, in, k...) fan_in =
-- in·prod(k), fan_out = out·prod(k).
-- @tparam Tensor t at least 2-d
-- @treturn integer fan_in
-- @treturn integer fan_out
function M.fans(t) return fans('fans', t) end

--- Glorot's uniform: U(-a, a), a = gain·sqrt(6 / (fan_in + fan_out)).
-- @tparam Tensor t at least 2-d
-- @tparam[opt=1] number gain
-- @treturn Tensor t
function M.xavier_uniform_(t, gain)
  local fan_in, fan_out = fans('xavier_uniform_', t)
  gain = number_arg('xavier_uniform_', gain, 1, 'gain')
  if t:numel() == 0 then return t end
  local a = math.sqrt(3) * gain * math.sqrt(2 / (fan_in + fan_out))
  return write(t, core.rand(t:shape(), t:dtype()) * (2 * a) - a)
end

--- Glorot's normal: N(0, std²), std = gain·sqrt(2 / (fan_in + fan_out)).
-- @tparam Tensor t at least 2-d
-- @tparam[opt=1] number gain
-- @treturn Tensor t
function M.xavier_normal_(t, gain)
  local fan_in, fan_out = fans('xavier_normal_', t)
  gain = number_arg('xavier_normal_', gain, 1, 'gain')
  if t:numel() == 0 then return t end
  local std = gain * math.sqrt(2 / (fan_in + fan_out))
  return write(t, core.randn(t:shape(), t:dtype()) * std)
end

local KAIMING_KEYS = {a = true, mode = true, nonlinearity = true}

-- (t, a, mode, nonlinearity) or (t, {a =, mode =, nonlinearity =}) -> std
local function kaiming_std(fn, t, a, mode, nonlinearity)
  local fan_in, fan_out = fans(fn, t)
  if type(a) == 'table' then
    if mode ~= nil then raise('rnn.init.%s: give the options either as a table or as arguments, not both', fn) end
    for k in pairs(a) do
      if not KAIMING_KEYS[k] then
        raise("rnn.init.%s: unknown option %s (known: a, mode, nonlinearity)", fn, describe(k))
      end
    end
    a, mode, nonlinearity = a.a, a.mode, a.nonlinearity
  end
  a = number_arg(fn, a, 0, 'a (negative slope)')
  mode = mode == nil and 'fan_in' or mode
  nonlinearity = nonlinearity == nil and 'leaky_relu' or nonlinearity
  if mode ~= 'fan_in' and mode ~= 'fan_out' then
    raise("rnn.init.%s: mode must be 'fan_in' or 'fan_out', got %s", fn, describe(mode))
  end
  local ok, gain = pcall(M.calculate_gain, nonlinearity, a)
  if not ok then raise('rnn.init.%s: %s', fn, (tostring(gain):gsub('^.-rnn%.init%.calculate_gain: ', ''))) end
  local fan = mode == 'fan_in' and fan_in or fan_out
  return gain / math.sqrt(fan)
end

--- He's uniform: U(-b, b), b = gain·sqrt(3 / fan), gain =
-- calculate_gain(nonlinearity, a). The options also go as a table:
-- kaiming_uniform_(t, {a = 0, mode = 'fan_out', nonlinearity = 'relu'}).
-- @tparam Tensor t at least 2-d
-- @tparam[opt=0] number a the negative slope of leaky_relu
-- @tparam[opt='fan_in'] string mode 'fan_in' or 'fan_out'
-- @tparam[opt='leaky_relu'] string nonlinearity
-- @treturn Tensor t
function M.kaiming_uniform_(t, a, mode, nonlinearity)
  local std = kaiming_std('kaiming_uniform_', t, a, mode, nonlinearity)
  if t:numel() == 0 then return t end
  local bound = math.sqrt(3) * std
  return write(t, core.rand(t:shape(), t:dtype()) * (2 * bound) - bound)
end

--- He's normal: N(0, std²), std = gain / sqrt(fan); the arguments of
-- kaiming_uniform_.
-- @tparam Tensor t at least 2-d
-- @tparam[opt=0] number a the negative slope of leaky_relu
-- @tparam[opt='fan_in'] string mode 'fan_in' or 'fan_out'
-- @tparam[opt='leaky_relu'] string nonlinearity
-- @treturn Tensor t
function M.kaiming_normal_(t, a, mode, nonlinearity)
  local std = kaiming_std('kaiming_normal_', t, a, mode, nonlinearity)
  if t:numel() == 0 then return t end
  return write(t, core.randn(t:shape(), t:dtype()) * std)
end

--- A (semi-)orthogonal matrix times gain, by PyTorch's algorithm: t seen
-- as (rows, cols) with rows = t:size(1), a N(0,1) matrix of that shape
-- (transposed when rows < cols) factored as QR (LAPACKE), Q's columns
-- multiplied by sign(diag(R)), transposed back. So rows >= cols gives
-- WᵀW = gain²·I and rows < cols gives WWᵀ = gain²·I. The draws and the QR
-- are in float64 whatever t's dtype.
-- @tparam Tensor t at least 2-d
-- @tparam[opt=1] number gain
-- @treturn Tensor t
-- @usage rnn.init.orthogonal_(lstm.weight_hh_l0)
function M.orthogonal_(t, gain)
  check_tensor('orthogonal_', t, 2)
  gain = number_arg('orthogonal_', gain, 1, 'gain')
  if t:numel() == 0 then return t end
  local rows = t:size(1)
  local cols = t:numel() // rows
  local q = core.no_grad(function()
    local flat = core.randn({rows, cols}, 'float64')
    if rows < cols then flat = flat:t() end
    local Q, R = core.linalg.qr(flat)
    local k = R:size(1)
    local signs = {}
    for i = 1, k do signs[i] = R:get(i, i) < 0 and -1 or 1 end
    Q = Q * core.tensor(signs, 'float64')
    if rows < cols then Q = Q:t() end
    return Q * gain
  end)
  return write(t, q)
end

--- t = scale·I (for a rectangular t, the ones of the main diagonal:
-- torch.nn.init.eye_). IRNN (Le, Jaitly and Hinton 2015): W_hh = I (or a
-- scale < 1), biases 0, with a ReLU RNN.
-- @tparam Tensor t 2-d
-- @tparam[opt=1] number scale
-- @treturn Tensor t
function M.identity_(t, scale)
  check_tensor('identity_', t)
  if t:dim() ~= 2 then
    raise('rnn.init.identity_: the tensor must be 2-d (rows, cols), got %s', shape_str(t))
  end
  scale = number_arg('identity_', scale, 1, 'scale')
  return write(t, core.eye(t:size(1), t:size(2), t:dtype()) * scale)
end

-- b must be a 1-d LSTM bias of 4H elements; returns H
local function check_lstm_bias(fn, b, what)
  if b:dim() ~= 1 or b:size(1) % 4 ~= 0 then
    raise('rnn.init.%s: %s must be a 1-d LSTM bias of 4*hidden_size elements (gates i, f, g, o), got %s',
      fn, what, shape_str(b))
  end
  return b:size(1) // 4
end

-- fills the f-gate slice, rows H+1..2H, of a checked bias (under no_grad:
-- the narrow view of a parameter is then not recorded on the tape)
local function fill_forget(b, v)
  local H = b:size(1) // 4
  b:narrow(1, H + 1, H):fill_(v)
end

--- The LSTM forget-gate bias trick (Gers, Schmidhuber and Cummins 2000;
-- Jozefowicz, Zaremba and Sutskever 2015). Gates are packed i, f, g, o, so
-- the forget gate is rows H+1..2H of each bias. For a module (an
-- rnn.nn.LSTM or LSTMCell, or any module containing some): for every LSTM
-- layer and direction, the f-slice of bias_ih is set to value and that of
-- bias_hh to opts.bias_hh, so the bias the gate adds, b_ih + b_hh, is
-- exactly value. For a 1-d bias tensor of 4H elements: its f-slice is set
-- to value. The other gates' biases are left as they are.
-- @tparam Module|Tensor x
-- @tparam[opt=1] number value
-- @tparam[opt] table opts options
-- @option bias_hh (0) the value of bias_hh's f-slice; false leaves it alone
-- @return x
-- @raise for a module without biases or without any LSTM
-- @usage rnn.init.lstm_forget_bias_(lstm, 1)
function M.lstm_forget_bias_(x, value, opts)
  local fn = 'lstm_forget_bias_'
  value = number_arg(fn, value, 1, 'value')
  if opts ~= nil and type(opts) ~= 'table' then raise('rnn.init.%s: options must be a table, got %s', fn, describe(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= 'bias_hh' then raise('rnn.init.%s: unknown option %s (known: bias_hh)', fn, describe(k)) end
  end
  local hh = opts.bias_hh
  if hh == nil then hh = 0 end
  if hh ~= false then hh = number_arg(fn, hh, nil, 'option bias_hh (a number or false)') end

  if core.is_tensor(x) then
    check_tensor(fn, x)
    check_lstm_bias(fn, x, 'the bias tensor')
    core.no_grad(fill_forget, x, value)
    return x
  end
  local nn = require 'rnn.nn'
  if not nn.is_module(x) then
    raise('rnn.init.%s: argument 1 must be an LSTM module (or a module containing one) or a bias tensor, got %s',
      fn, describe(x))
  end
  -- every LSTM-type module inside x, checked before anything is written
  local targets, found = {}, false
  for _, p in ipairs(x:named_modules()) do
    local prefix, m = p[1], p[2]
    if m:is_a(nn.LSTM) or m:is_a(nn.LSTMCell) then
      found = true
      local where = prefix == '' and '' or (" '" .. prefix .. "'")
      if not m.bias then raise('rnn.init.%s: the LSTM%s has no biases (bias = false)', fn, where) end
      for _, np in ipairs(m:named_parameters()) do
        local name, t = np[1], np[2]
        local kind = name:match('^(bias_[ih]h)')
        if kind then
          check_lstm_bias(fn, t, prefix == '' and name or (prefix .. '.' .. name))
          targets[#targets + 1] = {kind, t}
        end
      end
    end
  end
  if not found then
    raise('rnn.init.%s: the module contains no rnn.nn.LSTM or rnn.nn.LSTMCell', fn)
  end
  core.no_grad(function()
    for _, tg in ipairs(targets) do
      if tg[1] == 'bias_ih' then fill_forget(tg[2], value)
      elseif hh ~= false then fill_forget(tg[2], hh) end
    end
  end)
  return x
end

-- name -> initialiser function for apply
local function resolve_init(key, spec)
  local name, args, chunks = nil, {}, nil
  if type(spec) == 'function' then
    return spec -- called under no_grad by apply
  elseif type(spec) == 'number' then
    name, args = 'constant_', {spec}
  elseif type(spec) == 'string' then
    name = spec
  elseif type(spec) == 'table' then
    name = spec[1]
    for i = 2, #spec do args[#args + 1] = spec[i] end
    for k in pairs(spec) do
      if k ~= 'chunks' and not (math.type(k) == 'integer' and k >= 1 and k <= #spec) then
        raise('rnn.init.apply: spec[%s]: unknown key %s (known: chunks, and the name and arguments as an array)',
          describe(key), describe(k))
      end
    end
    chunks = spec.chunks
    if chunks ~= nil and (math.type(chunks) ~= 'integer' or chunks < 1) then
      raise('rnn.init.apply: spec[%s]: chunks must be a positive integer, got %s', describe(key), describe(chunks))
    end
  else
    raise('rnn.init.apply: spec[%s] must be an initialiser name, a table {name, args...}, a number or a function, got %s',
      describe(key), describe(spec))
  end
  if type(name) ~= 'string' then
    raise('rnn.init.apply: spec[%s]: the initialiser name must be a string, got %s', describe(key), describe(name))
  end
  local base = name:gsub('_$', '')
  local f = M[base .. '_']
  if base == 'apply' or base == 'lstm_forget_bias' or type(f) ~= 'function' then
    raise("rnn.init.apply: spec[%s]: unknown initialiser %s (known: uniform, normal, constant, zeros, ones, " ..
      "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, orthogonal, identity)", describe(key),
      describe(name))
  end
  return function(t, pname)
    if not chunks then return f(t, table.unpack(args)) end
    if t:dim() < 1 or t:size(1) % chunks ~= 0 then
      raise('rnn.init.apply: %s %s: its rows do not split into %d equal chunks', pname, shape_str(t), chunks)
    end
    local n = t:size(1)
    for c = 0, chunks - 1 do f(t:narrow(1, c * (n // chunks) + 1, n // chunks), table.unpack(args)) end
  end
end

local function key_matches(key, name)
  local target = key:find('.', 1, true) and name or (name:match('([^.]*)$'))
  return target == key or target:sub(1, #key + 1) == key .. '_'
end

--- Initialises a module's parameters by name. spec maps a name to an
-- initialiser; a key matches a parameter whose last name component equals
-- the key or starts with key .. '_' ('weight_hh' matches weight_hh_l0 and
-- weight_hh_l1_reverse, 'bias' every bias_*); a key with a '.' is matched
-- against the full dotted name the same way. When several keys match, the
-- longest wins; parameters no key matches are left alone. An initialiser
-- is a name ('orthogonal' or 'orthogonal_') applied with its defaults; a
-- table {name, args...} ({'kaiming_uniform', {nonlinearity = 'relu'}}),
-- with an optional chunks = G that applies it to each of G equal blocks of
-- rows separately ({'orthogonal', chunks = 4}: each LSTM gate's block on
-- its own); a number (constant_); or a function f(tensor, name), called
-- under rnn.no_grad.
-- @tparam Module module
-- @tparam table spec name -> initialiser
-- @treturn Module module
-- @raise for an unknown initialiser name
-- @usage rnn.init.apply(lstm, {weight_hh = 'orthogonal', weight_ih = 'xavier_uniform', bias = 'zeros'})
function M.apply(module, spec)
  local nn = require 'rnn.nn'
  if not nn.is_module(module) then raise('rnn.init.apply: argument 1 (module) must be a module, got %s', describe(module)) end
  if type(spec) ~= 'table' then raise('rnn.init.apply: argument 2 (spec) must be a table, got %s', describe(spec)) end
  local inits, keys = {}, {}
  for k, v in pairs(spec) do
    if type(k) ~= 'string' then raise('rnn.init.apply: spec keys must be parameter names, got %s', describe(k)) end
    if v ~= false then
      inits[k] = resolve_init(k, v)
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b) return #a > #b or (#a == #b and a < b) end) -- longest first
  core.no_grad(function()
    for _, p in ipairs(module:named_parameters()) do
      for _, k in ipairs(keys) do
        if key_matches(k, p[1]) then
          inits[k](p[2], p[1])
          break
        end
      end
    end
  end)
  return module
end

return M
