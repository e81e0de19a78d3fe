--- rnn.experiment.lock: one lock per run, so that two commands — or two
-- machines sharing the runs folder, or the ranks of an MPI job — never work
-- on the same run at the same time.
--
-- A run's lock is a POSIX (fcntl) write lock, taken with lfs.lock, on
-- <experiment>/.locks/<cell>@seed-<n>.lock. The lock belongs to the process
-- that holds the file open: the kernel (or, on NFS, the lock manager)
-- releases it when that process ends, however it ends — SIGKILL, a crash,
-- a node lost under Slurm — so a lock left by a killed process is taken
-- over with no guess about staleness, and taking it is one atomic call.
-- Beside it, <...>.owner names the holder (host, pid, Slurm task) for
-- messages and --status; it is informative only.
--
-- POSIX drops every fcntl lock a process holds on a file when the process
-- closes *any* descriptor of that file, so the holder never opens its own
-- lock file a second time; M.held, which opens it, is for other processes
-- (and for runs this process does not hold).
local M = {}

local function lfs() return require 'lfs' end
local function uv() return require 'rnn.experiment.uv' end

--- The lock file of the run `rel` ('<cell dir>/seed-<n>') of the experiment
-- folder `dir`.
function M.path(dir, rel)
  return dir .. '/.locks/' .. rel:gsub('/', '@') .. '.lock'
end

local function ensure_dir(path)
  local d = path:match('^(.*)/[^/]*$')
  if d and not lfs().attributes(d, 'mode') then require('rnn.experiment.files').mkdir_p(d) end
end

--- Who this process is, as recorded in an owner file.
function M.identity()
  local u = uv()
  local id = {host = u.os_gethostname(), pid = math.tointeger(u.os_getpid())}
  local job, task = os.getenv('SLURM_ARRAY_JOB_ID'), os.getenv('SLURM_ARRAY_TASK_ID')
  if job and task then id.slurm = job .. '_' .. task
  elseif os.getenv('SLURM_JOB_ID') then id.slurm = os.getenv('SLURM_JOB_ID') end
  local rank = os.getenv('OMPI_COMM_WORLD_RANK')
  if rank then id.mpi_rank = math.tointeger(tonumber(rank)) end
  return id
end

--- The owner recorded beside a lock file, as a table (or nil).
function M.owner(path)
  local f = io.open(path:gsub('%.lock$', '.owner'), 'rb')
  if not f then return nil end
  local text = f:read('a')
  f:close()
  local ok, t = pcall(require('rnn.experiment.json').decode, text)
  if ok and type(t) == 'table' then return t end
  return nil
end

--- A holder's description for messages: 'pid 123 on node1 (Slurm 45_2)'.
function M.describe(owner)
  if type(owner) ~= 'table' then return 'another process' end
  local pid = math.tointeger(owner.pid) or owner.pid
  local s = string.format('pid %s on %s', tostring(pid), tostring(owner.host))
  if owner.slurm then s = s .. ' (Slurm job ' .. owner.slurm .. ')' end
  if owner.mpi_rank then s = s .. ' (MPI rank ' .. (math.tointeger(owner.mpi_rank) or owner.mpi_rank) .. ')' end
  return s
end

local Lock = {}
Lock.__index = Lock

local function open_locked(path)
  ensure_dir(path)
  local f, err = io.open(path, 'a+')
  if not f then error('rnn.experiment: cannot open the lock file ' .. tostring(err), 0) end
  local ok = lfs().lock(f, 'w')
  if not ok then
    f:close()
    return nil
  end
  return f
end

--- Takes the lock at `path` if it is free. Returns the lock, or nil and
-- the holder's owner record (a table, or nil when unknown).
function M.acquire(path)
  local f = open_locked(path)
  if not f then return nil, M.owner(path) end
  local self = setmetatable({path = path, file = f, owner_path = path:gsub('%.lock$', '.owner')}, Lock)
  local json = require 'rnn.experiment.json'
  local tmp = self.owner_path .. '.tmp.' .. M.identity().pid
  local o = io.open(tmp, 'wb')
  if o then
    o:write(json.encode(M.identity()), '\n')
    o:close()
    os.rename(tmp, self.owner_path)
  end
  return self
end

--- Releases the lock (idempotent).
function Lock:release()
  if not self.file then return end
  os.remove(self.owner_path)
  lfs().unlock(self.file)
  self.file:close()
  self.file = nil
end

--- Whether another process holds the lock at `path`: nil when free (or
-- absent), else the owner record (or {} when unknown). Briefly takes the
-- lock when free; never call it on a lock this process holds.
function M.held(path)
  if not lfs().attributes(path, 'mode') then return nil end
  local f = open_locked(path)
  if f then
    lfs().unlock(f)
    f:close()
    return nil
  end
  return M.owner(path) or {}
end

return M
