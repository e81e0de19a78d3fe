-- The cells' fused step (rnn.core._cell, core/rnn.c rl_rnn_cell) against the
-- same step recorded op by op (cell.fused = false): outputs and every
-- gradient over loops long enough that the weight gradients go through the
-- panels of core/lowrank.c, batches past the panels (added at once), the
-- packed weights kept between calls (core/rnn_workspace.c) after in-place
-- writes to the weights, and x[t] loops whose input gradient is added into
-- one buffer slot by slot (core/grad_shape.c).
local rnn = require 'rnn'
local nn = rnn.nn

if not rnn.core._cell then
  describe('fused cells', function() it('are not in this core', function() end) end)
  return
end

local function maxdiff(a, b) return (a - b):abs():max():item() end
local function close(a, b, tol, what)
  assert.same(a:shape(), b:shape())
  local d = maxdiff(a, b)
  assert(d <= tol, string.format('%s: max difference %.3g > %.3g', what or '', d, tol))
end

-- relative tolerance of the two paths (different summation orders)
local TOL = {float32 = 2e-5, float64 = 1e-12}

local CLASSES = {
  {name = 'RNNCell', cls = nn.RNNCell},
  {name = 'RNNCell relu', cls = nn.RNNCell, opts = {nonlinearity = 'relu'}},
  {name = 'LSTMCell', cls = nn.LSTMCell, lstm = true},
  {name = 'GRUCell', cls = nn.GRUCell},
}

local function make(spec, I, H, dtype, bias)
  local o = {input_size = I, hidden_size = H, dtype = dtype, bias = bias}
  for k, v in pairs(spec.opts or {}) do o[k] = v end
  return spec.cls(o)
end

-- runs T steps of cell over x (T,B,I) from the zero state, loss = sum of
-- every h_t times G (and c_T times Gc for an LSTM); returns the hs and the
-- gradients of x, h0 and each parameter
local function run(cell, spec, x, G, Gc, fused)
  cell.fused = fused
  local T, B, H = x:size(1), x:size(2), cell.hidden_size
  local h0 = rnn.zeros({B, H}, x:dtype()):requires_grad(true)
  local c0 = spec.lstm and rnn.zeros({B, H}, x:dtype()):requires_grad(true) or nil
  local h, c = h0, c0
  local loss
  local hs = {}
  for t = 1, T do
    if spec.lstm then h, c = cell(x[t], {h = h, c = c}) else h = cell(x[t], h) end
    hs[t] = h
    local term = (h * G[t]):sum()
    loss = loss and loss + term or term
  end
  if spec.lstm then loss = loss + (c * Gc):sum() end
  loss:backward()
  local grads = {x = x.grad, h0 = h0.grad, c0 = c0 and c0.grad or nil}
  for _, np in ipairs(cell:named_parameters()) do grads[np[1]] = np[2].grad end
  x.grad = nil
  cell:zero_grad()
  return hs, grads
end

