-- clipping_comparison: which gradient clipping policy lets a recurrent
-- network learn a long-range task, and how often does each one clip?
--
-- Question. Gradients of recurrent networks occasionally explode: one
-- batch gives a norm orders of magnitude above the usual, and one step of
-- the optimizer throws the weights far away. Clipping bounds that step.
-- Which policy works best, and how much does its threshold matter?
--   none          no clipping (the norm is still logged)
--   value         every gradient element into [-c, c] (Mikolov's
--                 element-wise clipping; char-rnn, torch-rnn)
--   norm_0.5x     the global norm to c (Pascanu, Mikolov and Bengio 2013;
--   norm_1x       PyTorch's clip_grad_norm_) at 0.5, 1 and 2 times the
--   norm_2x       median gradient norm of the unclipped model
--   per_param     each parameter's gradient to norm c on its own
--   autoclip      AutoClip (Seetharaman, Wichern, Pardo, Ng and Le Roux
--                 2020): the global norm to the 10th percentile of every
--                 norm seen so far in the run (no threshold to choose)
--   per_timestep  the gradient carried back through the hidden state
--                 rescaled, inside BPTT, to norm c at every step (layer
--                 option bptt_clip, mode 'norm'; as Graves 2013 clipped
--                 the LSTM's derivatives during backpropagation)
--
-- Setting. Cells: a one-layer tanh RNN and an LSTM (H = 32), a linear
-- read-out of the last state, Adam (lr 1e-2; --set optim=sgd for SGD with
-- momentum 0.9, as closer to Pascanu et al.), batches of 32. Tasks, both
-- with T = 20 and the loss on the last step only:
--   adding          the adding problem (Hochreiter and Schmidhuber 1997):
--                   MSE; the mean predictor scores 1/6. Success: validation
--                   MSE below 0.1 x 1/6 = 0.0167 (as h0_comparison.lua).
--   temporal_order  temporal order (Hochreiter and Schmidhuber 1997, task
--                   6a; Pascanu et al. 2013): 4 classes, cross-entropy;
--                   chance is ln 4. Success: validation accuracy >= 0.99
--                   (Pascanu et al. report success rates over runs; 1%
--                   error is the threshold chosen here).
-- The validation set is 1000 sequences from a fixed seed.
--
-- Thresholds. Every run first trains a copy of its model, unclipped, for
-- `warmup` (20) steps on warm-up batches of their own seeds, and records
-- per step the global gradient norm, the largest per-parameter norm, the
-- largest |gradient element| and the largest per-sequence norm of the
-- gradient carried back through h_t (from layer:track_grad_norms: the
-- batch norm of dL/dh_t at t < T divided by sqrt(B), an estimate of one
-- sequence's). The medians of these over the warm-up are the thresholds of
-- norm_1x (0.5x and 2x scale it), per_param, value and per_timestep: each
-- clips about half of the early steps. The model then restarts from its
-- initial weights with a fresh optimizer. The warm-up is the same for
-- every policy of a (task, cell, seed), and so are the initial weights and
-- the training batches: the policies are compared on paired runs. The
-- thresholds are reported (median_norm, threshold).
--
-- Reported per cell: success rate over seeds, val_rel (validation loss
-- divided by the chance loss: 1/6 for adding, ln 4 for temporal order;
-- < 1 means something was learnt), val_acc (temporal order), frac_clipped
-- (the fraction of all training steps the policy clipped; not measurable
-- for per_timestep, whose clipping happens inside the kernel: n/a), the
-- thresholds, train_loss. Plots, one group per task and cell with a line
-- per policy: the loss, the gradient norm before clipping and the
-- fraction of steps clipped, against the step.
--
-- What the literature leads one to expect. Pascanu et al. (2013): clipping
-- the global norm lets a tanh RNN trained with SGD survive exploding
-- gradients; without it, training sometimes jumps away and success rates on
-- adding and temporal order fall. They set the threshold from the average
-- norm seen over many updates and found training not very sensitive to it
-- (it works even with rather small thresholds), though a threshold far
-- below the typical norm makes every step small and slows SGD.
-- Element-wise (value) clipping changes the gradient's direction and is
-- expected to be somewhat worse than norm clipping. An LSTM (Hochreiter
-- and Schmidhuber 1997) suffers less from exploding gradients, so the
-- policies should matter less for it. AutoClip (Seetharaman et al. 2020)
-- clips most steps (a 10th-percentile threshold) and is reported, on audio
-- source separation networks, to do as well as or better than fixed
-- thresholds without tuning one. With Adam, which rescales each
-- coordinate by its running RMS, the differences between policies are
-- smaller than with SGD; and under Adam, scaling every step's gradient by
-- the same factor changes nothing, so two norm thresholds that both clip
-- nearly every step give nearly the same run. The default size (250
-- steps, 3 seeds, 32 cells: 30-50 s) is a smoke test: there most runs are
-- still learning, the LSTM solves adding under some policies and seeds,
-- the tanh RNN sometimes solves temporal order, and success rates over 3
-- seeds are noisy. --steps 2000 --seeds 5 (about 10 minutes on two cores;
-- --set T=50 for a harder task) gives rates worth comparing.
--
-- Run: rnnlua experiments/clipping_comparison.lua [--seeds 5] [--steps 2000]
--      [--set optim=sgd --set lr=0.05] [--set T=50] [--only task=adding]
-- Results: runs/clipping_comparison/index.html (summary table and plots).
local rnn = require 'rnn'
local F = rnn.nn.functional

-- Small matrices: one BLAS thread is about twice as fast as two here (the
-- threads' start-up costs more than they gain). --threads N, or
-- OPENBLAS_NUM_THREADS / OMP_NUM_THREADS in the environment, override this.
if not os.getenv('OPENBLAS_NUM_THREADS') and not os.getenv('OMP_NUM_THREADS') then rnn.set_num_threads(1) end

local POLICIES = {'none', 'value', 'norm_0.5x', 'norm_1x', 'norm_2x', 'per_param', 'autoclip', 'per_timestep'}
local NORM_MULTIPLE = {['norm_0.5x'] = 0.5, norm_1x = 1, norm_2x = 2}
local VAL_SEED = 1000003
local WARMUP_SEED = 2000003

---------------------------------------------------------------------------
-- The model: a recurrent layer and a linear read-out of its last state

local Net = rnn.nn.Module:extend('ClipNet')

function Net:__init(o)
  local opts = {input_size = o.input_size, hidden_size = o.hidden, bptt_clip = o.bptt_clip,
                bptt_clip_mode = 'norm'}
  if o.cell == 'lstm' then
    self.rnn = rnn.nn.LSTM(opts)
  else
    opts.nonlinearity = 'tanh'
    self.rnn = rnn.nn.RNN(opts)
  end
  self.head = rnn.nn.Linear(o.hidden, o.output_size)
end

function Net:forward(x)
  local out = self.rnn(x)
  return self.head(out[-1])
end

local function task_info(task)
  if task == 'adding' then
    return {input_size = 2, output_size = 1, chance = rnn.data.adding_baseline_mse}
  elseif task == 'temporal_order' then
    return {input_size = 6, output_size = 4, chance = math.log(4)}
  end
  error("clipping_comparison: task must be 'adding' or 'temporal_order', got " .. tostring(task))
end

local function batch(cfg, size, seed)
  if cfg.task == 'adding' then return rnn.data.adding{T = cfg.T, batch = size, seed = seed} end
  return rnn.data.temporal_order{T = cfg.T, batch = size, seed = seed}
end

-- loss (and accuracy for classification) of the model on x, y
local function loss_of(model, cfg, x, y)
  local out = model(x)
  if cfg.task == 'adding' then return F.mse(out, y) end
  return F.cross_entropy(out, y), out
end

local function make_optimizer(cfg, params)
  if cfg.optim == 'adam' then return rnn.optim.Adam(params, {lr = cfg.lr}) end
  if cfg.optim == 'sgd' then return rnn.optim.SGD(params, {lr = cfg.lr, momentum = cfg.momentum}) end
  error("clipping_comparison: optim must be 'adam' or 'sgd', got " .. tostring(cfg.optim))
end

-- the median of the values, which must be finite and positive
local function median(xs)
  local s = {}
  for _, v in ipairs(xs) do
    if not (v == v and v > 0 and v < math.huge) then
      error(string.format('clipping_comparison: a warm-up gradient norm is %s; lower warmup_lr', tostring(v)))
    end
    s[#s + 1] = v
  end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- Trains `model` unclipped for cfg.warmup steps on warm-up batches and
-- returns the medians of the statistics the thresholds are made of.
local function warmup_thresholds(model, cfg)
  local params = model:parameters()
  -- at the small warmup_lr: a warm-up at the training lr diverges exactly
  -- where clipping is needed, and its norms would set no threshold at all
  local opt = make_optimizer({optim = cfg.optim, lr = cfg.warmup_lr, momentum = cfg.momentum}, params)
  model.rnn:track_grad_norms(true)
  local global, per_param, element, carried = {}, {}, {}, {}
  for i = 1, cfg.warmup do
    local x, y = batch(cfg, cfg.batch, WARMUP_SEED + i)
    local loss = loss_of(model, cfg, x, y)
    opt:zero_grad()
    loss:backward()
    local sq, pmax, emax = 0, 0, 0
    for _, p in ipairs(params) do
      if p.grad then
        local g = p.grad:double()
        local n2 = (g * g):sum():item()
        sq = sq + n2
        pmax = math.max(pmax, math.sqrt(n2))
        emax = math.max(emax, g:abs():max():item())
      end
    end
    local norms = model.rnn.grad_norms[1]:totable()
    local cmax = 0
    for t = 1, #norms - 1 do cmax = math.max(cmax, norms[t]) end
    global[i], per_param[i], element[i], carried[i] = math.sqrt(sq), pmax, emax, cmax / math.sqrt(cfg.batch)
    opt:step()
  end
  model.rnn:track_grad_norms(false)
  return {global = median(global), per_param = median(per_param), element = median(element),
          carried = median(carried)}
end

-- the clipping policy of a cell and its threshold (nil when it has none)
local function make_policy(name, th)
  if name == 'none' or name == 'per_timestep' then return rnn.clip.none(), nil end
  if name == 'value' then return rnn.clip.value(th.element), th.element end
  if NORM_MULTIPLE[name] then
    local c = NORM_MULTIPLE[name] * th.global
    return rnn.clip.norm(c, {nonfinite = 'skip'}), c
  end
  if name == 'per_param' then return rnn.clip.norm_per_param(th.per_param, {nonfinite = 'skip'}), th.per_param end
  if name == 'autoclip' then return rnn.clip.adaptive{percentile = 10, nonfinite = 'skip'}, nil end
  error('clipping_comparison: unknown clip policy ' .. tostring(name))
end

-- The report's figures: one group per (task, cell), a line per policy
-- (mean over seeds, band min-max), for the loss, the gradient norm before
-- clipping and the fraction of steps clipped (in bins of 10 steps or more).
local function figures(ctx)
  local out = {}
  local metrics = {{'loss', 'training loss', true}, {'grad_norm', 'gradient norm before clipping', true},
                   {'clipped', 'fraction of steps clipped', false}}
  for _, task in ipairs{'adding', 'temporal_order'} do
    for _, cell in ipairs{'tanh', 'lstm'} do
      local group = 'task=' .. task .. ', cell=' .. cell
      for _, m in ipairs(metrics) do
        local name, title, log_y = m[1], m[2], m[3]
        local series = {}
        for _, c in ipairs(ctx.cells) do
          if c.values.task == task and c.values.cell == cell then
            local arrays, xs = {}, nil
            for _, d in ipairs(ctx.data[c.name] or {}) do
              local col = d.train and d.train.cols[name]
              if col then
                local nb = name == 'clipped' and math.max(1, math.min(100, #col // 10)) or 100
                local bx, by = ctx.bin(col, d.train.steps, nb)
                arrays[#arrays + 1] = by
                xs = xs or bx
              end
            end
            if #arrays > 0 then
              local mean, lo, hi = ctx.aggregate(arrays, 'minmax')
              series[#series + 1] = {label = 'clip=' .. c.values.clip, x = xs, y = mean, lo = lo, hi = hi}
              for _, v in ipairs(lo) do if log_y and not (v > 0) then log_y = false end end
            end
          end
        end
        if #series > 0 then
          out[#out + 1] = {name = name .. '__' .. task .. '_' .. cell, group = group, title = title .. ' — ' .. group,
                           svg = ctx.svg.line_plot{title = title .. ' — ' .. group, xlabel = 'step',
                                                   ylabel = name == 'clipped' and 'fraction' or name,
                                                   log_y = log_y, series = series,
                                                   note = 'band: min–max over seeds'}}
        end
      end
    end
  end
  return out
end

---------------------------------------------------------------------------
-- The experiment

local exp = rnn.experiment.new{
  name = 'clipping_comparison',
  description = [[
Which gradient clipping policy lets a recurrent network learn a long-range task? A tanh RNN and an LSTM (H = 32, Adam) are trained on the adding problem and on temporal order (T = 20, loss on the last step) under no clipping, value clipping, global-norm clipping at 0.5x, 1x and 2x the median gradient norm of a 20-step unclipped warm-up, per-parameter norm clipping, AutoClip (10th percentile) and per-timestep clipping inside BPTT. Success: validation MSE below a tenth of the mean predictor's 1/6 (adding), accuracy >= 0.99 (temporal order). val_rel is the validation loss over the chance loss; frac_clipped the fraction of training steps clipped.

Expected from the literature (Pascanu, Mikolov and Bengio 2013; Seetharaman et al. 2020): norm clipping rescues the tanh RNN from exploding gradients and is not very sensitive to the threshold around the typical norm; value clipping, which changes the gradient's direction, does somewhat worse; the LSTM (Hochreiter and Schmidhuber 1997) depends less on the policy; AutoClip clips most steps and does about as well as a tuned threshold. With Adam the differences are smaller than with SGD. The default size is a smoke test: scale up with --steps 2000 --seeds 5.]],
  grid = {{'task', {'adding', 'temporal_order'}}, {'cell', {'tanh', 'lstm'}}, {'clip', POLICIES}},
  config = {steps = 250, T = 20, hidden = 32, batch = 32, optim = 'adam', lr = 1e-2, momentum = 0.9,
            warmup = 20, warmup_lr = 1e-3, val_batch = 1000, success_mse = 0.1, success_acc = 0.99, checkpoint_every = 125},
  seeds = 3,
  summary = {'val_rel', 'val_acc', 'frac_clipped', 'median_norm', 'threshold', 'train_loss'},
  -- the question is each policy against no clipping, on paired runs
  baseline = {clip = 'none'},
  -- SGD with momentum (as Pascanu et al.) at a learning rate where training is stable without clipping
  -- (0.05) and one where unclipped training diverges (0.3), the tanh RNN, 20 paired seeds
  presets = {paper = {
    description = 'SGD with momentum 0.9 at lr 0.05 and 0.3 (unclipped training diverges at 0.3), the tanh RNN, '
      .. 'T = 20, 4000 steps, thresholds from a warm-up at lr 1e-3, 20 paired seeds; no clipping, value, norm '
      .. 'at 0.5x, 1x and 2x, and AutoClip.',
    config = {optim = 'sgd', steps = 4000, checkpoint_every = 1000, warmup = 50},
    grid = {{'task', {'adding', 'temporal_order'}}, {'cell', {'tanh'}}, {'lr', {0.05, 0.3}},
            {'clip', {'none', 'value', 'norm_0.5x', 'norm_1x', 'norm_2x', 'autoclip'}}},
    seeds = 20,
  }},
  plots = {metrics = {}, custom = figures},

  setup = function(cfg, seed)
    local info = task_info(cfg.task)
    local o = {cell = cfg.cell, hidden = cfg.hidden, input_size = info.input_size, output_size = info.output_size}
    -- the initial weights (the same for every policy of this seed), a
    -- warm-up from them, then the model of the run from the same weights
    local probe = Net(o)
    local initial = {}
    for k, v in pairs(probe:state_dict()) do initial[k] = v:clone() end
    local th = warmup_thresholds(probe, cfg)
    if cfg.clip == 'per_timestep' then o.bptt_clip = th.carried end
    local model = Net(o)
    model:load_state_dict(initial)
    local clip, threshold = make_policy(cfg.clip, th)
    if cfg.clip == 'per_timestep' then threshold = th.carried end
    return {model = model, opt = make_optimizer(cfg, model:parameters()), clip = clip, chance = info.chance,
            extra = {n_clipped = 0, n_steps = 0, median_norm = th.global, threshold = threshold}}
  end,

  step = function(s, cfg)
    local x, y = batch(cfg, cfg.batch)
    local loss = loss_of(s.model, cfg, x, y)
    s.opt:zero_grad()
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    s.extra.n_steps = s.extra.n_steps + 1
    if st.clipped then s.extra.n_clipped = s.extra.n_clipped + 1 end
    local row = {loss = loss:item(), grad_norm = st.norm}
    if cfg.clip ~= 'per_timestep' then row.clipped = st.clipped end
    return row
  end,

  evaluate = function(s, cfg)
    return rnn.no_grad(function()
      local x, y = batch(cfg, cfg.val_batch, VAL_SEED)
      local loss, out = loss_of(s.model, cfg, x, y)
      local v = loss:item()
      local r = {val_loss = v, val_rel = v / s.chance, median_norm = s.extra.median_norm,
                 threshold = s.extra.threshold}
      if cfg.task == 'adding' then
        r.success = v < cfg.success_mse * rnn.data.adding_baseline_mse
      else
        local _, idx = out:max(2)
        r.val_acc = idx:view(-1):eq(y):double():mean():item()
        r.success = r.val_acc >= cfg.success_acc
      end
      if cfg.clip ~= 'per_timestep' and s.extra.n_steps > 0 then
        r.frac_clipped = s.extra.n_clipped / s.extra.n_steps
      end
      return r
    end)
  end,
}

exp:run(arg)
