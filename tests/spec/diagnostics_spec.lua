-- Gradient diagnostics and per-step clipping: rnn.clip_grad, the layers'
-- bptt_clip and track_grad_norms, and the vanishing/exploding phenomena
-- they exist to show (Pascanu, Mikolov and Bengio 2013) on T = 100.
local rnn = require 'rnn'

local D = 'float64'

local function max_abs(a, b) return (a - b):abs():max():item() end

-- an orthogonal (n, n) matrix: a product of three Householder reflections
local function orthogonal(n)
  local q = rnn.eye(n, D)
  for _ = 1, 3 do
    local v = rnn.randn({n, 1}, D)
    local r = rnn.eye(n, D) - rnn.matmul(v, v:t()) * (2 / (v * v):sum():item())
    q = rnn.matmul(q, r)
  end
  return q
end

describe('rnn.clip_grad', function()
  it('is the identity forward', function()
    local x = rnn.randn({3, 4}, D)
    assert.are.same(x:totable(), rnn.clip_grad(x, 0.1):totable())
  end)

  it('clips the gradient elementwise to [-c, c]', function()
    local x = rnn.zeros({3}, D):requires_grad(true)
    local y = rnn.clip_grad(x, 0.5)
    ;(y * rnn.tensor({2, -0.25, -7}, D)):sum():backward()
    assert.are.same({0.5, -0.25, -0.5}, x.grad:totable())
  end)

  it('rescales each row along the last dim to norm c when longer', function()
    local x = rnn.zeros({2, 2}, D):requires_grad(true)
    local y = rnn.clip_grad(x, 1, 'norm')
    ;(y * rnn.tensor({{3, 4}, {0.3, 0.4}}, D)):sum():backward()
    local g = x.grad:totable()
    assert.is_true(math.abs(g[1][1] - 0.6) < 1e-15 and math.abs(g[1][2] - 0.8) < 1e-15)
    assert.are.same({0.3, 0.4}, g[2])
  end)

  it('rejects a bad threshold or mode', function()
    assert.has_error(function() rnn.clip_grad(rnn.zeros(2), 0) end)
    local ok, err = pcall(rnn.clip_grad, rnn.zeros(2), 1, 'max')
    assert.is_false(ok)
    assert.truthy(err:find("'value' or 'norm'", 1, true))
  end)
end)