describe('fused cells (rnn.core._cell)', function()
  it('equal the op-by-op step over loops, in outputs and every gradient', function()
    rnn.manual_seed(11)
    -- B = 3 over 60 steps: 180 rows, past the 128-row panels; B = 150: at once
    for _, shape in ipairs{{T = 60, B = 3, I = 5, H = 7}, {T = 3, B = 150, I = 4, H = 6}} do
      for _, dtype in ipairs{'float32', 'float64'} do
        for _, spec in ipairs(CLASSES) do
          for _, bias in ipairs{true, false} do
            local cell = make(spec, shape.I, shape.H, dtype, bias)
            local x = rnn.randn({shape.T, shape.B, shape.I}, dtype):requires_grad(true)
            local G = rnn.randn({shape.T, shape.B, shape.H}, dtype)
            local Gc = rnn.randn({shape.B, shape.H}, dtype)
            local hs1, g1 = run(cell, spec, x, G, Gc, true)
            local hs2, g2 = run(cell, spec, x, G, Gc, false)
            local what = string.format('%s %s bias=%s B=%d', spec.name, dtype, bias, shape.B)
            for t = 1, shape.T do close(hs1[t], hs2[t], TOL[dtype], what .. ' h' .. t) end
            for name, g in pairs(g2) do
              assert(g1[name], what .. ': no gradient of ' .. name .. ' from the fused step')
              local scale = math.max(1, g:abs():max():item())
              close(g1[name], g, TOL[dtype] * scale, what .. ' grad ' .. name)
            end
          end
        end
      end
    end
  end)

  it('take one sample without a batch dimension', function()
    for _, spec in ipairs(CLASSES) do
      local cell = make(spec, 3, 4, 'float64', true)
      local x = rnn.randn({3}, 'float64')
      cell.fused = true
      local a = {cell(x)}
      cell.fused = false
      local b = {cell(x)}
      for i = 1, #b do close(a[i], b[i], 1e-12, spec.name) end
      assert.same({4}, a[1]:shape())
    end
  end)

  it('see in-place writes to their weights (packed copies are not reused stale)', function()
    rnn.manual_seed(12)
    for _, dtype in ipairs{'float32', 'float64'} do
      local cell = nn.LSTMCell{input_size = 5, hidden_size = 40, dtype = dtype}
      local x = rnn.randn({8, 5}, dtype)
      local state = {h = rnn.randn({8, 40}, dtype), c = rnn.randn({8, 40}, dtype)}
      local function both()
        cell.fused = true
        local h1, c1 = cell(x, state)
        cell.fused = false
        local h2, c2 = cell(x, state)
        close(h1, h2, TOL[dtype], dtype .. ' h')
        close(c1, c2, TOL[dtype], dtype .. ' c')
        return h1
      end
      local before = both()
      local writes = {
        function() rnn.no_grad(function() cell.weight_hh:copy_(rnn.randn(cell.weight_hh:shape(), dtype)) end) end,
        function() rnn.no_grad(function() cell.weight_ih:narrow(1, 1, 3):fill_(0.5) end) end,
        function() rnn.no_grad(function() cell.weight_hh:mul_(0.5) end) end,
        function()
          local opt = rnn.optim.SGD(cell:parameters(), {lr = 0.5})
          local h = cell(x, state)
          h:sum():backward()
          opt:step()
          opt:zero_grad()
        end,
      }
      for i, write in ipairs(writes) do
        write()
        local after = both()
        assert(maxdiff(before, after) > 1e-3, dtype .. ': write ' .. i .. ' did not change the output')
        before = after
      end
    end
  end)

  it('unroll over x[t] to the layer\'s output and gradients', function()
    rnn.manual_seed(13)
    for _, dtype in ipairs{'float32', 'float64'} do
      local lstm = nn.LSTM{input_size = 3, hidden_size = 5, dtype = dtype}
      local cell = nn.LSTMCell{input_size = 3, hidden_size = 5, dtype = dtype}
      cell:load_state_dict({weight_ih = lstm.weight_ih_l0, weight_hh = lstm.weight_hh_l0,
                            bias_ih = lstm.bias_ih_l0, bias_hh = lstm.bias_hh_l0})
      local x = rnn.randn({30, 4, 3}, dtype):requires_grad(true)
      local G = rnn.randn({30, 4, 5}, dtype)
      local out = lstm(x)
      ;((out * G):sum() + x:sum()):backward()
      local gx = x.grad
      x.grad = nil
      local h, c
      local loss
      for t = 1, 30 do
        h, c = cell(x[t], {h = h, c = c})
        local term = (h * G[t]):sum() + x[t]:sum() -- x[t] twice: two gradients into its slot
        loss = loss and loss + term or term
      end
      loss:backward()
      local tol = TOL[dtype] * 10
      close(x.grad, gx, tol, dtype .. ' x.grad')
      close(cell.weight_hh.grad, lstm.weight_hh_l0.grad, tol, dtype .. ' weight_hh')
      close(cell.weight_ih.grad, lstm.weight_ih_l0.grad, tol, dtype .. ' weight_ih')
      close(cell.bias_hh.grad, lstm.bias_hh_l0.grad, tol, dtype .. ' bias_hh')
    end
  end)

  it('a layer applied twice in one graph adds both weight gradients', function()
    rnn.manual_seed(14)
    local gru = nn.GRU{input_size = 3, hidden_size = 4, dtype = 'float64'}
    -- 140 rows a sequence: past the panels (core/lowrank.c), added at once
    local x1, x2 = rnn.randn({70, 2, 3}, 'float64'), rnn.randn({70, 2, 3}, 'float64')
    local function grads(fn)
      fn()
      local g = gru.weight_hh_l0.grad:clone()
      gru:zero_grad()
      return g
    end
    local both = grads(function() ((gru(x1)):sum() + (gru(x2)):sum()):backward() end)
    local one = grads(function() (gru(x1)):sum():backward() end)
    local two = grads(function() (gru(x2)):sum():backward() end)
    close(both, one + two, 1e-12, 'weight_hh')
  end)

  it('keep NaN through relu, as the op-by-op step (a diverged run stays visible)', function()
    local cell = nn.RNNCell{input_size = 2, hidden_size = 3, nonlinearity = 'relu', dtype = 'float64'}
    local x = rnn.tensor({{0 / 0, 1}}, 'float64')
    for _, fused in ipairs{true, false} do
      cell.fused = fused
      local h = cell(x)
      for j = 1, 3 do
        local v = h:narrow(2, j, 1):sum():item()
        assert(v ~= v, 'fused=' .. tostring(fused) .. ': h[' .. j .. '] = ' .. v .. ', not NaN')
      end
    end
  end)

  it('take weights that are views (a transpose) and see writes through them', function()
    rnn.manual_seed(15)
    local cell = nn.GRUCell{input_size = 4, hidden_size = 6, dtype = 'float64'}
    local W = rnn.randn({6, 18}, 'float64')
    cell.weight_hh = W:t()
    local x, h = rnn.randn({5, 4}, 'float64'), rnn.randn({5, 6}, 'float64')
    for round = 1, 2 do
      cell.fused = true
      local a = cell(x, h)
      cell.fused = false
      local b = cell(x, h)
      close(a, b, 1e-12, 'round ' .. round)
      W:mul_(0.5)
    end
  end)

  it('an Elman layer\'s output written in place before backward makes backward fail (it holds the saved states)',
    function()
    for _, nl in ipairs{'tanh', 'relu'} do
      local layer = nn.RNN{input_size = 3, hidden_size = 4, nonlinearity = nl, dtype = 'float64'}
      local x = rnn.randn({5, 2, 3}, 'float64')
      local out = layer(x)
      local loss = out:sum()
      local before = out:clone()
      rnn.no_grad(function() out:mul_(2) end)
      local ok, msg = pcall(function() loss:backward() end)
      assert.is_false(ok)
      assert.matches('modified in place', msg)
      -- untouched, the same layer's backward runs and its output is what it was
      rnn.no_grad(function() out:copy_(before) end)
      local out2 = layer(x)
      out2:sum():backward()
      assert.is_truthy(layer.weight_hh_l0.grad)
      assert.equal(0, (out2 - before):abs():max():item())
    end
  end)

  it('layers whose backward runs in several chunks of steps match the reference path in every gradient', function()
    -- B = 100: chunks of 11 steps (core/rnn.c CHUNK_ROWS), so T = 25 makes
    -- three (11, 11, 3), walked from the end forwards and from the start
    -- backwards (bidirectional), some sequences ending inside a chunk
    rnn.manual_seed(16)
    local lengths = {}
    for b = 1, 100 do lengths[b] = 1 + (b * 7) % 25 end
    for _, mode in ipairs{'rnn_tanh', 'lstm', 'gru'} do
      local cls = mode == 'lstm' and nn.LSTM or mode == 'gru' and nn.GRU or nn.RNN
      local layer = cls{input_size = 2, hidden_size = 3, bidirectional = true, dtype = 'float64'}
      local x = rnn.randn({25, 100, 2}, 'float64'):requires_grad(true)
      local G = rnn.randn({25, 100, 6}, 'float64')
      local grads = {}
      for i, fused in ipairs{true, false} do
        layer.fused = fused
        local out = layer(x, {lengths = lengths})
        ;(out * G):sum():backward()
        grads[i] = {x = x.grad}
        for _, np in ipairs(layer:named_parameters()) do grads[i][np[1]] = np[2].grad end
        x.grad = nil
        layer:zero_grad()
      end
      for name, g in pairs(grads[2]) do close(grads[1][name], g, 1e-10, mode .. ' ' .. name) end
    end
  end)

  it('raise on bad input', function()
    local cell = nn.LSTMCell(2, 3)
    local ok, msg = pcall(rnn.core._cell, 'lstm', rnn.zeros{2, 2, 2}, rnn.zeros{2, 3}, rnn.zeros{2, 3},
      cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    assert.is_false(ok)
    assert.matches('rnn._cell: input must be %(B,I%), got %(2,2,2%)', msg)
    ok, msg = pcall(rnn.core._cell, 'lstm', rnn.zeros{2, 2}, rnn.zeros{2, 4}, rnn.zeros{2, 3},
      cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    assert.is_false(ok)
    assert.matches('rnn._cell: h must be %(2,3%), got %(2,4%)', msg)
    ok, msg = pcall(rnn.core._cell, 'lstm', rnn.zeros{2, 2}, rnn.zeros{2, 3}, nil,
      cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    assert.is_false(ok)
    assert.matches('rnn._cell: c must be', msg)
    ok, msg = pcall(rnn.core._cell, 'lstm', rnn.zeros{2, 2}, rnn.zeros{2, 3}, rnn.zeros{2, 3},
      cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, 9)
    assert.is_false(ok)
    assert.matches('_cell', msg)
  end)
end)
