-- rnn.nn.Module: subclassing in Lua, registration, names and order,
-- state_dict / load_state_dict, train / eval, zero_grad, to(dtype), repr,
-- and the errors of each, which point at the calling line of this file.
local rnn = require 'rnn'
local nn = rnn.nn

-- f must raise "<this file>:<line in f>: <prefix><text>" with each further
-- argument a substring of the message. Returns the message.
local function fails(prefix, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error, got none')
  assert(type(msg) == 'string', 'error is a ' .. type(msg))
  local file, line, text = msg:match('^(.-):(%d+): (.*)$')
  assert(file and file:match('nn_module_spec%.lua$'), 'location is not this spec file: ' .. msg)
  local info = debug.getinfo(f, 'S')
  line = tonumber(line)
  assert(line >= info.linedefined and line <= info.lastlinedefined, 'location outside the calling function: ' .. msg)
  assert(text:sub(1, #prefix) == prefix, 'message does not start with "' .. prefix .. '": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
  return msg
end

local function names(pairs_)
  local out = {}
  for i, p in ipairs(pairs_) do out[i] = p[1] end
  return out
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function equal(a, b) return (a - b):abs():max():item() == 0 end

before_each(function() rnn.manual_seed(7) end)

-- a user model, as the README shows it
local Net = nn.Module:extend('Net')
function Net:__init(opts)
  self:register_parameter('scale', rnn.ones{1})
  self.encoder = nn.Linear(opts.n_in, 4)      -- children by assignment
  self.head = nn.Sequential(nn.Tanh(), nn.Linear(4, opts.n_out))
  self:register_buffer('steps', rnn.zeros{1})
end
function Net:forward(x)
  return self.head(self.encoder(x)) * self.scale
end

describe('rnn.nn.Module subclassing', function()
  it('makes instances with Class{...}, runs __init and forward through __call', function()
    local net = Net{n_in = 3, n_out = 2}
    assert.is_true(nn.is_module(net))
    assert.is_true(net:is_a(Net))
    assert.is_true(net:is_a(nn.Module))
    assert.is_false(net:is_a(nn.Linear))
    assert.is_true(net.training)
    local x = rnn.randn{5, 3}
    local y = net(x)
    assert.same({5, 2}, y:shape())
    assert.is_true(equal(y, net:forward(x)))
  end)

  it('names parameters own first, then children depth first, with dotted names', function()
    local net = Net{n_in = 3, n_out = 2}
    assert.same({'scale', 'encoder.weight', 'encoder.bias', 'head.1.weight', 'head.1.bias'},
      names(net:named_parameters()))
    local ps = net:parameters()
    assert.equal(5, #ps)
    assert.equal(net.scale, ps[1])
    assert.equal(net.head[2].weight, ps[4])
    for _, p in ipairs(ps) do assert.is_true(p:requires_grad()) end
    assert.same({'', 'encoder', 'head', 'head.0', 'head.1'}, names(net:named_modules()))
    assert.same({'encoder', 'head'}, names(net:named_children()))
    assert.equal(1 + 12 + 4 + 8 + 2, net:num_parameters())
  end)

  it('nests three levels deep with dotted names', function()
    local Outer = nn.Module:extend('Outer')
    function Outer:__init()
      self.inner = Net{n_in = 2, n_out = 1}
      self.rnn = nn.LSTM{input_size = 2, hidden_size = 3}
    end
    local o = Outer()
    local n = names(o:named_parameters())
    assert.same({'inner.scale', 'inner.encoder.weight', 'inner.encoder.bias', 'inner.head.1.weight',
      'inner.head.1.bias', 'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0'}, n)
    assert.same({'inner.encoder.bias', 'inner.encoder.weight', 'inner.head.1.bias', 'inner.head.1.weight',
      'inner.scale', 'inner.steps', 'rnn.bias_hh_l0', 'rnn.bias_ih_l0', 'rnn.weight_hh_l0', 'rnn.weight_ih_l0'},
      sorted_keys(o:state_dict()))
  end)

  it('subclasses a subclass; the child __init calls the parent explicitly', function()
    local Big = Net:extend('Big')
    function Big:__init(opts)
      Net.__init(self, opts)
      self.extra = nn.Linear(2, 2, {bias = false})
    end
    function Big:forward(x) return self.extra(Net.forward(self, x)) end
    local b = Big{n_in = 3, n_out = 2}
    assert.is_true(b:is_a(Net) and b:is_a(Big))
    assert.same({2, 2}, b(rnn.randn{2, 3}):shape())
    assert.same({'scale', 'encoder.weight', 'encoder.bias', 'head.1.weight', 'head.1.bias', 'extra.weight'},
      names(b:named_parameters()))
  end)

  it('has PyTorch reprs, nested and indented', function()
    local net = Net{n_in = 3, n_out = 2}
    assert.equal(table.concat({
      'Net(',
      '  (encoder): Linear(in_features=3, out_features=4, bias=true)',
      '  (head): Sequential(',
      '    (0): Tanh()',
      '    (1): Linear(in_features=4, out_features=2, bias=true)',
      '  )',
      ')'}, '\n'), tostring(net))
    assert.equal('LSTM(8, 16, num_layers=2, batch_first=true, bidirectional=true, h0=\'learned\')',
      tostring(nn.LSTM{input_size = 8, hidden_size = 16, num_layers = 2, batch_first = true,
                       bidirectional = true, h0 = 'learned'}))
    assert.equal("RNN(2, 3, nonlinearity='relu', bias=false)",
      tostring(nn.RNN{input_size = 2, hidden_size = 3, nonlinearity = 'relu', bias = false}))
    assert.equal('Dropout(p=0.25)', tostring(nn.Dropout(0.25)))
    assert.equal('Embedding(10, 4)', tostring(nn.Embedding(10, 4)))
    assert.equal('LSTMCell(2, 5)', tostring(nn.LSTMCell(2, 5)))
  end)

  it('raises for a missing forward, naming the class', function()
    local Empty = nn.Module:extend('Empty')
    local e = Empty()
    fails('Empty: ', function() e(rnn.zeros{1}) end, 'forward is not implemented')
  end)
end)

describe('rnn.nn.Module registration', function()
  it('register_parameter sets requires_grad and keeps the tensor; nil parameters are skipped', function()
    local m = nn.Module()
    local w = rnn.randn{2, 2}
    assert.is_false(w:requires_grad())
    assert.equal(w, m:register_parameter('w', w))
    assert.is_true(w:requires_grad())
    assert.equal(w, m.w)
    m:register_parameter('b', nil)
    assert.same({'w'}, names(m:named_parameters()))
    assert.same({'w'}, sorted_keys(m:state_dict()))
    -- assigning the field replaces the parameter
    local w2 = rnn.zeros{2, 2}:requires_grad(true)
    m.w = w2
    assert.equal(w2, m:parameters()[1])
  end)

  it('refuses bad parameters and clashing names', function()
    local m = nn.Module()
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('a.b', rnn.zeros{1}) end, "'.'")
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('', rnn.zeros{1}) end, 'name')
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('i', rnn.zeros({1}, 'int64')) end,
      'float32 or float64', 'int64')
    local leaf = rnn.zeros{2}:requires_grad(true)
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('y', leaf * 2) end, 'not a leaf')
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('x', 3) end, 'tensor or nil')
    m:register_buffer('buf', rnn.zeros{1})
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('buf', rnn.zeros{1}) end,
      "'buf' is already a buffer")
    m.plain = 1
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('plain', rnn.zeros{1}) end,
      "attribute 'plain' already exists")
    fails('rnn.nn.Module.register_parameter: ', function() m:register_parameter('forward', rnn.zeros{1}) end,
      'method')
    fails('rnn.nn.Module.add_module: ', function() m:add_module('c', {}) end, 'must be a module')
    -- registering a parameter name again replaces the tensor
    local lin = nn.Linear(1, 1)
    local w = rnn.zeros{1, 1}
    lin:register_parameter('weight', w)
    assert.equal(w, lin:parameters()[1])
    fails('rnn.nn.Linear.add_module: ', function() lin:add_module('weight', nn.Tanh()) end, 'already a parameter')
  end)

  it('registers children by add_module and by assignment, in order', function()
    local m = nn.Module()
    m:add_module('b', nn.Linear(1, 1))
    m.a = nn.Linear(1, 1)
    m.not_a_module = {weight = rnn.zeros{1}}
    assert.same({'b', 'a'}, names(m:named_children()))
    assert.same({'b.weight', 'b.bias', 'a.weight', 'a.bias'}, names(m:named_parameters()))
  end)

  it('lists a tensor shared by two modules once', function()
    local a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    local s = nn.Sequential(a, b)
    assert.same({'0.weight', '0.bias', '1.bias'}, names(s:named_parameters()))
  end)

  it('keeps persistent buffers in state_dict and converts all buffers with to()', function()
    local m = nn.Module()
    m:register_buffer('mean', rnn.zeros{3})
    m:register_buffer('scratch', rnn.zeros{3}, false)
    m:register_buffer('count', rnn.zeros({1}, 'int64'))
    assert.same({'count', 'mean'}, sorted_keys(m:state_dict()))
    assert.same({'mean', 'scratch', 'count'}, names(m:named_buffers()))
    m:to('float64')
    assert.equal('float64', m.mean:dtype())
    assert.equal('float64', m.scratch:dtype())
    assert.equal('int64', m.count:dtype())
  end)
