--- Random sequences of tensor API calls with oracles (issue 14).
--
--     rnnlua tests/api_fuzz.lua [CALLS [SEED]]     (defaults 3000, 20261206)
--
-- A pool of tensors grows by creation and by views (narrow, transpose, t,
-- select, permute, unsqueeze, squeeze, expand, view/reshape), each view kept
-- with the chain of calls that made it from its root, so that the chain can
-- be replayed on a copy of the root. Each call is checked against an oracle:
--
--   strided   an operation on a (non-contiguous) view gives the same result
--             as on its contiguous copy: elementwise ops to the bit,
--             reductions and products within rounding
--   in-place  t:op_(...) through a view changes the root exactly as
--             copy_ of the out-of-place t:op(...) into the same view does
--             (nothing outside the view moves); on an expanded view it is
--             refused
--   autograd  the gradient of a root through a chain of views equals the
--             gradient through the contiguous copy
--   errors    every error, from valid calls and from calls with random
--             wrong arguments, is a string naming the rnn function
--             ("rnn.narrow: ..."), never a Lua internal error or a crash
--
-- The seed fixes everything. Prints one "ok"/"not ok" line per oracle (the
-- first failures in detail, with the seed and the call number to replay),
-- then "api-fuzz: N passed, M failed".
local rnn = require 'rnn'

local CALLS = math.tointeger(tonumber(arg and arg[1] or '')) or 3000
local SEED = math.tointeger(tonumber(arg and arg[2] or '')) or 20261206
math.randomseed(SEED)
rnn.manual_seed(SEED)
local R = math.random

local checks = {strided = 0, inplace = 0, autograd = 0, errors = 0}
local failures = {strided = {}, inplace = {}, autograd = {}, errors = {}}
local call_no = 0
local calls_ok, calls_failed = 0, 0
local current = '' -- a description of the call being checked

