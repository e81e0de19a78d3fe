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
-- file of the harness. The PDF's creation date is SOURCE_DATE_EPOCH (0
-- unless set), so the same report gives the same bytes.
local files = require 'rnn.experiment.files'

local M = {}

--- The converter's command; tests point it elsewhere.
M.command = 'rsvg-convert'
M.PNG_ZOOM = 2
-- conversions at a time (rsvg-convert spends most of its time starting)
local PARALLEL = 4

--- nil when the converter runs, else why not (a sentence for the report).
function M.unavailable()
  local p = io.popen(files.quote(M.command) .. ' --version 2>&1')
  local out = p:read('a') or ''
  local ok, _, code = p:close()
  if ok then return nil end
  if code == 127 then
    return string.format('%s was not found (it is in the Debian package librsvg2-bin)', M.command)
  end
  return string.format('%s --version failed: %s', M.command, (out:match('[^\n]*')))
end

-- the shell lines converting one SVG (path relative to dir) to `fmt`
local function job(svg_path, fmt, k)
  local out = svg_path:gsub('%.svg$', '') .. '.' .. fmt
  local tmp = string.format('%s.tmp.%d.%d', out, files.pid() or 0, k)
  local zoom = fmt == 'png' and (' -z ' .. M.PNG_ZOOM) or ''
  return string.format('{ if "$RSVG" -f %s%s -o %s %s 2>%s.err; then mv -f %s %s; '
    .. 'else echo "failed %s $(head -c 300 %s.err | tr \'\\n\' \' \')"; rm -f %s; fi; rm -f %s.err; } &',
    fmt, zoom, files.quote(tmp), files.quote(svg_path), files.quote(tmp), files.quote(tmp), files.quote(out),
    out, files.quote(tmp), files.quote(tmp), files.quote(tmp)), out
end

--- Converts each SVG of `svgs` (paths relative to dir, ending in .svg) to
-- PNG and PDF beside it. Returns a table output path -> reason for those
-- that failed (empty when all were made).
function M.convert(dir, svgs)
  local lines = {'set -u', 'cd ' .. files.quote(dir) .. ' || exit 1', 'RSVG=' .. files.quote(M.command),
                 'export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"'}
  local made, k = {}, 0
  for _, path in ipairs(svgs) do
    for _, fmt in ipairs{'png', 'pdf'} do
      k = k + 1
      local line, out = job(path, fmt, k)
      lines[#lines + 1] = line
      made[#made + 1] = out
      if k % PARALLEL == 0 then lines[#lines + 1] = 'wait' end
    end
  end
  lines[#lines + 1] = 'wait'
  local p = io.popen('sh -c ' .. files.quote(table.concat(lines, '\n')) .. ' 2>&1')
  local text = p:read('a') or ''
  p:close()
  local failed = {}
  for name, why in text:gmatch('failed (%S+) ([^\n]*)') do failed[name] = why end
  for _, out in ipairs(made) do
    if not failed[out] and not files.exists(dir .. '/' .. out) then failed[out] = 'not written' end
  end
  return failed
end

return M
