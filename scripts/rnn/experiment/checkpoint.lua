--- rnn.experiment.checkpoint: a run's state in one safetensors file —
-- the model's state_dict ('model.<name>'), the optimizer's buffers
-- ('optim.state.<i>.<buf>'), gradients present ('grad.<name>') and, as
-- JSON texts in the metadata, the step, the random generator's state
-- (integers as strings), the optimizer's scalars, the clipping policy's
-- history, the schedule, `extra` and the run's identity — so that a run
-- resumed from it ends bit-identical to one never interrupted.
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

--- Saves the state of a run after `step` to path (atomically).
function M.save(path, state, step, info)
  local R = rnn()
  local model = M.model_of(state, 'setup')
  local tensors, meta = {}, {}
  for name, t in pairs(model:state_dict()) do tensors['model.' .. name] = t end
  for _, p in ipairs(model:named_parameters()) do
    if p[2].grad then tensors['grad.' .. p[1]] = p[2].grad end
  end
  if state.opt then
    local ot, om = state.opt:state_tensors('optim.')
    for k, v in pairs(ot) do tensors[k] = v end
    meta.optim = json.encode(om)
  end
  if state.clip and state.clip.state_dict then meta.clip = json.encode(state.clip:state_dict()) end
  if state.schedule and state.schedule.state_dict then meta.schedule = json.encode(state.schedule:state_dict()) end
  meta.extra = json.encode(state.extra or {})
  local rng = {}
  for i, v in ipairs(R.get_rng_state()) do rng[i] = string.format('%d', v) end
  meta.rng = json.encode(rng)
  meta.step = json.encode(step)
  meta.format = json.encode(M.FORMAT)
  for k, v in pairs(info or {}) do meta[k] = json.encode(v) end
  -- (rnn.save writes a temporary file, syncs it and renames it over path;
  -- a failed write leaves the old checkpoint and says why)
  local files = require 'rnn.experiment.files'
  files.prepare()
  local ok, err = pcall(R.save, path, tensors, meta)
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

--- Restores a run's state from a checkpoint; returns its step.
function M.load(path, state)
  local R = rnn()
  local tensors, meta = R.load(path)
  local function get(key)
    local s = meta[key]
    if s == nil then return nil end
    return json.decode(s)
  end
  if get('format') ~= M.FORMAT then
    error(string.format('rnn.experiment: %s is not a checkpoint of the harness (format %s)', path,
      tostring(meta.format)), 0)
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
