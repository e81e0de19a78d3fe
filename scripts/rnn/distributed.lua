--- Data-parallel training over MPI (OpenMPI).
--
--     local D = rnn.distributed
--     D.init()                     -- under mpirun: MPI_Init; otherwise a world of size 1
--     D.rank(), D.size()           -- rank 0-based, as MPI
--     D.broadcast_(t, root)        -- t (in place) = root's t; root 0-based (default 0)
--     D.allreduce_(t, op)          -- t (in place) = op over the ranks' t; op 'sum'
--                                  -- (default) | 'mean' | 'max' | 'min'
--     D.average_gradients(model)   -- every .grad (in place) = the mean over the ranks,
--                                  -- packed in one buffer per dtype (or 32 MB buckets)
--     D.barrier()  D.finalize()  D.is_available()  D.is_initialized()
--
-- A typical step: every rank computes the mean loss over its own shard of
-- the batch, then
--
--     opt:zero_grad(); loss:backward(); D.average_gradients(model); opt:step()
--
-- and the parameters stay identical on every rank (broadcast them from rank 0
-- once at the start: D.broadcast_(p, 0) for each p of model:parameters()).
--
-- The world. Started by a launcher (mpirun sets OMPI_COMM_WORLD_SIZE; PMIx
-- launchers PMIX_RANK; PMI ones PMI_RANK), the first call of any function
-- here initializes MPI (D.init() says when; init is idempotent), loading the
-- MPI module rnn.mpi (rnn/mpi.so) and libmpi only then. Without a launcher
-- it is a world of size 1 in which MPI is never initialized (a singleton
-- MPI_Init costs 0.4 s here): rank 0, size 1, collectives are identities
-- (a mean of one is itself) — but they check their arguments and count as
-- in-place writes exactly as with more ranks, so that a script behaves the
-- same at every size.
--
-- Agreement. Before each collective the ranks exchange a small descriptor
-- (which collective, op, root, dtype, shape; for average_gradients the
-- number of parameters and a hash of their shapes and dtypes) in one
-- MPI_Allreduce of [x, -x] with MAX, which yields the maximum and the
-- minimum of every slot at once. When they differ, every rank raises an
-- error that names what differed, with the other rank's value:
--   rnn.distributed.allreduce_: ranks disagree: shape (3,4) float32 here (rank 1), (3,5) float32 on rank 0
-- instead of a hang or a wrong sum. The end of a script counts as the
-- collective 'finalize', so a rank that ends while another waits in a
-- collective is reported too.
--
-- Determinism. Floating-point reductions are a reduce to rank 0 and a
-- broadcast of its result, so every rank ends with the same bits (see
-- bindings/mpi/distributed.c).
--
-- Autograd. The collectives write in place: they bump the storage version
-- (a backward that saved the tensor then fails, packed weights are packed
-- again). Like an optimizer step, they may write a leaf that requires grad
-- (broadcasting the parameters) even while gradients are recorded; the
-- result of a recorded operation is refused while recording, as a
-- collective is not differentiable (detach it, or use rnn.no_grad).
--
-- Exit. A normal end finalizes MPI (after checking that every rank is
-- ending); an error, or any non-zero exit status, calls MPI_Abort, which
-- ends every rank of the job at once instead of leaving them waiting.
-- @module rnn.distributed
local core = require 'rnn.core'
local _, raisef = require('rnn.raise').outside{'[/@]rnn/distributed%.lua$'}

local M = {}

