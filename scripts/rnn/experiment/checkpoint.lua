--- rnn.experiment.checkpoint: a run's state in one safetensors file —
-- the model's state_dict ('model.<name>'), the optimizer's buffers
-- ('optim.state.<i>.<buf>'), gradients present ('grad.<name>') and, as
-- JSON texts in the metadata, the step, the random generator's state
-- (integers as strings), the optimizer's scalars, the clipping policy's
-- history, the schedule, `extra` and the run's identity — so that a run
-- resumed from it ends bit-identical to one never interrupted.
--
-- Integrity: the metadata's `checksum` is 'fnv1a64:<16 hex digits>', the
-- FNV-1a (64 bits) of every tensor in name order — its name, dtype and
-- shape, then its elements as stored (rnn.core._fnv1a64) — checked on
-- load: a flipped byte in the data is refused, naming the file (a
-- checkpoint without one, made before checksums, still loads). A
-- checkpoint is never saved with a NaN or an infinity in a tensor. With
-- opts.keep_prev, the checkpoint being replaced stays as
-- <name>.prev.safetensors (a hard link, made before the new file is
-- renamed in), the fallback of M.resume when the newest one is damaged.
local json = require 'rnn.experiment.json'

local M = {}

local function rnn() return require 'rnn' end

M.FORMAT = 'rnnlua-experiment-checkpoint-1'

function M.model_of(state, where)
  local m = type(state) == 'table' and state.model
  if type(m) ~= 'table' or type(m.state_dict) ~= 'function' or type(m.named_parameters) ~= 'function' then
    error(string.format('rnn.experiment: %s must return a state table with a model (an rnn.nn module)', where), 0)
  end
  return m
end

local function core() return require 'rnn.core' end

-- FNV-1a 64 of a string, continuing from the hash `hex`
local function fnv_string(s, hex)
  local h = math.tointeger(tonumber(hex, 16))
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 1099511628211
  end
  return string.format('%016x', h)
end

