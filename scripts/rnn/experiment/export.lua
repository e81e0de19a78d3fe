--- rnn.experiment.export: PNG and PDF copies of the report's SVG plots,
-- for a paper, made by rsvg-convert (Debian package librsvg2-bin).
--
--     local export = require 'rnn.experiment.export'
--     local why = export.unavailable()                  -- nil when it runs
--     local failed = export.convert(dir, {'plots/loss.svg', ...})
--     -- writes dir/plots/loss.png (twice the SVG's pixel size) and
--     -- dir/plots/loss.pdf (vector); failed = {['plots/x.png'] = reason}
--
-- Each output goes to a temporary file and is renamed into place, as every
-- file of the harness; rsvg-convert is started with its arguments, no
-- shell. The PDF's creation date is SOURCE_DATE_EPOCH (0
-- unless set), so the same report gives the same bytes.
local files = require 'rnn.experiment.files'
local proc = require 'rnn.experiment.proc'

local M = {}

--- The converter's command; tests point it elsewhere.
M.command = 'rsvg-convert'
M.PNG_ZOOM = 2
-- conversions at a time (rsvg-convert spends most of its time starting)
local PARALLEL = 4

--- nil when the converter runs, else why not (a sentence for the report).
function M.unavailable()
  local r = proc.run{M.command, '--version'}
  if r.code == 0 then return nil end
  if r.error and r.error:match('^ENOENT') then
    return string.format('%s was not found (it is in the Debian package librsvg2-bin)', M.command)
  end
  return string.format('%s --version failed: %s', M.command, (r.error or r.out or ''):match('[^\n]*'))
end

--- Converts each SVG of `svgs` (paths relative to dir, ending in .svg) to
-- PNG and PDF beside it, PARALLEL conversions at a time, each started with
-- its arguments (no shell). Returns a table output path -> reason for
-- those that failed (empty when all were made).
function M.convert(dir, svgs)
  local env = {SOURCE_DATE_EPOCH = os.getenv('SOURCE_DATE_EPOCH') or '0'}
  local cmds, jobs = {}, {}
  for _, path in ipairs(svgs) do
    for _, fmt in ipairs{'png', 'pdf'} do
      local out = path:gsub('%.svg$', '') .. '.' .. fmt
      local tmp = string.format('%s.tmp.%d.%d', out, files.pid() or 0, #cmds + 1)
      local cmd = {M.command, '-f', fmt}
      if fmt == 'png' then
        cmd[#cmd + 1] = '-z'
        cmd[#cmd + 1] = tostring(M.PNG_ZOOM)
      end
      cmd[#cmd + 1] = '-o'
      cmd[#cmd + 1] = tmp
      cmd[#cmd + 1] = path
      cmd.cwd, cmd.env = dir, env
      cmds[#cmds + 1] = cmd
      jobs[#jobs + 1] = {out = out, tmp = tmp}
    end
  end
  local results = proc.run_all(cmds, {parallel = PARALLEL})
  local failed = {}
  for i, j in ipairs(jobs) do
    local r = results[i]
    local tmp, out = dir .. '/' .. j.tmp, dir .. '/' .. j.out
    if r.code == 0 and r.signal == 0 and files.exists(tmp) then
      local ok, err = os.rename(tmp, out)
      if not ok then failed[j.out] = tostring(err) end
    else
      local why = r.error or ((r.out or ''):sub(1, 300):gsub('%s+', ' '):gsub('^ ', ''):gsub(' $', ''))
      failed[j.out] = why ~= '' and why or string.format('exit status %d', r.code or -1)
    end
    os.remove(tmp)
  end
  for _, j in ipairs(jobs) do
    if not failed[j.out] and not files.exists(dir .. '/' .. j.out) then failed[j.out] = 'not written' end
  end
  return failed
end

return M
