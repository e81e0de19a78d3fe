-- A tiny experiment for tests/experiment/resume_test.sh: an LSTM on a short
-- adding problem, with everything a checkpoint must restore in play — the
-- random generator (random h0 draws and the data), Adam's moments, the
-- adaptive clipping history, a learning-rate schedule and an `extra`
-- counter. config.delay (seconds of busy waiting a step) slows it down so
-- the test can kill it mid-run; it changes no number. TOY_FAIL=<h0>:<seed>:
-- <step>[:segv] makes that run raise an error at that step (or die of
-- SIGSEGV), for the tests of failing runs; a rerun without it resumes.
-- TOY_PIDS=<file> appends the pid of the process that sets each run up.
--
--     ./rnnlua tests/experiment/toy.lua --out DIR [--set delay=0.005]
local rnn = require 'rnn'
local F = rnn.nn.functional

local Net = rnn.nn.Module:extend('ToyNet')

function Net:__init(o)
  self.lstm = rnn.nn.LSTM{input_size = 2, hidden_size = o.hidden, h0 = o.h0, h0_std = 0.5}
  self.head = rnn.nn.Linear(o.hidden, 1)
end

function Net:forward(x)
  local out = self.lstm(x)
  return self.head(out[-1])
end

local exp = rnn.experiment.new{
  name = 'toy',
  description = 'A tiny adding problem for the crash and resume tests.',
  grid = {{'h0', {'random', 'learned'}}},
  config = {steps = 60, checkpoint_every = 15, eval_every = 10, hidden = 8, T = 10, batch = 8, lr = 1e-2, delay = 0},
  select = 'val_loss', -- best.safetensors, resumed like the rest
  seeds = 2,
  setup = function(cfg, seed)
    if os.getenv('TOY_PIDS') then
      local f = assert(io.open(os.getenv('TOY_PIDS'), 'a'))
      f:write(require('luv').os_getpid(), '\n')
      f:close()
    end
    local model = Net{hidden = cfg.hidden, h0 = cfg.h0}
    local opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr})
    local h0, fseed, fstep, how = (os.getenv('TOY_FAIL') or ''):match('^([^:]+):(%d+):(%d+):?(%a*)$')
    local fail = h0 == cfg.h0 and tonumber(fseed) == seed and {step = tonumber(fstep), how = how} or nil
    return {model = model, opt = opt, clip = rnn.clip.adaptive{percentile = 50},
            schedule = rnn.optim.schedule.StepLR(opt, 20, 0.5), extra = {batches = 0}, fail = fail}
  end,
  step = function(s, cfg, step)
    if s.fail and s.fail.step == step then
      if s.fail.how == 'segv' then
        local uv = require 'luv'
        uv.kill(uv.os_getpid(), 'sigsegv')
      end
      error('injected failure at step ' .. step)
    end
    local t0 = rnn.clock()
    local x, y = rnn.data.adding{T = cfg.T, batch = cfg.batch}
    s.opt:zero_grad()
    local loss = F.mse(s.model(x), y)
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    s.schedule:step()
    s.extra.batches = s.extra.batches + 1
    while rnn.clock() - t0 < cfg.delay do end
    return {loss = loss:item(), grad_norm = st.norm, clipped = st.clipped, lr = s.opt.lr, batches = s.extra.batches}
  end,
  evaluate = function(s, cfg)
    local x, y = rnn.data.adding{T = cfg.T, batch = 64, seed = 99}
    local mse = rnn.no_grad(function() return F.mse(s.model(x), y):item() end)
    return {val_loss = mse, success = mse < 0.1, series = {per_sample = {mse, mse / 2, mse / 4}}}
  end,
}

exp:run(arg)