-- descriptor layout (bindings/mpi/distributed.c has the same kinds):
-- 1 kind, 2 op, 3 root, 4 dtype, 5 ndim (count of parameters), 6..13 sizes,
-- 14 hash of the parameters, 15 bucket bytes, 16 unused
local DESC_LEN = 16
local KIND = {barrier = 1, allreduce_ = 2, broadcast_ = 3, average_gradients = 4, finalize = 5}
local KIND_NAME = {}
for k, v in pairs(KIND) do KIND_NAME[v] = k end
local OPS = {sum = 1, mean = 2, max = 3, min = 4}
local OP_NAME = {'sum', 'mean', 'max', 'min'}
local DTYPES = {float32 = 1, float64 = 2, int64 = 3}
local DTYPE_NAME = {'float32', 'float64', 'int64'}
local ESIZE = {float32 = 4, float64 = 8, int64 = 8}
local MAX_DIMS = 8
local DEFAULT_BUCKET_MB = 32

-- the environment variables that say a launcher started this process
local LAUNCH_VARS = {'OMPI_COMM_WORLD_SIZE', 'PMIX_RANK', 'PMI_RANK'}

local S = {started = false, finalized = false, rank = 0, size = 1, mpi = nil}

local function launcher()
  for _, v in ipairs(LAUNCH_VARS) do
    local x = os.getenv(v)
    if x and x ~= '' then return v, x end
  end
end

local function nargs(fn, max, n)
  if n > max then
    raisef('rnn.distributed.%s: expected at most %d argument%s, got %d', fn, max, max == 1 and '' or 's', n)
  end
end

-- calls an rnn.mpi function; its errors are raised at the user's line
local function call(fn, f, ...)
  local res = table.pack(pcall(f, ...))
  if not res[1] then raisef('rnn.distributed.%s: %s', fn, tostring(res[2])) end
  return table.unpack(res, 2, res.n)
end

local function start(fn)
  if S.finalized then
    raisef('rnn.distributed.%s: called after rnn.distributed.finalize(); MPI cannot be started again', fn)
  end
  if S.started then return end
  local var, val = launcher()
  if var then
    local ok, mpi = pcall(require, 'rnn.mpi')
    if not ok then
      raisef('rnn.distributed.%s: this process was started by an MPI launcher (%s=%s), but the MPI module ' ..
        'rnn.mpi cannot be loaded: %s', fn, var, val, tostring(mpi))
    end
    S.rank, S.size = call(fn, mpi.init)
    S.mpi = mpi
  end
  S.started = true
end

-- -------------------------------------------------------------------------
-- descriptors and the words for a disagreement

local function new_desc(kind)
  local d = {}
  for i = 1, DESC_LEN do d[i] = 0 end
  d[1], d[3] = kind, -1
  return d
end

local function tensor_desc(kind, op, root, t)
  local d = new_desc(kind)
  d[2], d[3], d[4], d[5] = op or 0, root or -1, DTYPES[t:dtype()], t:dim()
  local shape = t:shape()
  for i = 1, #shape do d[5 + i] = shape[i] end
  return d
end

local function dims_str(sizes)
  local parts = {}
  for i, v in ipairs(sizes) do parts[i] = tostring(v) end
  return '(' .. table.concat(parts, ',') .. ')'
end

local function shape_of(d, first)
  local s = {}
  for i = 1, d[first] do s[i] = d[first + i] end
  return s
end

local function tensor_str(d)
  return dims_str(shape_of(d, 5)) .. ' ' .. (DTYPE_NAME[d[4]] or '?')
end

local function describe(d)
  local k = d[1]
  if k == KIND.barrier then return 'barrier'
  elseif k == KIND.allreduce_ then return ("allreduce_ '%s' of %s"):format(OP_NAME[d[2]] or '?', tensor_str(d))
  elseif k == KIND.broadcast_ then return ('broadcast_ from root %d of %s'):format(d[3], tensor_str(d))
  elseif k == KIND.average_gradients then return ('average_gradients of %d parameters'):format(d[5])
  elseif k == KIND.finalize then return 'finalize (or the end of its script)'
  end
  return 'an unknown collective'
end

local function same(a, b)
  for i = 1, DESC_LEN do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- "X here (rank r), Y on rank j" for the first field that differs
