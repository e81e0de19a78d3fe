--- rnn.experiment.files: the file side of the harness — folders, atomic
-- writes, the metrics files (CSV and JSON lines, appended a row a step and
-- cut back to a checkpoint on resume) and a small CSV reader.
--
-- Every file the harness replaces is written to '<path>.tmp.<pid>.<k>',
-- synced and renamed over the old one (rename is atomic on POSIX file
-- systems), so a process killed at any moment leaves either the old file or
-- the new one. The metrics files are only appended to; a row cut short by a
-- kill has no final newline and is dropped when the run resumes, as are the
-- rows after the checkpoint the run resumes from. A write that fails (full
-- disk, size limit, read-only folder) raises an error naming the file and
-- the cause and leaves the file as it was: see "Writing" below.
local json = require 'rnn.experiment.json'

local M = {}

-- the C library's texts of the codes that writes meet
local REASONS = {
  ENOSPC = 'No space left on device', EDQUOT = 'Disk quota exceeded', EFBIG = 'File too large',
  EROFS = 'Read-only file system', EACCES = 'Permission denied', EPERM = 'Operation not permitted',
  EIO = 'Input/output error', ENOENT = 'No such file or directory', ENOTDIR = 'Not a directory',
  EISDIR = 'Is a directory', EMFILE = 'Too many open files', ENFILE = 'Too many open files in system',
  ENAMETOOLONG = 'File name too long', EXDEV = 'Invalid cross-device link', EBUSY = 'Device or resource busy',
}
-- errno values (Linux) of lua-filesystem's results
local ERRNO_NAMES = {[1] = 'EPERM', [13] = 'EACCES', [30] = 'EROFS', [28] = 'ENOSPC', [122] = 'EDQUOT'}

-- 'No space left on device (ENOSPC)' from luv's results
local function reason(msg, name)
  if name and REASONS[name] then return REASONS[name] .. ' (' .. name .. ')' end
  return tostring(msg or name or 'unknown error')
end

local function dirname(path)
  local d = path:match('^(.*)/[^/]*$')
  if d == nil then return '.' end
  if d == '' then return '/' end
  return d
end
M.dirname = dirname

-- what a refused creation in folder `dir` says: that the folder is read-only
local function read_only(dir, name, text)
  if name == 'EROFS' then
    return string.format('the folder %s is read-only (%s, EROFS: its file system is mounted read-only)', dir, text)
  end
  return string.format('the folder %s is read-only for this user (%s, %s)', dir, text, name)
end
local function refused(name) return name == 'EROFS' or name == 'EACCES' or name == 'EPERM' end

--- A string quoted for /bin/sh.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

--- mkdir -p (lua-filesystem: no shell, which a worker would start for
-- every run)
function M.mkdir_p(dir)
  local lfs = require 'lfs'
  local path = dir:sub(1, 1) == '/' and '' or '.'
  for part in dir:gmatch('[^/]+') do
    path = path .. '/' .. part
    if lfs.attributes(path, 'mode') ~= 'directory' then
      local ok, err, errno = lfs.mkdir(path)
      -- (another process may have made it meanwhile)
      if not ok and lfs.attributes(path, 'mode') ~= 'directory' then
        local name = ERRNO_NAMES[errno]
        if name and refused(name) then err = read_only(dirname(path), name, tostring(err)) end
        error(string.format('rnn.experiment: cannot create the folder %s: %s', dir, tostring(err)), 0)
      end
    end
  end
end

