-- data_parallel: data-parallel training of an LSTM over MPI ranks with
-- rnn.distributed, the same training as one process with the whole batch.
--
-- Every rank generates the same global batch of B sequences from the seeded
-- generator (the adding problem of rnn.data, plus input - 2 channels of
-- N(0,1) noise when --input is above 2), takes its own shard of B/N rows
-- (rank r: rows r*B/N+1 .. (r+1)*B/N), computes the mean loss over its
-- shard, and averages the gradients over the ranks (D.average_gradients)
-- before the Adam step. The mean of the shards' mean gradients is the
-- full batch's mean gradient, so N ranks with B/N rows each follow the
-- trajectory of one process with B rows (to rounding: tests/mpi/mpi_test.sh
-- checks 1e-10 in float64). The parameters are broadcast from rank 0 at
-- the start, so ranks seeded differently (--rank-seed) still start equal.
--
-- Model: an LSTM (--input, --hidden) and a Linear head on its last state,
-- MSE against the sum of the two marked numbers.
--
-- Usage:
--   mpirun -np 2 rnnlua experiments/data_parallel.lua [options]
--   rnnlua experiments/data_parallel.lua [options]     (one process: size 1)
-- (as root, mpirun also needs --allow-run-as-root; with more ranks than
-- cores, --oversubscribe.)
--
-- Options:
--   --steps N       training steps (20)
--   --batch B       the global batch, split over the ranks (32)
--   --hidden H      LSTM hidden size (32)
--   --input I       input channels: 2 of the adding problem, the rest noise (2)
--   --T T           sequence length (30)
--   --dtype D       float32 | float64 (float32)
--   --lr LR         Adam learning rate (0.01)
--   --threads N     BLAS threads per rank (default: the cores over the
--                   ranks on this node, at least 1)
--   --seed S        seed of the initial weights (rank 0's) and of the data (1)
--   --rank-seed     seed rank r's weights with S + r (the broadcast from rank
--                   0 must still make them equal)
--   --no-average    skip the gradient averaging (for comparison: the ranks
--                   drift apart)
--   --log-every N   print the loss (the mean over all ranks) every N steps (10;
--                   0: never)
--   --warmup N      steps left out of the timing at the end (2)
--   --out FILE      rank 0 saves the final parameters there (rnn.save)
--
-- At the end rank 0 prints the median time of a step (forward, backward,
-- gradient averaging, optimizer step; the data generation is not timed)
-- over the steps after the warm-up, the samples per second it gives, and
-- whether the parameters are the same bits on every rank.
local rnn = require 'rnn'
local argparse = require 'argparse'
local D = rnn.distributed
local F = rnn.nn.functional

local p = argparse('data_parallel.lua', 'Data-parallel training of an LSTM over MPI ranks (rnn.distributed).')
p:option('--steps', 'Training steps.', '20'):convert(tonumber)
p:option('--batch', 'The global batch, split over the ranks.', '32'):convert(tonumber)
p:option('--hidden', 'LSTM hidden size.', '32'):convert(tonumber)
p:option('--input', 'Input channels (2 of the adding problem, the rest noise).', '2'):convert(tonumber)
p:option('--T', 'Sequence length.', '30'):convert(tonumber)
p:option('--dtype', 'float32 | float64.', 'float32'):choices{'float32', 'float64'}
p:option('--lr', 'Adam learning rate.', '0.01'):convert(tonumber)
p:option('--threads', 'BLAS threads per rank (default: cores / ranks on this node).'):convert(tonumber)
p:option('--seed', 'Seed of the initial weights and of the data.', '1'):convert(tonumber)
p:flag('--rank-seed', "Seed rank r's weights with seed + r.")
p:flag('--no-average', 'Skip the gradient averaging (the ranks drift apart).')
p:option('--log-every', 'Print the loss every N steps (0: never).', '10'):convert(tonumber)
p:option('--warmup', 'Steps left out of the timing.', '2'):convert(tonumber)
p:option('--out', 'Rank 0 saves the final parameters there.')
local o = p:parse(arg)

local function int_option(name, min)
  local v = o[name]
  if math.type(v) ~= 'integer' and not (v and v == math.floor(v)) or v < min then
    p:error(('--%s must be an integer >= %d'):format(name:gsub('_', '-'), min))
  end
  o[name] = math.tointeger(v)
end
for _, k in ipairs{'steps', 'batch', 'hidden', 'T', 'seed'} do int_option(k, 1) end
int_option('input', 2)
int_option('log_every', 0)
int_option('warmup', 0)
if o.threads then int_option('threads', 1) end

