-- adding_problem: which recurrent cell learns the adding problem, and how
-- far below the mean predictor's baseline does it get?
--
-- Question. The adding problem (Hochreiter and Schmidhuber 1997) feeds a
-- sequence of T pairs (a number drawn from U(0, 1), a marker); exactly two
-- steps are marked, one in each half of the sequence, and the target, read
-- at the end, is the sum of the two marked numbers. A model that ignores
-- the inputs can do no better than predict the mean, 1, for an MSE of
-- Var = 1/6 (rnn.data.adding_baseline_mse); beating that means carrying
-- information across up to T steps. Does an LSTM, a GRU or a tanh RNN
-- learn it, how quickly, and how far below the baseline does it end?
--
-- Setting. A one-layer cell (H = 32, PyTorch's initialisation; --set
-- forget_bias=1 for the LSTM forget-gate bias of Gers et al. 2000; the
-- IRNN of Le, Jaitly and Hinton 2015 is a relu RNN with W_hh = I and zero
-- biases) and a linear read-out of the last state; T = 50, batches of 32
-- fresh sequences every step, Adam (lr 1e-2), global-norm clipping at 1,
-- 1000 steps. Validation on 1000 sequences of a fixed seed, every 100
-- steps (the val_rel curve) and at the end. Reported: val_rel, the
-- validation MSE divided by the validation set's own mean-predictor MSE
-- (the variance of its targets, val_baseline_mse: 0.96 to 1.08 of the
-- population's 1/6 at these sizes, so 1 = no better than predicting the
-- set's mean), val_mse, train_rel (the training MSE over the last tenth of
-- the steps, relative to the population's 1/6, as the batches are fresh
-- draws), and success: val_rel below 0.1.
--
-- --preset paper is the literature's setting: T = 100, 5000 steps, the
-- LSTM with forget-gate bias 1, the GRU, the tanh RNN and the IRNN, 20
-- seeds a cell (success rates with Wilson intervals); about 4 minutes at
-- --jobs 2.
--
-- What the literature leads one to expect. Hochreiter and Schmidhuber
-- (1997) solved the adding problem with an LSTM for T up to 1000; Le,
-- Jaitly and Hinton (2015) found a tanh RNN stuck at the baseline MSE for
-- T >= 150 while the LSTM (and the IRNN) got below it; Arjovsky, Shah and
-- Bengio (2016) show the LSTM solving it to T = 750. The GRU (Cho et al.
-- 2014; Chung et al. 2014) is expected to do about as well as the LSTM.
-- Every cell shows the characteristic plateau at the baseline (the mean
-- predictor is found first), followed, for the cells that learn, by a
-- sudden drop once they find the markers. At the defaults (T = 50, 1000
-- steps) the GRU and the LSTM are expected to leave the plateau within a
-- few hundred steps and reach val_rel well below 0.1, and the tanh RNN to
-- stay near val_rel = 1. Runtime at the defaults: 25-35 s. Longer
-- sequences (--set T=200 --steps 5000) widen the gap.
--
-- Run: rnnlua experiments/adding_problem.lua [--seeds 5] [--steps 3000]
--      [--set T=100] [--set hidden=64] [--only cell=lstm]
-- Results: runs/adding_problem/index.html (summary table and plots).
local rnn = require 'rnn'
local F = rnn.nn.functional

-- Small matrices: one BLAS thread is faster than two here. --threads N, or
-- OPENBLAS_NUM_THREADS / OMP_NUM_THREADS in the environment, override this.
if not os.getenv('OPENBLAS_NUM_THREADS') and not os.getenv('OMP_NUM_THREADS') then rnn.set_num_threads(1) end

local VAL_SEED = 1000003
local BASELINE = rnn.data.adding_baseline_mse

-- The validation set (fixed by its seed) and its own mean predictor's MSE,
-- the variance of its targets: what val_rel divides by. For a finite set
-- it is not the population's 1/6 (0.96 to 1.08 of it at these sizes).
local val_sets = {}
local function validation_set(T, n)
  local key = T .. 'x' .. n
  if not val_sets[key] then
    local x, y = rnn.data.adding{T = T, batch = n, seed = VAL_SEED}
    local ys, mean = y:totable(), 0
    for i = 1, n do mean = mean + ys[i][1] end
    mean = mean / n
    local var = 0
    for i = 1, n do var = var + (ys[i][1] - mean) ^ 2 end
    val_sets[key] = {x = x, y = y, baseline = var / n}
  end
  return val_sets[key]
