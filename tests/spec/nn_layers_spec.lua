-- rnn.nn layers: Linear, Embedding, Dropout, Sequential, the cells and the
-- recurrent layers RNN / LSTM / GRU (shapes for every option, h0 policies,
-- batch_first, lengths, bidirectional states, dropout between layers,
-- truncated BPTT), gradients against finite differences in float64 through
-- the pure-Lua reference path and, when the core has it, through the fused
-- kernel rnn.core._recurrent, which must also equal the reference to 1e-10.
local rnn = require 'rnn'
local nn = rnn.nn
local R = nn.reference

local D = 'float64'
local MODES = {'rnn_tanh', 'rnn_relu', 'lstm', 'gru'}
local FUSED = rnn.core._recurrent

local function maxdiff(a, b) return (a - b):abs():max():item() end
local function close(a, b, tol)
  assert.same(a:shape(), b:shape())
  local d = maxdiff(a, b)
  assert(d <= (tol or 1e-12), string.format('max difference %.3g > %.3g', d, tol or 1e-12))
end
local function equal(a, b) close(a, b, 0) end

-- gradcheck that must pass (gradcheck raises with its report otherwise)
local function check(fn, inputs)
  local ok = rnn.gradcheck(fn, inputs)
  assert.is_true(ok)
end

