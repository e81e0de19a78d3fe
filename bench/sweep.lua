-- The sweep of `make bench`'s scale-out section: 16 runs (4 cells x 4
-- seeds) of a small LSTM on the adding problem, run with --jobs 1 and
-- --jobs 2 by bench/sweep.sh.
--     ./rnnlua bench/sweep.lua --out DIR --jobs N [--steps N]
local rnn = require 'rnn'
local F = rnn.nn.functional

local Net = rnn.nn.Module:extend('SweepNet')

function Net:__init(o)
  self.lstm = rnn.nn.LSTM{input_size = 2, hidden_size = o.hidden, h0 = o.h0}
  self.head = rnn.nn.Linear(o.hidden, 1)
end

function Net:forward(x)
  local out = self.lstm(x)
  return self.head(out[-1])
end

local exp = rnn.experiment.new{
  name = 'bench_sweep',
  description = 'A small LSTM on the adding problem: the sweep of the scale-out benchmark.',
  grid = {{'h0', {'zero', 'learned'}}, {'lr', {1e-2, 3e-3}}},
  config = {steps = 600, hidden = 64, T = 50, batch = 32, checkpoint_every = 100},
  seeds = 4,
  setup = function(cfg)
    local model = Net{hidden = cfg.hidden, h0 = cfg.h0}
    return {model = model, opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr}), clip = rnn.clip.norm(1.0)}
  end,
  step = function(s, cfg)
    local x, y = rnn.data.adding{T = cfg.T, batch = cfg.batch}
    s.opt:zero_grad()
    local loss = F.mse(s.model(x), y)
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    return {loss = loss:item(), grad_norm = st.norm}
  end,
  evaluate = function(s, cfg)
    local x, y = rnn.data.adding{T = cfg.T, batch = 256, seed = 7}
    return {val_loss = rnn.no_grad(function() return F.mse(s.model(x), y):item() end)}
  end,
}

exp:run(arg)
