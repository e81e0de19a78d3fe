-- vanishing_gradients: how fast does the gradient fade (or grow) back
-- through time, for each initialisation of the recurrent weights?
--
-- Question. In a simple RNN, h_t = f(W_ih x_t + W_hh h_{t-1} + b), the
-- gradient of a loss at the last step reaches an earlier state through the
-- product of the Jacobians diag(f'(.)) W_hh of the steps between. Pascanu,
-- Mikolov and Bengio (2013) show that ||dh_T/dh_t|| <= (gamma sigma_max)^(T-t),
-- with sigma_max the largest singular value of W_hh and gamma the bound of
-- |f'| (1 for tanh and relu): when gamma sigma_max < 1 the gradient is sure
-- to vanish exponentially, and sigma_max > 1/gamma is necessary for it to
-- explode. How does ||dL/dh_t|| behave against t for the usual
-- initialisations of W_hh, and how does training change it?
--
-- Setting. A one-layer RNN (H = 64, float64 so that tiny and huge norms stay
-- representable), nonlinearity tanh or relu, reading out the adding problem
-- (T = 50; rnn.data.adding) with a linear layer on the last state only, so
-- the loss is on step T and dL/dh_t for t < T is what comes back through
-- time. W_hh is initialised as
--   normal_0.01      N(0, 0.01^2)                 (sigma_max ~ 0.02 sqrt(H) = 0.16)
--   xavier           Glorot uniform, U(+-sqrt(3/H)) (sigma_max ~ 2)
--   orthogonal       a random orthogonal matrix (Saxe et al. 2014; all sigma = 1)
--   orthogonal_1.5   1.5 x orthogonal             (all sigma = 1.5)
--   identity         the identity (with relu: the IRNN of Le, Jaitly and
--                    Hinton 2015)
--   pytorch_default  U(+-1/sqrt(H)), every rnnlua and PyTorch layer's start
--                    (sigma_max ~ 2/sqrt(3) = 1.15)
-- W_ih keeps the default U(+-1/sqrt(H)) in every cell and the biases start at
-- zero (as in the IRNN), so that W_hh is the only difference. The norms
-- ||dL/dh_t|| (layer:track_grad_norms: over the batch) are measured on a
-- fixed batch of 256 sequences at initialisation (series grad_norm_init,
-- ratio_init = ||dL/dh_1|| / ||dL/dh_T||, sigma_max_init from
-- rnn.linalg.svdvals) and again after `steps` (200) steps of Adam (lr 1e-3,
-- global norm clipped at 1) on the adding problem (grad_norm, ratio,
-- sigma_max, and val_rel: the validation MSE over the mean predictor's
-- 1/6). The plots show both curves on a log scale, one figure per
-- nonlinearity, a line per initialisation (band: min-max over seeds).
--
-- What the literature leads one to expect. The bound of Pascanu et al.
-- (2013) is about sigma_max; the typical rate at which a random gradient
-- shrinks or grows per step is closer to the root-mean-square singular
-- value (sigma_rms = ||W_hh||_F / sqrt(H), reported as sigma_rms_init),
-- times the mean effect of f' (below 1 for tanh away from 0; about
-- 1/sqrt(2) for relu, whose derivative is 0 on about half the units; Saxe,
-- McClelland and Ganguli 2014 for the orthogonal case). Hence:
--   normal_0.01      sigma_max ~ 0.16 < 1: vanishes geometrically, by dozens
--                    of orders of magnitude over 50 steps, tanh and relu alike;
--   orthogonal       all sigma = 1: tanh decays slowly (ratio ~ 0.1-0.5 at
--                    T = 50), relu by ~(1/sqrt 2)^(T-1) ~ 1e-7;
--   xavier           sigma_max ~ 2 but sigma_rms = 1: behaves about like
--                    orthogonal — sigma_max > 1 permits explosion, it does
--                    not cause it;
--   pytorch_default  sigma_rms = 1/sqrt(3): vanishes (~0.58^T with tanh,
--                    ~0.41^T with relu);
--   orthogonal_1.5   sigma = 1.5 > 1: the gradient grows backwards in time
--                    (relu: ~(1.5/sqrt 2)^(T-1)), restrained by tanh
--                    saturation as the states grow;
--   identity + relu  (IRNN; Le, Jaitly and Hinton 2015) an exact memory in
--                    the units that stay positive: the norm stays nearly
--                    flat (ratio ~ 1), which is why the IRNN learns the
--                    adding problem where a tanh RNN from a small random
--                    init does not (Le et al.; Hochreiter and Schmidhuber
--                    1997 on the vanishing gradient itself). At the defaults
--                    it is the only cell whose val_rel falls well below 1.
-- Training raises sigma_max of the vanishing cells towards the regime where
-- the gradient neither vanishes nor explodes. Runtime at the defaults:
-- 15-30 s.
--
-- Run: rnnlua experiments/vanishing_gradients.lua [--seeds 5] [--steps 1000]
--      [--set T=100] [--set hidden=128] [--only nonlinearity=relu]
-- Results: runs/vanishing_gradients/index.html (summary table and plots).
local rnn = require 'rnn'
local F = rnn.nn.functional

