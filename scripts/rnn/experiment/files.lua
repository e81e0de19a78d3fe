--- rnn.experiment.files: the file side of the harness — folders, atomic
-- writes, the metrics files (CSV and JSON lines, appended a row a step and
-- cut back to a checkpoint on resume) and a small CSV reader.
--
-- Every file the harness replaces is written to '<path>.tmp' and renamed
-- over the old one (rename is atomic on POSIX file systems), so a process
-- killed at any moment leaves either the old file or the new one. The
-- metrics files are only appended to; a row cut short by a kill has no
-- final newline and is dropped when the run resumes, as are the rows after
-- the checkpoint the run resumes from.
local json = require 'rnn.experiment.json'

local M = {}

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
      local ok, err = lfs.mkdir(path)
      -- (another process may have made it meanwhile)
      if not ok and lfs.attributes(path, 'mode') ~= 'directory' then
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

local tmp_count = 0

--- Writes text to path atomically: a temporary file of this process
-- (<path>.tmp.<pid>.<k>, so that two processes writing the same file never
-- share one), then a rename over the target. A failed write or close (a
-- full disk, say) removes the temporary file, leaves the old file as it
-- was and raises an error naming the file and the cause.
function M.write_atomic(path, text)
  tmp_count = tmp_count + 1
  local tmp = string.format('%s.tmp.%d.%d', path, M.pid() or 0, tmp_count)
  local f, err = io.open(tmp, 'wb')
  if not f then error('rnn.experiment: cannot write ' .. tostring(err), 0) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    error(string.format('rnn.experiment: cannot write %s: %s', path, tostring(werr or cerr)), 0)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error('rnn.experiment: cannot rename ' .. tmp .. ': ' .. tostring(rerr), 0)
  end
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
    local err
    h, err = io.open(self.files[kind][which], 'ab')
    if not h then error('rnn.experiment: cannot open ' .. tostring(err), 0) end
    h:setvbuf('line') -- rows reach the file as they are made (tail -f works)
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
-- (empty fields) but not add new ones.
function Metrics:append(kind, step, row, where)
  local keys = row_keys(row, where)
  local cols = self.columns[kind]
  if not cols then
    cols = keys
    self.columns[kind] = cols
    local h = handle(self, kind, 'csv')
    local names = {'step'}
    for _, k in ipairs(cols) do names[#names + 1] = M.csv_field(k) end
    h:write(table.concat(names, ','), '\n')
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
  handle(self, kind, 'csv'):write(table.concat(fields, ','), '\n')
  local r = {step = step}
  for _, k in ipairs(keys) do r[k] = row[k] end
  handle(self, kind, 'jsonl'):write(json.encode_ordered(r, {'step'}), '\n')
  if kind == 'train' then self.last = r end
end

function Metrics:flush()
  for _, h in pairs(self.handles) do h:flush() end
end

function Metrics:close()
  for k, h in pairs(self.handles) do h:close(); self.handles[k] = nil end
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
