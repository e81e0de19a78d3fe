--- The Lua side of the fuzz targets of tests/fuzz/lua_fuzz.c: one function
-- per target, called with each input (a string) in protected mode.
--
--   json       rnn.experiment.json.decode (cjson) and json.integers, then
--              an encode/decode round trip that must be stable
--   runfolder  config.json and the done marker of a run folder, as
--              rnn.experiment.run reads them: run.finished and run.inspect
--              (the input is config.json, then a NUL byte and the done
--              marker; without a NUL there is no done marker)
--   metrics    metrics.csv, metrics.jsonl, eval.csv, eval.jsonl (split at
--              NUL bytes) of a run resumed at step 30 of 60:
--              files.Metrics.open, and files.read_csv on metrics.csv
--   checkpoint checkpoint.safetensors as a resume reads it:
--              rnn.experiment.checkpoint.load into a fresh state of the toy
--              experiment (tests/experiment/toy.lua: LSTM + Linear, Adam,
--              adaptive clipping, StepLR, extra), so the metadata's JSON,
--              load_state_dict, the optimizer's buffers and set_rng_state
--              all see the input
--
-- Any Lua error is a fine outcome for json (cjson's messages are its
-- contract) and checkpoint (the harness's checks of a checkpoint's
-- metadata are not complete: only crashes count there, and a load that
-- succeeds must give an integer step). run.inspect and run.finished must never raise (a refusal is a
-- return value), and files.Metrics.open may raise only its own
-- "rnn.experiment: ..." errors: anything else, and a result that breaks
-- the function's promise, is raised as "FUZZ-FINDING: ...", which the C
-- side turns into a crash that libFuzzer keeps.
local M = {}

local function finding(fmt, ...)
  error('FUZZ-FINDING: ' .. string.format(fmt, ...), 0)
end