-- Small matrices: one BLAS thread is faster than two here. --threads N, or
-- OPENBLAS_NUM_THREADS / OMP_NUM_THREADS in the environment, override this.
if not os.getenv('OPENBLAS_NUM_THREADS') and not os.getenv('OMP_NUM_THREADS') then rnn.set_num_threads(1) end

local INITS = {'normal_0.01', 'xavier', 'orthogonal', 'orthogonal_1.5', 'identity', 'pytorch_default'}
local PROBE_SEED = 1000003   -- the fixed batch the norms are measured on
local VAL_SEED = 1000033
local TINY = 1e-300          -- a norm that underflows to 0 is drawn here (log axis)

local Net = rnn.nn.Module:extend('VanishNet')

function Net:__init(o)
  self.rnn = rnn.nn.RNN{input_size = 2, hidden_size = o.hidden, nonlinearity = o.nonlinearity, dtype = 'float64'}
  self.head = rnn.nn.Linear(o.hidden, 1)
  self.head:to('float64')
end

function Net:forward(x)
  return self.head(self.rnn(x)[-1])
end

local function init_recurrent(model, name)
  local w = model.rnn.weight_hh_l0
  rnn.no_grad(function()
    if name == 'normal_0.01' then rnn.init.normal_(w, 0, 0.01)
    elseif name == 'xavier' then rnn.init.xavier_uniform_(w)
    elseif name == 'orthogonal' then rnn.init.orthogonal_(w, 1)
    elseif name == 'orthogonal_1.5' then rnn.init.orthogonal_(w, 1.5)
    elseif name == 'identity' then rnn.init.identity_(w, 1)
    elseif name ~= 'pytorch_default' then error('vanishing_gradients: unknown init ' .. tostring(name)) end
    rnn.init.zeros_(model.rnn.bias_ih_l0)
    rnn.init.zeros_(model.rnn.bias_hh_l0)
  end)
end

