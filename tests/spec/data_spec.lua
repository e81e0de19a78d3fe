-- rnn.data: the synthetic tasks, time series, text corpora and sampling.
-- Every random test runs from a fixed seed.
local rnn = require 'rnn'
local F = rnn.nn.functional

local FIXTURES = 'tests/fixtures/data/'

local function shape(t) return table.concat(t:shape(), ',') end

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

-- the message of the error f raises; it must point at this file and start
-- with `rnn.data.<fn>: `
local function fails(fn, f, ...)
  local ok, msg = pcall(f)
  assert(not ok, 'expected an error from ' .. fn)
  local file, text = tostring(msg):match('^(.-):%d+: (.*)$')
  assert(file and file:match('data_spec%.lua$'), 'error does not point at this spec: ' .. tostring(msg))
  assert(text:sub(1, #fn + 2) == fn .. ': ', 'message does not start with "' .. fn .. ': ": ' .. msg)
  for i = 1, select('#', ...) do
    local want = select(i, ...)
    assert(text:find(want, 1, true), string.format('message lacks "%s": %s', want, msg))
  end
  return text
end

local function same_tensor(a, b)
  return a:dtype() == b:dtype() and shape(a) == shape(b) and (a:numel() == 0 or
    (a:double() - b:double()):abs():max():item() == 0)
end

describe('rnn.data seeding', function()
  it('gives the same data for the same seed whatever ran before, and leaves the generator alone', function()
    rnn.manual_seed(7)
    local x1, y1 = rnn.data.adding{T = 20, batch = 4, seed = 123}
    local after = rnn.rand{3}
    rnn.manual_seed(99); rnn.randn{17}
    local x2, y2 = rnn.data.adding{T = 20, batch = 4, seed = 123}
    assert.is_true(same_tensor(x1, x2) and same_tensor(y1, y2))
    rnn.manual_seed(7)
    assert.is_true(same_tensor(after, rnn.rand{3}))
    local x3 = rnn.data.adding{T = 20, batch = 4, seed = 124}
    assert.is_false(same_tensor(x1, x3))
  end)

  it('draws from the global generator without a seed', function()
    rnn.manual_seed(5)
    local a = rnn.data.copy{T = 10, batch = 3}
    rnn.manual_seed(5)
    local b = rnn.data.copy{T = 10, batch = 3}
    local c = rnn.data.copy{T = 10, batch = 3}
    assert.is_true(same_tensor(a, b))
    assert.is_false(same_tensor(b, c))
  end)
end)

describe('rnn.data.adding', function()
  it('has the documented shapes and dtypes', function()
    local x, y, info = rnn.data.adding{T = 30, batch = 5, seed = 1}
    assert.are.equal('30,5,2', shape(x)); assert.are.equal('5,1', shape(y))
    assert.are.equal('float32', x:dtype()); assert.are.equal('float32', y:dtype())
    assert.are.equal('5,2', shape(info.positions)); assert.are.equal('int64', info.positions:dtype())
    local xd, yd = rnn.data.adding{T = 30, batch = 5, seed = 1, dtype = 'float64', batch_first = true}
    assert.are.equal('5,30,2', shape(xd)); assert.are.equal('float64', yd:dtype())
  end)

  it('marks exactly two steps, one in each half, and the target is their sum', function()
    local T, B = 41, 64
    local x, y = rnn.data.adding{T = T, batch = B, seed = 2, dtype = 'float64'}
    local xt, yt = x:totable(), y:totable()
    for b = 1, B do
      local marks, sum = {}, 0
      for t = 1, T do
        local v, m = xt[t][b][1], xt[t][b][2]
        assert.is_true(v >= 0 and v < 1)
        assert.is_true(m == 0 or m == 1)
        if m == 1 then marks[#marks + 1] = t; sum = sum + v end
      end
      assert.are.equal(2, #marks)
      assert.is_true(marks[1] <= T // 2 and marks[2] > T // 2)
      assert.are.equal(sum, yt[b][1])
    end
  end)

  it('the mean predictor has MSE 1/6', function()
    assert.are.equal(1 / 6, rnn.data.adding_baseline_mse)
    local _, y = rnn.data.adding{T = 4, batch = 40000, seed = 3, dtype = 'float64'}
    local mse = F.mse(y, rnn.ones({40000, 1}, 'float64')):item()
    assert.is_true(math.abs(mse - 1 / 6) < 0.005, 'mse ' .. mse)
    assert.is_true(math.abs(y:mean():item() - 1) < 0.01)
  end)

  it('spreads the markers over each half', function()
    local _, _, info = rnn.data.adding{T = 10, batch = 2000, seed = 4}
    local seen = {}
    for _, p in ipairs(info.positions:totable()) do seen[p[1]] = true; seen[p[2]] = true end
    for t = 1, 10 do assert.is_true(seen[t], 'step ' .. t .. ' never marked') end
  end)
end)

describe('rnn.data.copy', function()
  it('follows the structure of Arjovsky et al. (2016)', function()
    local T, L, K, B = 15, 10, 8, 6
    local x, y, info = rnn.data.copy{T = T, length = L, n_symbols = K, batch = B, seed = 1}
    assert.are.equal((T + 2 * L) .. ',' .. B, shape(x)); assert.are.equal(shape(x), shape(y))
    assert.are.equal('int64', x:dtype()); assert.are.equal('int64', y:dtype())
    assert.are.same({n_classes = 10, blank = 1, delimiter = 10}, {n_classes = info.n_classes, blank = info.blank,
      delimiter = info.delimiter})
    local xt, yt = x:totable(), y:totable()
    for b = 1, B do
      for t = 1, L do
        assert.is_true(xt[t][b] >= 2 and xt[t][b] <= K + 1)
        assert.are.equal(xt[t][b], yt[T + L + t][b])
      end
      for t = L + 1, L + T - 1 do assert.are.equal(1, xt[t][b]) end
      assert.are.equal(K + 2, xt[L + T][b])
      for t = L + T + 1, T + 2 * L do assert.are.equal(1, xt[t][b]) end
      for t = 1, T + L do assert.are.equal(1, yt[t][b]) end
    end
  end)

  it('has the baseline 10 ln 8 / (T + 20), which the memoryless predictor attains', function()
    assert.is_true(math.abs(rnn.data.copy_baseline(100) - 10 * math.log(8) / 120) < 1e-15)
    assert.is_true(math.abs(rnn.data.copy_baseline(50, 5, 4) - 5 * math.log(4) / 60) < 1e-15)
    local T, L, K, B = 20, 10, 8, 4
    local _, y = rnn.data.copy{T = T, batch = B, seed = 2}
    -- blank with certainty for T + L steps, then uniform over the K symbols
    local logits = rnn.full({T + 2 * L, B, K + 2}, -1e4, 'float64')
    logits:narrow(1, 1, T + L):select(3, 1):fill_(0)
    logits:narrow(1, T + L + 1, L):narrow(3, 2, K):fill_(0)
    local loss = F.cross_entropy(logits, y):item()
    assert.is_true(math.abs(loss - rnn.data.copy_baseline(T, L, K)) < 1e-12)
  end)

  it('one_hot encodes indices on a new last dimension', function()
    local x = rnn.data.copy{T = 5, length = 3, batch = 2, seed = 3}
    local oh = rnn.data.one_hot(x, 10)
    assert.are.equal('11,2,10', shape(oh)); assert.are.equal('float32', oh:dtype())
    assert.is_true(same_tensor(oh:sum(3), rnn.ones{11, 2}))
    assert.is_true(same_tensor(oh:argmax(3), x))
    assert.are.equal('float64', rnn.data.one_hot(rnn.tensor({1, 2}, 'int64'), 3, 'float64'):dtype())
  end)
end)

describe('rnn.data.temporal_order', function()
  it('places A/B in [T/10, 2T/10] and [4T/10, 5T/10], distractors elsewhere, and the class names them', function()
    local T, B = 100, 200
    local x, y, info = rnn.data.temporal_order{T = T, batch = B, seed = 1}
    assert.are.equal('100,200,6', shape(x)); assert.are.equal('float32', x:dtype())
    assert.are.equal('200', shape(y)); assert.are.equal('int64', y:dtype())
    assert.is_true(same_tensor(x:sum(3), rnn.ones{T, B}))
    assert.is_true(same_tensor(x:argmax(3), info.indices))
    local idx, cls, pos = info.indices:totable(), y:totable(), info.positions:totable()
    local counts = {0, 0, 0, 0}
    for b = 1, B do
      local rel = {}
      for t = 1, T do
        local s = idx[t][b]
        if s <= 2 then rel[#rel + 1] = {t, s} else assert.is_true(s <= 6) end
      end
      assert.are.equal(2, #rel)
      assert.is_true(rel[1][1] >= 10 and rel[1][1] <= 20, 'first at ' .. rel[1][1])
      assert.is_true(rel[2][1] >= 40 and rel[2][1] <= 50, 'second at ' .. rel[2][1])
      assert.are.same({rel[1][1], rel[2][1]}, pos[b])
      local name = rnn.data.temporal_order_symbols[rel[1][2]] .. rnn.data.temporal_order_symbols[rel[2][2]]
      assert.are.equal(name, rnn.data.temporal_order_classes[cls[b]])
      counts[cls[b]] = counts[cls[b]] + 1
    end
    for c = 1, 4 do assert.is_true(counts[c] > 25, 'class ' .. c .. ' seen ' .. counts[c] .. ' times') end
  end)

  it('works down to T = 10 and batch_first', function()
    local x, y = rnn.data.temporal_order{T = 10, batch = 3, seed = 2, batch_first = true}
    assert.are.equal('3,10,6', shape(x)); assert.are.equal('3', shape(y))
  end)
end)

describe('rnn.data time series', function()
  it('sine_mixture: shapes, y one step ahead, bounded, deterministic by seed', function()
    local x, y, info = rnn.data.sine_mixture{T = 50, batch = 4, seed = 1, dtype = 'float64'}
    assert.are.equal('50,4,1', shape(x)); assert.are.equal('50,4,1', shape(y))
    assert.are.equal('4,3', shape(info.freqs))
    assert.is_true(same_tensor(x:narrow(1, 2, 49), y:narrow(1, 1, 49)))
    assert.is_true(x:abs():max():item() <= 1)
    -- the first value is the mixture at t = 0
    local f, a, p = info.freqs:totable()[1], info.amps:totable()[1], info.phases:totable()[1]
    local s = 0
    for k = 1, 3 do s = s + a[k] * math.sin(p[k]) end
    assert.is_true(math.abs(x:get(1, 1, 1) - s / 3) < 1e-12)
    assert.is_true(f[1] >= 0.01 and f[1] <= 0.1)
    local x2 = rnn.data.sine_mixture{T = 50, batch = 4, seed = 1, dtype = 'float64'}
    assert.is_true(same_tensor(x, x2))
  end)

  it('mackey_glass: plausible range and statistics, deterministic by seed', function()
    local x, y = rnn.data.mackey_glass{T = 2000, batch = 2, seed = 1}
    assert.are.equal('2000,2,1', shape(x)); assert.are.equal('float32', x:dtype())
    assert.is_true(same_tensor(x:narrow(1, 2, 1999), y:narrow(1, 1, 1999)))
    assert.is_true(x:min():item() > 0.2 and x:max():item() < 1.5)
    -- the tau = 17 attractor: mean about 0.93, standard deviation about 0.23
    local xd = x:double()
    local m = xd:mean():item()
    local sd = ((xd - m) ^ 2):mean():item() ^ 0.5
    assert.is_true(math.abs(m - 0.93) < 0.03, 'mean ' .. m)
    assert.is_true(math.abs(sd - 0.226) < 0.03, 'std ' .. sd)
    local x2 = rnn.data.mackey_glass{T = 2000, batch = 2, seed = 1}
    assert.is_true(same_tensor(x, x2))
    assert.is_false(same_tensor(x, (rnn.data.mackey_glass{T = 2000, batch = 2, seed = 2})))
  end)

  it('mackey_glass: the integration has converged at dt = 0.1', function()
    local a = rnn.data.mackey_glass{T = 50, batch = 1, seed = 3, dt = 0.1, dtype = 'float64'}
    local b = rnn.data.mackey_glass{T = 50, batch = 1, seed = 3, dt = 0.02, dtype = 'float64'}
    assert.is_true((a - b):abs():max():item() < 0.01)
  end)

  it('narma10: follows the recurrence, deterministic by seed', function()
    local T = 300
    local x, y, info = rnn.data.narma10{T = T, batch = 3, seed = 1, dtype = 'float64'}
    assert.are.equal('300,3,1', shape(x)); assert.are.equal('300,3,1', shape(y))
    assert.is_true(x:min():item() >= 0 and x:max():item() < 0.5)
    assert.are.equal(0, info.redraws)
    local u, v = x:totable(), y:totable()
    for b = 1, 3 do
      for t = 11, T do   -- y[t] = y(t+1) of the system, x[t] = u(t)
        local acc = 0
        for i = 0, 9 do acc = acc + v[t - 1 - i][b][1] end
        local want = 0.3 * v[t - 1][b][1] + 0.05 * v[t - 1][b][1] * acc + 1.5 * u[t - 9][b][1] * u[t][b][1] + 0.1
        assert.is_true(math.abs(v[t][b][1] - want) < 1e-12)
      end
    end
    assert.is_true(same_tensor(y, (select(2, rnn.data.narma10{T = T, batch = 3, seed = 1, dtype = 'float64'}))))
    assert.is_false(same_tensor(y, (select(2, rnn.data.narma10{T = T, batch = 3, seed = 2, dtype = 'float64'}))))
  end)
end)

describe('rnn.data.text corpus', function()
  local text = read(FIXTURES .. 'tiny.txt')

  it('has a sorted byte vocabulary and round-trips encode/decode', function()
    local c = rnn.data.text.load(FIXTURES .. 'tiny.txt')
    local seen, bytes = {}, {}
    for i = 1, #text do
      local b = text:byte(i)
      if not seen[b] then seen[b] = true; bytes[#bytes + 1] = b end
    end
    table.sort(bytes)
    assert.are.equal(#bytes, c.vocab_size)
    for i, b in ipairs(bytes) do
      assert.are.equal(string.char(b), c.vocab[i])
      assert.are.equal(i, c.stoi[string.char(b)])
    end
    local e = c:encode(text)
    assert.are.equal('int64', e:dtype()); assert.are.equal(#text, e:numel())
    assert.are.equal(text, c:decode(e))
    assert.are.equal('fox', c:decode(c:encode('fox'):totable()))
    assert.are.equal('\n', c:decode(1))
  end)

  it('splits the stream into train and val', function()
    local c = rnn.data.text.load(FIXTURES .. 'tiny.txt')
    local n_val = math.floor(0.1 * #text + 0.5)
    assert.are.equal(#text - n_val, c.train:numel()); assert.are.equal(n_val, c.val:numel())
    assert.are.equal(text, c:decode(c.train) .. c:decode(c.val))
    local c0 = rnn.data.text.load(FIXTURES .. 'tiny.txt', {val_fraction = 0})
    assert.are.equal(#text, c0.train:numel()); assert.are.equal(0, c0.val:numel())
  end)

  it('batches contiguous tracks for truncated BPTT, targets shifted by one', function()
    local c = rnn.data.text.load(FIXTURES .. 'tiny.txt', {val_fraction = 0})
    local data = c.train:totable()
    local B, bptt = 3, 7
    local L = (#data - 1) // B      -- 39
    local count, seen = 0, 0
    for x, y, info in c:batches{batch = B, bptt = bptt} do
      count = count + 1
      assert.are.equal(count, info.index); assert.are.equal(count == 1, info.reset)
      assert.are.equal('int64', x:dtype())
      assert.are.equal(B, x:size(2)); assert.are.equal(shape(x), shape(y))
      local start = (count - 1) * bptt
      local xt, yt = x:totable(), y:totable()
      for t = 1, x:size(1) do
        for b = 1, B do
          assert.are.equal(data[(b - 1) * L + start + t], xt[t][b])
          assert.are.equal(data[(b - 1) * L + start + t + 1], yt[t][b])
        end
      end
      seen = seen + x:size(1)
      assert.are.equal((L + bptt - 1) // bptt, info.count)
    end
    assert.are.equal(math.ceil(L / bptt), count)
    assert.are.equal(L, seen)
    local n = 0
    for x in c:batches{batch = B, bptt = bptt, drop_last = true} do n = n + 1; assert.are.equal(bptt, x:size(1)) end
    assert.are.equal(L // bptt, n)
  end)

  it('maps rare bytes to one unknown symbol with min_count', function()
    local c = rnn.data.text.from_string('aaabbc', {min_count = 2, val_fraction = 0})
    assert.are.same({'a', 'b', '?'}, c.vocab)
    assert.are.equal('aaabb?', c:decode(c.train))
    assert.are.equal(3, c:encode('z'):totable()[1])
  end)
end)

describe('rnn.data.text records (many-reset mode)', function()
  local want = {'One.', 'Two records here.', 'A third,\nover two lines.', 'X', 'Five is the last one'}

  it('splits records at the delimiter, in file order without shuffle', function()
    local c = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0.2,
      shuffle = false})
    assert.are.equal(4, #c.train_records); assert.are.equal(1, #c.val_records)
    for i = 1, 4 do assert.are.equal(want[i], c:decode(c.train_records[i])) end
    assert.are.equal(want[5], c:decode(c.val_records[1]))
    assert.are.equal(want[5] .. '\n%\n', c:decode(c.val))
    local all = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0,
      shuffle = false})
    assert.are.equal(read(FIXTURES .. 'records.txt'), all:decode(all.train))
    local kept = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', keep_delimiter = true})
    assert.are.equal('\n%\n', kept:decode(kept.train_records[1]):sub(-3))
  end)

  it('shuffles records before the split reproducibly by seed, without touching the generator', function()
    rnn.manual_seed(11)
    local a = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0.4})
    local r = rnn.rand{2}
    local b = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0.4})
    rnn.manual_seed(11)
    assert.is_true(same_tensor(r, rnn.rand{2}))
    assert.are.same(a.record_order, b.record_order)
    assert.are.equal(3, #a.train_records); assert.are.equal(2, #a.val_records)
    local got = {}
    for _, rs in ipairs{a.train_records, a.val_records} do
      for _, t in ipairs(rs) do got[#got + 1] = a:decode(t) end
    end
    table.sort(got)
    local sorted = {table.unpack(want)}
    table.sort(sorted)
    assert.are.same(sorted, got)
  end)

  it('record_batches start every row at a record start, with lengths and padding', function()
    local c = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0,
      shuffle = false})
    local rows = {}
    for x, y, info in c:record_batches{batch = 3, shuffle = false} do
      assert.is_true(info.reset)
      local T = x:size(1)
      local xt, yt = x:totable(), y:totable()
      for j, len in ipairs(info.lengths) do
        local rec = want[info.records[j]]
        assert.are.equal(#rec - 1, len)
        local xs, ys = {}, {}
        for t = 1, T do
          if t <= len then xs[t] = xt[t][j]; ys[t] = yt[t][j]
          else assert.are.equal(1, xt[t][j]); assert.are.equal(0, yt[t][j]) end
        end
        assert.are.equal(rec:sub(1, -2), c:decode(xs))
        assert.are.equal(rec:sub(2), c:decode(ys))
        rows[#rows + 1] = info.records[j]
      end
      assert.are.equal(math.max(table.unpack(info.lengths)), T)
    end
    assert.are.same({1, 2, 3, 5}, rows)   -- 'X' has nothing to predict
    -- max_len cuts, and shuffled order is reproducible by seed
    local x = c:record_batches{batch = 4, max_len = 5, shuffle = false}()
    assert.are.equal(5, x:size(1))
    local function order(seed)
      local _, _, info = c:record_batches{batch = 4, seed = seed}()
      return info.records
    end
    assert.are.same(order(3), order(3))
  end)

  it('padded targets are ignored by cross_entropy', function()
    local c = rnn.data.text.load(FIXTURES .. 'records.txt', {delimiter = '\n%\n', val_fraction = 0})
    local x, y, info = c:record_batches{batch = 4, seed = 1}()
    local logits = rnn.zeros({x:size(1), x:size(2), c.vocab_size}, 'float64')
    local loss = F.cross_entropy(logits, y, {ignore_index = 0, reduction = 'sum'}):item()
    local n = 0
    for _, l in ipairs(info.lengths) do n = n + l end
    assert.is_true(math.abs(loss - n * math.log(c.vocab_size)) < 1e-9)
  end)

  it('the default corpus is installed and loads as records', function()
    local path = rnn.data.text.default_corpus_path()
    assert.are.equal('/usr/share/games/fortunes/fortunes', path)
    local c = rnn.data.text.default_corpus()
    assert.are.equal('\n%\n', c.delimiter)
    local n = #c.train_records + #c.val_records
    assert.is_true(n > 400, n .. ' records')
    assert.are.equal(math.floor(0.1 * n + 0.5), #c.val_records)
    local x, y, info = c:record_batches{batch = 8, seed = 1}()
    assert.are.equal(8, x:size(2)); assert.is_true(info.reset)
    local stream = rnn.data.text.default_corpus{delimiter = false}
    assert.is_nil(stream.train_records)
    assert.are.equal(#read(path), stream.train:numel() + stream.val:numel())
  end)
end)

describe('rnn.data.text.sample', function()
  local c = rnn.data.text.load(FIXTURES .. 'tiny.txt')
  local V = c.vocab_size

  -- a "model" whose logits favour the index after the input (cyclically),
  -- and which counts its steps in the state
  local function step(idx, state)
    assert.are.equal('int64', idx:dtype()); assert.are.equal('1', shape(idx))
    local k = idx:totable()[1] % V + 1
    local l = rnn.zeros({1, V})
    l[{1, k}] = 3
    return l, (state or 0) + 1
  end

  it('is greedy and deterministic at temperature 0, without drawing', function()
    rnn.manual_seed(1)
    local s, steps = rnn.data.text.sample(step, c, {prime = 'ab', length = 5, temperature = 0})
    local r = rnn.rand{1}
    local want = {'a', 'b'}
    local k = c.stoi['b']
    for _ = 1, 5 do k = k % V + 1; want[#want + 1] = c.vocab[k] end
    assert.are.equal(table.concat(want), s)
    assert.are.equal(2 + 5 - 1, steps)
    rnn.manual_seed(1)
    assert.is_true(same_tensor(r, rnn.rand{1}))
  end)

  it('is reproducible by seed at temperature 1, and stops at `stop`', function()
    local a = rnn.data.text.sample(step, c, {prime = 'The ', length = 60, seed = 4})
    local b = rnn.data.text.sample(step, c, {prime = 'The ', length = 60, seed = 4})
    local d = rnn.data.text.sample(step, c, {prime = 'The ', length = 60, seed = 5})
    assert.are.equal(a, b); assert.are.equal(64, #a); assert.are.equal('The ', a:sub(1, 4))
    assert.are_not.equal(a, d)
    local s = rnn.data.text.sample(step, c, {prime = 'a', length = 1000, temperature = 0, stop = 'h'})
    assert.are.equal('h', s:sub(-1)); assert.is_true(#s < 1000)
  end)

  it('draws from softmax(logits / temperature) through the cumulative sum', function()
    rnn.manual_seed(2)
    local p = {0.2, 0.3, 0.5}
    local logits = rnn.tensor({{math.log(p[1]), math.log(p[2]), math.log(p[3])}}, 'float64')
    for _, temp in ipairs{1, 0.5} do
      local n, counts = 20000, {0, 0, 0}
      for _ = 1, n do
        local k = rnn.data.text.sample_index(logits, temp)
        counts[k] = counts[k] + 1
      end
      local z = 0
      for i = 1, 3 do z = z + p[i] ^ (1 / temp) end
      for i = 1, 3 do
        assert.is_true(math.abs(counts[i] / n - p[i] ^ (1 / temp) / z) < 0.015)
      end
    end
    assert.are.equal(3, rnn.data.text.sample_index({1, 2, 5, 5}, 0))
  end)

  it('drives a real character model with its state', function()
    rnn.manual_seed(3)
    local emb = rnn.nn.Embedding(V, 8)
    local lstm = rnn.nn.LSTM{input_size = 8, hidden_size = 16}
    local head = rnn.nn.Linear(16, V)
    local function model_step(idx, state)
      local out, st = lstm(emb(idx):view(1, 1, 8), state)
      return head(out):view(1, V), st
    end
    local s1, st = rnn.data.text.sample(model_step, c, {prime = 'The ', length = 30, seed = 9})
    local s2 = rnn.data.text.sample(model_step, c, {prime = 'The ', length = 30, seed = 9})
    assert.are.equal(s1, s2); assert.are.equal(34, #s1)
    assert.are.equal('1,1,16', shape(st.h))
    assert.is_false(st.h:requires_grad())
  end)
end)

describe('rnn.data errors', function()
  it('names the function and the option', function()
    fails('rnn.data.adding', function() rnn.data.adding{T = 1} end, 'option T must be >= 2')
    fails('rnn.data.adding', function() rnn.data.adding{batch = 2.5} end, 'option batch must be an integer')
    fails('rnn.data.adding', function() rnn.data.adding{dtype = 'int64'} end, 'option dtype')
    fails('rnn.data.adding', function() rnn.data.adding{lenght = 3} end, "unknown option 'lenght'")
    fails('rnn.data.adding', function() rnn.data.adding{seed = 1.5} end, 'option seed must be an integer')
    fails('rnn.data.adding', function() rnn.data.adding(5) end, 'options must be a table')
    fails('rnn.data.copy', function() rnn.data.copy{n_symbols = 0} end, 'option n_symbols must be >= 1')
    fails('rnn.data.copy_baseline', function() rnn.data.copy_baseline(0) end, 'argument 1 (T)')
    fails('rnn.data.temporal_order', function() rnn.data.temporal_order{T = 9} end, 'option T must be >= 10')
    fails('rnn.data.one_hot', function() rnn.data.one_hot(rnn.tensor({1, 4}, 'int64'), 3) end, '1..3')
    fails('rnn.data.one_hot', function() rnn.data.one_hot(rnn.tensor{1, 2}, 3) end, 'int64 tensor')
    fails('rnn.data.sine_mixture', function() rnn.data.sine_mixture{freq_min = 0.2, freq_max = 0.1} end,
      'option freq_max must be >= 0.2')
    fails('rnn.data.mackey_glass', function() rnn.data.mackey_glass{tau = 17.05} end,
      'option tau (17.05) must be a whole multiple of dt')
    fails('rnn.data.mackey_glass', function() rnn.data.mackey_glass{dt = 0} end, 'option dt must be > 0')
    fails('rnn.data.narma10', function() rnn.data.narma10{u_max = 'big'} end, 'option u_max must be a number')
  end)

  it('for text corpora and sampling', function()
    fails('rnn.data.text.load', function() rnn.data.text.load(FIXTURES .. 'missing.txt') end, 'missing.txt')
    fails('rnn.data.text.load', function() rnn.data.text.load(FIXTURES .. 'tiny.txt', {val_fraction = 1}) end,
      'option val_fraction must be in [0, 1)')
    fails('rnn.data.text.load', function() rnn.data.text.load(FIXTURES .. 'tiny.txt', {delimiter = ''}) end,
      'option delimiter')
    fails('rnn.data.text.load', function() rnn.data.text.load(42) end, 'argument 1 (path)')
    local c = rnn.data.text.load(FIXTURES .. 'tiny.txt')
    fails('rnn.data.text.record_batches', function() c:record_batches{} end, 'load it with a delimiter')
    fails('rnn.data.text.batches', function() c:batches{bptt = 0} end, 'option bptt must be >= 1')
    fails('rnn.data.text.batches', function() c:batches{split = 'test'} end, "option split must be 'train' or 'val'")
    fails('rnn.data.text.batches', function() c:batches{batch = 500} end, 'too few for 500 tracks')
    fails('rnn.data.text.encode', function() c:encode('fox~') end, "'~' is not in the vocabulary")
    fails('rnn.data.text.decode', function() c:decode({1, 1000}) end, 'index 1000 at position 2')
    local step = function() return rnn.zeros{1, c.vocab_size} end
    fails('rnn.data.text.sample', function() rnn.data.text.sample(step, c, {prime = 'Zz'}) end,
      "'Z', which is not in the vocabulary")
    fails('rnn.data.text.sample', function() rnn.data.text.sample(step, c, {temperature = -1}) end,
      'option temperature must be >= 0')
    fails('rnn.data.text.sample', function() rnn.data.text.sample(step, c, {prime = ''}) end, 'non-empty')
    fails('rnn.data.text.sample', function() rnn.data.text.sample(nil, c) end, 'argument 1 (step_fn)')
    fails('rnn.data.text.sample', function() rnn.data.text.sample(step, {}) end, 'argument 2 (corpus)')
    fails('rnn.data.text.sample_index', function() rnn.data.text.sample_index({1, 2}, -1) end, 'temperature')
    fails('rnn.data.text.default_corpus_path', function() rnn.data.text.default_corpus_path('bible') end,
      "'fortunes', 'literature' or 'riddles'")
    -- a missing corpus names the Debian package to install
    local dir = rnn.data.text.DEFAULT_CORPUS_DIR
    rnn.data.text.DEFAULT_CORPUS_DIR = '/nonexistent/fortunes'
    local ok1, e1 = pcall(function() fails('rnn.data.text.default_corpus_path', function()
      rnn.data.text.default_corpus_path() end, 'not found', 'apt-get install fortunes-min') end)
    local ok2, e2 = pcall(function() fails('rnn.data.text.default_corpus', function()
      rnn.data.text.default_corpus() end, 'fortunes-min') end)
    rnn.data.text.DEFAULT_CORPUS_DIR = dir
    assert(ok1, e1); assert(ok2, e2)
  end)
end)
