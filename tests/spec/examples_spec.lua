-- The example scripts the README shows must run and print what it says.
local rnn = require 'rnn'

-- the interpreter running the specs (./rnnlua or the sanitizer build)
local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or './rnnlua'
end

local function run(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok, code
end

describe('experiments/clip_demo.lua', function()
  it('trains one LSTM under three clipping policies and prints the stats of every step', function()
    local out, ok = run(interpreter() .. ' experiments/clip_demo.lua 2')
    assert.is_true(ok, out)
    for _, name in ipairs{'none', 'norm%(0.5%)', 'adaptive p10'} do assert.truthy(out:find('-- ' .. name), out) end
    local steps = 0
    for line in out:gmatch('step +%d+ +loss [%d.]+ +grad norm [%d.]+ +clipped %a+') do steps = steps + 1 end
    assert.are.equal(6, steps, out)
    assert.truthy(out:find('clipped true   scale 0%.%d+'), out)
  end)
end)

describe('experiments/tensor_tour.lua', function()
  it('runs', function()
    local out, ok = run(interpreter() .. ' experiments/tensor_tour.lua')
    assert.is_true(ok, out)
    assert.truthy(out:find('GFLOP/s', 1, true), out)
  end)
end)
assert(rnn)
