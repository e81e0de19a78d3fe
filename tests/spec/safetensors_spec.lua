-- rnn.save / rnn.load: safetensors files. Round trips, metadata, the
-- {name, tensor} pairs form, non-contiguous input, errors, corrupt files
-- (never a crash), and fixtures written from PyTorch by
-- tests/fixtures/safetensors/make_fixtures.py.
local rnn = require 'rnn'

local FIX = 'tests/fixtures/safetensors/'

local tmpfiles = {}
local function tmp()
  local p = os.tmpname()
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function read_bytes(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function write_bytes(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

-- a file from a header (table or JSON text) and data bytes
local function st_file(header, data)
  return string.pack('<I8', #header) .. header .. (data or '')
end

local function same_tensor(want, got, name)
  name = name or '?'
  assert(got, 'tensor ' .. name .. ' missing')
  assert.are.equal(want:dtype(), got:dtype(), 'dtype of ' .. name)
  assert.are.same(want:shape(), got:shape(), 'shape of ' .. name)
  assert.are.same(want:totable(), got:totable(), 'values of ' .. name)
end

-- nested tables of numbers, NaN equal to NaN
local function same_values(a, b, path)
  path = path or ''
  if type(a) == 'table' then
    assert.are.equal(#a, #b, 'length at ' .. path)
    for i = 1, #a do same_values(a[i], b[i], path .. '[' .. i .. ']') end
  elseif a ~= a then
    assert(b ~= b, 'at ' .. path .. ': expected NaN, got ' .. tostring(b))
  else
    assert(a == b, string.format('at %s: expected %.17g, got %.17g', path, a, b))
  end
end

-- f must raise "<this file>:<line>: rnn.<fn>: ..." containing each further string
local function fails(fn, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error from rnn.' .. fn)
  assert(type(msg) == 'string', 'error is not a string')
  assert(msg:match('^[^\n]-safetensors_spec%.lua:%d+: rnn%.' .. fn .. ': '), 'bad location or prefix: ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(msg:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
  return msg
end

describe('rnn.save and rnn.load', function()
  teardown(function()
    for _, p in ipairs(tmpfiles) do os.remove(p) end
  end)

  it('round-trip float32, float64, int64, 0-d and empty tensors', function()
    local path = tmp()
    rnn.manual_seed(1)
    local t = {
      w = rnn.randn(3, 4),
      d = rnn.randn({5}, 'float64'),
      idx = rnn.tensor({{1, -2}, {math.maxinteger, math.mininteger}}, 'int64'),
      s = rnn.tensor(2.5),
      e = rnn.zeros({0, 3}, 'float64'),
      ['layer.0.weight_ih_l0'] = rnn.ones(2, 2),
    }
    rnn.save(path, t)
    local back, meta = rnn.load(path)
    local n = 0
    for k, v in pairs(t) do
      same_tensor(v, back[k], k)
      assert.is_true(back[k]:is_contiguous())
      n = n + 1
    end
    for _ in pairs(back) do n = n - 1 end
    assert.are.equal(0, n)
    assert.are.same({}, meta)
    assert.are.equal('integer', math.type(back.idx[{2, 1}]))
    assert.are.equal(math.mininteger, back.idx[{2, 2}])
  end)

  it('keeps metadata (strings to strings)', function()
    local path = tmp()
    rnn.save(path, {x = rnn.zeros(1)}, {step = '100', note = 'ünïcode, "quotes"', empty = ''})
    local _, meta = rnn.load(path)
    assert.are.same({step = '100', note = 'ünïcode, "quotes"', empty = ''}, meta)
  end)

  it('accepts an array of {name, tensor} pairs, as named_parameters returns', function()
    local path = tmp()
    local a, b = rnn.randn(2, 3), rnn.randn({4}, 'float64')
    rnn.save(path, {{'weight', a}, {'bias', b}})
    local back = rnn.load(path)
    same_tensor(a, back.weight, 'weight')
    same_tensor(b, back.bias, 'bias')
  end)

  it('saves an empty table and loads it back empty', function()
    local path = tmp()
    rnn.save(path, {})
    local back, meta = rnn.load(path)
    assert.are.same({}, back)
    assert.are.same({}, meta)
    assert.are.equal(16, #read_bytes(path))
  end)

  it('saves non-contiguous views as their values in row-major order', function()
    local path = tmp()
    local base = rnn.arange(12, 'float64'):reshape(3, 4)
    local views = {
      t = base:t(),
      n = base:narrow(2, 2, 2),
      s = base:select(2, 3),
      x = rnn.tensor({1, 2, 3}):unsqueeze(1):expand(2, 3),
    }
    for _, v in pairs(views) do assert.is_false(v:is_contiguous()) end
    rnn.save(path, views)
    local back = rnn.load(path)
    for k, v in pairs(views) do same_tensor(v:contiguous(), back[k], k) end
    assert.are.same({{0, 4, 8}, {1, 5, 9}, {2, 6, 10}, {3, 7, 11}}, back.t:totable())
  end)

  it('saves tensors that require grad; loaded tensors are plain leaves', function()
    local path = tmp()
    local w = rnn.randn({2, 2}, 'float64'):requires_grad(true)
    local y = (w * 2):sum()
    rnn.save(path, {w = w, y = y})
    local back = rnn.load(path)
    same_tensor(w:detach(), back.w, 'w')
    assert.is_false(back.w:requires_grad())
  end)

  it('writes the same bytes for the same tensors, whatever the table order', function()
    local p1, p2 = tmp(), tmp()
    local a, b, c = rnn.randn(3), rnn.randn({2}, 'float64'), rnn.tensor({1, 2}, 'int64')
    rnn.save(p1, {a = a, b = b, c = c}, {k1 = 'v', k2 = 'w'})
    rnn.save(p2, {{'c', c}, {'a', a}, {'b', b}}, {k2 = 'w', k1 = 'v'})
    assert.are.equal(read_bytes(p1), read_bytes(p2))
    local bytes = read_bytes(p1)
    local hlen = string.unpack('<I8', bytes)
    assert.are.equal(0, hlen % 8)
    -- int64 data first, then float64, then float32 (the reference library's order)
    local header = bytes:sub(9, 8 + hlen)
    assert.truthy(header:find('"c":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}', 1, true))
    assert.truthy(header:find('"b":{"dtype":"F64","shape":[2],"data_offsets":[16,32]}', 1, true))
    assert.truthy(header:find('"a":{"dtype":"F32","shape":[3],"data_offsets":[32,44]}', 1, true))
  end)

  it('replaces an existing file and leaves no temporary file', function()
    local dir = tmp()
    os.remove(dir)
    assert(os.execute('mkdir ' .. dir))
    local path = dir .. '/m.safetensors'
    rnn.save(path, {a = rnn.zeros(2)})
    rnn.save(path, {b = rnn.ones(3)})
    local back = rnn.load(path)
    assert.is_nil(back.a)
    assert.are.same({1, 1, 1}, back.b:totable())
    local p = io.popen('ls -A ' .. dir)
    local listing = p:read('a')
    p:close()
    assert.are.equal('m.safetensors\n', listing)
    os.remove(path)
    os.remove(dir)
  end)

  it('a failed save leaves an existing file untouched', function()
    local path = tmp()
    rnn.save(path, {a = rnn.randn(4)})
    local before = read_bytes(path)
    fails('save', function() rnn.save(path, {{'x', rnn.zeros(1)}, {'x', rnn.zeros(2)}}) end,
      path, "two tensors are named 'x'")
    fails('save', function() rnn.save(path, {a = rnn.zeros(1)}, {step = 100}) end, 'step', 'tostring')
    fails('save', function() rnn.save(path, {a = 'not a tensor'}) end, "'a' must be a tensor, got string")
    assert.are.equal(before, read_bytes(path))
  end)
end)

describe('rnn.save errors', function()
  local path = os.tmpname()
  teardown(function() os.remove(path) end)
  local t = rnn.zeros(2)

  it('name the argument and what is wrong', function()
    fails('save', function() rnn.save(nil, {}) end, 'argument 1 (path) must be a string, got nil')
    fails('save', function() rnn.save(path, t) end, 'argument 2 (tensors) must be a table', 'got a tensor')
    fails('save', function() rnn.save(path, 5) end, 'argument 2 (tensors) must be a table', 'got number')
    fails('save', function() rnn.save(path, {}, 'meta') end, 'argument 3 (metadata) must be a table')
    fails('save', function() rnn.save(path, {t}) end, 'key 1 is a number; names must be strings')
    fails('save', function() rnn.save(path, {[true] = t}) end, 'key true is a boolean')
    fails('save', function() rnn.save(path, {['a\0b'] = t}) end, 'contains a NUL byte')
    fails('save', function() rnn.save(path, {[''] = t}) end, 'empty name')
    fails('save', function() rnn.save(path, {__metadata__ = t}) end, 'reserved')
    fails('save', function() rnn.save(path, {{'a', t}, {'b'}}) end, "entry 2 ('b'): element 2 must be a tensor, got nil")
    fails('save', function() rnn.save(path, {{'a', t}, t}) end, 'entry 2 must be a {name, tensor} pair, got a tensor')
    fails('save', function() rnn.save(path, {{1, t}}) end, 'entry 1: the name (element 1) must be a string, got number')
    fails('save', function() rnn.save(path, {{'a', t}, extra = t}) end, 'must hold nothing else')
    fails('save', function() rnn.save(path, {a = t}, {k = 1}) end,
      "the value of 'k' is a number; values must be strings", 'tostring')
    fails('save', function() rnn.save(path, {a = t}, {[1] = 'v'}) end, 'key 1 is a number; keys must be strings')
    fails('save', function() rnn.save(path, {a = t}, {k = '\xff'}) end, 'not valid UTF-8')
  end)

  it('name the path when the file cannot be written', function()
    local bad = '/nonexistent-dir-rnnlua/m.safetensors'
    fails('save', function() rnn.save(bad, {a = t}) end, 'rnn.save: ' .. bad .. ': ', 'No such file or directory')
  end)
end)

describe('rnn.load errors', function()
  local path = os.tmpname()
  teardown(function() os.remove(path) end)

  local function load_fails(bytes, ...)
    write_bytes(path, bytes)
    return fails('load', function() rnn.load(path) end, 'rnn.load: ' .. path .. ': ', ...)
  end

  it('name the path for a missing file', function()
    local p = path .. '.missing'
    fails('load', function() rnn.load(p) end, 'rnn.load: ' .. p .. ': cannot open', 'No such file or directory')
    fails('load', function() rnn.load(42) end, 'argument 1 (path) must be a string')
  end)

  it('explain each kind of corrupt file, naming the tensor', function()
    load_fails('', 'too short')
    load_fails(string.pack('<I8', 1000) .. '{}', 'header length 1000 is more than the 2 bytes after it')
    load_fails(string.pack('<I8', 1 << 40) .. '{}', 'over the limit')
    load_fails(st_file('{"a":'), 'invalid JSON header', 'line 1')
    load_fails(st_file('[1]'), 'must be a JSON object')
    load_fails(st_file('{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', '\1'), "tensor 'a': dtype BOOL is not supported")
    load_fails(st_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', '\1'), "tensor 'a': dtype U8")
    load_fails(st_file('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', '1234'), "tensor 'a'", '-1')
    load_fails(st_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', '1234'), "tensor 'a'", 'needs 8')
    load_fails(st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}',
      '123456'), "tensor 'b'", "overlap those of tensor 'a'")
    load_fails(st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
      '123456789012'), 'gap before tensor \'b\'')
    load_fails(st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', '12345'), 'cover only 4')
    load_fails(st_file('{"a":1,"a":2}'), 'duplicate')
    load_fails(st_file('{"__metadata__":{"step":100}}'), "'step' must be a string")
    load_fails(st_file('{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}', '1234'), 'at most 8')
  end)

  it('raise an error, never crash, on a file truncated at any length', function()
    local good = tmp()
    rnn.save(good, {w = rnn.randn(3, 2), b = rnn.randn({2}, 'float64'), i = rnn.tensor({1}, 'int64')}, {k = 'v'})
    local bytes = read_bytes(good)
    for n = 0, #bytes - 1 do
      write_bytes(path, bytes:sub(1, n))
      local ok, msg = pcall(rnn.load, path)
      assert(not ok, 'truncated to ' .. n .. ' bytes: loaded')
      assert(msg:find('rnn.load: ' .. path .. ': ', 1, true), msg)
    end
  end)
end)

describe('files written with PyTorch (tests/fixtures/safetensors)', function()
  it('reads F32, F64, F16, BF16, I32, I64, 0-d and empty tensors', function()
    local t, meta = rnn.load(FIX .. 'dtypes.safetensors')
    assert.are.equal('pt', meta.format)
    assert.are.equal('float32', t.f16:dtype())
    assert.are.equal('float32', t.bf16:dtype())
    assert.are.same({2, 4}, t.f16:shape())
    -- widened exactly as torch widens them (.float())
    same_values(t.f16_as_f32:totable(), t.f16:totable())
    same_values(t.bf16_as_f32:totable(), t.bf16:totable())
    local f16 = t.f16:totable()
    assert.are.equal(1, f16[1][1]); assert.are.equal(-2, f16[1][2]); assert.are.equal(65504, f16[2][1])
    assert.are.equal(-math.huge, f16[2][2]); assert(f16[2][3] ~= f16[2][3])
    assert.are.equal(2^-24, f16[1][4]) -- the smallest subnormal
    assert.are.equal('int64', t.i32:dtype())
    assert.are.same({{-1, 2147483647}, {-2147483648, 7}}, t.i32:totable())
    assert.are.equal('int64', t.i64:dtype())
    assert.are.same({(1 << 62) + 1, math.mininteger, 0}, t.i64:totable())
    assert.are.equal('float64', t.f64:dtype())
    assert.are.same({math.pi, -1e300, 5e-324, 1 / 3}, t.f64:totable())
    assert.are.same({}, t.scalar:shape())
    assert.are.equal(2.5, t.scalar:item())
    assert.are.same({0, 4}, t.empty:shape())
    assert.are.same({2, 3}, t.f32:shape())
  end)

  it('reads a PyTorch LSTM state dict with its names and layout', function()
    local sd, meta = rnn.load(FIX .. 'lstm.safetensors')
    assert.are.same({8, 3}, sd.weight_ih_l0:shape())
    assert.are.same({8, 2}, sd.weight_hh_l0:shape())
    assert.are.same({8}, sd.bias_ih_l0:shape())
    assert.are.same({8}, sd.bias_hh_l0:shape())
    for name, t in pairs(sd) do
      assert.are.equal('float32', t:dtype())
      local want = tonumber(meta['sum.' .. name])
      local got = t:double():sum():item()
      assert(math.abs(got - want) <= 1e-12 * math.max(1, math.abs(want)), name .. ': ' .. got .. ' vs ' .. want)
    end
  end)

  it('loads into rnn.nn.LSTM, whose named_parameters save back the same tensors', function()
    local sd = rnn.load(FIX .. 'lstm.safetensors')
    local lstm = rnn.nn.LSTM{input_size = 3, hidden_size = 2}
    lstm:load_state_dict(sd)
    local path = tmp()
    rnn.save(path, lstm:named_parameters())
    local back = rnn.load(path)
    local n = 0
    for k, v in pairs(sd) do same_tensor(v, back[k], k); n = n + 1 end
    assert.are.equal(4, n)
  end)

  it('reads a file in another layout (any order, no padding)', function()
    local t = rnn.load(FIX .. 'unordered.safetensors')
    assert.are.same({1.5, -2.5}, t.zeta:totable())
    assert.are.same({{3, -4}}, t.alpha:totable())
    assert.are.equal('int64', t.alpha:dtype())
    assert.are.same({0.25}, t.mid:totable())
    assert.are.same({0}, t.none:shape())
    assert.are.equal('float64', t.none:dtype())
  end)

  it('writes what it read byte for byte in the reference layout', function()
    -- lstm.safetensors was written in the safetensors library's layout: saving
    -- the same tensors and metadata again gives the same bytes
    local sd, meta = rnn.load(FIX .. 'lstm.safetensors')
    local path = tmp()
    rnn.save(path, sd, meta)
    assert.are.equal(read_bytes(FIX .. 'lstm.safetensors'), read_bytes(path))
  end)
end)