local function disagreement(mine, other, j)
  local here, there = (' here (rank %d), '):format(S.rank), (' on rank %d'):format(j)
  if mine[1] ~= other[1] then return describe(mine) .. here .. describe(other) .. there end
  if mine[2] ~= other[2] then return ("op '%s'%s'%s'%s"):format(OP_NAME[mine[2]], here, OP_NAME[other[2]], there) end
  if mine[3] ~= other[3] then return ('root %d%s%d%s'):format(mine[3], here, other[3], there) end
  if mine[1] == KIND.average_gradients then
    if mine[5] ~= other[5] then return ('%d parameters%s%d%s'):format(mine[5], here, other[5], there) end
    if mine[15] ~= other[15] then
      return ('bucket of %d bytes%s%d%s'):format(mine[15], here, other[15], there)
    end
    return ('the shapes or dtypes of the parameters differ between rank %d (here) and rank %d'):format(S.rank, j)
  end
  local shape_differs = mine[5] ~= other[5]
  for i = 6, 5 + MAX_DIMS do
    if mine[i] ~= other[i] then shape_differs = true end
  end
  local what = shape_differs and (mine[4] ~= other[4] and 'shape and dtype' or 'shape') or 'dtype'
  return what .. ' ' .. tensor_str(mine) .. here .. tensor_str(other) .. there
end

-- average_gradients: with the same number of parameters on every rank (the
-- gathered descriptors say so, identically on every rank), gather their
-- signatures and name the first parameter that differs
local function parameter_disagreement(fn, sig, all, j)
  local n = all[1][5]
  for r = 1, #all do
    local d = all[r]
    if d[1] ~= KIND.average_gradients or d[5] ~= n or d[15] ~= all[1][15] then return nil end
  end
  if n == 0 then return nil end
  local sigs = call(fn, S.mpi.allgather, sig)
  local other = sigs[j + 1]
  local w = 2 + MAX_DIMS
  for i = 1, n do
    local a, b = {}, {}
    for k = 1, w do a[k], b[k] = sig[(i - 1) * w + k], other[(i - 1) * w + k] end
    for k = 1, w do
      if a[k] ~= b[k] then
        -- a parameter's slots: dtype, ndim, sizes
        local da = {0, 0, 0, a[1], a[2], table.unpack(a, 3)}
        local db = {0, 0, 0, b[1], b[2], table.unpack(b, 3)}
        return ('parameter %d is %s here (rank %d), %s on rank %d'):format(i, tensor_str(da), S.rank,
          tensor_str(db), j)
      end
    end
  end
  return nil
end

-- the ranks check that they are about to run the same collective with the
-- same arguments; raises on every rank otherwise
local function agree(fn, desc, sig)
  local mpi = S.mpi
  if not mpi then return end
  if call(fn, mpi.agree, desc) then return end
  local all = call(fn, mpi.allgather, desc)
  local j
  for r = 1, #all do
    if not same(all[r], desc) then j = r - 1; break end
  end
  local msg = disagreement(desc, all[j + 1], j)
  if desc[1] == KIND.average_gradients and sig then
    msg = parameter_disagreement(fn, sig, all, j) or msg
  end
  raisef('rnn.distributed.%s: ranks disagree: %s', fn, msg)
end

-- -------------------------------------------------------------------------
-- argument checks

local function check_tensor(fn, t, i, name)
  if not core.is_tensor(t) then
    raisef('rnn.distributed.%s: argument %d (%s) must be a tensor, got %s', fn, i, name, type(t))
  end
end

local function check_writable(fn, t)
  if not t:is_contiguous() then
    raisef('rnn.distributed.%s: argument 1 (tensor) must be contiguous (a view with strides %s of shape %s); ' ..
      'call :contiguous() first (and copy_ the result back)', fn, dims_str(t:stride()), dims_str(t:shape()))
  end
  if core.is_grad_enabled() and t:requires_grad() and not t:is_leaf() then
    raisef("rnn.distributed.%s: argument 1 (tensor) is the result of a recorded operation ('%s'); a collective " ..
      'is not differentiable and writing it in place would make its gradients wrong: pass t:detach(), or call ' ..
      'it inside rnn.no_grad', fn, tostring(t:grad_fn()))
  end