local rank, size = D.init()
if o.batch % size ~= 0 then
  p:error(('--batch %d does not split over %d ranks'):format(o.batch, size))
end
local shard = o.batch // size

-- BLAS threads: share the node's cores between its ranks
if o.threads then
  rnn.set_num_threads(o.threads)
elseif not os.getenv('OPENBLAS_NUM_THREADS') and not os.getenv('OMP_NUM_THREADS') then
  local local_ranks = tonumber(os.getenv('OMPI_COMM_WORLD_LOCAL_SIZE') or '') or size
  rnn.set_num_threads(math.max(1, rnn.get_num_threads() // local_ranks))
end

local Net = rnn.nn.Module:extend('DataParallelNet')
function Net:__init(opts)
  self.lstm = rnn.nn.LSTM{input_size = opts.input, hidden_size = opts.hidden, dtype = opts.dtype}
  self.head = rnn.nn.Linear{in_features = opts.hidden, out_features = 1, dtype = opts.dtype}
end
function Net:forward(x)
  local out = self.lstm(x)
  return self.head(out[out:size(1)])
end

rnn.manual_seed(o.seed + (o.rank_seed and rank or 0))
local net = Net{input = o.input, hidden = o.hidden, dtype = o.dtype}
local params = net:parameters()
-- every rank starts from rank 0's weights
for _, w in ipairs(params) do D.broadcast_(w, 0) end
local opt = rnn.optim.Adam(params, {lr = o.lr})

-- the global batch of a step: the same on every rank, whatever its own
-- generator did (rnn.data's seed option leaves the caller's stream alone)
local function global_batch(step)
  local seed = o.seed * 1000003 + step
  local x, y = rnn.data.adding{T = o.T, batch = o.batch, dtype = o.dtype, seed = seed}
  if o.input > 2 then
    local saved = rnn.get_rng_state()
    rnn.manual_seed(seed + 7919)
    local noise = rnn.randn({o.T, o.batch, o.input - 2}, o.dtype)
    rnn.set_rng_state(saved)
    x = rnn.cat({x, noise}, 3)
  end
  return x, y
end

local times = {}
for step = 1, o.steps do
  local x, y = global_batch(step)
  x = x:narrow(2, rank * shard + 1, shard):contiguous()
  y = y:narrow(1, rank * shard + 1, shard):contiguous()

  -- the ranks start the timed part together: one rank's time should not
  -- include the other's data generation (a barrier of a few microseconds)
  if size > 1 then D.barrier() end
  local t0 = rnn.clock()
  local loss = F.mse(net(x), y) -- the mean over this rank's shard
  opt:zero_grad()
  loss:backward()
  if not o.no_average then D.average_gradients(net) end
  opt:step()
  times[step] = rnn.clock() - t0

  if o.log_every > 0 and (step % o.log_every == 0 or step == o.steps) then
    local l = rnn.tensor({loss:item()}, 'float64')
    D.allreduce_(l, 'mean') -- every rank, at the same steps
    if rank == 0 then
      print(('step %4d  loss %.6f  (%d ranks x %d rows)'):format(step, l:item(), size, shard))
    end
  end
end

-- are the parameters the same bits on every rank? (rank 0's against each)
local same = 1
rnn.no_grad(function()
  for _, w in ipairs(params) do
    local c = w:clone()
    D.broadcast_(c, 0)
    if c:ne(w):sum():item() ~= 0 then same = 0 end
  end
end)
local flag = rnn.tensor({same}, 'int64')
D.allreduce_(flag, 'min')

if rank == 0 then
  local timed = {}
  for s = o.warmup + 1, o.steps do timed[#timed + 1] = times[s] end
  table.sort(timed)
  if #timed > 0 then
    local n = #timed
    local med = n % 2 == 1 and timed[(n + 1) // 2] or (timed[n // 2] + timed[n // 2 + 1]) / 2
    print(('time: median step %.2f ms over %d steps (%d ranks x %d threads, batch %d = %d x %d)  ' ..
      'samples/s %.1f'):format(med * 1e3, n, size, rnn.get_num_threads(), o.batch, size, shard, o.batch / med))
  end
  print(('parameters identical on all ranks: %s'):format(flag:item() == 1 and 'yes' or 'no'))
  if o.out then
    rnn.save(o.out, net:named_parameters(), {steps = tostring(o.steps), batch = tostring(o.batch),
      ranks = tostring(size), dtype = o.dtype})
    print('saved ' .. o.out)
  end
end