describe('bptt_clip on the recurrent layers', function()
  for _, cls in ipairs{'RNN', 'LSTM', 'GRU'} do
    for _, mode in ipairs{'value', 'norm'} do
      it(cls .. ', by ' .. mode .. ': the fused kernel clips as the loop on the tape does, and it bites', function()
        rnn.manual_seed(7)
        local m = rnn.nn[cls]{input_size = 3, hidden_size = 4, num_layers = 2, bidirectional = true, dtype = D,
                              bptt_clip = 0.05, bptt_clip_mode = mode}
        local x = rnn.randn({6, 2, 3}, D)
        local G = rnn.randn({6, 2, 8}, D)
        local function grads(fused, clip)
          m.fused, m.bptt_clip = fused, clip
          m:zero_grad()
          local out = m(x, {lengths = {6, 4}})
          ;(out * G):sum():backward()
          local g = {}
          for _, p in ipairs(m:parameters()) do g[#g + 1] = p.grad:clone() end
          return g
        end
        local fused, loop, unclipped = grads(true, 0.05), grads(false, 0.05), grads(true, nil)
        local differs = 0
        for i = 1, #fused do
          assert.is_true(max_abs(fused[i], loop[i]) < 1e-12)
          differs = math.max(differs, max_abs(fused[i], unclipped[i]))
        end
        assert.is_true(differs > 1e-3)
      end)
    end
  end

  it('rejects a bad threshold or mode', function()
    assert.has_error(function() rnn.nn.LSTM{input_size = 2, hidden_size = 2, bptt_clip = -1} end)
    assert.has_error(function() rnn.nn.LSTM{input_size = 2, hidden_size = 2, bptt_clip = 1, bptt_clip_mode = 'x'} end)
  end)
end)

describe('track_grad_norms', function()
  -- the same layer unrolled by hand with its cell and retain_grad on each h_t
  local function loop_norms(cls, layer, x, G)
    local cell = rnn.nn[cls .. 'Cell']{input_size = x:size(3), hidden_size = layer.hidden_size, dtype = D}
    rnn.no_grad(function()
      for _, n in ipairs{'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'} do
        cell[n]:copy_(layer[n .. '_l0'])
      end
    end)
    local B, H = x:size(2), layer.hidden_size
    local h, c = rnn.zeros({B, H}, D), rnn.zeros({B, H}, D)
    local hs, loss = {}, nil
    for t = 1, x:size(1) do
      if cls == 'LSTM' then h, c = cell(x[t], {h, c}) else h = cell(x[t], h) end
      h:retain_grad()
      hs[t] = h
      local term = (h * G[t]):sum()
      loss = loss and loss + term or term
    end
    loss:backward()
    local norms = {}
    for t = 1, #hs do norms[t] = hs[t].grad:square():sum():sqrt():item() end
    return norms
  end

  for _, cls in ipairs{'RNN', 'LSTM', 'GRU'} do
    it(cls .. ': the fused kernel reports the norms of dL/dh_t that retain_grad gives in a cell loop', function()
      rnn.manual_seed(11)
      local layer = rnn.nn[cls]{input_size = 3, hidden_size = 5, dtype = D}:track_grad_norms(true)
      local x, G = rnn.randn({8, 2, 3}, D), rnn.randn({8, 2, 5}, D)
      local out = layer(x)
      ;(out * G):sum():backward()
      local fused = layer.grad_norms[1]:totable()
      local want = loop_norms(cls, layer, x, G)
      for t = 1, 8 do assert.is_true(math.abs(fused[t] - want[t]) <= 1e-12 * math.max(1, want[t])) end
    end)
  end

  it('gives one tensor per layer and direction', function()
    local layer = rnn.nn.GRU{input_size = 2, hidden_size = 3, num_layers = 2, bidirectional = true}
    layer:track_grad_norms(true)
    local out = layer(rnn.randn{4, 1, 2})
    out:sum():backward()
    assert.are.equal(4, #layer.grad_norms)
    for k = 1, 4 do assert.are.same({4}, layer.grad_norms[k]:shape()) end
    layer:track_grad_norms(false)
    assert.is_nil(layer.grad_norms)
  end)
end)

describe('vanishing and exploding gradients over T = 100 (properties of the mathematics)', function()
  local T, H = 100, 16

  it('a linear RNN with orthogonal W_hh keeps ||dL/dh_t|| the same at every t (to 1e-6)', function()
    rnn.manual_seed(1)
    local W, U = orthogonal(H), rnn.randn({H, 4}, D) * 0.1
    local h = rnn.zeros({1, H}, D):requires_grad(true) -- so that every h_t is on the tape
    local hs = {}
    for t = 1, T do
      h = rnn.matmul(h, W:t()) + rnn.matmul(rnn.randn({1, 4}, D), U:t())
      h:retain_grad()
      hs[t] = h
    end
    ;(h * rnn.randn({1, H}, D)):sum():backward()
    local last = hs[T].grad:square():sum():sqrt():item()
    for t = 1, T do
      local r = hs[t].grad:square():sum():sqrt():item() / last
      assert.is_true(math.abs(r - 1) < 1e-6, string.format('t = %d: ratio %.9f', t, r))
    end
  end)

  local function ratio(W_hh, x_scale)
    local layer = rnn.nn.RNN{input_size = 4, hidden_size = H, dtype = D}:track_grad_norms(true)
    rnn.no_grad(function()
      layer.weight_hh_l0:copy_(W_hh)
      layer.weight_ih_l0:copy_(rnn.randn({H, 4}, D) * 0.01)
      layer.bias_ih_l0:zero_()
      layer.bias_hh_l0:zero_()
    end)
    local out = layer(rnn.randn({T, 1, 4}, D) * x_scale)
    ;(out[T] * rnn.randn({1, H}, D)):sum():backward() -- the loss sees only the last step
    local n = layer.grad_norms[1]
    return n[1] / n[T]
  end

  it('tanh with N(0, 0.01^2) weights: ||dL/dh_1|| / ||dL/dh_T|| below 1e-6', function()
    rnn.manual_seed(2)
    local r = ratio(rnn.randn({H, H}, D) * 0.01, 1)
    print(string.format('\nvanishing ratio %.3g', r))
    assert.is_true(r < 1e-6, 'ratio ' .. r)
  end)

  it('tanh with 1.5 x orthogonal W_hh, units out of saturation: the ratio grows past 10', function()
    rnn.manual_seed(3)
    local r = ratio(orthogonal(H) * 1.5, 1e-20)
    print(string.format('\nexploding ratio %.3g', r))
    assert.is_true(r > 10, 'ratio ' .. r)
  end)
end)
