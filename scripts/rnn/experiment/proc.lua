--- rnn.experiment.proc: other programs (rsvg-convert, sbatch, squeue,
-- scontrol) run with an argument vector through lua-luv's spawn — never a
-- command line given to a shell, so no file name or option value is ever
-- parsed as shell syntax.
--
--     local proc = require 'rnn.experiment.proc'
--     local r = proc.run{'sbatch', '--parsable', 'task.sh'}
--     -- r = {code = 0, signal = 0, out = 'stdout and stderr text', error = nil}
--     local rs = proc.run_all({{'a', 'x'}, {'b', cwd = 'dir', env = {K = 'v'}}}, {parallel = 4})
--     proc.which('sbatch')   --> '/usr/bin/sbatch' or nil
local M = {}

local function uv() return require 'rnn.experiment.uv' end

-- the environment of a child: ours, with `extra` (name -> value) over it
local function environment(extra)
  if not extra then return nil end
  local env = uv().os_environ()
  for k, v in pairs(extra) do env[k] = v end
  local out = {}
  for k, v in pairs(env) do out[#out + 1] = k .. '=' .. v end
  table.sort(out)
  return out
end

--- Runs each command (an array {program, args...} with optional cwd and
-- env = {name = value} added to this process's environment), at most
-- o.parallel (default 1) at a time, and waits for all. Returns one result
-- a command, in order: {code, signal, out (standard output and error,
-- interleaved as they came), error (why it could not be started, e.g.
-- 'ENOENT: no such file or directory'; code is then 127)}.
function M.run_all(cmds, o)
  local u = uv()
  local parallel = (o and o.parallel) or 1
  local results, next_i, running = {}, 1, 0
  local function start(i)
    local cmd = cmds[i]
    local args = {}
    for k = 2, #cmd do args[#args + 1] = cmd[k] end
    -- one pipe for standard output and error, so their lines keep their order
    local fds = u.pipe({nonblock = true}, {nonblock = false})
    local out = u.new_pipe(false)
    out:open(fds.read)
    local chunks = {}
    local r = {code = nil, signal = 0}
    results[i] = r
    local open = 2 -- the process and its output pipe
    local function one_closed()
      open = open - 1
      if open == 0 then
        r.out = table.concat(chunks)
        running = running - 1
      end
    end
    local handle, pid_or_err
    handle, pid_or_err = u.spawn(cmd[1], {args = args, cwd = cmd.cwd, env = environment(cmd.env),
      stdio = {nil, fds.write, fds.write}}, function(code, signal)
        r.code, r.signal = code, signal
        handle:close()
        one_closed()
      end)
    u.fs_close(fds.write)
    running = running + 1
    if not handle then
      out:close()
      r.code, r.error, r.out = 127, tostring(pid_or_err), ''
      running = running - 1
      return
    end
    out:read_start(function(err, data)
      if data then chunks[#chunks + 1] = data
      else
        if err then chunks[#chunks + 1] = '(read error: ' .. tostring(err) .. ')' end
        out:close()
        one_closed()
      end
    end)
  end
  while next_i <= #cmds or running > 0 do
    while running < parallel and next_i <= #cmds do
      start(next_i)
      next_i = next_i + 1
    end
    if running > 0 then u.run('once') end
  end
  u.run('nowait') -- the close callbacks of the handles
  return results
end

--- Runs one command (see run_all) and returns its result.
function M.run(cmd)
  return M.run_all({cmd})[1]
end

--- The path of an executable found on PATH (or the name itself when it
-- holds a '/' and is executable), or nil.
function M.which(name)
  local lfs = require 'lfs'
  local function ok(path)
    return lfs.attributes(path, 'mode') == 'file' and uv().fs_access(path, 'X') == true
  end
  if name:find('/', 1, true) then return ok(name) and name or nil end
  for dir in ((os.getenv('PATH') or '') .. ':'):gmatch('([^:]*):') do
    local path = (dir == '' and '.' or dir) .. '/' .. name
    if ok(path) then return path end
  end
  return nil
end

return M