end

local Net = rnn.nn.Module:extend('AddingNet')

function Net:__init(o)
  local opts = {input_size = 2, hidden_size = o.hidden}
  if o.cell == 'lstm' then self.rnn = rnn.nn.LSTM(opts)
  elseif o.cell == 'gru' then self.rnn = rnn.nn.GRU(opts)
  elseif o.cell == 'tanh' then opts.nonlinearity = 'tanh'; self.rnn = rnn.nn.RNN(opts)
  elseif o.cell == 'irnn' then
    -- Le, Jaitly and Hinton (2015): relu, W_hh = I, zero biases
    opts.nonlinearity = 'relu'
    self.rnn = rnn.nn.RNN(opts)
    rnn.no_grad(function()
      rnn.init.identity_(self.rnn.weight_hh_l0, 1)
      rnn.init.zeros_(self.rnn.bias_ih_l0)
      rnn.init.zeros_(self.rnn.bias_hh_l0)
    end)
  else error("adding_problem: cell must be 'lstm', 'gru', 'tanh' or 'irnn', got " .. tostring(o.cell)) end
  if o.cell == 'lstm' and o.forget_bias ~= 0 then rnn.init.lstm_forget_bias_(self.rnn, o.forget_bias) end
  self.head = rnn.nn.Linear(o.hidden, 1)
end

function Net:forward(x)
  return self.head(self.rnn(x)[-1])
end

local exp = rnn.experiment.new{
  name = 'adding_problem',
  description = [[
Which recurrent cell learns the adding problem (Hochreiter and Schmidhuber 1997)? An LSTM, a GRU and a tanh RNN (H = 32, Adam, norm clipping at 1) read T = 50 pairs (number, marker) and predict the sum of the two marked numbers at the end. val_rel is the validation MSE over the validation set's own mean-predictor MSE (val_baseline_mse, about 1/6): 1 is the baseline, success is val_rel < 0.1.

Expected from the literature (Hochreiter and Schmidhuber 1997; Le, Jaitly and Hinton 2015; Arjovsky, Shah and Bengio 2016): every cell first sits on the baseline plateau; the LSTM and the GRU then drop well below it, the tanh RNN stays near val_rel = 1 (Le et al.: stuck at the baseline for T >= 150).]],
  grid = {{'cell', {'lstm', 'gru', 'tanh'}}},
  config = {steps = 1000, T = 50, hidden = 32, batch = 32, lr = 1e-2, clip = 1.0, forget_bias = 0.0,
            val_batch = 1000, eval_every = 100, checkpoint_every = 250, success_rel = 0.1},
  seeds = 3,
  summary = {'val_rel', 'val_mse', 'train_rel', 'val_baseline_mse'},
  -- the literature's setting: T = 100, the LSTM with forget-gate bias 1, 5000 steps, next to the tanh RNN
  -- and the IRNN; 20 seeds a cell for success rates with intervals
  presets = {paper = {
    description = 'T = 100, 5000 steps, the LSTM with forget-gate bias 1 (Gers et al. 2000), the GRU, the tanh '
      .. 'RNN and the IRNN (Le et al. 2015); 20 seeds a cell.',
    config = {T = 100, steps = 5000, forget_bias = 1.0, eval_every = 250, checkpoint_every = 500},
    grid = {{'cell', {'lstm', 'gru', 'tanh', 'irnn'}}},
    seeds = 20,
  }},
  plots = {metrics = {'loss', 'grad_norm'}, log_y = {val_rel = true}},

  setup = function(cfg)
    local model = Net{cell = cfg.cell, hidden = cfg.hidden, forget_bias = cfg.forget_bias}
    return {model = model, opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr}),
            clip = rnn.clip.norm(cfg.clip, {nonfinite = 'skip'})}
  end,

  step = function(s, cfg)
    local x, y = rnn.data.adding{T = cfg.T, batch = cfg.batch}
    local loss = F.mse(s.model(x), y)
    s.opt:zero_grad()
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    local l = loss:item()
    return {loss = l, rel = l / BASELINE, grad_norm = st.norm, clipped = st.clipped}
  end,

  evaluate = function(s, cfg)
    local val = validation_set(cfg.T, cfg.val_batch)
    local mse = rnn.no_grad(function() return F.mse(s.model(val.x), val.y):item() end)
    return {val_mse = mse, val_rel = mse / val.baseline, val_baseline_mse = val.baseline,
            success = mse / val.baseline < cfg.success_rel}
  end,
}

exp:run(arg)
