-- RNNLUA_ISA (core/isa.c): rnn.isa() reports the level that the variable
-- forced, bad values stop the module from loading with a message, and the
-- kernels give the same results at every level this CPU has: the
-- vectorised sigmoid, tanh and Adam loops to the bit (the same operations
-- in wider lanes), the recurrent layers within a tolerance (the per-step
-- and whole-sequence products run in rnnlua's own AVX-512 kernel at avx512
-- and in BLAS below it: another summation order). tests/run.sh runs the
-- kernel tests and the PyTorch fixtures under each level as well.
local rnn = require 'rnn'

local LEVELS = {generic = 0, avx2 = 1, avx512 = 2}

-- the interpreter running the specs (./rnnlua or the sanitizer build)
local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or './rnnlua'
end

-- runs code (a string, with rnn in scope) under the interpreter (rnnlua,
-- or plain lua5.4 under busted --lua) with RNNLUA_ISA=isa (nil: unset);
-- returns stdout and stderr together, and whether it exited 0
local function run(isa, code)
  local env = isa and ('RNNLUA_ISA=' .. isa .. ' ') or 'env -u RNNLUA_ISA '
  code = 'local rnn = require "rnn" ' .. code
  local p = assert(io.popen(env .. interpreter() .. " -e '" .. code .. "' 2>&1"))
  local out = p:read('a')
  local ok = p:close()
  return out, ok
end

local in_use, cpu = rnn.isa()

describe('rnn.isa', function()
  it('names the level in use and the CPU level, in use at most the CPU level', function()
    assert.is_not_nil(LEVELS[in_use])
    assert.is_not_nil(LEVELS[cpu])
    assert.is_true(LEVELS[in_use] <= LEVELS[cpu])
  end)

  it('is the level RNNLUA_ISA forced, else the CPU level', function()
    local v = os.getenv('RNNLUA_ISA')
    if v and v ~= '' then assert.are.equal(v, in_use) else assert.are.equal(cpu, in_use) end
  end)

  it('follows RNNLUA_ISA in a new process, for every level the CPU has', function()
    for name, l in pairs(LEVELS) do
      if l <= LEVELS[cpu] then
        local out, ok = run(name, 'io.write((rnn.isa()))')
        assert.is_true(ok, out)
        assert.are.equal(name, out)
      end
    end
    local out = run(nil, 'io.write((rnn.isa()))')
    assert.are.equal(cpu, out)
  end)

  it('refuses an unknown value when the module loads, naming the variable, the value and the allowed ones', function()
    for _, bad in ipairs({'sse9', 'AVX2', 'avx512f'}) do
      local out, ok = run(bad, 'print(1)')
      assert.is_falsy(ok)
      assert.is_truthy(out:find('RNNLUA_ISA=' .. bad, 1, true), out)
      assert.is_truthy(out:find('unknown value (allowed: generic, avx2, avx512; this CPU has ' .. cpu .. ')', 1,
        true), out)
    end
  end)

  it('refuses a level the CPU lacks (no illegal instruction)', function()
    if cpu == 'avx512' then
      -- nothing to ask for here; tests/c/test_isa.c checks the refusal with
      -- a lower CPU level given
      return
    end
    local out, ok = run('avx512', 'print(1)')
    assert.is_falsy(ok)
    assert.is_truthy(out:find('RNNLUA_ISA=avx512: this CPU has only ' .. cpu, 1, true), out)
  end)
end)

-- What each level computes: sigmoid and tanh (float32 and float64, 4099
-- values: the vector loops' tails too), three Adam steps, and an LSTM and
-- a GRU forward and backward (batch 16: the products go to rnnlua's own
-- kernel at avx512), on one thread. Each value printed as a hex float.
local PROBE = [[
rnn.set_num_threads(1)
local function put(name, t)
  local v = t:contiguous():view(-1):totable()
  local s = {}
  for i = 1, #v do s[i] = string.format("%a", v[i]) end
  print(name .. " " .. table.concat(s, " "))
end
for _, dt in ipairs({"float32", "float64"}) do
  rnn.manual_seed(15)
  local x = rnn.randn({4099}, dt) * 8
  put("sigmoid_" .. dt, x:sigmoid())
  put("tanh_" .. dt, x:tanh())
  local w = rnn.randn({4099}, dt):requires_grad(true)
  local opt = rnn.optim.Adam({w}, {lr = 0.01, weight_decay = 0.1})
  for _ = 1, 3 do
    opt:zero_grad()
    local loss = (w * w):sum()
    loss:backward()
    opt:step()
  end
  put("adam_" .. dt, w)
  for _, cls in ipairs({"LSTM", "GRU"}) do
    local m = rnn.nn[cls]{input_size = 24, hidden_size = 40, dtype = dt}
    local xs = rnn.randn({6, 16, 24}, dt):requires_grad(true)
    local out = m(xs)
    local loss = (out * out):sum()
    loss:backward()
    put(cls .. "_out_" .. dt, out)
    put(cls .. "_dx_" .. dt, xs.grad)
    put(cls .. "_dwhh_" .. dt, m.weight_hh_l0.grad)
  end
end
]]

local function probe(isa)
  local out, ok = run(isa, PROBE)
  assert(ok, out)
  local r = {}
  for name, values in out:gmatch('(%S+) ([^\n]*)\n') do r[name] = values end
  return r
end

-- relative tolerance between the products of rnnlua's kernel and BLAS
local TOL = {float32 = 1e-5, float64 = 1e-13} -- measured here: 2.1e-7, 3.5e-16

describe('the kernels at every level', function()
  it('give the same bits for sigmoid, tanh and Adam, and the recurrent layers within a tolerance', function()
    local ref = probe('generic')
    local n = 0
    for _ in pairs(ref) do n = n + 1 end
    assert.are.equal(18, n) -- 2 dtypes x (sigmoid, tanh, adam, 2 layers x 3)
    for name, l in pairs(LEVELS) do
      if l > 0 and l <= LEVELS[cpu] then
        local got = probe(name)
        for key, values in pairs(ref) do
          local what = name .. ' ' .. key
          if key:match('^sigmoid') or key:match('^tanh') or key:match('^adam') then
            assert(got[key] == values, what .. ': not the same bits as generic')
          else
            local tol = TOL[key:match('float%d+$')]
            local a, b = {}, {}
            for v in values:gmatch('%S+') do a[#a + 1] = tonumber(v) end
            for v in got[key]:gmatch('%S+') do b[#b + 1] = tonumber(v) end
            assert.are.equal(#a, #b)
            local scale = 0
            for i = 1, #a do scale = math.max(scale, math.abs(a[i])) end
            for i = 1, #a do
              assert(math.abs(a[i] - b[i]) <= tol * math.max(1, scale),
                string.format('%s[%d]: %.17g, generic %.17g', what, i, b[i], a[i]))
            end
          end
        end
      end
    end
  end)
end)
