--- rnn.experiment.plot_options: the `plots` field of an experiment's
-- declaration, checked when the experiment is made (so a typo fails at
-- once, not after the runs), and read by rnn.experiment.report.
--
--     local po = require 'rnn.experiment.plot_options'
--     local err = po.check{band = 'ci', baselines = {val_loss = 0.1667}}   --> nil
--     po.baseline(plots, 'val_loss')   --> {y = 0.1667, label = 'baseline: 0.1667'}
--
-- No dependencies: rnn.experiment.new uses it without lua-cjson.
local M = {}

--- The bands of the curves over seeds: the 95% t interval of the mean,
-- min..max, mean ± one sd, or none.
M.BANDS = {ci = true, minmax = true, std = true, none = true}
M.DEFAULT_BAND = 'ci'

local FIELDS = {'band', 'baselines', 'custom', 'facet', 'log_y', 'metrics', 'points', 'titles', 'units', 'xlabel',
                'ylabel'}
local KNOWN = {}
for _, f in ipairs(FIELDS) do KNOWN[f] = true end

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

-- t must be a table of name -> value with `ok(value)`: nil or a message
local function check_map(t, field, ok, what)
  if type(t) ~= 'table' then
    return string.format('plots.%s must be a table {name = %s}, got %s', field, what, type(t))
  end
  for k, v in pairs(t) do
    if type(k) ~= 'string' then
      return string.format('plots.%s: keys must be metric names, got a %s', field, type(k))
    end
    if not ok(v) then
      return string.format('plots.%s.%s must be %s, got %s', field, k, what, type(v) == 'string'
        and string.format('%q', v) or tostring(v))
    end
  end
end

local function is_string(v) return type(v) == 'string' end
local function is_boolean(v) return type(v) == 'boolean' end
local function is_baseline(v)
  if finite(v) then return true end
  return type(v) == 'table' and finite(v.value) and (v.label == nil or type(v.label) == 'string')
end

local CHECKS = {
  band = function(v)
    if not M.BANDS[v] then
      return string.format("plots.band must be 'ci', 'minmax', 'std' or 'none', got %s", tostring(v))
    end
  end,
  baselines = function(v)
    return check_map(v, 'baselines', is_baseline, 'a finite number or {value = number, label = text}')
  end,
  custom = function(v)
    if type(v) ~= 'function' then return 'plots.custom must be a function, got ' .. type(v) end
  end,
  facet = function(v)
    if type(v) ~= 'string' then return 'plots.facet must be a grid axis name, got ' .. type(v) end
  end,
  log_y = function(v) return check_map(v, 'log_y', is_boolean, 'true or false') end,
  metrics = function(v)
    if type(v) ~= 'table' then return 'plots.metrics must be an array of metric names, got ' .. type(v) end
    for i, m in ipairs(v) do
      if type(m) ~= 'string' then return string.format('plots.metrics[%d] must be a name, got %s', i, type(m)) end
    end
  end,
  points = function(v)
    if math.type(v) ~= 'integer' or v < 1 then
      return 'plots.points must be a positive integer, got ' .. tostring(v)
    end
  end,
  titles = function(v) return check_map(v, 'titles', is_string, 'a text') end,
  units = function(v) return check_map(v, 'units', is_string, 'a text') end,
  xlabel = function(v)
    -- a text: the x label of every plot against the training step
    if type(v) == 'string' then return nil end
    return check_map(v, 'xlabel', is_string, 'a text')
  end,
  ylabel = function(v) return check_map(v, 'ylabel', is_string, 'a text') end,
}

--- check(plots) -> nil, or a message naming the bad field (and key).
function M.check(plots)
  if plots == nil then return nil end
  if type(plots) ~= 'table' then return 'plots must be a table, got ' .. type(plots) end
  for k in pairs(plots) do
    if not KNOWN[k] then
      return string.format("plots: unknown field '%s' (known: %s)", tostring(k), table.concat(FIELDS, ', '))
    end
  end
  for _, f in ipairs(FIELDS) do
    if plots[f] ~= nil then
      local err = CHECKS[f](plots[f])
      if err then return err end
    end
  end
  return nil
end

--- The baseline of a metric as a horizontal line {y, label}, or nil.
function M.baseline(plots, metric)
  local b = plots and plots.baselines and plots.baselines[metric]
  if b == nil then return nil end
  local value, name = b, 'baseline'
  if type(b) == 'table' then value, name = b.value, b.label or name end
  return {y = value, label = string.format('%s: %.4g', name, value)}
end

return M