--- Removes the files of folder `dir` whose names start with `prefix`.
function M.remove_prefixed(dir, prefix)
  local lfs = require 'lfs'
  if lfs.attributes(dir, 'mode') ~= 'directory' then return end
  for name in lfs.dir(dir) do
    if name:sub(1, #prefix) == prefix then os.remove(dir .. '/' .. name) end
  end
end

--- rm -rf of a folder (the harness's own run folders only), through
-- lua-filesystem: symbolic links are removed, never followed. Raises an
-- error naming the first path that could not be removed.
function M.remove_tree(dir)
  if dir == '' or dir == '/' or dir == '.' then error('rnn.experiment: refusing to remove ' .. dir, 0) end
  local lfs = require 'lfs'
  local function remove(path)
    local mode = lfs.symlinkattributes(path, 'mode')
    if mode == nil then return end
    if mode == 'directory' then
      for name in lfs.dir(path) do
        if name ~= '.' and name ~= '..' then remove(path .. '/' .. name) end
      end
      local ok, err = lfs.rmdir(path)
      if not ok then error(string.format('rnn.experiment: cannot remove the folder %s: %s', path, tostring(err)), 0) end
    else
      local ok, err = os.remove(path)
      if not ok then error(string.format('rnn.experiment: cannot remove %s', tostring(err)), 0) end
    end
  end
  remove(dir)
end

function M.read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

---------------------------------------------------------------------------
-- Writing. Every write, fsync and close is checked: a full disk (ENOSPC,
-- EDQUOT), a file-size limit (EFBIG), a read-only or unwritable folder
-- (EROFS, EACCES) raise an error that names the file and the cause, and
-- leave the file as it was before (a replaced file keeps its old bytes; an
-- appended file is cut back to its old length). Through lua-luv, which
-- gives fsync and the error's code, unlike Lua's io.

local function uv() return require 'rnn.experiment.uv' end

-- A write error: a clear message, no traceback (rnn.experiment.errors'
-- message handler passes tables through), with the code in .code.
local IoError = {__tostring = function(e) return e.message end}
local function fail(code, fmt, ...)
  error(setmetatable({message = string.format(fmt, ...), code = code}, IoError), 0)
end
function M.is_io_error(e) return getmetatable(e) == IoError end
M.fail = fail

-- SIGXFSZ kills a process that writes past its file-size limit (ulimit
-- -f); ignored, the write fails with EFBIG and the harness says so.
local prepared = false
local function prepare()
  if prepared then return end
  prepared = true
  local ok, core = pcall(require, 'rnn.core')
  if ok and type(core) == 'table' and core._signals_ignore_xfsz then core._signals_ignore_xfsz() end
end
M.prepare = prepare

-- For the fault-injection tests only (tests/faults), not an API:
-- RNNLUA_TEST_FAULT=<name>:<n>:<CODE>[:<stage>] makes the n-th <stage>
-- ('write' by default, or 'open', 'fsync', 'close') of a file whose path
-- ends in /<name> fail in this process as though the system had returned
-- CODE (ENOSPC, EFBIG, ...) — a write after writing half its bytes, as a
-- disk that fills up mid-way does. A name with no such file never fires.
local fault = nil
do
  local spec = os.getenv('RNNLUA_TEST_FAULT')
  if spec and spec ~= '' then
    local name, n, code, stage = spec:match('^([^:]+):(%d+):(%u+):?(%a*)$')
    stage = stage ~= '' and stage or 'write'
    local stages = {write = true, open = true, fsync = true, close = true}
    if not name or not stages[stage] then
      error('RNNLUA_TEST_FAULT: expected <name>:<n>:<CODE>[:write|open|fsync|close], got ' .. spec, 0)
    end
    fault = {name = '/' .. name, n = tonumber(n), code = code, stage = stage, seen = 0}
  end
end

-- the injected code for this operation, or nil
local function injected(path, stage)
  if not fault or stage ~= fault.stage or path:sub(-#fault.name) ~= fault.name then return nil end
  fault.seen = fault.seen + 1
  if fault.seen ~= fault.n then return nil end
  return fault.code
end

-- (`target`: the file the operation is for, which the tests name)
local function fs_open(path, flags, mode, target)
  local code = injected(target or path, 'open')
  if code then return nil, code .. ': injected', code end
  return uv().fs_open(path, flags, mode)
end

-- writes all of `data` to fd (at offset `off`, or at the end with -1);
-- true, or nil, message, code
local function write_all(fd, path, data, off)
  local U = uv()
  local code = injected(path, 'write')
  if code then
    local half = data:sub(1, #data // 2)
    if #half > 0 then U.fs_write(fd, half, off) end
    return nil, code .. ': injected', code
  end
  local done = 0
  while done < #data do
    local n, err, name = U.fs_write(fd, done == 0 and data or data:sub(done + 1), off < 0 and -1 or off + done)
    if not n then return nil, err, name end
    if n <= 0 then return nil, 'the write wrote nothing', 'EIO' end
    done = done + n
  end
  return true
end

local function fs_fsync(fd, path)
  local code = injected(path, 'fsync')
  if code then return nil, code .. ': injected', code end
  return uv().fs_fsync(fd)
end

local function fs_close(fd, path)
  local code = injected(path, 'close')
  if code then
    uv().fs_close(fd)
    return nil, code .. ': injected', code
  end
  return uv().fs_close(fd)
end

-- fsync of the folder holding path, so that a rename is durable (file
-- systems that cannot sync a folder are let be)
local function sync_dir(path)
  local U = uv()
  local fd = U.fs_open(dirname(path), 'r', 0)
  if not fd then return true end
  local ok, err, name = U.fs_fsync(fd)
  U.fs_close(fd)
  if not ok and name ~= 'EINVAL' and name ~= 'ENOTSUP' and name ~= 'EBADF' then return nil, err, name end
  return true
end

local tmp_count = 0

--- Writes text to path atomically: a temporary file of this process
-- (<path>.tmp.<pid>.<k>, so that two processes writing the same file never
-- share one), written, synced and closed, then renamed over the target.
-- Any failure (a full disk, a size limit, a read-only folder) removes the
-- temporary file, leaves the old file as it was and raises an error naming
-- the file and the cause.
function M.write_atomic(path, text)
  prepare()
  local U = uv()
  tmp_count = tmp_count + 1
  local tmp = string.format('%s.tmp.%d.%d', path, M.pid() or 0, tmp_count)
  local fd, err, name = fs_open(tmp, 'w', 438, path) -- 0666 less the umask
  if not fd then
    if refused(name) then
      fail(name, 'rnn.experiment: cannot write %s: %s', path, read_only(dirname(path), name, REASONS[name]))
    end
    fail(name, 'rnn.experiment: cannot write %s: %s', path, reason(err, name))
  end
  local ok
  ok, err, name = write_all(fd, path, text, 0)
  local what = 'writing'
  if ok then
    what = 'syncing'
    ok, err, name = fs_fsync(fd, path)
  end
  local cok, cerr, cname = fs_close(fd, path)
  if ok and not cok then ok, err, name, what = nil, cerr, cname, 'closing' end
  if not ok then
    U.fs_unlink(tmp)
    fail(name, 'rnn.experiment: cannot write %s: %s failed: %s; the file is left as it was', path, what,
      reason(err, name))
  end
  ok, err, name = U.fs_rename(tmp, path)
  if not ok then
    U.fs_unlink(tmp)
    fail(name, 'rnn.experiment: cannot write %s: renaming its temporary file over it failed: %s; the file is left '
      .. 'as it was', path, reason(err, name))
  end
  ok, err, name = sync_dir(path)
  if not ok then
    fail(name, 'rnn.experiment: wrote %s, but syncing its folder failed: %s', path, reason(err, name))
  end
end

---------------------------------------------------------------------------
-- Appending: a file open for appending, whose rows are written whole or
-- not at all.

local Appender = {}
Appender.__index = Appender
-- (a handle dropped after an error closes its descriptor when collected)
Appender.__gc = function(a) if a.fd then uv().fs_close(a.fd); a.fd = nil end end

--- Opens path for appending (created when missing): an object with
-- :append(text, what), :sync() and :close(). Raises as M.write_atomic does.
function M.appender(path)
  prepare()
  local fd, err, name = fs_open(path, 'a', 438)
  if not fd then
    if refused(name) then
      local why = read_only(dirname(path), name, REASONS[name])
      if M.exists(path) then why = string.format('%s is not writable (%s, %s)', path, REASONS[name], name) end
      fail(name, 'rnn.experiment: cannot append to %s: %s', path, why)
    end
    fail(name, 'rnn.experiment: cannot append to %s: %s', path, reason(err, name))
  end
  local st = uv().fs_fstat(fd)
  return setmetatable({fd = fd, path = path, size = st and st.size or 0}, Appender)
end

--- The file's length as this object last left it.
function Appender:length() return self.size end

--- Appends text; on a failure cuts the file back to its length before and
-- raises an error naming the file, the cause and `what` (e.g. 'the row of
-- step 7').
function Appender:append(text, what)
  local ok, err, name = write_all(self.fd, self.path, text, -1)
  if not ok then
    self:truncate(self.size)
    fail(name, 'rnn.experiment: cannot append to %s: %s; %s was not written (the file is cut back to its %d '
      .. 'bytes before)', self.path, reason(err, name), what or 'the text', self.size)
  end
  self.size = self.size + #text
end

--- Cuts the file back to `size` bytes after a failed write (an error
-- there is raised too); a file cut back to nothing is removed (an empty
-- CSV file would have no header).
function Appender:truncate(size)
  local ok, err, name = uv().fs_ftruncate(self.fd, size)
  if not ok then
    fail(name, 'rnn.experiment: %s: cutting it back to %d bytes after a failed write failed too: %s', self.path, size,
      reason(err, name))
  end
  self.size = size
  if size == 0 then uv().fs_unlink(self.path) end
end

--- fsync: what was appended is on the disk.
function Appender:sync()
  local ok, err, name = fs_fsync(self.fd, self.path)
  if not ok then fail(name, 'rnn.experiment: cannot sync %s: %s', self.path, reason(err, name)) end
end

function Appender:close()
  if not self.fd then return end
  local fd = self.fd
  self.fd = nil
  local ok, err, name = fs_close(fd, self.path)
  if not ok then fail(name, 'rnn.experiment: cannot close %s: %s', self.path, reason(err, name)) end
end

local pid_cache
--- This process's id (from /proc/self/stat), or nil without /proc.
function M.pid()
  if pid_cache == nil then
    local f = io.open('/proc/self/stat', 'r')
    if not f then return nil end
    local pid = f:read('n')
    f:close()
    pid_cache = pid and math.tointeger(pid)
  end
  return pid_cache
end

--- A value as a CSV field: numbers by json.number (%.17g), booleans as
-- true/false, strings quoted when they hold a comma, a quote or a newline.
function M.csv_field(v)
  local t = type(v)
  if v == nil then return '' end
  if t == 'number' then return json.number(v) end
  if t == 'boolean' then return v and 'true' or 'false' end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

--- Splits one CSV line into fields (quotes handled).
function M.csv_split(line)
  local out, i, n = {}, 1, #line
  if n == 0 then return {''} end
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local buf, j = {}, i + 1
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
          else j = j + 1; break end
        else
          buf[#buf + 1] = c; j = j + 1
        end
      end
      out[#out + 1] = table.concat(buf)
      i = j + 1 -- past the comma
    else
      local j = line:find(',', i, true)
      if not j then
        out[#out + 1] = line:sub(i)
        break
      end
      out[#out + 1] = line:sub(i, j - 1)
      i = j + 1
      if i == n + 1 then out[#out + 1] = ''; break end
    end
  end
  return out
end

--- A CSV field back to a Lua value: numbers (nan/inf too), booleans,
-- strings; '' is nil.
function M.csv_value(s)
  if s == '' then return nil end
  if s == 'true' then return true end
  if s == 'false' then return false end
  if s == 'nan' or s == '-nan' then return 0 / 0 end
  if s == 'inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  local n = tonumber(s)
  if n ~= nil then return n end
  return s
end

--- The records of a CSV text as written (RFC 4180): a newline inside a
-- quoted field belongs to its record. Each record as its text, without
-- the newline that ends it; a last record without one (cut short by a
-- kill) is left out.
function M.csv_records(text)
  local out, start, i, n, quoted = {}, 1, 1, #text, false
  while i <= n do
    local j = text:find(quoted and '"' or '["\n]', i)
    if not j then break end
    local c = text:sub(j, j)
    if c == '"' then
      -- (a doubled quote inside a quoted field toggles twice: no change)
      quoted = not quoted
    else
      out[#out + 1] = text:sub(start, j - 1)
      start = j + 1
    end
    i = j + 1
  end
  return out
end

--- Reads a CSV file written by the harness: header (array of names) and
-- rows (arrays of values). nil when the file does not exist.
function M.read_csv(path)
  local text = M.read(path)
  if not text then return nil end
  local header, rows = nil, {}
  for _, line in ipairs(M.csv_records(text)) do
    if not header then header = M.csv_split(line)
    elseif line ~= '' then
      local f = M.csv_split(line)
      local row = {}
      for i = 1, #header do row[i] = M.csv_value(f[i] or '') end
      rows[#rows + 1] = row
    end
  end
  return header or {}, rows
end

-- The lines of a file that end with a newline (a last line cut short by a
-- kill has none and is dropped).
local function complete_lines(path)
  local text = M.read(path)
  if not text then return nil end
  local lines = {}
  for line in text:gmatch('([^\n]*)\n') do lines[#lines + 1] = line end
  return lines
end

---------------------------------------------------------------------------
-- The metrics of one run

local Metrics = {}
Metrics.__index = Metrics
M.Metrics = Metrics

local KINDS = {train = 'metrics', eval = 'eval'}

--- Opens the metrics files of a run folder to continue after step `start`
-- (0: a fresh run, the files are removed). Rows of steps after `start`
-- are cut off — and for evaluation rows also those of the final step,
-- `total`, which is evaluated after the last checkpoint, and those of the
-- steps of opts.drop_eval ({[step] = true}: final evaluations of a run
-- extended to more steps, which a run started with those steps would not
-- have made).
-- Returns the object; m.last (the last training row kept, as a table).
function Metrics.open(dir, start, total, opts)
  local drop = opts and opts.drop_eval or {}
  local self = setmetatable({dir = dir, files = {}, columns = {}, handles = {}}, Metrics)
  for kind, base in pairs(KINDS) do
    local csv, jsonl = dir .. '/' .. base .. '.csv', dir .. '/' .. base .. '.jsonl'
    self.files[kind] = {csv = csv, jsonl = jsonl}
    if start == 0 then
      os.remove(csv)
      os.remove(jsonl)
    else
      local bound = start
      local keep = function(step)
        if kind == 'eval' then return step <= bound and step < total and not drop[step] end
        return step <= bound
      end
      -- CSV: the header and the kept rows (records: a quoted field may
      -- hold a newline)
      local text = M.read(csv)
      local lines = text and M.csv_records(text)
      local csv_out
      if lines and #lines > 0 then
        csv_out = {lines[1]}
        for i = 2, #lines do
          local step = tonumber((lines[i]:match('^([^,]*)')))
          if step and keep(step) then csv_out[#csv_out + 1] = lines[i] end
        end
        self.columns[kind] = M.csv_split(lines[1])
        table.remove(self.columns[kind], 1) -- 'step'
        if kind == 'train' then self.csv_rows = #csv_out - 1 end
      end
      local jlines, jout, jrows = complete_lines(jsonl), nil, {}
      if jlines then
        jout = {}
        for _, line in ipairs(jlines) do
          local ok, row = pcall(json.decode, line)
          if ok and type(row) == 'table' and type(row.step) == 'number' and keep(row.step) then
            jout[#jout + 1] = line
            jrows[#jrows + 1] = row
            if kind == 'train' then self.last = row end
          end
        end
        if kind == 'train' then self.jsonl_rows = #jout end
      end
      -- The two files hold the same rows: a kept row that differs between
      -- them (a byte changed on disk) is refused before anything is cut.
      local cols = self.columns[kind]
      if not cols and #jrows > 0 then
        error(string.format('rnn.experiment: %s: %s.csv is missing or empty but %s.jsonl holds %d rows up to step '
          .. '%d; the folder is damaged: rerun with --fresh to start the run over', dir, base, base, #jrows, bound), 0)
      end
      if cols and (#jrows > 0 or (csv_out and #csv_out > 1)) then
        local why
        if #jrows ~= #csv_out - 1 then
          why = string.format('%s.csv holds %d rows up to step %d and %s.jsonl %d', base, #csv_out - 1, bound, base,
            #jrows)
        else
          for i, row in ipairs(jrows) do
            local fields = {M.csv_field(row.step)}
            for c, k in ipairs(cols) do fields[c + 1] = M.csv_field(row[k]) end
            if table.concat(fields, ',') ~= csv_out[i + 1] then
              why = string.format('%s.csv and %s.jsonl differ at step %s', base, base, M.csv_field(row.step))
              break
            end
          end
        end
        if why then
          error(string.format('rnn.experiment: %s: %s; one of them is damaged: rerun with --fresh to start the run '
            .. 'over', dir, why), 0)
        end
      end
      if csv_out then M.write_atomic(csv, table.concat(csv_out, '\n') .. '\n')
      elseif lines then os.remove(csv) end
      if jout then M.write_atomic(jsonl, #jout > 0 and (table.concat(jout, '\n') .. '\n') or '') end
    end
  end
  if start > 0 then
    local n1, n2 = self.csv_rows or 0, self.jsonl_rows or 0
    if n1 ~= start or n2 ~= start then
      error(string.format('rnn.experiment: %s: the checkpoint is at step %d but metrics.csv holds %d rows and '
        .. 'metrics.jsonl %d up to it; the folder is damaged: rerun with --fresh', dir, start, n1, n2), 0)
    end
    if self.last then json.integers(self.last) end
  end
  return self
end

local function handle(self, kind, which)
  local key = kind .. '.' .. which
  local h = self.handles[key]
  if not h then
    h = M.appender(self.files[kind][which])
    self.handles[key] = h
  end
  return h
end

-- the sorted keys of a metrics table, 'loss' first; checks the values
local function row_keys(row, where)
  local keys = {}
  for k, v in pairs(row) do
    if type(k) ~= 'string' then
      error(string.format('rnn.experiment: %s returned a metrics table with a %s key; keys must be names', where,
        type(k)), 0)
    end
    local t = type(v)
    if t ~= 'number' and t ~= 'boolean' and t ~= 'string' then
      error(string.format("rnn.experiment: %s returned metric '%s' as a %s; metrics are numbers, booleans or strings",
        where, k, t), 0)
    end
    if k ~= 'step' then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    if a == 'loss' then return b ~= 'loss' end
    if b == 'loss' then return false end
    return a < b
  end)
  return keys
end
M.row_keys = row_keys

--- Appends the row of `step` to the kind's files ('train' or 'eval').
-- The first row fixes the CSV columns; a later row may leave some out
-- (empty fields) but not add new ones. A row is written whole or not at
-- all: when a write fails (a full disk), both files are cut back to their
-- length before the row and the error names the file and the cause.
function Metrics:append(kind, step, row, where)
  local keys = row_keys(row, where)
  local cols = self.columns[kind]
  local header
  if not cols then
    cols = keys
    local names = {'step'}
    for _, k in ipairs(cols) do names[#names + 1] = M.csv_field(k) end
    header = table.concat(names, ',') .. '\n'
  else
    local known = {}
    for _, k in ipairs(cols) do known[k] = true end
    for _, k in ipairs(keys) do
      if not known[k] then
        error(string.format("rnn.experiment: %s returned metric '%s' at step %d, which the first row did not have "
          .. '(columns: %s); return the same metrics every time', where, k, step, table.concat(cols, ', ')), 0)
      end
    end
  end
  local fields = {json.number(step)}
  for i, k in ipairs(cols) do fields[i + 1] = M.csv_field(row[k]) end
  local r = {step = step}
  for _, k in ipairs(keys) do r[k] = row[k] end
  local csv, jsonl = handle(self, kind, 'csv'), handle(self, kind, 'jsonl')
  local what = string.format('the %s row of step %d', kind == 'train' and 'training' or 'evaluation', step)
  local before = csv:length()
  csv:append((header or '') .. table.concat(fields, ',') .. '\n', what)
  local ok, err = pcall(jsonl.append, jsonl, json.encode_ordered(r, {'step'}) .. '\n', what)
  if not ok then
    pcall(csv.truncate, csv, before) -- (the CSV row goes too: the two files keep the same rows)
    error(err, 0)
  end
  if header then self.columns[kind] = cols end
  if kind == 'train' then self.last = r end
end

--- Syncs the rows written so far to the disk (before a checkpoint, which
-- must never be ahead of the metrics files on the disk).
function Metrics:flush()
  for _, k in ipairs{'train.csv', 'train.jsonl', 'eval.csv', 'eval.jsonl'} do
    if self.handles[k] then self.handles[k]:sync() end
  end
end

function Metrics:close()
  local first
  for _, k in ipairs{'train.csv', 'train.jsonl', 'eval.csv', 'eval.jsonl'} do
    local h = self.handles[k]
    if h then
      self.handles[k] = nil
      local ok, err = pcall(h.close, h)
      if not ok then first = first or err end
    end
  end
  if first then error(first, 0) end
end

--- The evaluation rows of the files (decoded JSON lines), in order.
function Metrics:eval_rows()
  local lines = complete_lines(self.files.eval.jsonl) or {}
  local rows = {}
  for _, line in ipairs(lines) do rows[#rows + 1] = json.integers(json.decode(line)) end
  return rows
end

--- The training rows of the files (decoded JSON lines), in order.
function Metrics:train_rows()
  local lines = complete_lines(self.files.train.jsonl) or {}
  local rows = {}
  for _, line in ipairs(lines) do rows[#rows + 1] = json.integers(json.decode(line)) end
  return rows
end

return M
