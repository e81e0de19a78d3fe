--- rnn.experiment.code: what code made a run, so that results made by
-- other code are not reused without a word.
--
-- config.json records, as `code`:
--   script  {path, hash}: the experiment's own code — the file that
--           declared it (rnn.experiment.new's caller) and the files that
--           define its setup, step and evaluate functions, hashed
--           together; path is the declaring file's absolute path (or
--           setup's file, when new was tail-called), how
--           rnn.experiment.load_run finds the script again
--   rnn     the hash of every Lua file of the rnn library (the folder this
--           module is in, two levels up: scripts/rnn/**.lua), with their
--           paths
--   core    {file, hash}: the hash of the binary that holds the running C
--           core — the rnnlua executable, which has it built in, or
--           rnn/core.so under a plain lua5.4
-- Why the binary and not rnn._VERSION or a git commit: the version only
-- changes at a release and the commit misses uncommitted changes (the
-- usual state of a research checkout), while the bytes of the binary
-- change with any change of the C sources, compiler or flags. The price: a
-- rebuild in another folder (debug paths differ) or switching between
-- rnnlua and lua5.4 counts as other code too — which errs on the side of
-- saying so. Hashing ~2 MB takes ~40 ms, once a process.
--
-- The hash is 64 bits of a multiply-xorshift over 8-byte words (FNV's
-- prime; not cryptographic): enough to notice a change, not to resist a
-- forgery. Files that cannot be read hash as absent.
local M = {}

local function lfs() return require 'lfs' end

local FNV_OFFSET = -3750763034362895579 -- 14695981039346656037 as a signed 64-bit integer
local FNV_PRIME = 1099511628211

local function mix(h, s)
  local n, i = #s, 1
  local unpack = string.unpack
  while i + 31 <= n do
    local a, b, c, d = unpack('<i8i8i8i8', s, i)
    h = (h ~ a) * FNV_PRIME; h = h ~ (h >> 29)
    h = (h ~ b) * FNV_PRIME; h = h ~ (h >> 29)
    h = (h ~ c) * FNV_PRIME; h = h ~ (h >> 29)
    h = (h ~ d) * FNV_PRIME; h = h ~ (h >> 29)
    i = i + 32
  end
  for j = i, n do h = (h ~ s:byte(j)) * FNV_PRIME end
  -- the length, so that 'ab' + 'c' and 'a' + 'bc' differ when parts are mixed in turn
  h = (h ~ n) * FNV_PRIME
  return h ~ (h >> 31)
end

--- The hash of a string (or of several, in order), as 16 hex digits.
function M.hash(...)
  local h = FNV_OFFSET
  for i = 1, select('#', ...) do h = mix(h, select(i, ...)) end
  return string.format('%016x', h)
end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

--- The hash of a file's bytes, or nil when it cannot be read.
function M.file_hash(path)
  local s = read(path)
  return s and M.hash(s) or nil
end

-- the .lua files under dir, as paths relative to it, sorted
local function lua_files(dir, prefix, out)
  local names = {}
  for name in lfs().dir(dir) do
    if name ~= '.' and name ~= '..' then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local path, rel = dir .. '/' .. name, prefix .. name
    local mode = lfs().attributes(path, 'mode')
    if mode == 'directory' then lua_files(path, rel .. '/', out)
    elseif mode == 'file' and name:match('%.lua$') then out[#out + 1] = rel end
  end
  return out
end

--- The hash of the .lua files under dir (their relative paths and bytes).
function M.tree_hash(dir)
  local parts = {}
  for _, rel in ipairs(lua_files(dir, '', {})) do
    parts[#parts + 1] = rel
    parts[#parts + 1] = read(dir .. '/' .. rel) or ''
  end
  return M.hash(table.unpack(parts))
end

-- the folder of the rnn library: this file is <root>/experiment/code.lua
local ROOT = (debug.getinfo(1, 'S').source:match('^@(.*)/experiment/code%.lua$'))
if ROOT and ROOT:sub(1, 1) ~= '/' then ROOT = lfs().currentdir() .. '/' .. ROOT end
M.ROOT = ROOT

local library_cache, core_cache

--- The hash of the rnn library's Lua sources (see the header).
function M.library()
  if not library_cache then library_cache = ROOT and M.tree_hash(ROOT) or 'unknown' end
  return library_cache
end

--- {file, hash} of the binary that holds the running C core.
function M.core()
  if not core_cache then
    local path
    if package.preload['rnn.core'] then
      -- built into the interpreter (rnnlua)
      local ok, uv = pcall(require, 'rnn.experiment.uv')
      path = ok and uv.exepath() or nil
    else
      path = package.searchpath('rnn.core', package.cpath)
    end
    local hash = path and M.file_hash(path)
    core_cache = {file = path and path:match('[^/]*$') or 'unknown', hash = hash or 'unknown'}
  end
  return {file = core_cache.file, hash = core_cache.hash}
end

local function absolute(path)
  if path:sub(1, 1) == '/' then return path end
  local ok, uv = pcall(require, 'rnn.experiment.uv')
  local real = ok and uv.fs_realpath(path)
  return real or (lfs().currentdir() .. '/' .. path)
end

-- the text of a chunk by its debug source: a file's bytes ('@path'), the
-- chunk itself (a string given to load), or nil ('=stdin', '=[C]')
local function source_text(source)
  if type(source) ~= 'string' then return nil end
  if source:sub(1, 1) == '@' then return read(source:sub(2)) end
  if source:sub(1, 1) == '=' then return nil end
  return source
end

--- {path, hash} of an experiment's own code (see the header), or nil
-- when none of it can be read (declared at the REPL).
function M.script(exp)
  if exp._script ~= nil then return exp._script or nil end
  local sources, seen = {}, {}
  local function add(src)
    if type(src) == 'string' and not seen[src] then
      seen[src] = true
      sources[#sources + 1] = src
    end
  end
  add(exp.source)
  local others = {}
  for _, fn in ipairs{exp.setup_fn, exp.step_fn, exp.evaluate_fn} do
    if type(fn) == 'function' then
      local src = debug.getinfo(fn, 'S').source
      if not seen[src] then others[#others + 1] = src; seen[src] = true end
    end
  end
  table.sort(others)
  for _, s in ipairs(others) do sources[#sources + 1] = s end
  local parts = {}
  for _, src in ipairs(sources) do
    local text = source_text(src)
    if text then parts[#parts + 1] = text end
  end
  if #parts == 0 then
    exp._script = false
    return nil
  end
  local path = type(exp.source) == 'string' and exp.source:match('^@(.*)$')
  if not path and type(exp.setup_fn) == 'function' then
    path = debug.getinfo(exp.setup_fn, 'S').source:match('^@(.*)$')
  end
  exp._script = {path = path and absolute(path) or nil, hash = M.hash(table.unpack(parts))}
  return exp._script
end

--- The code record of config.json for experiment exp.
function M.of(exp)
  return {script = M.script(exp), rnn = M.library(), core = M.core()}
end

--- What differs between two code records: an array of phrases ('the
-- experiment script', 'the rnn library (Lua)', 'the C core'); empty when
-- the same, or when `old` records nothing (a run made before code was
-- recorded).
function M.changes(old, new)
  local out = {}
  if type(old) ~= 'table' or type(new) ~= 'table' then return out end
  local function h(x) return type(x) == 'table' and x.hash or nil end
  if type(old.script) == 'table' and type(new.script) == 'table' and h(old.script) ~= h(new.script) then
    out[#out + 1] = 'the experiment script'
  end
  if type(old.rnn) == 'string' and old.rnn ~= new.rnn then out[#out + 1] = 'the rnn library (Lua)' end
  if type(old.core) == 'table' and h(old.core) ~= h(new.core) then
    local of = old.core.file ~= new.core.file and string.format(' (%s then, %s now)', tostring(old.core.file),
      tostring(new.core.file)) or ''
    out[#out + 1] = 'the C core' .. of
  end
  return out
end

---------------------------------------------------------------------------
-- The git commit, read from the repository's files (no git process)

local function dirname(path)
  local d = path:match('^(.*)/[^/]*$')
  if d == '' then return '/' end
  return d
end

local function joined(base, path)
  if path:sub(1, 1) == '/' then return path end
  return base .. '/' .. path
end

--- The commit checked out in the repository holding `dir` (default: the
-- current folder), or nil outside one. Handles linked worktrees (.git as
-- a file), a detached HEAD and packed refs.
function M.git_commit(dir)
  dir = dir or lfs().currentdir()
  local gitdir
  while dir and dir ~= '' do
    local g = dir .. '/.git'
    local mode = lfs().attributes(g, 'mode')
    if mode == 'directory' then gitdir = g break end
    if mode == 'file' then
      local line = (read(g) or ''):match('^gitdir:%s*(.-)%s*$')
      if line then gitdir = joined(dir, line) end
      break
    end
    if dir == '/' then break end
    dir = dirname(dir)
  end
  if not gitdir then return nil end
  local head = (read(gitdir .. '/HEAD') or ''):match('^%s*(.-)%s*$')
  if head:match('^%x+$') and #head >= 40 then return head end
  local ref = head:match('^ref:%s*(%S+)$')
  if not ref then return nil end
  local common = (read(gitdir .. '/commondir') or ''):match('^%s*(.-)%s*$')
  common = (common and common ~= '') and joined(gitdir, common) or gitdir
  for _, base in ipairs{gitdir, common} do
    local h = (read(base .. '/' .. ref) or ''):match('^(%x+)%s*$')
    if h and #h >= 40 then return h end
  end
  for line in (read(common .. '/packed-refs') or ''):gmatch('[^\n]+') do
    local h, name = line:match('^(%x+)%s+(%S+)$')
    if name == ref then return h end
  end
  return nil
end

return M