-- f must raise "<this file>:<line in f>: <prefix>..." containing each further argument
local function fails(prefix, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error, got none')
  local file, line, text = tostring(msg):match('^(.-):(%d+): (.*)$')
  assert(file and file:match('nn_layers_spec%.lua$'), 'location is not this spec file: ' .. tostring(msg))
  local info = debug.getinfo(f, 'S')
  line = tonumber(line)
  assert(line >= info.linedefined and line <= info.lastlinedefined, 'location outside the calling function: ' .. msg)
  assert(text:sub(1, #prefix) == prefix, 'message does not start with "' .. prefix .. '": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
end

local function names(pairs_)
  local out = {}
  for i, p in ipairs(pairs_) do out[i] = p[1] end
  return out
end

local function within(t, bound)
  local m = t:abs():max():item()
  assert(m <= bound, string.format('|value| %g exceeds the bound %g', m, bound))
  assert(m > 0.5 * bound, string.format('|value| %g is far inside the bound %g', m, bound))
end

-- the layer class and extra options of a mode
local function layer_of(mode)
  if mode == 'rnn_tanh' then return nn.RNN, {} end
  if mode == 'rnn_relu' then return nn.RNN, {nonlinearity = 'relu'} end
  if mode == 'lstm' then return nn.LSTM, {} end
  return nn.GRU, {}
end

local function make(mode, opts)
  local cls, extra = layer_of(mode)
  local o = {input_size = 2, hidden_size = 3, dtype = D}
  for k, v in pairs(extra) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  return cls(o)
end

-- the final state as a list of tensors
local function state_list(s)
  if rnn.is_tensor(s) then return {s} end
  return {s.h, s.c}
end

before_each(function() rnn.manual_seed(2024) end)

------------------------------------------------------------------------------
describe('rnn.nn.Linear', function()
  it('computes x W^T + b with weight (out, in)', function()
    local lin = nn.Linear{in_features = 3, out_features = 2, dtype = D}
    assert.same({2, 3}, lin.weight:shape())
    assert.same({2}, lin.bias:shape())
    rnn.no_grad(function()
      lin.weight:copy_(rnn.tensor{{1, 2, 3}, {4, 5, 6}})
      lin.bias:copy_(rnn.tensor{0.5, -1})
    end)
    equal(lin(rnn.tensor({{1, 0, -1}, {2, 1, 0}}, D)), rnn.tensor({{-1.5, -3}, {4.5, 12}}, D))
    assert.same({4, 5, 2}, lin(rnn.randn({4, 5, 3}, D)):shape())
    assert.same({2}, lin(rnn.randn({3}, D)):shape())
  end)

  it('starts U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)) for weight and bias', function()
    local lin = nn.Linear(16, 64)
    within(lin.weight, 0.25)
    within(lin.bias, 0.25)
    assert.equal('float32', lin.weight:dtype())
  end)

  it('has no bias with bias = false', function()
    local lin = nn.Linear(3, 2, {bias = false, dtype = D})
    assert.is_nil(lin.bias)
    assert.same({'weight'}, names(lin:named_parameters()))
    local x = rnn.randn({4, 3}, D)
    equal(lin(x), x:matmul(lin.weight:t()))
  end)

  it('passes gradcheck (float64)', function()
    local lin = nn.Linear{in_features = 3, out_features = 2, dtype = D}
    check(function(x) return lin(x) end, {rnn.randn({2, 4, 3}, D), lin.weight, lin.bias})
  end)

  it('raises on bad options and inputs', function()
    fails('rnn.nn.Linear: ', function() nn.Linear{in_features = 3} end, 'option out_features is required')
    fails('rnn.nn.Linear: ', function() nn.Linear{in_features = 0, out_features = 2} end, 'in_features',
      'positive integer')
    fails('rnn.nn.Linear: ', function() nn.Linear{in_features = 2, out_features = 2, bais = true} end,
      "unknown option 'bais'")
    fails('rnn.nn.Linear: ', function() nn.Linear(2, 2, {dtype = 'int64'}) end, 'option dtype')
    fails('rnn.nn.Linear: ', function() nn.Linear(2, 2, 3) end, 'too many positional arguments')
    local lin = nn.Linear(3, 2)
    fails('rnn.nn.Linear: ', function() lin(rnn.zeros{4, 5}) end, 'input (4,5)', 'in_features = 3')
    fails('rnn.nn.Linear: ', function() lin(rnn.zeros({4, 3}, D)) end, 'float64', 'float32')
    fails('rnn.nn.Linear: ', function() lin('x') end, 'input must be a tensor')
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.Embedding', function()
  it('looks up rows at 1-based int64 indices of any shape', function()
    local emb = nn.Embedding{num_embeddings = 5, embedding_dim = 3, dtype = D}
    local idx = rnn.tensor({{1, 5, 2}, {5, 5, 3}}, 'int64')
    local y = emb(idx)
    assert.same({2, 3, 3}, y:shape())
    equal(y[1][2], emb.weight[5])
    equal(y[2][3], emb.weight[3])
  end)

  it('starts N(0, 1)', function()
    local w = nn.Embedding(200, 10).weight
    assert.is_true(math.abs(w:mean():item()) < 0.1)
    local sd = math.sqrt(((w - w:mean()) ^ 2):mean():item())
    assert.is_true(sd > 0.9 and sd < 1.1)
  end)

  it('accumulates gradients into repeated rows and passes gradcheck', function()
    local emb = nn.Embedding(4, 2, {dtype = D})
    emb(rnn.tensor({1, 3, 1, 1}, 'int64')):sum():backward()
    equal(emb.weight.grad, rnn.tensor({{3, 3}, {0, 0}, {1, 1}, {0, 0}}, D))
    check(function(w) return nn.functional.embedding(rnn.tensor({{2, 4}, {4, 1}}, 'int64'), w) end, {emb.weight})
  end)

  it('raises on bad indices', function()
    local emb = nn.Embedding(4, 2)
    fails('rnn.nn.Embedding: ', function() emb(rnn.tensor{1, 2}) end, 'int64', 'float32')
    fails('rnn.nn.Embedding: ', function() emb(rnn.tensor({1, 5}, 'int64')) end, 'index 5 out of range 1..4')
    fails('rnn.nn.Embedding: ', function() emb(rnn.tensor({0, 1}, 'int64')) end, 'index 0 out of range')
    fails('rnn.nn.Embedding: ', function() nn.Embedding{num_embeddings = 4} end, 'embedding_dim is required')
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.Dropout', function()
  it('zeroes about p of the elements and scales the rest by 1/(1-p) in training', function()
    local d = nn.Dropout{p = 0.25}
    local y = d(rnn.ones({4000}, D))
    local zeros = y:eq(0):sum():item()
    assert.is_true(zeros > 850 and zeros < 1150)
    assert.is_true(math.abs(y:max():item() - 1 / 0.75) < 1e-12)
    assert.is_true(math.abs(y:min():item()) == 0)
  end)

  it('is the identity in eval mode and with p = 0', function()
    local x = rnn.randn{10}
    equal(nn.Dropout(0.5):eval()(x), x)
    equal(nn.Dropout(0)(x), x)
    assert.equal(0.5, nn.Dropout().p)
  end)

  it('passes gradcheck in training (gradcheck replays the masks)', function()
    local d = nn.Dropout(0.3)
    check(function(x) return d(x) end, {rnn.randn({3, 4}, D)})
  end)

  it('raises on a bad p', function()
    fails('rnn.nn.Dropout: ', function() nn.Dropout(1.5) end, 'option p must be in [0, 1]')
    fails('rnn.nn.Dropout: ', function() nn.Dropout{p = 'x'} end, 'option p must be a number')
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.Sequential of layers', function()
  it('passes gradcheck through Linear, Tanh, Linear', function()
    local s = nn.Sequential(nn.Linear(3, 4, {dtype = D}), nn.Tanh(), nn.Linear(4, 2, {dtype = D}))
    local inputs = {rnn.randn({5, 3}, D)}
    for _, p in ipairs(s:parameters()) do inputs[#inputs + 1] = p end
    check(function(x) return s(x) end, inputs)
  end)
end)

------------------------------------------------------------------------------
-- plain-Lua numbers: matrix (rows) times vector, plus a vector
local function affine(W, x, b)
  local out = {}
  for i, row in ipairs(W) do
    local s = b and b[i] or 0
    for j, w in ipairs(row) do s = s + w * x[j] end
    out[i] = s
  end
  return out
end
local function sig(v) return 1 / (1 + math.exp(-v)) end

describe('rnn.nn cells', function()
  it('RNNCell: h\' = act(W_ih x + b_ih + W_hh h + b_hh), checked with plain Lua numbers', function()
    for _, act in ipairs{'tanh', 'relu'} do
      local cell = nn.RNNCell{input_size = 2, hidden_size = 3, nonlinearity = act, dtype = D}
      local x, h = rnn.randn({2}, D), rnn.randn({3}, D)
      local got = cell(x, h):totable()
      local a = affine(cell.weight_ih:totable(), x:totable(), cell.bias_ih:totable())
      local u = affine(cell.weight_hh:totable(), h:totable(), cell.bias_hh:totable())
      for i = 1, 3 do
        local v = a[i] + u[i]
        v = act == 'tanh' and math.tanh(v) or math.max(v, 0)
        assert.is_true(math.abs(got[i] - v) < 1e-12)
      end
    end
  end)

  it('LSTMCell: gates i, f, g, o packed in that order, checked with plain Lua numbers', function()
    local cell = nn.LSTMCell{input_size = 2, hidden_size = 3, dtype = D}
    assert.same({12, 2}, cell.weight_ih:shape())
    assert.same({12, 3}, cell.weight_hh:shape())
    local x, h, c = rnn.randn({2}, D), rnn.randn({3}, D), rnn.randn({3}, D)
    local h2, c2 = cell(x, {h = h, c = c})
    local g = affine(cell.weight_ih:totable(), x:totable(), cell.bias_ih:totable())
    local u = affine(cell.weight_hh:totable(), h:totable(), cell.bias_hh:totable())
    local ct = c:totable()
    for k = 1, 3 do
      local i, f = sig(g[k] + u[k]), sig(g[3 + k] + u[3 + k])
      local gg, o = math.tanh(g[6 + k] + u[6 + k]), sig(g[9 + k] + u[9 + k])
      local cn = f * ct[k] + i * gg
      assert.is_true(math.abs(c2:totable()[k] - cn) < 1e-12)
      assert.is_true(math.abs(h2:totable()[k] - o * math.tanh(cn)) < 1e-12)
    end
  end)

  it('GRUCell: r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), checked with plain Lua numbers', function()
    local cell = nn.GRUCell{input_size = 2, hidden_size = 3, dtype = D}
    assert.same({9, 2}, cell.weight_ih:shape())
    local x, h = rnn.randn({2}, D), rnn.randn({3}, D)
    local got = cell(x, h):totable()
    local a = affine(cell.weight_ih:totable(), x:totable(), cell.bias_ih:totable())
    local u = affine(cell.weight_hh:totable(), h:totable(), cell.bias_hh:totable())
    local ht = h:totable()
    for k = 1, 3 do
      local r, z = sig(a[k] + u[k]), sig(a[3 + k] + u[3 + k])
      local n = math.tanh(a[6 + k] + r * u[6 + k])
      assert.is_true(math.abs(got[k] - ((1 - z) * n + z * ht[k])) < 1e-12)
    end
  end)

  it('start U(-1/sqrt(H), 1/sqrt(H)); no biases with bias = false', function()
    local cell = nn.LSTMCell(8, 16)
    for _, p in ipairs(cell:parameters()) do within(p, 0.25) end
    assert.same({'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'}, names(cell:named_parameters()))
    assert.same({'weight_ih', 'weight_hh'}, names(nn.GRUCell(2, 3, {bias = false}):named_parameters()))
  end)

  it('default to a zero state and accept the LSTM state in every form', function()
    local cell = nn.LSTMCell{input_size = 2, hidden_size = 3, dtype = D}
    local x = rnn.randn({4, 2}, D)
    local z = rnn.zeros({4, 3}, D)
    local h1, c1 = cell(x)
    local h2, c2 = cell(x, {h = z, c = z})
    equal(h1, h2)
    equal(c1, c2)
    local h, c = rnn.randn({4, 3}, D), rnn.randn({4, 3}, D)
    local ha = cell(x, {h = h, c = c})
    equal(ha, (cell(x, {h, c})))
    equal(ha, (cell(x, h, c)))
    local g = nn.GRUCell{input_size = 2, hidden_size = 3, dtype = D}
    equal(g(x), g(x, z))
    local r = nn.RNNCell{input_size = 2, hidden_size = 3, dtype = D}
    equal(r(x), r(x, z))
  end)

  it('pass gradcheck (float64)', function()
    for _, cls in ipairs{nn.RNNCell, nn.LSTMCell, nn.GRUCell} do
      local cell = cls{input_size = 2, hidden_size = 3, dtype = D}
      local inputs = {rnn.randn({2, 2}, D), rnn.randn({2, 3}, D), rnn.randn({2, 3}, D)}
      for _, p in ipairs(cell:parameters()) do inputs[#inputs + 1] = p end
      if cls == nn.LSTMCell then
        check(function(x, h, c) return cell(x, {h = h, c = c}) end, inputs)
      else
        check(function(x, h) return cell(x, h) end, {inputs[1], inputs[2], table.unpack(inputs, 4)})
      end
    end
    local relu = nn.RNNCell{input_size = 2, hidden_size = 3, nonlinearity = 'relu', dtype = D}
    check(function(x) return relu(x) end, {rnn.randn({2, 2}, D), relu.weight_ih, relu.bias_hh})
  end)

  it('unroll by hand to the same numbers as the layer', function()
    local lstm = nn.LSTM{input_size = 2, hidden_size = 3, dtype = D}
    local cell = nn.LSTMCell{input_size = 2, hidden_size = 3, dtype = D}
    cell:load_state_dict({weight_ih = lstm.weight_ih_l0, weight_hh = lstm.weight_hh_l0,
                          bias_ih = lstm.bias_ih_l0, bias_hh = lstm.bias_hh_l0})
    local x = rnn.randn({4, 2, 2}, D)
    local out, st = lstm(x)
    local h, c
    for t = 1, 4 do
      h, c = cell(x[t], {h = h, c = c})
      close(h, out[t])
    end
    close(h, st.h[1])
    close(c, st.c[1])
  end)

  it('raise on bad inputs and states', function()
    local cell = nn.GRUCell(2, 3)
    fails('rnn.nn.GRUCell: ', function() cell(rnn.zeros{4, 5}) end, 'input_size = 2')
    fails('rnn.nn.GRUCell: ', function() cell(rnn.zeros{4, 2}, rnn.zeros{3, 3}) end, 'must be (4,3)', '(3,3)')
    fails('rnn.nn.GRUCell: ', function() cell(rnn.zeros{1, 4, 2}) end, '1 or 2 dimensions')
    fails('rnn.nn.RNNCell: ', function() nn.RNNCell{input_size = 2, hidden_size = 3, nonlinearity = 'gelu'} end,
      "'tanh' or 'relu'", 'gelu')
    fails('rnn.nn.LSTMCell: ', function() nn.LSTMCell(2, 3)(rnn.zeros{1, 2}, 5) end, 'state must be')
    fails('rnn.nn.LSTMCell: ', function() nn.LSTMCell{input_size = 2, hidden_size = 3, nonlinearity = 'relu'} end,
      "unknown option 'nonlinearity'")
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.RNN / LSTM / GRU: parameters', function()
  it("register PyTorch's names, shapes and order, then h0 / c0 when learned", function()
    local lstm = nn.LSTM{input_size = 5, hidden_size = 4, num_layers = 2, bidirectional = true, h0 = 'learned'}
    local want = {}
    for l = 0, 1 do
      for _, sfx in ipairs{'', '_reverse'} do
        for _, n in ipairs{'weight_ih_l', 'weight_hh_l', 'bias_ih_l', 'bias_hh_l'} do want[#want + 1] = n .. l .. sfx end
      end
    end
    want[#want + 1] = 'h0'
    want[#want + 1] = 'c0'
    assert.same(want, names(lstm:named_parameters()))
    assert.same({16, 5}, lstm.weight_ih_l0:shape())
    assert.same({16, 8}, lstm.weight_ih_l1_reverse:shape())
    assert.same({16, 4}, lstm.weight_hh_l1:shape())
    assert.same({16}, lstm.bias_hh_l0_reverse:shape())
    assert.same({4, 1, 4}, lstm.h0:shape())
    local gru = nn.GRU{input_size = 5, hidden_size = 4, bias = false}
    assert.same({'weight_ih_l0', 'weight_hh_l0'}, names(gru:named_parameters()))
    assert.same({12, 5}, gru.weight_ih_l0:shape())
    assert.same({4, 5}, nn.RNN(5, 4).weight_ih_l0:shape())
    assert.same({'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'h0'},
      names(nn.GRU{input_size = 5, hidden_size = 4, h0 = 'learned'}:named_parameters()))
  end)

  it('start U(-1/sqrt(H), 1/sqrt(H)) and learned states at zero', function()
    local gru = nn.GRU{input_size = 3, hidden_size = 16, num_layers = 2, h0 = 'learned'}
    for _, p in ipairs(gru:named_parameters()) do
      if p[1] == 'h0' then equal(p[2], rnn.zeros{2, 1, 16}) else within(p[2], 0.25) end
    end
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.RNN / LSTM / GRU: shapes', function()
  it('for every mode x layers x directions x batch_first x lengths x bias', function()
    local T, B, I, H = 4, 3, 2, 5
    for _, mode in ipairs(MODES) do
      for _, L in ipairs{1, 2} do
        for _, bi in ipairs{false, true} do
          for _, bf in ipairs{false, true} do
            for _, lens in ipairs{false, true} do
              for _, bias in ipairs{true, false} do
                local cls, extra = layer_of(mode)
                local o = {input_size = I, hidden_size = H, num_layers = L, bidirectional = bi, batch_first = bf,
                           bias = bias}
                for k, v in pairs(extra) do o[k] = v end
                local layer = cls(o)
                local x = bf and rnn.randn{B, T, I} or rnn.randn{T, B, I}
                local out, st = layer(x, lens and {lengths = {4, 1, 2}} or nil)
                local Dn = bi and 2 or 1
                assert.same(bf and {B, T, Dn * H} or {T, B, Dn * H}, out:shape())
                for _, s in ipairs(state_list(st)) do assert.same({L * Dn, B, H}, s:shape()) end
                assert.equal(mode == 'lstm' and 2 or 1, #state_list(st))
              end
            end
          end
        end
      end
    end
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.RNN / LSTM / GRU: h0 policies', function()
  local T, B = 3, 2

  it("'zero' (the default) equals an explicit zero state", function()
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {num_layers = 2, bidirectional = true})
      assert.equal('zero', layer.h0_policy)
      local x = rnn.randn({T, B, 2}, D)
      local z = rnn.zeros({4, B, 3}, D)
      local out1, s1 = layer(x)
      local out2, s2 = layer(x, mode == 'lstm' and {h = z, c = z} or z)
      equal(out1, out2)
      for i, s in ipairs(state_list(s1)) do equal(s, state_list(s2)[i]) end
    end
  end)

  it("'random' draws anew every forward in training, reproducibly from the seed; eval uses zeros", function()
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {h0 = 'random', num_layers = 2})
      local zero = make(mode, {num_layers = 2})
      zero:load_state_dict(layer:state_dict())
      local x = rnn.randn({T, B, 2}, D)
      rnn.manual_seed(11)
      local a = layer(x)
      local b = layer(x)
      assert.is_true(maxdiff(a, b) > 1e-3)
      rnn.manual_seed(11)
      equal(layer(x), a)
      -- the draw is N(0, 1) of shape (L·D, B, H): h first, then c for LSTM
      rnn.manual_seed(11)
      local h = rnn.randn({2, B, 3}, D)
      local c = mode == 'lstm' and rnn.randn({2, B, 3}, D) or nil
      equal(a, (zero(x, mode == 'lstm' and {h = h, c = c} or h)))
      layer:eval()
      equal(layer(x), (zero(x)))
    end
  end)

  it("'random' scales the draw by h0_std", function()
    local layer = make('gru', {h0 = 'random', h0_std = 0.5})
    rnn.manual_seed(3)
    local s = layer:initial_state(B)
    rnn.manual_seed(3)
    close(s, rnn.randn({1, B, 3}, D) * 0.5)
  end)

  it("'learned' is in state_dict, broadcasts over the batch and gets gradients", function()
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {h0 = 'learned', num_layers = 2, bidirectional = true})
      local sd = layer:state_dict()
      assert.equal(layer.h0, sd.h0)
      assert.equal(mode == 'lstm', sd.c0 ~= nil)
      rnn.no_grad(function()
        layer.h0:copy_(rnn.randn({4, 1, 3}, D))
        if layer.c0 then layer.c0:copy_(rnn.randn({4, 1, 3}, D)) end
      end)
      local x = rnn.randn({T, B, 2}, D)
      local out, st = layer(x)
      local h = layer.h0:expand(4, B, 3):contiguous()
      local explicit = mode == 'lstm' and {h = h, c = layer.c0:expand(4, B, 3):contiguous()} or h
      equal(out, (layer(x, explicit)))
      local loss = out:sum()
      for _, s in ipairs(state_list(st)) do loss = loss + s:sum() end
      layer:zero_grad()
      loss:backward()
      assert.is_true(layer.h0.grad:abs():sum():item() > 0)
      if mode == 'lstm' then assert.is_true(layer.c0.grad:abs():sum():item() > 0) end
    end
  end)

  it('a fixed tensor (L·D, 1 or B, H) is the initial state, kept out of state_dict', function()
    for _, mode in ipairs(MODES) do
      local h = rnn.randn({2, 1, 3}, D)
      local layer = make(mode, {h0 = h, num_layers = 2})
      assert.equal('fixed', layer.h0_policy)
      assert.is_nil(layer:state_dict().h0)
      local x = rnn.randn({T, B, 2}, D)
      local hb = h:expand(2, B, 3):contiguous()
      local z = rnn.zeros({2, B, 3}, D)
      equal(layer(x), (layer(x, mode == 'lstm' and {h = hb, c = z} or hb)))
      local perb = rnn.randn({2, B, 3}, D)
      local layer2 = make(mode, {h0 = perb, num_layers = 2})
      layer2:load_state_dict(layer:state_dict())
      equal(layer2(x), (layer(x, mode == 'lstm' and {h = perb, c = z} or perb)))
      fails('rnn.nn.', function() layer2(rnn.randn({T, B + 1, 2}, D)) end, 'the fixed h0 has batch 2')
    end
    local hf, cf = rnn.randn{1, 1, 3}, rnn.randn{1, 1, 3}
    local lstm = nn.LSTM{input_size = 2, hidden_size = 3, h0 = {h = hf, c = cf}}
    local x = rnn.randn{T, B, 2}
    equal(lstm(x), (lstm(x, {h = hf:expand(1, B, 3):contiguous(), c = cf:expand(1, B, 3):contiguous()})))
    -- converted with the module; float32 to float64
    local g = nn.GRU{input_size = 2, hidden_size = 3, h0 = rnn.zeros{1, 1, 3}}
    assert.equal('float32', g.h0:dtype())
    g:to('float64')
    assert.equal('float64', g.h0:dtype())
    assert.same({T, B, 3}, g(rnn.randn({T, B, 2}, D)):shape())
  end)

  it('a state passed to forward overrides every policy', function()
    for _, policy in ipairs{'random', 'learned'} do
      local layer = make('lstm', {h0 = policy})
      local ref = make('lstm', {})
      ref:load_state_dict(layer:state_dict(), {strict = false})
      local x = rnn.randn({T, B, 2}, D)
      local s = {h = rnn.randn({1, B, 3}, D), c = rnn.randn({1, B, 3}, D)}
      equal(layer(x, s), (ref(x, s)))
    end
  end)

  it('raise on a bad policy', function()
    fails('rnn.nn.GRU: ', function() nn.GRU{input_size = 2, hidden_size = 3, h0 = 'learnt'} end,
      "option h0 must be 'zero', 'random', 'learned' or a tensor", 'learnt')
    fails('rnn.nn.LSTM: ', function() nn.LSTM{input_size = 2, hidden_size = 3, h0 = rnn.zeros{2, 1, 3}} end,
      'must be (1, B or 1, 3)', '(2,1,3)')
    fails('rnn.nn.LSTM: ', function() nn.LSTM{input_size = 2, hidden_size = 3, h0 = {c = rnn.zeros{1, 1, 3}}} end,
      'lacks h')
    fails('rnn.nn.RNN: ', function() nn.RNN{input_size = 2, hidden_size = 3, h0_std = -1} end, 'h0_std')
  end)
end)

------------------------------------------------------------------------------
describe('rnn.nn.RNN / LSTM / GRU: sequences', function()
  it('batch_first gives the transposed result of the same layer seq-first', function()
    for _, mode in ipairs(MODES) do
      local a = make(mode, {num_layers = 2, bidirectional = true})
      local b = make(mode, {num_layers = 2, bidirectional = true, batch_first = true})
      b:load_state_dict(a:state_dict())
      local x = rnn.randn({4, 3, 2}, D)
      local oa, sa = a(x, {lengths = {2, 4, 3}})
      local ob, sb = b(x:transpose(1, 2), {lengths = {2, 4, 3}})
      equal(ob, oa:transpose(1, 2))
      for i, s in ipairs(state_list(sa)) do equal(s, state_list(sb)[i]) end
    end
  end)

  it('with lengths: zero outputs past the end, and final states of each sequence run alone', function()
    local T, B = 5, 3
    local lens = {3, 5, 1}
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {num_layers = 2, bidirectional = true})
      local x = rnn.randn({T, B, 2}, D)
      local out, st = layer(x, {lengths = rnn.tensor(lens, 'int64')})
      for b = 1, B do
        if lens[b] < T then equal(out:narrow(1, lens[b] + 1, T - lens[b]):select(2, b), rnn.zeros({T - lens[b], 6}, D)) end
        local xb = x:narrow(1, 1, lens[b]):narrow(2, b, 1)
        local ob, sb = layer(xb)
        close(out:narrow(1, 1, lens[b]):narrow(2, b, 1), ob)
        for i, s in ipairs(state_list(st)) do close(s:narrow(2, b, 1), state_list(sb)[i]) end
      end
      -- a Lua array equals an int64 tensor, and full lengths equal none
      equal(out, (layer(x, nil, {lengths = lens})))
      equal(layer(x), (layer(x, {lengths = {T, T, T}})))
    end
  end)

  it('with lengths: outputs past the end pass no gradient back', function()
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {bidirectional = true})
      local x = rnn.randn({4, 2, 2}, D):requires_grad(true)
      local out = layer(x, {lengths = {2, 4}})
      out:backward(rnn.randn(out:shape(), D))
      equal(x.grad:narrow(1, 3, 2):select(2, 1), rnn.zeros({2, 2}, D))
      assert.is_true(x.grad:select(2, 2):abs():min():item() > 0)
    end
  end)

  it('bidirectional: final states are the last forward and the first reverse outputs', function()
    local T, B, H = 4, 3, 3
    for _, mode in ipairs(MODES) do
      local layer = make(mode, {num_layers = 2, bidirectional = true})
      local x = rnn.randn({T, B, 2}, D)
      local out, st = layer(x)
      local h = state_list(st)[1]
      equal(h[3], out[T]:narrow(2, 1, H))      -- layer 1 forward
      equal(h[4], out[1]:narrow(2, H + 1, H))  -- layer 1 reverse
      local lens = {2, 4, 3}
      out, st = layer(x, {lengths = lens})
      h = state_list(st)[1]
      for b = 1, B do
        equal(h[3][b], out[lens[b]][b]:narrow(1, 1, H))
        equal(h[4][b], out[1][b]:narrow(1, H + 1, H))
      end
    end
  end)

  it('bidirectional: the reverse half is a one-way layer on each sequence reversed', function()
    local T, B, H = 4, 2, 3
    for _, mode in ipairs(MODES) do
      local bi = make(mode, {bidirectional = true})
      local one = make(mode, {})
      one:load_state_dict({weight_ih_l0 = bi.weight_ih_l0_reverse, weight_hh_l0 = bi.weight_hh_l0_reverse,
                           bias_ih_l0 = bi.bias_ih_l0_reverse, bias_hh_l0 = bi.bias_hh_l0_reverse})
      local x = rnn.randn({T, B, 2}, D)
      local lens = {3, 4}
      local out, st = bi(x, {lengths = lens})
      for b = 1, B do
        local L = lens[b]
        local xr = x:narrow(2, b, 1):narrow(1, 1, L):index_select(1, rnn.arange(L, 0, -1, 'int64'))
        local o1, s1 = one(xr)
        close(out:narrow(2, b, 1):narrow(1, 1, L):narrow(3, H + 1, H),
          o1:index_select(1, rnn.arange(L, 0, -1, 'int64')))
        close(state_list(st)[1]:narrow(2, b, 1)[2], state_list(s1)[1][1])
      end
    end
  end)

  it('dropout acts between layers in training only, never after the last', function()
    local layer = make('lstm', {num_layers = 2, dropout = 0.5})
    local plain = make('lstm', {num_layers = 2})
    plain:load_state_dict(layer:state_dict())
    local x = rnn.randn({3, 2, 2}, D)
    local a, b = layer(x), layer(x)
    assert.is_true(maxdiff(a, b) > 1e-6)
    assert.is_true(maxdiff(a, (plain(x))) > 1e-6)
    layer:eval()
    equal(layer(x), (plain(x)))
    local one = make('gru', {dropout = 0.5})
    local out = one(x)
    equal(out, (one(x)))
  end)

  it('a detached state cuts the graph between chunks (truncated BPTT)', function()
    local layer = make('lstm', {})
    local x1 = rnn.randn({3, 2, 2}, D):requires_grad(true)
    local x2 = rnn.randn({3, 2, 2}, D):requires_grad(true)
    local _, s = layer(x1)
    local out = layer(x2, nn.detach_state(s))
    out:sum():backward()
    assert.is_nil(x1.grad)
    assert.is_not_nil(x2.grad)
    local _, s2 = layer(x1)
    local out2 = layer(x2, s2)
    out2:sum():backward()
    assert.is_not_nil(x1.grad)
  end)

  it('float32 agrees with float64', function()
    for _, mode in ipairs(MODES) do
      local l64 = make(mode, {num_layers = 2, bidirectional = true})
      local l32 = make(mode, {num_layers = 2, bidirectional = true}):to('float32')
      l32:load_state_dict(l64:state_dict())
      local x = rnn.randn({4, 2, 2}, D)
      local o64 = l64(x, {lengths = {3, 4}})
      local o32 = l32(x:float(), {lengths = {3, 4}})
      assert.is_true(maxdiff(o32:double(), o64) < 1e-5)
    end
  end)

  it('raise on bad inputs, states and lengths', function()
    local lstm = nn.LSTM{input_size = 2, hidden_size = 3, num_layers = 2}
    local x = rnn.randn{4, 3, 2}
    fails('rnn.nn.LSTM: ', function() lstm(rnn.randn{4, 2}) end, 'input must have 3 dimensions', '(4,2)')
    fails('rnn.nn.LSTM: ', function() lstm(rnn.randn{4, 3, 5}) end, 'input_size = 2')
    fails('rnn.nn.LSTM: ', function() lstm(x:double()) end, 'float64', 'float32')
    fails('rnn.nn.LSTM: ', function() lstm(x, {h = rnn.zeros{2, 3, 3}}) end, 'state c must be a tensor')
    fails('rnn.nn.LSTM: ', function() lstm(x, {h = rnn.zeros{1, 3, 3}, c = rnn.zeros{2, 3, 3}}) end,
      'state h must be (2,3,3)', '(1,3,3)')
    fails('rnn.nn.LSTM: ', function() lstm(x, rnn.zeros{2, 3, 3}) end, 'state must be {h = h, c = c}')
    fails('rnn.nn.LSTM: ', function() lstm(x, {lengths = {4, 0, 2}}) end, 'lengths[2] = 0', '1..4')
    fails('rnn.nn.LSTM: ', function() lstm(x, {lengths = {4, 5, 2}}) end, 'lengths[2] = 5')
    fails('rnn.nn.LSTM: ', function() lstm(x, {lengths = {4, 2}}) end, 'lengths has 2 entries for a batch of 3')
    fails('rnn.nn.LSTM: ', function() lstm(x, {lengths = {4, 2.5, 1}}) end, 'lengths[2] = 2.5')
    fails('rnn.nn.LSTM: ', function() lstm(x, nil, {lenghts = {4, 2, 1}}) end, "unknown option 'lenghts'")
    local gru = nn.GRU(2, 3)
    fails('rnn.nn.GRU: ', function() gru(x, rnn.zeros{1, 2, 3}) end, 'state must be (1,3,3)')
    fails('rnn.nn.GRU: ', function() nn.GRU{input_size = 2} end, 'hidden_size is required')
    fails('rnn.nn.GRU: ', function() nn.GRU{input_size = 2, hidden_size = 3, nonlinearity = 'relu'} end,
      "unknown option 'nonlinearity'")
    fails('rnn.nn.RNN: ', function() nn.RNN{input_size = 2, hidden_size = 3, num_layers = 1.5} end, 'num_layers')
    fails('rnn.nn.RNN: ', function() nn.RNN{input_size = 2, hidden_size = 3, dropout = 2} end, 'dropout')
  end)
end)

------------------------------------------------------------------------------
-- gradcheck of a layer (T=3, B=2, I=2, H=3) w.r.t. x, every parameter and,
-- when given, the state passed in
local function layer_gradcheck(mode, opts, fused, lengths, pass_state)
  local layer = make(mode, opts)
  layer.fused = fused
  local x = opts.batch_first and rnn.randn({2, 3, 2}, D) or rnn.randn({3, 2, 2}, D)
  local inputs = {x}
  local LD = (opts.num_layers or 1) * (opts.bidirectional and 2 or 1)
  if pass_state then
    inputs[#inputs + 1] = rnn.randn({LD, 2, 3}, D)
    if mode == 'lstm' then inputs[#inputs + 1] = rnn.randn({LD, 2, 3}, D) end
  end
  local first_param = #inputs + 1
  for _, p in ipairs(layer:parameters()) do inputs[#inputs + 1] = p end
  check(function(xx, ...)
    local state
    if pass_state then
      local h, c = ...
      state = mode == 'lstm' and {h = h, c = c} or h
    end
    local out, st = layer(xx, state, {lengths = lengths})
    return out, table.unpack(state_list(st))
  end, inputs)
  return first_param
end

local function gradcheck_matrix(fused)
  for _, mode in ipairs(MODES) do
    for _, L in ipairs{1, 2} do
      for _, bi in ipairs{false, true} do
        it(string.format('%s, %d layer(s), %s, lengths, learned h0', mode, L, bi and 'bidirectional' or 'one way'),
          function()
            layer_gradcheck(mode, {num_layers = L, bidirectional = bi, h0 = 'learned'}, fused, {3, 1})
          end)
      end
    end
    it(mode .. ': h0 zero / random / fixed, with and without lengths, and a state passed in', function()
      layer_gradcheck(mode, {bidirectional = true}, fused, nil)
      layer_gradcheck(mode, {bidirectional = true, h0 = 'random'}, fused, {2, 3})
      layer_gradcheck(mode, {h0 = rnn.randn({1, 1, 3}, D)}, fused, {1, 3})
      layer_gradcheck(mode, {bidirectional = true}, fused, {3, 2}, true)
    end)
  end
  it('with dropout between layers, batch_first and no biases', function()
    layer_gradcheck('lstm', {num_layers = 2, dropout = 0.4, batch_first = true}, fused, {2, 3})
    layer_gradcheck('gru', {num_layers = 2, bias = false, bidirectional = true}, fused, nil)
  end)
end

describe('rnn.nn.RNN / LSTM / GRU: gradcheck through the reference (float64, T=3, B=2, I=2, H=3)', function()
  gradcheck_matrix(false)
end)

------------------------------------------------------------------------------
describe('rnn.core._recurrent (the fused kernel) against rnn.nn.reference.recurrent', function()
  if not FUSED then
    pending('rnn.core._recurrent is not in this build')
    return
  end

  it('is what the layers run by default', function()
    local layer = make('gru', {})
    assert.is_true(layer.fused)
    local x = rnn.randn({3, 2, 2}, D)
    assert.are_not.equal('stack', layer(x):grad_fn()) -- one node of the kernel
    layer.fused = false
    assert.equal('stack', layer(x):grad_fn())          -- the reference's steps, stacked
  end)

  it('agrees to 1e-10 in float64, forward and every gradient, for all modes x lengths x reverse x bias', function()
    local T, B, I, H = 5, 3, 2, 4
    for _, mode in ipairs(MODES) do
      local G = R.GATES[mode]
      for _, reverse in ipairs{false, true} do
        for _, lens in ipairs{false, true} do
          for _, bias in ipairs{true, false} do
            local function P(...) return rnn.randn({...}, D):requires_grad(true) end
            local x, h0 = P(T, B, I), P(B, H)
            local c0 = mode == 'lstm' and P(B, H) or nil
            local wi, wh = P(G * H, I), P(G * H, H)
            local bi, bh
            if bias then bi, bh = P(G * H), P(G * H) end
            local lengths = lens and rnn.tensor({3, 5, 1}, 'int64') or nil
            local leaves = {x, h0, c0 or false, wi, wh, bi or false, bh or false}
            local results = {}
            for k, f in ipairs{R.recurrent, FUSED} do
              for _, t in ipairs(leaves) do if t then t.grad = nil end end
              local out, hn, cn = f(mode, x, h0, c0, wi, wh, bi, bh, reverse, lengths)
              rnn.manual_seed(99)
              local loss = (out * rnn.randn(out:shape(), D)):sum() + (hn * rnn.randn(hn:shape(), D)):sum()
              if cn then loss = loss + (cn * rnn.randn(cn:shape(), D)):sum() end
              loss:backward()
              local r = {out, hn, cn or false}
              for _, t in ipairs(leaves) do r[#r + 1] = t and t.grad or false end
              results[k] = r
            end
            for i, a in ipairs(results[1]) do
              local b = results[2][i]
              if a then
                local d = maxdiff(a, b)
                assert(d <= 1e-10, string.format('%s reverse=%s lengths=%s bias=%s: result %d differs by %.3g',
                  mode, tostring(reverse), tostring(lens), tostring(bias), i, d))
              end
            end
            if lens then -- zero past the end, as the reference
              equal(results[2][1]:narrow(1, 2, 4):select(2, 3), rnn.zeros({4, H}, D))
            end
          end
        end
      end
    end
  end)

  it('gives the same layer outputs as the reference path, float32 too', function()
    for _, dtype in ipairs{'float64', 'float32'} do
      for _, mode in ipairs(MODES) do
        local layer = make(mode, {num_layers = 2, bidirectional = true, batch_first = true, dtype = dtype,
                                  h0 = 'learned'})
        local x = rnn.randn({3, 5, 2}, dtype)
        local o1, s1 = layer(x, {lengths = {5, 2, 4}})
        layer.fused = false
        local o2, s2 = layer(x, {lengths = {5, 2, 4}})
        local tol = dtype == 'float64' and 1e-10 or 1e-5
        close(o1, o2, tol)
        for i, s in ipairs(state_list(s1)) do close(s, state_list(s2)[i], tol) end
      end
    end
  end)
end)

describe('rnn.nn.RNN / LSTM / GRU: gradcheck through the fused kernel (float64, T=3, B=2, I=2, H=3)', function()
  if not FUSED then
    pending('rnn.core._recurrent is not in this build')
    return
  end
  gradcheck_matrix(true)
end)

-- The whole product the issue asks for, through the fused kernel: every
-- layer type x {1, 2} layers x {one, two} directions x {with, without}
-- lengths x every h0 policy, each a gradcheck w.r.t. x and every parameter
-- (learned h0 and c0 included).
describe('rnn.nn.RNN / LSTM / GRU: full gradcheck matrix through the fused kernel', function()
  if not FUSED then
    pending('rnn.core._recurrent is not in this build')
    return
  end
  for _, mode in ipairs(MODES) do
    for _, L in ipairs{1, 2} do
      for _, bi in ipairs{false, true} do
        for _, lengths in ipairs{false, true} do
          it(string.format('%s, %d layer(s), %s, %s lengths, each h0 policy', mode, L,
            bi and 'bidirectional' or 'one way', lengths and 'with' or 'without'), function()
            local LD = L * (bi and 2 or 1)
            for _, h0 in ipairs{'zero', 'random', 'learned', 'fixed'} do
              local policy = h0 == 'fixed' and rnn.randn({LD, 1, 3}, D) or h0
              layer_gradcheck(mode, {num_layers = L, bidirectional = bi, h0 = policy}, true,
                lengths and {3, 1} or nil)
            end
          end)
        end
      end
    end
  end
end)
