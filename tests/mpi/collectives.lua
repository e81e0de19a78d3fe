-- The collectives of rnn.distributed over 2 ranks; run by
-- tests/mpi/mpi_test.sh as `mpirun -np 2 RNNLUA tests/mpi/collectives.lua`.
-- Every check is decided on every rank and combined (the minimum of the
-- ranks' verdicts); rank 0 prints "ok - ..." or "not ok - ..." lines, a
-- rank that fails a check says why on stderr. Values are chosen to be exact
-- in every dtype, so results are compared exactly.
local D = rnn.distributed
local rank, size = D.init()
assert(size == 2, 'run with mpirun -np 2, got ' .. size .. ' ranks')

local function check(name, cond, detail)
  if not cond then io.stderr:write(('# rank %d: %s: %s\n'):format(rank, name, tostring(detail or 'failed'))) end
  local f = rnn.tensor({cond and 1 or 0}, 'int64')
  D.allreduce_(f, 'min')
  if rank == 0 then print((f:item() == 1 and 'ok - ' or 'not ok - ') .. name) end
end

-- exactly the same elements (bits of floats: 0 and -0 differ, a NaN is itself)
local function bits(t)
  if t:dtype() == 'int64' then return t:reshape(-1):totable() end
  local out = {}
  local fmt = t:dtype() == 'float32' and '<f' or '<d'
  for i, v in ipairs(t:reshape(-1):totable()) do out[i] = string.pack(fmt, v) end
  return out
end
local function same(a, b)
  if a:dtype() ~= b:dtype() or table.concat(a:shape(), ',') ~= table.concat(b:shape(), ',') then return false end
  local x, y = bits(a), bits(b)
  for i = 1, #x do
    if x[i] ~= y[i] then return false end
  end
  return #x == #y
end
-- the same bits on every rank: rank 0's copy against each rank's own
local function same_everywhere(t)
  local c = t:clone()
  rnn.no_grad(function() D.broadcast_(c, 0) end)
  return same(c, t)
end

check('rank and size: ranks 0 and 1 of 2', (rank == 0 or rank == 1) and D.rank() == rank and D.size() == 2
  and D.is_initialized())
local rs = rnn.tensor({rank}, 'int64')
D.allreduce_(rs, 'sum')
check('ranks are distinct (their sum is 1)', rs:item() == 1)

-- every op on every dtype: rank r holds base * (r + 1)
for _, dtype in ipairs{'float32', 'float64', 'int64'} do
  local base = rnn.tensor({{1, -2, 3}, {-4, 5, -6}}, dtype)
  local mine = base * (rank + 1)
  local expect = {
    sum = base * 3,
    mean = dtype ~= 'int64' and base * 1.5 or nil,
    max = rnn.maximum(base, base * 2),
    min = rnn.minimum(base, base * 2),
  }
  for _, op in ipairs{'sum', 'mean', 'max', 'min'} do
    if expect[op] then
      local t = mine:clone()
      local ret = D.allreduce_(t, op)
      check(('allreduce_ %s %s'):format(op, dtype), ret == t and same(t, expect[op]),
        ('got %s'):format(table.concat(t:reshape(-1):totable(), ' ')))
    end
  end
  local t = rnn.full({3, 2}, rank + 10, dtype)
  D.broadcast_(t, 1)
  check('broadcast_ from root 1 ' .. dtype, same(t, rnn.full({3, 2}, 11, dtype)))
  t = rnn.full({4}, rank + 20, dtype)
  D.broadcast_(t, 0)
  check('broadcast_ from root 0 ' .. dtype, same(t, rnn.full({4}, 20, dtype)))
end

-- int64 stays exact beyond 2^53 (a detour through doubles would round)
local big = rnn.tensor({0}, 'int64')
big[1] = (1 << 53) + 1 + rank
D.allreduce_(big, 'sum')
check('allreduce_ sum int64 exact beyond 2^53', big[1] == (1 << 54) + 3, tostring(big[1]))
-- a 0-d tensor and an empty one
local s = rnn.tensor(rank + 1.0, 'float64')
D.allreduce_(s, 'mean')
check('allreduce_ of a 0-d tensor', s:item() == 1.5)
local e = rnn.zeros({0, 3})
D.allreduce_(e, 'sum')
D.broadcast_(e, 1)
check('collectives of an empty tensor', e:numel() == 0)

-- floating-point sums: every rank the same bits, and those of a0 + a1
for _, dtype in ipairs{'float32', 'float64'} do
  local function draw(r)
    rnn.manual_seed(100 + r)
    return rnn.randn({1000}, dtype) * rnn.rand({1000}, dtype):mul(8):exp()
  end
  local a0, a1 = draw(0), draw(1)
  local t = (rank == 0 and a0 or a1):clone()
  D.allreduce_(t, 'sum')
  check('allreduce_ sum ' .. dtype .. ': the same bits on every rank', same_everywhere(t))
  check('allreduce_ sum ' .. dtype .. ': the bits of a0 + a1', same(t, a0 + a1))
  t = (rank == 0 and a0 or a1):clone()
  D.allreduce_(t, 'mean')
  check('allreduce_ mean ' .. dtype .. ': the bits of (a0 + a1) / 2 on every rank',
    same(t, (a0 + a1) / 2) and same_everywhere(t))
end

-- average_gradients: several tensors in two dtypes; w4 has a gradient on
-- rank 1 only (a zero one on rank 0), w5 on no rank
local function make_params()
  local p = {
    rnn.zeros({3, 4}):requires_grad(true),
    rnn.zeros({5}, 'float64'):requires_grad(true),
    rnn.zeros({2, 2}):requires_grad(true),
    rnn.zeros({4}, 'float64'):requires_grad(true),
    rnn.zeros({6}):requires_grad(true),
    rnn.zeros({}, 'float64'):requires_grad(true),
  }
  p[1].grad = rnn.arange(12):view(3, 4):float() * (rank + 1)
  p[2].grad = rnn.full({5}, 2 * (rank + 1), 'float64')
  p[3].grad = rnn.full({2, 2}, rank == 0 and -1 or 3)
  if rank == 1 then p[4].grad = rnn.full({4}, 4, 'float64') end
  p[6].grad = rnn.tensor(rank + 2.0, 'float64')
  return p
end
for _, opts in ipairs{{}, {bucket_mb = 1e-5}, {bucket_mb = 48 / 1048576}} do
  local p = make_params()
  local n = D.average_gradients(p, opts.bucket_mb and opts or nil)
  local label = opts.bucket_mb and ('buckets of %d bytes'):format(math.floor(opts.bucket_mb * 1048576)) or 'one bucket'
  check('average_gradients (' .. label .. '): 5 gradients averaged', n == 5, n)
  check('average_gradients (' .. label .. '): means of float32 and float64 gradients',
    same(p[1].grad, rnn.arange(12):view(3, 4):float() * 1.5) and same(p[2].grad, rnn.full({5}, 3, 'float64'))
    and same(p[3].grad, rnn.full({2, 2}, 1)) and same(p[6].grad, rnn.tensor(2.5, 'float64')))
  check('average_gradients (' .. label .. '): a gradient missing on one rank counts as zeros',
    p[4].grad ~= nil and same(p[4].grad, rnn.full({4}, 2, 'float64')))
  check('average_gradients (' .. label .. '): no gradient on any rank stays none', p[5].grad == nil)
end

-- a module: an LSTM and its gradients, against (g0 + g1) / 2 computed here
do
  rnn.manual_seed(5) -- the same weights on both ranks
  local lstm = rnn.nn.LSTM{input_size = 3, hidden_size = 8, dtype = 'float64'}
  local function grads_of(r)
    rnn.manual_seed(50 + r)
    local x = rnn.randn({6, 4, 3}, 'float64')
    lstm:zero_grad()
    local out = lstm(x)
    local loss = (out * out):mean()
    loss:backward()
    local g = {}
    for i, p in ipairs(lstm:parameters()) do g[i] = p.grad:clone() end
    return g
  end
  local g0, g1 = grads_of(0), grads_of(1)
  grads_of(rank)
  D.average_gradients(lstm)
  local ok = true
  for i, p in ipairs(lstm:parameters()) do
    if not same(p.grad, (g0[i] + g1[i]) / 2) then ok = false end
  end
  check('average_gradients of an LSTM module: the bits of (g0 + g1) / 2', ok)
end

-- in-place writes: a cell's packed weights are not reused after broadcast_
-- wrote them (rank 1's weights differ until the broadcast)
do
  rnn.manual_seed(10 + rank)
  local cell = rnn.nn.LSTMCell{input_size = 4, hidden_size = 16}
  rnn.manual_seed(77)
  local x = rnn.randn(20, 4)
  local h1 = cell(x) -- packs this rank's weights
  for _, p in ipairs(cell:parameters()) do D.broadcast_(p, 0) end
  local h2 = cell(x)
  check('a fused cell packs weights again after broadcast_ wrote them (same output on every rank)',
    same_everywhere(h2:detach()))
  check('...and rank 1 output changed with its weights', rank == 0 or not same(h1:detach(), h2:detach()))
  -- a backward through a tensor a collective wrote fails, on every rank
  local w = rnn.randn({3}, 'float64'):requires_grad(true)
  local c = rnn.randn({3}, 'float64')
  local y = (w * c):sum()
  D.allreduce_(c, 'sum')
  local ok, err = pcall(function() y:backward() end)
  check('a backward through a tensor that allreduce_ wrote fails', not ok and err:find('modified in place', 1, true),
    err)
end

-- barrier waits for the slower rank
do
  if rank == 1 then
    local t0 = rnn.clock()
    while rnn.clock() - t0 < 0.3 do end
  end
  local t0 = rnn.clock()
  D.barrier()
  local waited = rnn.clock() - t0
  check('barrier waits for the other rank', rank == 1 or waited > 0.2, ('rank 0 waited %.3f s'):format(waited))
end

D.finalize()
if rank == 0 then print(('ok - finalize (initialized afterwards: %s)'):format(tostring(D.is_initialized()))) end