end)

describe('rnn.nn.Module state_dict', function()
  it('returns references to the module tensors under dotted names', function()
    local net = Net{n_in = 3, n_out = 2}
    local sd = net:state_dict()
    assert.same({'encoder.bias', 'encoder.weight', 'head.1.bias', 'head.1.weight', 'scale', 'steps'}, sorted_keys(sd))
    assert.equal(net.encoder.weight, sd['encoder.weight'])
    assert.same({'scale', 'steps', 'encoder.weight', 'encoder.bias', 'head.1.weight', 'head.1.bias'},
      net:state_dict_keys())
  end)

  it('load_state_dict copies values in place, keeping tensor identity and requires_grad', function()
    local a, b = Net{n_in = 3, n_out = 2}, Net{n_in = 3, n_out = 2}
    local w = b.encoder.weight
    local snap = {}
    for k, v in pairs(a:state_dict()) do snap[k] = v:clone() end
    local r = b:load_state_dict(a:state_dict())
    assert.same({missing_keys = {}, unexpected_keys = {}}, r)
    assert.equal(w, b.encoder.weight)
    assert.is_true(w:requires_grad())
    for k, v in pairs(b:state_dict()) do assert.is_true(equal(v, snap[k]), k) end
    local x = rnn.randn{4, 3}
    assert.is_true(equal(a(x), b(x)))
  end)

  it('converts values to the module dtype', function()
    local m32 = nn.Linear(3, 2)
    local m64 = nn.Linear{in_features = 3, out_features = 2, dtype = 'float64'}
    m32:load_state_dict(m64:state_dict())
    assert.equal('float32', m32.weight:dtype())
    assert.is_true((m32.weight:double() - m64.weight):abs():max():item() < 1e-7)
    m64:load_state_dict({weight = rnn.ones{2, 3}, bias = rnn.zeros{2}})
    assert.equal('float64', m64.weight:dtype())
    assert.equal(3, m64(rnn.ones({1, 3}, 'float64')):sum():item() / 2)
  end)

  it('with strict (the default) lists missing keys, unexpected keys and shape mismatches at once', function()
    local net = Net{n_in = 3, n_out = 2}
    local before = net.scale:item()
    local sd = {}
    for k, v in pairs(net:state_dict()) do sd[k] = v:clone() end
    sd['encoder.bias'] = nil
    sd['steps'] = nil
    sd['head.1.weight'] = rnn.zeros{3, 3}
    sd['decoder.weight'] = rnn.zeros{1}
    sd['extra'] = rnn.zeros{1}
    sd['scale'] = rnn.full({1}, 5)
    local msg = fails('Net.load_state_dict: ', function() net:load_state_dict(sd) end,
      'missing keys: encoder.bias, steps', 'unexpected keys: decoder.weight, extra',
      'shape mismatches: head.1.weight: expected (2,4), got (3,3)')
    assert.is_string(msg)
    assert.equal(before, net.scale:item()) -- nothing copied
  end)

  it('with strict = false ignores missing and unexpected keys but not shapes', function()
    local net = Net{n_in = 3, n_out = 2}
    local r = net:load_state_dict({scale = rnn.full({1}, 5), other = rnn.zeros{2}}, {strict = false})
    assert.equal(5, net.scale:item())
    assert.same({'encoder.bias', 'encoder.weight', 'head.1.bias', 'head.1.weight', 'steps'}, r.missing_keys)
    assert.same({'other'}, r.unexpected_keys)
    fails('Net.load_state_dict: ', function()
      net:load_state_dict({scale = rnn.zeros{2}}, {strict = false})
    end, 'scale: expected (1), got (2)')
    fails('Net.load_state_dict: ', function() net:load_state_dict({}, {strict = false, foo = 1}) end,
      "unknown option 'foo'")
    fails('Net.load_state_dict: ', function() net:load_state_dict(rnn.zeros{1}) end, 'a tensor')
    fails('Net.load_state_dict: ', function() net:load_state_dict({scale = 1}, {strict = false}) end,
      'scale is a number')
  end)

  it('names the class in errors of built-in modules', function()
    fails('rnn.nn.LSTM.load_state_dict: ', function()
      nn.LSTM{input_size = 2, hidden_size = 3}:load_state_dict({})
    end, 'missing keys: bias_hh_l0, bias_ih_l0, weight_hh_l0, weight_ih_l0')
  end)

  it('round-trips through a file written by rnn.save when it exists', function()
    if not rnn.save then return end
    local path = os.tmpname()
    local a = nn.GRU{input_size = 2, hidden_size = 3, num_layers = 2}
    rnn.save(path, a:state_dict())
    local b = nn.GRU{input_size = 2, hidden_size = 3, num_layers = 2}
    b:load_state_dict((rnn.load(path)))
    os.remove(path)
    for k, v in pairs(a:state_dict()) do assert.is_true(equal(v, b:state_dict()[k]), k) end
  end)
end)