end

-- -------------------------------------------------------------------------
-- the API

--- Starts the world: MPI_Init when started by a launcher (once; later
-- calls return the same), a world of size 1 otherwise. Every other
-- function calls it when needed.
-- @treturn integer rank, 0-based
-- @treturn integer size
-- @usage local rank, size = rnn.distributed.init()
function M.init(...)
  nargs('init', 0, select('#', ...))
  start('init')
  return S.rank, S.size
end

--- This process's rank, 0-based (0 in a world of size 1).
-- @treturn integer
function M.rank(...)
  nargs('rank', 0, select('#', ...))
  if not S.finalized then start('rank') end
  return S.rank
end

--- The number of ranks (1 without a launcher).
-- @treturn integer
function M.size(...)
  nargs('size', 0, select('#', ...))
  if not S.finalized then start('size') end
  return S.size
end

--- Whether init has run (explicitly or implicitly) and finalize has not.
-- @treturn boolean
function M.is_initialized()
  return S.started and not S.finalized
end

--- Whether the MPI module (rnn/mpi.so, linked to libmpi) is built and
-- loads. Loads it (not MPI_Init).
-- @treturn boolean
-- @treturn ?string why not
function M.is_available()
  local ok, err = pcall(require, 'rnn.mpi')
  if ok then return true end
  return false, tostring(err)
end

--- Returns on each rank once every rank has called it.
function M.barrier(...)
  nargs('barrier', 0, select('#', ...))
  start('barrier')
  -- the agreement is an MPI_Allreduce: no rank leaves it before all entered
  agree('barrier', new_desc(KIND.barrier))
end

--- Reduces a tensor over the ranks, in place on every rank: t = op over
-- the ranks' t. t: a contiguous float32, float64 or int64 tensor of the
-- same shape and dtype on every rank. Floating-point results are the same
-- bits on every rank.
-- @tparam Tensor t
-- @tparam[opt='sum'] string op 'sum', 'mean' (float only), 'max' or 'min'
-- @treturn Tensor t
-- @raise naming what differs when the ranks disagree
function M.allreduce_(...)
  local fn = 'allreduce_'
  nargs(fn, 2, select('#', ...))
  local t, op = ...
  check_tensor(fn, t, 1, 'tensor')
  if op == nil then op = 'sum' end
  if type(op) ~= 'string' or not OPS[op] then
    raisef("rnn.distributed.%s: argument 2 (op) must be 'sum', 'mean', 'max' or 'min', got %s", fn,
      type(op) == 'string' and ("'" .. op .. "'") or type(op))
  end
  if op == 'mean' and t:dtype() == 'int64' then
    raisef("rnn.distributed.%s: argument 2 (op): the 'mean' of an int64 tensor would not be exact; use 'sum' " ..
      'and divide, or a float64 tensor', fn)
  end
  check_writable(fn, t)
  start(fn)
  local ptr, _, dtype = core._tensor_memory(t)
  if S.mpi then
    agree(fn, tensor_desc(KIND.allreduce_, OPS[op], -1, t))
    call(fn, S.mpi.allreduce, ptr, t:numel(), dtype, op)
  end
  core._tensor_written(t)
  return t
end