-- the parts of s between NUL bytes
local function parts(s, n)
  local out, i = {}, 1
  while #out < n - 1 do
    local j = s:find('\0', i, true)
    if not j then break end
    out[#out + 1] = s:sub(i, j - 1)
    i = j + 1
  end
  out[#out + 1] = s:sub(i)
  return out
end

local function write(path, text)
  if text == nil then
    os.remove(path)
    return
  end
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

local targets = {}

function targets.json()
  local json = require 'rnn.experiment.json'
  return function(data)
    local v = json.decode(data)
    if type(v) == 'table' then json.integers(v) end
    -- what was read writes back, and that text reads back to itself; the
    -- one refusal allowed: text that is not UTF-8 (lua-cjson reads any
    -- bytes, and the encoder never writes JSON that is not UTF-8)
    local ok, e1 = pcall(json.encode, v)
    if not ok and tostring(e1):find('^rnn%.experiment%.json%.encode: .* is not valid UTF%-8') then return end
    if not ok then finding('json.encode of a decoded value failed: %s', tostring(e1)) end
    local ok2, e2 = pcall(function() return json.encode(json.integers(json.decode(e1))) end)
    if type(json.decode(e1)) ~= 'table' then ok2, e2 = pcall(function() return json.encode(json.decode(e1)) end) end
    if not ok2 then finding('json round trip failed: %s (on %q)', tostring(e2), e1) end
    if e1 ~= e2 then finding('json round trip not stable: %q then %q', e1, e2) end
  end
end

function targets.runfolder(o)
  local run = require 'rnn.experiment.run'
  local json = require 'rnn.experiment.json'
  local dir = o.dir .. '/run'
  os.execute('mkdir -p ' .. dir)
  -- the invocation the folder is checked against: the toy run the seed
  -- corpus comes from (tests/experiment/toy.lua, h0=learned, seed 1)
  local ref = assert(read(o.root .. '/tests/fuzz/corpus/runfolder/finished'), 'no reference run folder')
  local doc = json.integers(json.decode(parts(ref, 2)[1]))
  local exp = {name = doc.experiment, _script = false}
  local r = {dir = dir, seed = doc.seed, cell = {name = doc.cell, values = doc.grid}}
  local ACTIONS = {start = true, resume = true, extend = true, skip = true}
  return function(data)
    local p = parts(data, 2)
    write(dir .. '/config.json', p[1])
    write(dir .. '/done', p[2])
    local ok, m = pcall(run.finished, dir, doc.config.steps)
    if not ok then finding('run.finished raised: %s', tostring(m)) end
    if m ~= nil and type(m) ~= 'table' then finding('run.finished gave a %s', type(m)) end
    local cfg = {}
    for k, v in pairs(doc.config) do cfg[k] = v end
    local info, refusal
    ok, info, refusal = pcall(run.inspect, exp, r, cfg, {allow_changed_code = #data % 2 == 0})
    if not ok then finding('run.inspect raised: %s', tostring(info)) end
    if info == nil then
      if refusal == nil or not tostring(refusal):find('^rnn.experiment: ') then
        finding('run.inspect refused without a reason: %s', tostring(refusal))
      end
    elseif not ACTIONS[info.action] then
      finding('run.inspect gave action %s', tostring(info.action))
    end
  end
end

function targets.metrics(o)
  local files = require 'rnn.experiment.files'
  local dir = o.dir .. '/metrics'
  os.execute('mkdir -p ' .. dir)
  local START, TOTAL = 30, 60
  local NAMES = {'metrics.csv', 'metrics.jsonl', 'eval.csv', 'eval.jsonl'}
  return function(data)
    local p = parts(data, #NAMES)
    for i, name in ipairs(NAMES) do write(dir .. '/' .. name, p[i]) end
    local ok, header, rows = pcall(files.read_csv, dir .. '/metrics.csv')
    if not ok then finding('files.read_csv raised: %s', tostring(header)) end
    if type(header) ~= 'table' or type(rows) ~= 'table' then finding('files.read_csv gave no header and rows') end
    local m
    ok, m = pcall(files.Metrics.open, dir, START, TOTAL, {drop_eval = {}})
    if not ok then
      if type(m) ~= 'string' or not m:find('^rnn%.experiment: ') then
        finding('files.Metrics.open raised a foreign error: %s', tostring(m))
      end
      return
    end
    -- resumed: metrics.csv now holds its header and exactly START rows
    local text = read(dir .. '/metrics.csv') or ''
    local n = select(2, text:gsub('\n', '\n'))
    if n ~= START + 1 then finding('metrics.csv has %d lines after a resume at step %d', n, START) end
    m:close()
  end
end

function targets.checkpoint(o)
  local rnn = require 'rnn'
  local checkpoint = require 'rnn.experiment.checkpoint'
  local path = o.dir .. '/checkpoint.safetensors'
  local Net = rnn.nn.Module:extend('ToyNet')
  function Net:__init()
    self.lstm = rnn.nn.LSTM{input_size = 2, hidden_size = 8, h0 = 'learned', h0_std = 0.5}
    self.head = rnn.nn.Linear(8, 1)
  end
  function Net:forward(x) return self.head(self.lstm(x)[-1]) end
  return function(data)
    write(path, data)
    rnn.manual_seed(1)
    local model = Net()
    local opt = rnn.optim.Adam(model:parameters(), {lr = 1e-2})
    local state = {model = model, opt = opt, clip = rnn.clip.adaptive{percentile = 50},
      schedule = rnn.optim.schedule.StepLR(opt, 20, 0.5), extra = {batches = 0}}
    local ok, step = pcall(checkpoint.load, path, state)
    if ok and math.type(step) ~= 'integer' then finding('checkpoint.load gave step %s', tostring(step)) end
  end
end

--- The function of target `name`; o: {root = the repository, dir = a
-- scratch folder of this process}.
function M.setup(name, o)
  local make = targets[name]
  if not make then error('tests/fuzz/targets.lua: no target ' .. tostring(name), 2) end
  return make(o)
end

return M