--- The checksum of a table name -> tensor (see the header).
function M.checksum(tensors)
  local names = {}
  for k in pairs(tensors) do names[#names + 1] = k end
  table.sort(names)
  local h = 'cbf29ce484222325'
  for _, k in ipairs(names) do
    local t = tensors[k]
    h = fnv_string(k .. '\0' .. t:dtype() .. '\0' .. table.concat(t:size(), 'x') .. '\0', h)
    h = core()._fnv1a64(t, h)
  end
  return 'fnv1a64:' .. h
end

-- the name of the first tensor (sorted) holding a NaN or an infinity, or nil
-- (x * 0 sums to 0 exactly when every element is finite)
function M.nonfinite(tensors)
  local names = {}
  for k in pairs(tensors) do names[#names + 1] = k end
  table.sort(names)
  local R = rnn()
  return R.no_grad(function()
    for _, k in ipairs(names) do
      local t = tensors[k]
      if t:dtype() ~= 'int64' then
        local v = (t * 0):sum():item()
        if v ~= 0 then return k end
      end
    end
    return nil
  end)
end

--- The prev path of a checkpoint path: x.safetensors -> x.prev.safetensors.
function M.prev_path(path)
  return (path:gsub('%.safetensors$', '') .. '.prev.safetensors')
end

--- The tensors of a run's state as a checkpoint names them, and the
-- optimizer's metadata.
function M.tensors_of(state)
  local model = M.model_of(state, 'setup')
  local tensors, om = {}, nil
  for name, t in pairs(model:state_dict()) do tensors['model.' .. name] = t end
  for _, p in ipairs(model:named_parameters()) do
    if p[2].grad then tensors['grad.' .. p[1]] = p[2].grad end
  end
  if state.opt then
    local ot
    ot, om = state.opt:state_tensors('optim.')
    for k, v in pairs(ot) do tensors[k] = v end
  end
  return tensors, om
end

--- The tensors and metadata of a run's state (see the header).
function M.collect(state, step, info)
  local R = rnn()
  local tensors, om = M.tensors_of(state)
  local meta = {}
  if state.opt then meta.optim = json.encode(om) end
  if state.clip and state.clip.state_dict then meta.clip = json.encode(state.clip:state_dict()) end
  if state.schedule and state.schedule.state_dict then meta.schedule = json.encode(state.schedule:state_dict()) end
  meta.extra = json.encode(state.extra or {})
  local rng = {}
  for i, v in ipairs(R.get_rng_state()) do rng[i] = string.format('%d', v) end
  meta.rng = json.encode(rng)
  meta.step = json.encode(step)
  meta.format = json.encode(M.FORMAT)
  for k, v in pairs(info or {}) do meta[k] = json.encode(v) end
  meta.checksum = json.encode(M.checksum(tensors))
  return tensors, meta
end

--- Saves the state of a run after `step` to path (atomically); refuses a
-- state with a non-finite tensor. opts.keep_prev: keep the file replaced
-- as M.prev_path(path).
function M.save(path, state, step, info, opts)
  local tensors, meta = M.collect(state, step, info)
  local bad = M.nonfinite(tensors)
  if bad then
    error(string.format('rnn.experiment: the checkpoint of step %d was not saved to %s: %s holds NaN or infinite '
      .. 'values', step, path, bad), 0)
  end
  if opts and opts.keep_prev then
    local lfs = require 'lfs'
    if lfs.attributes(path, 'mode') == 'file' then
      local prev = M.prev_path(path)
      os.remove(prev)
      -- (best effort: on a file system without hard links there is no
      -- fallback, and the new checkpoint is saved all the same)
      lfs.link(path, prev)
    end
  end
  -- (rnn.save writes a temporary file, syncs it and renames it over path;
  -- a failed write leaves the old checkpoint and says why)
  local files = require 'rnn.experiment.files'
  files.prepare()
  local ok, err = pcall(rnn().save, path, tensors, meta)
  if not ok then
    local why = tostring(err):gsub('^[^\n]-:%d+: ', '', 1)
    why = why:gsub('^rnn%.save: ', '', 1)
    if why:sub(1, #path + 2) == path .. ': ' then why = why:sub(#path + 3) end
    files.fail(nil, 'rnn.experiment: cannot save the checkpoint %s: %s; the file is left as it was', path, why)
  end
end

local function prefixed(tensors, prefix)
  local out = {}
  for k, v in pairs(tensors) do
    if k:sub(1, #prefix) == prefix then out[k:sub(#prefix + 1)] = v end
  end
  return out
end

--- Reads and checks a checkpoint: its tensors and metadata, or nil and
-- why it cannot be used (unreadable, not a checkpoint of the harness, or
-- its checksum differs: damaged).
function M.read(path)
  local ok, tensors, meta = pcall(rnn().load, path)
  if not ok then return nil, tostring(tensors) end
  local fok, format = pcall(json.decode, meta.format or 'null')
  if not fok or format ~= M.FORMAT then
    return nil, string.format('%s is not a checkpoint of the harness (format %s)', path, tostring(meta.format))
  end
  if meta.checksum ~= nil then
    local cok, want = pcall(json.decode, meta.checksum)
    local got = M.checksum(tensors)
    if not cok or want ~= got then
      return nil, string.format('%s is damaged: its data does not match its checksum (%s recorded, %s now)', path,
        tostring(cok and want or meta.checksum), got)
    end
  end
  return tensors, meta
end

--- Restores a run's state from a checkpoint; returns its step. Raises an
-- error naming the file when it cannot be read or is damaged.
function M.load(path, state)
  local tensors, meta = M.read(path)
  if not tensors then error('rnn.experiment: ' .. meta, 0) end
  return M.apply(path, tensors, meta, state)
end

--- Restores a run's state from what M.read returned; returns its step.
function M.apply(path, tensors, meta, state)
  local R = rnn()
  local function get(key)
    local s = meta[key]
    if s == nil then return nil end
    return json.decode(s)
  end
  local model = M.model_of(state, 'setup')
  model:load_state_dict(prefixed(tensors, 'model.'))
  local grads = prefixed(tensors, 'grad.')
  R.no_grad(function()
    for _, p in ipairs(model:named_parameters()) do
      local g = grads[p[1]]
      if g then p[2].grad = g:to(p[2]:dtype()):clone() else p[2].grad = nil end
    end
  end)
  if state.opt then
    local om = get('optim')
    if not om then error('rnn.experiment: ' .. path .. ' holds no optimizer state but the run has an optimizer', 0) end
    state.opt:load_state_tensors(tensors, om, 'optim.')
  end
  if state.clip and state.clip.load_state_dict and meta.clip then state.clip:load_state_dict(get('clip')) end
  if state.schedule and state.schedule.load_state_dict and meta.schedule then
    state.schedule:load_state_dict(json.integers(get('schedule')))
  end
  local extra = json.integers(get('extra') or {})
  if next(extra) ~= nil or state.extra then
    state.extra = state.extra or {}
    for k in pairs(state.extra) do state.extra[k] = nil end
    for k, v in pairs(extra) do state.extra[k] = v end
  end
  local rng = {}
  for i, s in ipairs(get('rng')) do rng[i] = math.tointeger(tonumber(s)) end
  R.set_rng_state(rng)
  return math.tointeger(get('step'))
end

---------------------------------------------------------------------------
-- Running


return M