--- Copies rank root's tensor to every rank, in place. Same shape and dtype
-- on every rank.
-- @tparam Tensor t contiguous
-- @tparam[opt=0] integer root 0-based
-- @treturn Tensor t
function M.broadcast_(...)
  local fn = 'broadcast_'
  nargs(fn, 2, select('#', ...))
  local t, root = ...
  check_tensor(fn, t, 1, 'tensor')
  local r = 0
  if root ~= nil then
    r = math.tointeger(root)
    if not r then
      raisef('rnn.distributed.%s: argument 2 (root) must be an integer rank (0-based), got %s', fn,
        type(root) == 'number' and tostring(root) or type(root))
    end
  end
  check_writable(fn, t)
  start(fn)
  if r < 0 or r >= S.size then
    raisef('rnn.distributed.%s: argument 2 (root) is %d, not a rank: ranks are 0 to %d (0-based, as MPI)', fn, r,
      S.size - 1)
  end
  local ptr, nbytes = core._tensor_memory(t)
  if S.mpi then
    agree(fn, tensor_desc(KIND.broadcast_, 0, r, t))
    call(fn, S.mpi.broadcast, ptr, nbytes, r)
  end
  -- on every rank, the root too: what autograd allows must not depend on the rank
  core._tensor_written(t)
  return t
end

local function param_list(fn, params)
  if type(params) == 'table' and not core.is_tensor(params) and type(params.parameters) == 'function' then
    params = params:parameters()
  elseif type(params) ~= 'table' or core.is_tensor(params) then
    raisef('rnn.distributed.%s: argument 1 (params) must be an array of tensors or an rnn.nn module, got %s', fn,
      core.is_tensor(params) and 'a tensor' or type(params))
  end
  for i, p in ipairs(params) do
    if not core.is_tensor(p) then
      raisef('rnn.distributed.%s: argument 1 (params): entry %d is a %s, not a tensor', fn, i, type(p))
    end
  end
  return params
end

-- FNV-1a over 64-bit integers (Lua integers wrap around)
local FNV_OFFSET, FNV_PRIME = 0xcbf29ce484222325, 0x100000001b3
local function fnv(h, v) return (h ~ v) * FNV_PRIME end

local flat_cache = {} -- dtype -> a contiguous 1-d buffer, reused from call to call

local function flat_buffer(dtype, n)
  local f = flat_cache[dtype]
  if not f or f:numel() < n then
    f = core.empty({n}, dtype)
    flat_cache[dtype] = f
  end
  return f
end

-- one collective for the gradients of a bucket (same dtype)
local function reduce_bucket(fn, grads, total, dtype)
  local mpi = S.mpi
  if #grads == 1 and grads[1]:is_contiguous() then
    local g = grads[1]
    call(fn, mpi.allreduce, (core._tensor_memory(g)), total, dtype, 'mean')
    core._tensor_written(g)
    return
  end
  local flat = flat_buffer(dtype, total)
  local off = 0
  for _, g in ipairs(grads) do
    local n = g:numel()
    flat:narrow(1, off + 1, n):view(g:shape()):copy_(g)
    off = off + n
  end
  call(fn, mpi.allreduce, (core._tensor_memory(flat)), total, dtype, 'mean')
  off = 0
  for _, g in ipairs(grads) do
    local n = g:numel()
    g:copy_(flat:narrow(1, off + 1, n):view(g:shape()))
    off = off + n
  end
end