describe('rnn.nn.Module modes, gradients and dtype', function()
  it('train / eval propagate to every descendant and return self', function()
    local net = Net{n_in = 3, n_out = 2}
    assert.equal(net, net:eval())
    for _, m in ipairs(net:modules()) do assert.is_false(m.training) end
    assert.equal(net, net:train())
    for _, m in ipairs(net:modules()) do assert.is_true(m.training) end
    net:train(false)
    assert.is_false(net.head[1].training)
    fails('Net.train: ', function() net:train('yes') end, 'boolean')
  end)

  it('a Dropout inside follows the mode', function()
    local s = nn.Sequential(nn.Dropout(0.5))
    local x = rnn.ones{100}
    assert.is_false(equal(s(x), x))
    s:eval()
    assert.is_true(equal(s(x), x))
  end)

  it('zero_grad sets gradients to nil, or to zeros with set_to_none = false', function()
    local net = Net{n_in = 3, n_out = 2}
    net(rnn.randn{4, 3}):sum():backward()
    for _, p in ipairs(net:parameters()) do assert.is_not_nil(p.grad) end
    net:zero_grad(false)
    for _, p in ipairs(net:parameters()) do assert.equal(0, p.grad:abs():sum():item()) end
    net:zero_grad()
    for _, p in ipairs(net:parameters()) do assert.is_nil(p.grad) end
  end)

  it('to(dtype) converts parameters (still leaves requiring grad) and dtype fields', function()
    local net = Net{n_in = 3, n_out = 2}
    local x = rnn.randn{4, 3}
    local y32 = net(x)
    assert.equal(net, net:to('float64'))
    for _, p in ipairs(net:parameters()) do
      assert.equal('float64', p:dtype())
      assert.is_true(p:requires_grad() and p:is_leaf())
    end
    assert.equal('float64', net.encoder.dtype)
    local y64 = net(x:double())
    assert.is_true((y64:float() - y32):abs():max():item() < 1e-6)
    net:float()
    assert.equal('float32', net.head[2].weight:dtype())
    fails('Net.to: ', function() net:to('int64') end, "'float32' or 'float64'", 'int64')
  end)

  it('apply visits children before self', function()
    local seen = {}
    nn.Sequential(nn.Tanh(), nn.ReLU()):apply(function(m) seen[#seen + 1] = getmetatable(m).__name end)
    assert.same({'Tanh', 'ReLU', 'Sequential'}, seen)
  end)
end)

describe('rnn.nn.Sequential', function()
  it("names children '0', '1', ... (PyTorch) and indexes them from 1 in Lua", function()
    local l1, l2 = nn.Linear(3, 4), nn.Linear(4, 2)
    local s = nn.Sequential(l1, nn.ReLU(), l2)
    assert.equal(3, #s)
    assert.equal(l1, s[1])
    assert.equal(l2, s[3])
    assert.equal(l2, s[-1])
    assert.is_nil(s[4])
    assert.equal(l1, s['0'])
    assert.same({'0.weight', '0.bias', '2.weight', '2.bias'}, names(s:named_parameters()))
    local s2 = nn.Sequential{nn.Linear(3, 4), nn.ReLU()}
    s2:append(nn.Linear(4, 2))
    assert.same({'0.weight', '0.bias', '2.weight', '2.bias'}, names(s2:named_parameters()))
    assert.equal(0, #nn.Sequential())
  end)

  it('applies the modules in turn', function()
    local s = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    local x = rnn.randn{5, 3}
    assert.is_true(equal(s(x), s[3](s[2](s[1](x)))))
  end)

  it('refuses what is not a module', function()
    fails('rnn.nn.Sequential: ', function() nn.Sequential(nn.Tanh(), 3) end, 'module 2 is a number')
    fails('rnn.nn.Sequential: ', function() nn.Sequential{nn.Tanh(), x = 1} end, "key 'x'")
    fails('rnn.nn.Sequential.append: ', function() nn.Sequential():append('relu') end, 'must be a module')
  end)

  it('keeps integer indexing in a subclass', function()
    local MySeq = nn.Sequential:extend('MySeq')
    local s = MySeq(nn.Tanh(), nn.ReLU())
    assert.equal(2, #s)
    assert.equal('ReLU', getmetatable(s[2]).__name)
    assert.is_true(s:is_a(nn.Sequential))
  end)
end)