-- ||dL/dh_t|| for t = 1..T on the probe batch, sigma_max(W_hh) and the
-- ratio ||dL/dh_1|| / ||dL/dh_T||. Leaves the parameters' gradients as they
-- were.
local function probe(model, cfg)
  local params = model:parameters()
  local saved = {}
  for i, p in ipairs(params) do saved[i] = p.grad; p.grad = nil end
  model.rnn:track_grad_norms(true)
  local x, y = rnn.data.adding{T = cfg.T, batch = cfg.probe_batch, dtype = 'float64', seed = PROBE_SEED}
  local loss = F.mse(model(x), y)
  loss:backward()
  local norms = model.rnn.grad_norms[1]:totable()
  model.rnn:track_grad_norms(false)
  for i, p in ipairs(params) do p.grad = saved[i] end
  local curve = {}
  for t, v in ipairs(norms) do curve[t] = math.max(v, TINY) end
  local sv = rnn.linalg.svdvals(model.rnn.weight_hh_l0:detach()):totable()
  local sq = 0
  for _, v in ipairs(sv) do sq = sq + v * v end
  return {curve = curve, sigma_max = sv[1], sigma_rms = math.sqrt(sq / #sv), ratio = norms[1] / norms[#norms]}
end

local exp = rnn.experiment.new{
  name = 'vanishing_gradients',
  description = [[
How does ||dL/dh_t|| depend on t for each initialisation of W_hh? A one-layer RNN (H = 64, tanh or relu, float64) reads out the adding problem (T = 50) from its last state only; W_hh starts as N(0, 0.01^2), Xavier (Glorot uniform), orthogonal, 1.5 x orthogonal, the identity (IRNN with relu) or PyTorch's default U(+-1/sqrt(H)). The norms are measured on a fixed batch at initialisation (grad_norm_init, ratio_init = ||dL/dh_1|| / ||dL/dh_T||, sigma_max_init of W_hh) and after training with Adam (grad_norm, ratio, sigma_max; val_rel is the validation MSE over the mean predictor's 1/6).

Expected from the literature (Pascanu, Mikolov and Bengio 2013: ||dh_T/dh_t|| <= (gamma sigma_max)^(T-t), gamma = 1 for tanh and relu; Saxe et al. 2014; Le, Jaitly and Hinton 2015): N(0, 0.01^2) vanishes geometrically (dozens of orders of magnitude over 50 steps); orthogonal decays only through f' < 1 (slowly for tanh, about 1/sqrt(2) per step for relu); Xavier has sigma_max ~ 2 but a root-mean-square singular value of 1 and behaves about like orthogonal (sigma_max > 1 permits explosion, it does not cause it); PyTorch's default (sigma_rms = 1/sqrt 3) vanishes; 1.5 x orthogonal grows backwards in time, restrained by tanh saturation; identity + relu (IRNN) keeps the norm nearly flat and is the one that learns the adding problem.]],
  grid = {{'nonlinearity', {'tanh', 'relu'}}, {'init', INITS}},
  config = {steps = 200, T = 50, hidden = 64, batch = 32, lr = 1e-3, clip = 1.0, probe_batch = 256,
            val_batch = 1000, checkpoint_every = 100},
  seeds = 2,
  summary = {'sigma_max_init', 'sigma_rms_init', 'ratio_init', 'sigma_max', 'ratio', 'val_rel'},
  plots = {facet = 'nonlinearity', metrics = {'loss', 'grad_norm'},
           log_y = {grad_norm = true, grad_norm_init = true},
           titles = {grad_norm = '||dL/dh_t|| after training', grad_norm_init = '||dL/dh_t|| at initialisation'},
           xlabel = {grad_norm = 't', grad_norm_init = 't'},
           ylabel = {grad_norm = '||dL/dh_t||', grad_norm_init = '||dL/dh_t||'}},

  setup = function(cfg)
    local model = Net{hidden = cfg.hidden, nonlinearity = cfg.nonlinearity}
    init_recurrent(model, cfg.init)
    local at_init = probe(model, cfg)   -- draws nothing from the generator
    return {model = model, opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr}),
            clip = rnn.clip.norm(cfg.clip, {nonfinite = 'skip'}), at_init = at_init}
  end,

  step = function(s, cfg)
    local x, y = rnn.data.adding{T = cfg.T, batch = cfg.batch, dtype = 'float64'}
    local loss = F.mse(s.model(x), y)
    s.opt:zero_grad()
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    return {loss = loss:item(), grad_norm = st.norm, clipped = st.clipped}
  end,

  evaluate = function(s, cfg)
    local now = probe(s.model, cfg)
    local val = rnn.no_grad(function()
      local x, y = rnn.data.adding{T = cfg.T, batch = cfg.val_batch, dtype = 'float64', seed = VAL_SEED}
      return F.mse(s.model(x), y):item()
    end)
    return {sigma_max_init = s.at_init.sigma_max, sigma_rms_init = s.at_init.sigma_rms, ratio_init = s.at_init.ratio,
            sigma_max = now.sigma_max, ratio = now.ratio, val_rel = val / rnn.data.adding_baseline_mse,
            series = {grad_norm = now.curve, grad_norm_init = s.at_init.curve}}
  end,
}

exp:run(arg)
