-- rnn.set_detect_anomaly (PyTorch's anomaly mode): forward ops and backward
-- nodes raise at the first NaN or infinity they make, naming themselves.
local rnn = require 'rnn'

local function raises(f, ...)
  local ok, err = pcall(f)
  assert.is_false(ok, 'should raise')
  err = tostring(err)
  for _, part in ipairs{...} do assert.truthy(err:find(part, 1, true), err) end
  return err
end

describe('anomaly detection', function()
  after_each(function() rnn.set_detect_anomaly(false) end)

  it('is off by default, and then NaN and infinities pass silently', function()
    assert.is_false(rnn.is_anomaly_enabled())
    assert.are.equal(-math.huge, rnn.log(rnn.zeros(2)):totable()[1])
    rnn.set_detect_anomaly(true)
    assert.is_true(rnn.is_anomaly_enabled())
    rnn.set_detect_anomaly(false)
    assert.is_false(rnn.is_anomaly_enabled())
    raises(function() rnn.set_detect_anomaly(1) end, 'set_detect_anomaly', 'boolean')
  end)

  it('forward raises at the first op that makes a non-finite value, naming it', function()
    rnn.set_detect_anomaly(true)
    local x = rnn.tensor{1, 4, -1}
    local reached = false
    raises(function()
      local y = x:sqrt() -- NaN here
      reached = true
      return y:exp()
    end, 'rnn.sqrt:', 'nan', 'anomaly')
    assert.is_false(reached)
    raises(function() return rnn.log(rnn.zeros(2)) end, 'rnn.log:', '-inf')
    raises(function() return rnn.tensor{1, 2} / rnn.zeros(2) end, 'rnn.div:', 'inf')
    raises(function() return rnn.tensor{1, 0 / 0} end, 'rnn.tensor:', 'nan')
    -- finite results go through
    assert.are.same({1, 2}, x:narrow(1, 1, 2):sqrt():totable())
  end)

  it('forward raises when an in-place op writes a non-finite value', function()
    local t = rnn.tensor{1, 0}
    rnn.set_detect_anomaly(true)
    raises(function() t:log_() end, 'rnn.log_:', 'wrote', '-inf')
  end)

  it('backward raises at the node whose gradient is not finite, named as PyTorch does', function()
    local x = rnn.tensor({0, 1}, 'float64'):requires_grad(true)
    local loss = (x:sqrt() * 2):sum() -- finite forward; d sqrt(x)/dx at 0 is inf
    rnn.set_detect_anomaly(true)
    raises(function() loss:backward() end, "Function 'SqrtBackward' returned inf values in its 0th output", "'sqrt'")
    -- without anomaly mode the same backward goes through and leaves inf in the gradient
    rnn.set_detect_anomaly(false)
    local x2 = rnn.tensor({0, 1}, 'float64'):requires_grad(true)
    ;(x2:sqrt() * 2):sum():backward()
    assert.are.equal(math.huge, x2.grad:totable()[1])
  end)

  it('covers the fused RNN, LSTM and GRU kernels and cells, forward and backward, naming the kernel', function()
    -- forward: an infinite state (made before the mode is on: the kernel is
    -- blamed, not the view of it that the module takes)
    local inf3 = rnn.full({1, 1, 3}, math.huge)
    local kernels = {
      {'lstm', rnn.nn.LSTM{input_size = 2, hidden_size = 3}, {rnn.zeros(1, 1, 3), inf3}, 'inf'},
      {'gru', rnn.nn.GRU{input_size = 2, hidden_size = 3}, inf3, 'nan'},
      {'rnn_relu', rnn.nn.RNN{input_size = 2, hidden_size = 3, nonlinearity = 'relu'}, inf3, 'nan'},
      {'lstm_cell', rnn.nn.LSTMCell{input_size = 2, hidden_size = 3}, {rnn.zeros(1, 3), rnn.full({1, 3}, math.huge)},
       'inf', rnn.ones(1, 2)},
    }
    for _, k in ipairs(kernels) do
      local x = k[5] or rnn.ones(1, 1, 2)
      raises(function() rnn.detect_anomaly(function() return k[2]:forward(x, k[3]) end) end,
        'rnn.' .. k[1] .. ':', k[4], 'anomaly')
      -- and without the mode, the same call goes through
      k[2]:forward(x, k[3])
    end
    -- backward: a finite forward, an infinite gradient into the kernel's node
    for _, kind in ipairs{'LSTM', 'GRU', 'RNN'} do
      local m = rnn.nn[kind]{input_size = 2, hidden_size = 3}
      local y = m:forward(rnn.ones(4, 1, 2))
      local g = rnn.full(y:shape(), math.huge)
      local node = ({LSTM = 'LstmBackward', GRU = 'GruBackward', RNN = 'RnnTanhBackward'})[kind]
      raises(function() rnn.detect_anomaly(function() y:backward(g) end) end, "Function '" .. node .. "' returned")
    end
  end)

  it('detect_anomaly(fn) turns it on for fn only, returns its results and passes errors on', function()
    local a, b = rnn.detect_anomaly(function(u, v)
      assert.is_true(rnn.is_anomaly_enabled())
      return u + 1, v
    end, 1, 'two')
    assert.are.equal(2, a)
    assert.are.equal('two', b)
    assert.is_false(rnn.is_anomaly_enabled())
    raises(function() rnn.detect_anomaly(function() return rnn.log(rnn.zeros(1)) end) end, 'rnn.log:', '-inf')
    assert.is_false(rnn.is_anomaly_enabled())
    rnn.set_detect_anomaly(true)
    rnn.detect_anomaly(function() end)
    assert.is_true(rnn.is_anomaly_enabled())
    raises(function() rnn.detect_anomaly(42) end, 'detect_anomaly', 'function')
  end)

  it('does not blame an op for tensors made before it was turned on', function()
    local bad = rnn.log(rnn.zeros(2))
    rnn.set_detect_anomaly(true)
    assert.are.equal(2, bad:numel())
    assert.are.same({0, 0}, rnn.zeros(2):totable())
  end)
end)