--- Averages every gradient over the ranks, in place. params: an array of
-- tensors or an rnn.nn module (its parameters()). The gradients are packed into
-- one contiguous buffer per dtype (buckets of at most bucket_mb MB; a
-- gradient bigger than that goes alone, without a copy), one collective
-- each, divided by size(), copied back. The ranks must pass the same
-- parameters (count, shapes, dtypes: checked). A parameter without a
-- gradient on some ranks counts as a zero gradient there (it took no part
-- in their loss) and gets one; without a gradient on every rank it is left
-- without.
-- @tparam {Tensor,...}|Module params
-- @tparam[opt] table opts options
-- @option bucket_mb (32) the largest buffer, in MB
-- @treturn integer the number of gradients averaged
-- @usage opt:zero_grad(); loss:backward(); rnn.distributed.average_gradients(model); opt:step()
function M.average_gradients(...)
  local fn = 'average_gradients'
  nargs(fn, 2, select('#', ...))
  local params, opts = ...
  params = param_list(fn, params)
  local bucket_mb = DEFAULT_BUCKET_MB
  if opts ~= nil then
    if type(opts) ~= 'table' or core.is_tensor(opts) then
      raisef('rnn.distributed.%s: argument 2 (options) must be a table, got %s', fn, type(opts))
    end
    for k in pairs(opts) do
      if k ~= 'bucket_mb' then raisef("rnn.distributed.%s: unknown option '%s' (known: bucket_mb)", fn, tostring(k)) end
    end
    if opts.bucket_mb ~= nil then
      bucket_mb = opts.bucket_mb
      if type(bucket_mb) ~= 'number' or not (bucket_mb > 0) or bucket_mb == math.huge then
        raisef('rnn.distributed.%s: option bucket_mb must be a number > 0, got %s', fn, tostring(bucket_mb))
      end
    end
  end
  local bucket_bytes = math.max(1, math.floor(bucket_mb * 1048576))
  start(fn)
  local n = #params
  local mpi = S.mpi

  if mpi then
    -- what every rank must agree on: count, shapes and dtypes, bucket size
    local sig, h, w = {}, FNV_OFFSET, 2 + MAX_DIMS
    for i, p in ipairs(params) do
      local base = (i - 1) * w
      sig[base + 1], sig[base + 2] = DTYPES[p:dtype()], p:dim()
      local shape = p:shape()
      for k = 1, MAX_DIMS do sig[base + 2 + k] = shape[k] or 0 end
      for k = 1, w do h = fnv(h, sig[base + k]) end
    end
    local desc = new_desc(KIND.average_gradients)
    desc[5], desc[14], desc[15] = n, h & 0x3fffffffffffffff, bucket_bytes
    agree(fn, desc, sig)

    -- which parameters have a gradient on any rank
    if n > 0 then
      local flags = {}
      for i, p in ipairs(params) do flags[i] = p.grad and 1 or 0 end
      local any = core.tensor(flags, 'int64')
      call(fn, mpi.allreduce, (core._tensor_memory(any)), n, 'int64', 'max')
      any = any:totable()
      for i, p in ipairs(params) do
        if any[i] == 1 and not p.grad then p.grad = core.zeros_like(p) end
      end
    end
  end

  -- buckets per dtype, in parameter order (the same on every rank)
  local count = 0
  local open = {}
  local function flush(dtype)
    local b = open[dtype]
    if b and #b.grads > 0 then
      reduce_bucket(fn, b.grads, b.numel, dtype)
      open[dtype] = nil
    end
  end
  core.no_grad(function()
    for _, p in ipairs(params) do
      local g = p.grad
      if g then
        count = count + 1
        if mpi then
          local dtype = g:dtype()
          local b = open[dtype]
          local bytes = g:numel() * ESIZE[dtype]
          if b and (b.numel * ESIZE[dtype] + bytes > bucket_bytes) then
            flush(dtype)
            b = nil
          end
          if not b then
            b = {grads = {}, numel = 0}
            open[dtype] = b
          end
          b.grads[#b.grads + 1] = g
          b.numel = b.numel + g:numel()
        else
          core._tensor_written(g) -- the mean over one rank: the gradient itself
        end
      end
    end
    flush('float32')
    flush('float64')
  end)
  return count
end

--- Ends MPI (MPI_Finalize) after checking that every rank is finalizing. Idempotent. Not needed at the end of a script: a normal exit
-- finalizes (an error exit aborts all ranks). Afterwards rank() and size()
-- still answer; collectives raise.
function M.finalize(...)
  nargs('finalize', 0, select('#', ...))
  if S.finalized then return end
  start('finalize')
  if S.mpi then
    agree('finalize', new_desc(KIND.finalize))
    call('finalize', S.mpi.finalize)
  end
  S.finalized = true
end

return M
