--- rnn.experiment.adaptive: seeds added in rounds until the comparisons
-- are precise enough (rnnlua exp.lua --target-ci metric=width).
--
-- Round 1 runs the experiment's seeds (or --seeds); after each round the
-- comparisons are computed from the run folders, and while the 95%
-- interval of some comparison of a target metric is as wide as its width
-- or wider (or undefined: fewer than two finite pairs), the next round adds
-- --seed-batch seeds (default 5; the integers after the largest seed so
-- far) to every cell, up to --max-seeds (default 50). The runs of a round
-- go to worker processes as any sweep's (--jobs). The report says which
-- ended it: every interval narrow enough, or the seed limit. Rerunning the
-- same command finds the earlier rounds' runs done and goes on from there.
local sweep = require 'rnn.experiment.sweep'

local M = {}

local function fmt(x) return x and string.format('%.3g', x) or 'undefined' end

--- The widest interval among the comparisons of each target: {{metric,
-- width, widest, row}} (widest = math.huge when some interval is undefined
-- or the metric has no comparison).
function M.widest(comparisons, targets)
  local out = {}
  for _, t in ipairs(targets) do
    local metric, width = t[1], t[2]
    local widest, at, any = -1, nil, false
    for _, c in ipairs(comparisons or {}) do
      if c.metric == metric then
        any = true
        local w = (c.ci_low and c.ci_high) and (c.ci_high - c.ci_low) or math.huge
        if w > widest then widest, at = w, c end
      end
    end
    if not any then widest = math.huge end
    out[#out + 1] = {metric = metric, width = width, widest = widest, row = at}
  end
  return out
end

local function all_narrow(ws)
  for _, w in ipairs(ws) do
    if not (w.widest < w.width) then return false end
  end
  return true
end

local function describe(ws)
  local parts = {}
  for _, w in ipairs(ws) do
    local where = w.row and string.format(' (%s vs %s)', w.row.cell_a, w.row.cell_b) or ''
    parts[#parts + 1] = string.format('%s: widest 95%% CI %s%s, target < %s', w.metric,
      w.widest == math.huge and 'undefined' or fmt(w.widest), where, fmt(w.width))
  end
  return table.concat(parts, '; ')
end

--- Runs the rounds; returns the last round's result (sweep.execute) with
-- adaptive = {seeds, rounds, reason = 'target' | 'max-seeds', text}.
function M.execute(exp, o, cfg, cells, seeds, dir)
  if #exp.axes == 0 then
    error('rnn.experiment: --target-ci narrows the intervals of comparisons between cells: this experiment has '
      .. 'no grid', 0)
  end
  if sweep.under_mpi() then
    error('rnn.experiment: --target-ci runs its rounds on this machine (--jobs); under mpirun run a fixed --seeds', 0)
  end
  local metrics = {}
  for _, t in ipairs(o.target_ci) do metrics[t[1]] = true end
  local max_seeds = o.max_seeds or math.max(50, #seeds)
  local batch = o.seed_batch or 5
  local print_ = o.print or print
  local current = {}
  for i, s in ipairs(seeds) do current[i] = s end
  local round = 0
  while true do
    round = round + 1
    local ro = {}
    for k, v in pairs(o) do ro[k] = v end
    ro.print = function() end
    if o.command then
      ro.command = {table.unpack(o.command)}
      ro.command[#ro.command + 1] = '--seed-list'
      ro.command[#ro.command + 1] = table.concat(current, ',')
    end
    if round > 1 then ro.fresh = false end
    local result = sweep.execute(exp, ro, cfg, cells, current, dir)
    local known = {}
    for _, c in ipairs(result.comparisons or {}) do known[c.metric] = true end
    for m in pairs(metrics) do
      if not known[m] then
        error(string.format("rnn.experiment: --target-ci %s: no comparison has the metric '%s' (metrics: %s)", m, m,
          table.concat((function()
            local ns, seen = {}, {}
            for _, c in ipairs(result.comparisons or {}) do
              if not seen[c.metric] then seen[c.metric] = true ns[#ns + 1] = c.metric end
            end
            return ns
          end)(), ', ')), 0)
      end
    end
    local ws = M.widest(result.comparisons, o.target_ci)
    local reason
    if all_narrow(ws) then reason = 'target'
    elseif #current >= max_seeds then reason = 'max-seeds' end
    if reason then
      local text = string.format('--target-ci: %d seeds in %d round%s; %s: %s', #current, round,
        round > 1 and 's' or '', reason == 'target' and 'every interval is narrower than its target'
          or string.format('stopped at --max-seeds %d before every interval was narrow enough', max_seeds),
        describe(ws))
      -- the report once more, with the note (every run is done: nothing runs)
      local fo = {}
      for k, v in pairs(o) do fo[k] = v end
      fo.fresh, fo.adaptive_note, fo.progress = false, text, 'quiet'
      if fo.command then
        fo.command = {table.unpack(o.command)}
        fo.command[#fo.command + 1] = '--seed-list'
        fo.command[#fo.command + 1] = table.concat(current, ',')
      end
      local final = sweep.execute(exp, fo, cfg, cells, current, dir)
      final.adaptive = {seeds = current, rounds = round, reason = reason, text = text}
      return final
    end
    local last = current[#current]
    local add = math.min(batch, max_seeds - #current)
    if not o.quiet then
      print_(string.format('--target-ci: round %d (%d seeds): %s; adding %d seeds', round, #current, describe(ws), add))
    end
    for i = 1, add do current[#current + 1] = last + i end
  end
end

return M
