-- Checks that an experiment's folder holds only complete files, for
-- tests/faults/faults_test.sh: no temporary file left (*.tmp*), every CSV
-- a header and rows of as many fields each ending with a newline, every
-- JSON lines file lines that decode, config.json, done and series.json
-- JSON that decodes, every .safetensors file loads, every SVG and HTML file
-- closed. Prints one line per problem and exits 1 when there is any.
--
--     rnnlua tests/faults/check_folder.lua DIR
local rnn = require 'rnn'
local json = require 'rnn.experiment.json'
local files = require 'rnn.experiment.files'
local lfs = require 'lfs'

local dir = assert(arg[1], 'usage: check_folder.lua DIR')
local problems, checked = {}, 0
local function problem(path, what) problems[#problems + 1] = path .. ': ' .. what end

-- (the metrics files have every field in every row; summary.csv leaves
-- out empty fields at a row's end)
local function check_csv(path, text, exact)
  if text == '' then return problem(path, 'empty') end
  if text:sub(-1) ~= '\n' then return problem(path, 'last line has no newline (a partial row)') end
  local n
  for line in text:gmatch('([^\n]*)\n') do
    local k = #files.csv_split(line)
    if n and (k > n or (exact and k ~= n)) then return problem(path, string.format('a row of %d fields under a header of %d: %s', k, n, line)) end
    n = n or k
  end
end

local function check_jsonl(path, text)
  if text ~= '' and text:sub(-1) ~= '\n' then return problem(path, 'last line has no newline (a partial row)') end
  for line in text:gmatch('([^\n]*)\n') do
    local ok, v = pcall(json.decode, line)
    if not ok or type(v) ~= 'table' then return problem(path, 'a line that is not JSON: ' .. line) end
  end
end

local function check(path, name)
  checked = checked + 1
  if name:find('%.tmp') then return problem(path, 'a temporary file left behind') end
  local text = files.read(path)
  if not text then return problem(path, 'unreadable') end
  if name:match('%.csv$') then return check_csv(path, text, name == 'metrics.csv' or name == 'eval.csv') end
  if name:match('%.jsonl$') then return check_jsonl(path, text) end
  if name == 'config.json' or name == 'done' or name:match('%.json$') then
    local ok, v = pcall(json.decode, text)
    if not ok or type(v) ~= 'table' then problem(path, 'not JSON') end
    return
  end
  if name:match('%.safetensors$') then
    local ok, err = pcall(rnn.load, path)
    if not ok then problem(path, 'does not load: ' .. tostring(err)) end
    return
  end
  if name:match('%.svg$') and not text:find('</svg>%s*$') then return problem(path, 'not a whole SVG') end
  if name:match('%.html$') and not text:find('</html>%s*$') then return problem(path, 'not a whole HTML page') end
  if name:match('%.md$') and text == '' then return problem(path, 'empty') end
  if name:match('%.png$') and text:sub(2, 4) ~= 'PNG' then return problem(path, 'not a PNG') end
end

local function walk(d)
  for name in lfs.dir(d) do
    if name ~= '.' and name ~= '..' and name ~= '.locks' then
      local path = d .. '/' .. name
      if lfs.attributes(path, 'mode') == 'directory' then walk(path) else check(path, name) end
    end
  end
end

if lfs.attributes(dir, 'mode') == 'directory' then walk(dir) end
for _, p in ipairs(problems) do print(p) end
if #problems > 0 then os.exit(1) end
io.write(checked, ' files complete\n')
