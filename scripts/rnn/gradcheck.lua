--- @module rnn

-- rnn.gradcheck: the tape's gradients against central finite differences.
local core = require 'rnn.core'
local options = require 'rnn.options'

local DEFAULTS = {eps = 1e-6, atol = 1e-6, rtol = 1e-4, raise = true, seed = 0}

-- the position of flat element j (0-based) of a shape, as 1-based indices
local function unflatten(shape, j)
  local idx = {}
  for d = #shape, 1, -1 do
    idx[d] = j % shape[d] + 1
    j = j // shape[d]
  end
  return idx
end

-- the floating-point tensors among fn's results (integer ones, such as the
-- indices that max(dim) returns beside its values, have no gradient)
local function as_list(...)
  local n = select('#', ...)
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    if core.is_tensor(v) and v:dtype() ~= 'int64' then out[#out + 1] = v end
  end
  return out
end

--- Compares the tape's gradients with central finite differences. Calls
-- fn(table.unpack(inputs)), which returns one or more tensors, and compares
-- the gradient of a fixed random projection sum_k <out_k, r_k> with respect
-- to each input, from backward and from central differences (x ± eps).
-- The inputs' requires_grad is set and their grad cleared. fn is re-run
-- with the random generator reset to its state at the call, so dropout and
-- the like draw the same masks every time; the state is restored after.
-- An element passes when |analytic - numeric| <= atol + rtol·|numeric|.
-- @function gradcheck
-- @tparam function fn the function of the inputs to check
-- @tparam {Tensor,...} inputs float64 leaf tensors
-- @tparam[opt] table opts options
-- @option eps (1e-6) the finite-difference step
-- @option atol (1e-6) absolute tolerance
-- @option rtol (1e-4) relative tolerance
-- @option raise (true) raise an error on a mismatch instead of returning false
-- @option seed (0) the seed of the random projection
-- @treturn boolean ok: every element passed
-- @treturn table report: max_abs_err, max_rel_err and where the worst
-- element is: input (its position in inputs), index (a table of 1-based
-- indices), analytic, numeric
-- @raise on a mismatch (unless raise = false); when an input is not a
-- float64 leaf tensor
-- @usage local ok = rnn.gradcheck(function(a, b) return rnn.matmul(a, b):tanh() end,
--                            {rnn.randn({3, 4}, 'float64'), rnn.randn({4, 2}, 'float64')})
local function gradcheck(fn, inputs, opts)
  if type(fn) ~= 'function' then
    error('rnn.gradcheck: argument 1 (fn) must be a function, got ' .. type(fn), 2)
  end
  if type(inputs) ~= 'table' or core.is_tensor(inputs) then
    error('rnn.gradcheck: argument 2 (inputs) must be a table of tensors, got ' .. type(inputs), 2)
  end
  local o = options.resolve('rnn.gradcheck', opts, DEFAULTS)
  for i, x in ipairs(inputs) do
    if not core.is_tensor(x) then
      error(string.format('rnn.gradcheck: input %d is a %s, not a tensor', i, type(x)), 2)
    end
    if x:dtype() ~= 'float64' then
      error(string.format('rnn.gradcheck: input %d is %s; finite differences need float64 inputs', i, x:dtype()), 2)
    end
    if not x:is_leaf() then
      error(string.format('rnn.gradcheck: input %d is the result of %s, not a leaf; pass a detached copy',
        i, x:grad_fn()), 2)
    end
  end

  local user_state = core.get_rng_state()
  local projections

  -- the scalar whose gradient is checked
  local function objective()
    core.set_rng_state(user_state)
    local outs = as_list(fn(table.unpack(inputs)))
    if #outs == 0 then error('rnn.gradcheck: fn returned no floating-point tensor', 3) end
    if not projections then
      local saved = core.get_rng_state()
      core.manual_seed(o.seed)
      projections = {}
      for k, y in ipairs(outs) do projections[k] = core.randn(y:shape(), y:dtype()) end
      core.set_rng_state(saved)
    end
    local total
    for k, y in ipairs(outs) do
      local term = (y * projections[k]):sum()
      total = total and total + term or term
    end
    return total
  end

  for _, x in ipairs(inputs) do
    x:requires_grad(true)
    x.grad = nil
  end
  local ok, err = pcall(function() objective():backward() end)
  if not ok then
    core.set_rng_state(user_state)
    error(err, 0)
  end
  local analytic = {}
  for i, x in ipairs(inputs) do
    analytic[i] = x.grad or core.zeros(x:shape(), 'float64')
  end

  local worst = {abs = 0, rel = 0}
  local passed = true
  core.no_grad(function()
    for i, x in ipairs(inputs) do
      local shape = x:shape()
      for j = 0, x:numel() - 1 do
        local idx = unflatten(shape, j)
        local v = x[idx]
        x[idx] = v + o.eps
        local fp = objective():item()
        x[idx] = v - o.eps
        local fm = objective():item()
        x[idx] = v
        local numeric = (fp - fm) / (2 * o.eps)
        local a = analytic[i][idx]
        local abs = math.abs(a - numeric)
        local rel = abs / math.max(math.abs(numeric), 1e-300)
        -- written so that NaN (a NaN or infinite gradient on either side) fails
        if not (abs <= o.atol + o.rtol * math.abs(numeric)) then passed = false end
        -- the worst element: the first NaN error, else the largest
        if worst.abs == worst.abs and (abs ~= abs or abs > worst.abs) then
          worst = {abs = abs, rel = rel, input = i, index = idx, analytic = a, numeric = numeric}
        end
      end
    end
  end)
  core.set_rng_state(user_state)

  local report = {max_abs_err = worst.abs, max_rel_err = worst.rel, input = worst.input, index = worst.index,
                  analytic = worst.analytic, numeric = worst.numeric}
  if not passed and o.raise then
    error(string.format('rnn.gradcheck: gradient mismatch for input %d at [%s]: analytic %.10g, numeric %.10g '
      .. '(abs err %.3g, rel err %.3g; atol %g, rtol %g)', worst.input, table.concat(worst.index, ','),
      worst.analytic, worst.numeric, worst.abs, worst.rel, o.atol, o.rtol), 2)
  end
  return passed, report
end

return gradcheck