local function fail(kind, fmt, ...)
  local list = failures[kind]
  local what = #current > 240 and (current:sub(1, 100) .. ' ... ' .. current:sub(-135)) or current
  list[#list + 1] = string.format('call %d: %s: ', call_no, what) .. string.format(fmt, ...)
end

local function pick(list) return list[R(#list)] end

local function shape_str(t)
  return '(' .. table.concat(t:shape(), ',') .. ')'
end

local function describe(e)
  local parts = {string.format('%s %s', e.root:dtype(), shape_str(e.root))}
  for _, s in ipairs(e.chain) do
    local args = {}
    for i = 2, #s do args[#args + 1] = tostring(s[i]) end
    parts[#parts + 1] = string.format(':%s(%s)', s[1], table.concat(args, ','))
  end
  return table.concat(parts)
end

---------------------------------------------------------------------------
-- comparison

local function flat(t)
  if t:numel() == 0 then return {} end
  return t:reshape(-1):totable()
end

-- '' when a and b agree (tol: relative tolerance, 0 for bitwise), else why
local function differ(a, b, tol)
  if rnn.is_tensor and not rnn.is_tensor(a) then return 'not a tensor: ' .. tostring(a) end
  if a:dtype() ~= b:dtype() then return string.format('dtypes %s and %s', a:dtype(), b:dtype()) end
  if shape_str(a) ~= shape_str(b) then return string.format('shapes %s and %s', shape_str(a), shape_str(b)) end
  local x, y = flat(a), flat(b)
  local scale = 0
  if tol > 0 then
    for i = 1, #y do
      local v = math.abs(y[i])
      if v == v and v ~= math.huge and v > scale then scale = v end
    end
  end
  for i = 1, #x do
    local u, v = x[i], y[i]
    local same = u == v or (u ~= u and v ~= v)
    if not same and tol > 0 and u == u and v == v and math.abs(u - v) <= tol * math.max(1, scale) then same = true end
    if not same then
      return string.format('element %d: %.17g against %.17g', i, u, v)
    end
  end
  return ''
end

---------------------------------------------------------------------------
-- errors must be clean

-- checks an error of a call to rnn function `fname`; returns nothing
local function clean_error(fname, err)
  checks.errors = checks.errors + 1
  if type(err) ~= 'string' then
    fail('errors', 'rnn.%s raised a %s, not a message', fname, type(err))
    return
  end
  local named = err:find('rnn.' .. fname, 1, true) or err:find('rnn%.[%w_]+:')
  local internal = err:find('attempt to ') or err:find("bad argument #%d+ to '%?'") or err:find('stack overflow')
  if not named or internal then fail('errors', 'rnn.%s: unclean error: %s', fname, err) end
end

-- calls obj[fname](obj, ...) (or rnn[fname](...) when obj is rnn) in
-- protected mode; returns ok, result, second result
local function call(obj, fname, ...)
  local f = obj[fname]
  local ok, r1, r2
  if obj == rnn then
    ok, r1, r2 = pcall(f, ...)
  else
    ok, r1, r2 = pcall(f, obj, ...)
  end
  if ok then calls_ok = calls_ok + 1 else calls_failed = calls_failed + 1; clean_error(fname, r1) end
  return ok, r1, r2
end

---------------------------------------------------------------------------
-- the pool

local pool = {}
local POOL_MAX = 40

local function add(e)
  if #pool >= POOL_MAX then table.remove(pool, R(#pool)) end
  pool[#pool + 1] = e
end

-- an entry for a check: two times in three a non-contiguous one, when the
-- pool holds any (most views of small tensors are contiguous)
local function pick_entry()
  if R(3) > 1 then
    local strided = {}
    for _, e in ipairs(pool) do
      if not e.t:is_contiguous() then strided[#strided + 1] = e end
    end
    if #strided > 0 then return pick(strided) end
  end
  return pick(pool)
end

local function random_shape(ndim)
  local s = {}
  for i = 1, ndim do s[i] = R(10) == 1 and 0 or R(1, 4) end
  return s
end

local function new_tensor(shape, dtype)
  local kind = R(5)
  if kind == 1 then
    local n = 1
    for _, d in ipairs(shape) do n = n * d end
    local t = rnn.arange(n):to(dtype) - n / 2
    return t:reshape(#shape > 0 and shape or {}) * 0.37
  elseif kind == 2 then
    return rnn.full(shape, R(-3, 3) + 0.25, dtype)
  else
    return rnn.randn(shape, dtype)
  end
end

local function new_root()
  local dtype = R(4) == 1 and 'float32' or 'float64'
  local t = new_tensor(random_shape(R(0, 3)), dtype)
  return {t = t, root = t, chain = {}, expanded = false}
end

-- a random view step for tensor t (sometimes with wrong arguments)
local function view_step(t)
  local nd = t:dim()
  local bad = R(12) == 1
  local function dim(extra) -- a dimension index, sometimes negative or wrong
    if bad then return pick{0, nd + 1 + (extra or 0), -(nd + 2), 1.5} end
    local d = R(1, nd + (extra or 0))
    if R(3) == 1 then d = d - nd - 1 - (extra or 0) end
    return d
  end
  local kinds = {'unsqueeze', 'reshape', 'view'}
  if nd >= 1 then
    for _, k in ipairs{'narrow', 'narrow', 'select', 'transpose', 'squeeze', 'expand', 'permute'} do
      kinds[#kinds + 1] = k
    end
  end
  if nd == 2 then kinds[#kinds + 1] = 't'; kinds[#kinds + 1] = 't' end
  local k = pick(kinds)
  local shape = t:shape()
  if k == 'narrow' then
    local d = dim()
    local size = shape[(math.tointeger(d) or 1) > 0 and (math.tointeger(d) or 1) or nd + 1 + d] or 0
    local start = R(1, size + 1)
    local len = R(0, size - start + 1)
    if bad then len = len + 2 end
    return {'narrow', d, start, len}
  elseif k == 'select' then
    local d = dim()
    local size = shape[(math.tointeger(d) or 1) > 0 and (math.tointeger(d) or 1) or nd + 1 + d] or 1
    if size == 0 then return {'select', d, 1} end
    local i = R(1, size)
    if R(3) == 1 then i = i - size - 1 end
    return {'select', d, i}
  elseif k == 'transpose' then
    return {'transpose', dim(), dim()}
  elseif k == 't' then
    return {'t'}
  elseif k == 'squeeze' then
    return R(2) == 1 and {'squeeze'} or {'squeeze', dim()}
  elseif k == 'unsqueeze' then
    return {'unsqueeze', dim(1)}
  elseif k == 'permute' then
    local order = {}
    for i = 1, nd do order[i] = i end
    for i = nd, 2, -1 do
      local j = R(i)
      order[i], order[j] = order[j], order[i]
    end
    if bad then order[1] = order[#order] end
    return {'permute', table.unpack(order)}
  elseif k == 'expand' then
    local s = {}
    if R(2) == 1 then s[1] = R(1, 3) end
    for _, d in ipairs(shape) do s[#s + 1] = d == 1 and R(1, 3) or (R(6) == 1 and -1 or d) end
    if bad then s[#s] = (s[#s] or 1) + 1 end
    return {'expand', table.unpack(s)}
  else -- view / reshape: the same elements another way round
    local n = t:numel()
    local s = {}
    if n > 0 and R(2) == 1 then
      -- split into factors
      local rest = n
      while rest > 1 and #s < 3 do
        local f = pick{2, 3, 4, rest}
        if rest % f == 0 then s[#s + 1] = f; rest = rest // f else break end
      end
      if rest > 1 then s[#s + 1] = rest end
      if #s > 0 and R(3) == 1 then s[R(#s)] = -1 end
    else
      s = {-1}
    end
    if bad then s[#s + 1] = 5 end
    return {k, table.unpack(s)}
  end
end

local function apply(t, step)
  return t[step[1]](t, table.unpack(step, 2))
end

local function replay(root, chain)
  local t = root
  for _, s in ipairs(chain) do t = apply(t, s) end
  return t
end

local function grow_view()
  local e = pick_entry()
  local step = view_step(e.t)
  current = describe(e) .. ':' .. step[1]
  local ok, v = call(e.t, table.unpack(step))
  if not ok then return end
  if step[1] == 'reshape' then
    -- may copy, or not: the result is a root of its own. A copy (clone) of
    -- a non-contiguous one (an expanded tensor reshaped without a copy)
    -- has another layout, on which the views made from it may not replay:
    -- no in-place or autograd check on it and its views
    add({t = v, root = v:clone(), chain = {}, expanded = false, noreplay = not v:is_contiguous()})
  else
    local chain = {table.unpack(e.chain)}
    chain[#chain + 1] = step
    add({t = v, root = e.root, chain = chain, expanded = e.expanded or step[1] == 'expand', noreplay = e.noreplay})
  end
end

---------------------------------------------------------------------------
-- elementwise operations: strided and in-place oracles

-- Known: contiguous tanh and sigmoid run the vectorised forms of
-- core/vmath.h (within 1 ulp of libm in float32, 3 in float64), strided ones
-- libm's (core/ops.c, unary_run), so a view and its contiguous copy may
-- differ in the last bits. Compared within rounding unless
-- API_FUZZ_STRICT=1; every other elementwise op to the bit.
local STRICT = os.getenv('API_FUZZ_STRICT') == '1'
local LAYOUT_ULPS = {tanh = true, sigmoid = true}
local tol_of

local UNARY = {'neg', 'abs', 'exp', 'tanh', 'sigmoid', 'relu', 'sin', 'cos', 'sign', 'floor', 'ceil', 'round',
  'square', 'sqrt', 'log', 'log1p', 'expm1', 'reciprocal', 'rsqrt', 'clamp'}
local BINARY = {'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'}

-- a tensor that broadcasts to `shape` (often strided itself), or a number
local function operand(shape, dtype)
  local r = R(6)
  if r == 1 then return R(-4, 4) + 0.5 end
  local s = {}
  local drop = R(3) == 1 and R(0, #shape) or 0
  for i = drop + 1, #shape do s[#s + 1] = R(4) == 1 and 1 or shape[i] end
  if r == 2 and #s >= 2 then
    -- a transposed view: the same shape, strided
    local rs = {table.unpack(s)}
    rs[#rs], rs[#rs - 1] = rs[#rs - 1], rs[#rs]
    return new_tensor(rs, dtype):transpose(-1, -2)
  end
  return new_tensor(s, dtype)
end

local function check_elementwise()
  local e = pick_entry()
  local t = e.t
  local binary = R(2) == 1
  local op = binary and pick(BINARY) or pick(UNARY)
  local args = {}
  if binary then args[1] = operand(t:shape(), R(20) == 1 and 'float32' or t:dtype()) end
  if op == 'clamp' then args = {R(-2, 0), R(0, 2)} end
  current = describe(e) .. ':' .. op .. (binary and ('(' .. (type(args[1]) == 'number' and tostring(args[1])
    or (args[1]:dtype() .. ' ' .. shape_str(args[1]))) .. ')') or '')
  local ok, out = call(t, op, table.unpack(args))
  -- strided against contiguous
  local okc, outc = call(t:contiguous(), op, table.unpack(args))
  checks.strided = checks.strided + 1
  if ok ~= okc then
    fail('strided', 'the view %s but its contiguous copy %s', ok and 'succeeded' or 'failed',
      okc and 'succeeded' or 'failed')
  elseif ok then
    local why = differ(out, outc, LAYOUT_ULPS[op] and not STRICT and tol_of(t) or 0)
    if why ~= '' then fail('strided', 'view and contiguous copy differ: %s', why) end
  end
  if e.noreplay then return end
  -- in place through the view, replayed on a copy of the root
  local root2 = e.root:clone()
  local v2 = replay(root2, e.chain)
  local okip, rip = call(v2, op .. '_', table.unpack(args))
  checks.inplace = checks.inplace + 1
  -- an in-place write is refused where one element would be written twice
  -- (a dimension of stride 0 and size > 1, from expand)
  local repeated = false
  for d = 1, v2:dim() do
    if v2:stride(d) == 0 and v2:size(d) > 1 then repeated = true end
  end
  if repeated then
    if okip then fail('inplace', '%s_ wrote into an expanded view', op) end
    return
  end
  if not ok then return end
  if not okip then
    -- refused in place: fine when the result would not fit the view
    -- (broadcast to a larger shape, another dtype)
    if shape_str(out) == shape_str(t) and out:dtype() == t:dtype() then
      fail('inplace', '%s_ refused what %s did: %s', op, op, tostring(rip))
    end
    return
  end
  local root3 = e.root:clone()
  local v3 = replay(root3, e.chain)
  v3:copy_(out)
  -- (t, which out comes from, may have another layout than v2: a root made
  -- by reshape can be a stride-0 view)
  local why = differ(root2, root3, LAYOUT_ULPS[op] and not STRICT and tol_of(t) or 0)
  if why ~= '' then fail('inplace', '%s_ through the view and copy_ of %s differ on the root: %s', op, op, why) end
end

---------------------------------------------------------------------------
-- reductions and products: strided oracle within rounding

function tol_of(t) return t:dtype() == 'float32' and 1e-5 or 1e-12 end

local function check_reduction()
  local e = pick_entry()
  local t = e.t
  local op = pick{'sum', 'mean', 'prod', 'max', 'min', 'argmax', 'argmin'}
  local args = {}
  if t:dim() > 0 and R(3) > 1 then
    args[1] = R(1, t:dim())
    if R(2) == 1 then args[1] = args[1] - t:dim() - 1 end
    if R(2) == 1 and op ~= 'argmax' and op ~= 'argmin' then args[2] = R(2) == 1 end
  elseif R(20) == 1 then
    args[1] = t:dim() + 1 -- out of range
  end
  current = describe(e) .. ':' .. op .. '(' .. table.concat((function()
    local s = {}
    for i, a in ipairs(args) do s[i] = tostring(a) end
    return s
  end)(), ',') .. ')'
  local ok, out, idx = call(t, op, table.unpack(args))
  local okc, outc, idxc = call(t:contiguous(), op, table.unpack(args))
  checks.strided = checks.strided + 1
  if ok ~= okc then
    fail('strided', 'the view %s but its contiguous copy %s', ok and 'succeeded' or 'failed',
      okc and 'succeeded' or 'failed')
    return
  end
  if not ok then return end
  if type(out) == 'number' then out, outc = rnn.tensor(out, 'float64'), rnn.tensor(outc, 'float64') end
  local exact = op == 'max' or op == 'min' or op == 'argmax' or op == 'argmin'
  local why = differ(out, outc, exact and 0 or tol_of(t) * math.max(1, t:numel()))
  if why ~= '' then fail('strided', 'view and contiguous copy differ: %s', why) end
  if idx ~= nil and idxc ~= nil then
    why = differ(idx, idxc, 0)
    if why ~= '' then fail('strided', 'indices of view and contiguous copy differ: %s', why) end
  end
end

local function check_matmul()
  -- a from the pool when it has 1 or 2 dims, else fresh
  local e = pick_entry()
  local a = e.t
  if a:dim() < 1 or a:dim() > 2 then
    e = {t = new_tensor(random_shape(2), 'float64')}
    e.root, e.chain, a = e.t, {}, e.t
  end
  local k = a:size(-1)
  local bshape = R(3) == 1 and {k} or {k, R(0, 4)}
  local b = new_tensor(bshape, R(20) == 1 and 'float32' or a:dtype())
  if #bshape == 2 and R(2) == 1 then b = new_tensor({bshape[2], k}, b:dtype()):t() end
  if R(25) == 1 then b = new_tensor({k + 1, 2}, a:dtype()) end -- mismatched
  current = describe(e) .. ':matmul(' .. b:dtype() .. ' ' .. shape_str(b) .. (b:is_contiguous() and '' or ' strided')
    .. ')'
  local ok, out = call(rnn, 'matmul', a, b)
  local okc, outc = call(rnn, 'matmul', a:contiguous(), b:contiguous())
  checks.strided = checks.strided + 1
  if ok ~= okc then
    fail('strided', 'the views %s but the contiguous copies %s', ok and 'succeeded' or 'failed',
      okc and 'succeeded' or 'failed')
  elseif ok then
    local why = differ(out, outc, tol_of(a) * math.max(1, k))
    if why ~= '' then fail('strided', 'views and contiguous copies differ: %s', why) end
  end
end

---------------------------------------------------------------------------
-- autograd: the gradient through views equals the one through a copy

local GRAD_UNARY = {'tanh', 'sigmoid', 'exp', 'square', 'neg', 'sin', 'cos', 'abs'}

local function check_autograd()
  -- float64 roots only (gradients of float32 would need tolerances of their own)
  local candidates = {}
  for _, e in ipairs(pool) do
    if e.root:dtype() == 'float64' and e.root:numel() > 0 and not e.noreplay then candidates[#candidates + 1] = e end
  end
  if #candidates == 0 then return end
  local e = pick(candidates)
  if R(3) > 1 then
    for _, c in ipairs(candidates) do
      if not c.t:is_contiguous() then e = c; break end
    end
  end
  local op = pick(GRAD_UNARY)
  local w = rnn.randn(e.t:shape(), 'float64')
  local scale = R(-3, 3) + 0.5
  current = describe(e) .. ':' .. op .. ' backward'
  local function grad(contiguous)
    local x = e.root:detach():clone():requires_grad(true)
    local v = replay(x, e.chain)
    if contiguous then v = v:contiguous() end
    local y = v[op](v) * scale
    if y:dim() == 2 and R(2) == 1 then y = rnn.matmul(y, rnn.ones({y:size(2), 1}, 'float64')) end
    local loss = (y * (y:dim() == 2 and w:narrow(2, 1, y:size(2)) or w)):sum()
    loss:backward()
    return x.grad
  end
  -- the same random choices on both sides
  local state = R(1 << 30)
  math.randomseed(state)
  local ok1, g1 = pcall(grad, false)
  math.randomseed(state)
  local ok2, g2 = pcall(grad, true)
  checks.autograd = checks.autograd + 1
  if not ok1 or not ok2 then
    if not ok1 then clean_error(op, g1) end
    if not ok2 then clean_error(op, g2) end
    if ok1 ~= ok2 then
      fail('autograd', 'through the views %s, through the copy %s', ok1 and 'ran' or tostring(g1),
        ok2 and 'ran' or tostring(g2))
    end
    return
  end
  if g1 == nil or g2 == nil then
    if (g1 == nil) ~= (g2 == nil) then fail('autograd', 'a gradient on one side only') end
    return
  end
  local why = differ(g1, g2, 1e-12 * math.max(1, e.t:numel()))
  if why ~= '' then fail('autograd', 'gradients differ: %s', why) end
end

---------------------------------------------------------------------------
-- wrong arguments: errors must be clean

local METHODS = {'narrow', 'select', 'transpose', 'permute', 'view', 'reshape', 'expand', 'squeeze', 'unsqueeze',
  'sum', 'mean', 'prod', 'max', 'min', 'argmax', 'argmin', 'add', 'sub', 'mul', 'div', 'pow', 'clamp', 'matmul',
  'index_select', 'gather', 'softmax', 'log_softmax', 'get', 'set', 'fill_', 'copy_', 'to', 'size', 'stride',
  'flatten', 'add_', 'mul_', 'tanh_', 'maximum', 'eq', 'lt', 'contiguous', 'clone', 'item', 'totable', 'float',
  'double', 'long', 'detach', 'requires_grad'}

local function junk(t)
  return pick{0, -1, 1, 2, 100, -100, 1.5, 0 / 0, math.huge, -math.huge, math.maxinteger, math.mininteger, 'x', '1',
    {}, {1, 'a'}, {2, 2}, true, false, print, t, rnn.zeros({2}, 'int64'), rnn.ones{3}}
end

local function check_bad_call()
  local e = pick(pool)
  local t = e.t:clone()
  local m = pick(METHODS)
  local n = R(0, 3)
  local args = {n = n}
  for i = 1, n do args[i] = junk(t) end
  -- large counts would only allocate (expand to 2^62 elements is a view,
  -- but what reads it is not): no number above 100 as a size argument
  current = describe(e) .. ':' .. m .. ' with random arguments'
  local f = t[m]
  if type(f) ~= 'function' then return end
  local ok, err = pcall(f, t, table.unpack(args, 1, n))
  if not ok then clean_error(m, err) end
end

-- the module's functions (creation above all) with wrong arguments; sizes
-- up to 100 in at most 3 arguments, or math.maxinteger (refused), so
-- nothing allocates more than a few MB
local FUNCTIONS = {'zeros', 'ones', 'empty', 'full', 'arange', 'linspace', 'eye', 'rand', 'randn', 'randint',
  'randperm', 'tensor', 'cat', 'stack', 'matmul', 'zeros_like', 'ones_like', 'linear', 'tanh', 'add', 'sum'}

local function check_bad_function()
  local f = pick(FUNCTIONS)
  local t = pick(pool).t:clone()
  local n = R(0, 3)
  local args = {}
  for i = 1, n do
    args[i] = R(4) == 1 and {t, junk(t)} or junk(t)
    if args[i] == -100 and (f == 'arange' or f == 'linspace') then args[i] = -1 end
  end
  current = 'rnn.' .. f .. ' with random arguments'
  local ok, err = pcall(rnn[f], table.unpack(args, 1, n))
  if not ok then clean_error(f, err) end
end

---------------------------------------------------------------------------

for _ = 1, 8 do add(new_root()) end
local actions = {
  {new_root, 2}, {grow_view, 6}, {check_elementwise, 6}, {check_reduction, 3}, {check_matmul, 2},
  {check_autograd, 2}, {check_bad_call, 3}, {check_bad_function, 2},
}
local weights = 0
for _, a in ipairs(actions) do weights = weights + a[2] end
for i = 1, CALLS do
  call_no = i
  local r = R(weights)
  for _, a in ipairs(actions) do
    r = r - a[2]
    if r <= 0 then
      if a[1] == new_root then add(new_root()) else a[1]() end
      break
    end
  end
end

local passed, failed = 0, 0
for _, kind in ipairs{'strided', 'inplace', 'autograd', 'errors'} do
  local list = failures[kind]
  if #list == 0 then
    print(string.format('ok - api-fuzz %s: %d checks in %d calls (seed %d)', kind, checks[kind], CALLS, SEED))
    passed = passed + 1
  else
    print(string.format('not ok - api-fuzz %s: %d of %d checks failed (seed %d; rerun: rnnlua tests/api_fuzz.lua %d %d)',
      kind, #list, checks[kind], SEED, CALLS, SEED))
    for j = 1, math.min(#list, 10) do print('#   ' .. list[j]) end
    failed = failed + 1
  end
end
print(string.format('# %d rnn calls succeeded and %d raised an error', calls_ok, calls_failed))
print(string.format('api-fuzz: %d passed, %d failed', passed, failed))
os.exit(failed == 0 and 0 or 1)
