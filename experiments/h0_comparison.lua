-- h0_comparison: does a learned or a random initial state h0 beat a zero h0?
--
-- Question. A recurrent network starts every sequence from an initial state
-- h0 (and c0 for an LSTM). The usual choice is zeros. Alternatives: a
-- learned h0 (trained like any weight), a random h0 (a fresh N(0, s^2) draw
-- at every training forward, zeros at evaluation), and a learned h0 with
-- N(0, sigma^2) noise added during training. Which gives the lower loss,
-- and where in the sequence?
--
-- Setting. Two tasks, each with an LSTM (one layer, H = 32), Adam and
-- global-norm clipping:
--   text    the many-reset setting, where h0 matters most: every fortune of
--           Debian's fortunes-min (rnn.data.text.default_corpus, records
--           split at its '\n%\n' delimiter) is its own sequence, started
--           from h0, fed after a newline (what precedes a record in the
--           file) so that position 1 predicts the record's first
--           character; character-level cross-entropy in nats.
--           Measured on the validation records: the loss over all
--           positions (val_loss), over the first k = 5 positions after the
--           reset (val_loss_first_k), and position by position (the
--           loss_by_position plot).
--   adding  the adding problem (T = 20; the mean predictor's MSE is 1/6):
--           one target at the end of each sequence, far from the reset.
--           val_loss is the validation MSE; success is val_loss below a
--           tenth of the baseline (0.0167).
-- Grid: h0 in {zero, random, learned, learned+noise} x task in {text,
-- adding}; 2 seeds by default (--seeds N for more). The random h0's
-- standard deviation is h0_std (0.5), the learned h0's training noise
-- h0_noise (0.5); both evaluate without noise.
--
-- What the literature leads one to expect. Learning the initial state is
-- an old recommendation (e.g. Hinton's 2012 Coursera lectures on RNNs;
-- Zimmermann, Tietz and Grothmann 2012, "Forecasting with recurrent neural
-- networks: 12 tricks", who also add noise to the initial state so the
-- model does not rely on its exact value); Pitis (2016, "Non-zero initial
-- states for recurrent neural networks", r2rt.com) compared zero, learned,
-- noisy-zero and noisy-learned states on a many-reset sequence task. The
-- expected picture: a learned h0 lowers the loss at the first few
-- positions after a reset (it can encode "a record starts here" and the
-- distribution of the first characters); a random h0 acts as noise — a
-- regulariser at best, slower training at worst — and a learned h0 with
-- noise sits between; far from the reset (the rest of a record; the
-- adding problem's single target at step T) the choice of h0 makes little
-- difference, because the state has long forgotten it. With these small
-- defaults the differences in val_loss are small; val_loss_first_k and the
-- loss_by_position plot are where to look.
--
-- Run: rnnlua experiments/h0_comparison.lua [--seeds 5] [--steps 1000]
--      [--set hidden=64] [--only task=text] [--fresh] [--help]
-- Results: runs/h0_comparison/index.html (summary table and plots).
local rnn = require 'rnn'
local F = rnn.nn.functional

---------------------------------------------------------------------------
-- The model: [embedding] -> LSTM -> linear, with the h0 policy of the cell

local Net = rnn.nn.Module:extend('H0Net')

function Net:__init(o)
  local input_size = o.input_size
  if o.vocab then
    self.embed = rnn.nn.Embedding(o.vocab, o.embed)
    input_size = o.embed
  end
  -- 'learned+noise' is a learned h0 with noise added here, in training
  local policy = o.h0 == 'learned+noise' and 'learned' or o.h0
  self.lstm = rnn.nn.LSTM{input_size = input_size, hidden_size = o.hidden, h0 = policy, h0_std = o.h0_std}
  self.head = rnn.nn.Linear(o.hidden, o.output_size)
  self.h0_noise = o.h0 == 'learned+noise' and o.h0_noise or 0
end

-- x: (T, B) symbols or (T, B, 2) inputs; lengths: nil or the B lengths.
-- Returns the outputs at every step, (T, B, output_size).
function Net:forward(x, lengths)
  local input = self.embed and self.embed(x) or x
  local state
  if self.h0_noise > 0 and self.training then
    local s = self.lstm:initial_state(input:size(2))
    state = {h = s.h + rnn.randn(s.h:shape()) * self.h0_noise, c = s.c + rnn.randn(s.c:shape()) * self.h0_noise}
  end
  local out = self.lstm(input, state, lengths and {lengths = lengths} or nil)
  return self.head(out)
end

---------------------------------------------------------------------------
-- Text: many-reset batches, the same for a step whatever ran before

local corpus -- loaded once per process

-- Every fortune file of /usr/share/games/fortunes (Debian's fortunes and
-- fortunes-min), each record one sequence, and every verse of the King
-- James Bible (bible-kjv-text, printed by bible-kjv's `bible`), one
-- record each: ~46k records, ~6.9 MB.
local function fortunes_and_verses()
  local lfs = require 'lfs'
  local dir = rnn.data.text.DEFAULT_CORPUS_DIR
  local names = {}
  for name in lfs.dir(dir) do
    if not name:match('^%.') and not name:match('%.dat$') and not name:match('%.u8$')
        and lfs.attributes(dir .. '/' .. name, 'mode') == 'file' then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  if #names < 10 then
    error('h0_comparison: corpus fortunes+kjv needs the Debian package fortunes (all the fortune files); '
      .. 'apt-get install fortunes bible-kjv', 0)
  end
  local records = {}
  for _, name in ipairs(names) do
    local f = assert(io.open(dir .. '/' .. name, 'rb'))
    local text = f:read('a')
    f:close()
    for piece in (text .. '\n%\n'):gmatch('(.-)\n%%\n') do
      if piece:match('%S') then records[#records + 1] = piece end
    end
  end
  local p = io.popen('bible -l100000 Gen1:1-Rev22:21 2>/dev/null')
  local verses = 0
  for line in p:lines() do
    local verse = line:match('^%s+%d+ (.+)$')
    if verse then records[#records + 1] = verse; verses = verses + 1 end
  end
  p:close()
  if verses < 30000 then
    error('h0_comparison: corpus fortunes+kjv needs the King James Bible: apt-get install bible-kjv', 0)
  end
  -- from_string shuffles the records (seed 1) before it takes the last
  -- tenth as the validation records; bytes seen fewer than 50 times share
  -- one symbol
  return rnn.data.text.from_string(table.concat(records, '\n%\n'),
    {delimiter = '\n%\n', min_count = 50, val_fraction = 0.1})
end

local function text_corpus(name)
  if not corpus then
    if name == 'fortunes-min' then corpus = rnn.data.text.default_corpus()
    elseif name == 'fortunes+kjv' then corpus = fortunes_and_verses()
    else error("h0_comparison: corpus must be 'fortunes-min' or 'fortunes+kjv', got " .. tostring(name), 0) end
  end
  return corpus
end

-- the batch of training step `step`: epoch e's order is shuffled with a seed
-- made of the run's seed and e, so resuming at any step rebuilds it
local function text_batch(s, cfg, step)
  local opts = {batch = cfg.batch, max_len = cfg.max_len, drop_last = true}
  if not s.per_epoch then
    -- (unshuffled: a shuffle without a seed would draw from the generator)
    local n = 0
    for _ in corpus:record_batches{batch = cfg.batch, max_len = cfg.max_len, drop_last = true, shuffle = false} do
      n = n + 1
    end
    s.per_epoch = n
  end
  local epoch = (step - 1) // s.per_epoch + 1
  local index = (step - 1) % s.per_epoch + 1
  if s.epoch ~= epoch or s.index ~= index - 1 then
    opts.seed = s.seed * 100003 + epoch
    s.iter, s.epoch, s.index = corpus:record_batches(opts), epoch, 0
    for _ = 1, index - 1 do s.iter(); s.index = s.index + 1 end
  end
  s.index = s.index + 1
  return s.iter()
end

-- Each record is fed after a newline (the last character of the fortune
-- delimiter, what precedes a record in the file), so that position 1
-- predicts the record's first character: x (T, B) -> (T+1, B) starting with
-- '\n', y gains the first characters as its first row, lengths + 1.
local function with_start(x, y, info)
  local B = x:size(2)
  local start = rnn.full({1, B}, corpus:index('\n'), 'int64')
  local lengths = {}
  for b, n in ipairs(info.lengths) do lengths[b] = n + 1 end
  return rnn.cat({start, x}, 1), rnn.cat({x:narrow(1, 1, 1), y}, 1), lengths
end

-- per-position cross-entropy (T+1, B) and the mask of real positions; in
-- the task without the start symbol (T, B): position 1 predicts a record's
-- second character from its first, and only the state marks the reset
local function text_losses(model, x, y, info, task)
  local lengths
  if task == 'text_nostart' then
    lengths = info.lengths
  else
    x, y, lengths = with_start(x, y, info)
  end
  local logits = model(x, lengths)
  local l = F.cross_entropy(logits, y, {ignore_index = 0, reduction = 'none'})
  local mask = y:ne(0):to(l:dtype())
  return l, mask
end

-- mean of the loss over the first k positions (and everything) from values
local function position_means(l, mask, k, upto)
  local lt, mt = l:detach():totable(), mask:totable()
  local first_sum, first_n = 0, 0
  local by_pos = {}
  for t = 1, #lt do
    local s, n = 0, 0
    for b = 1, #lt[t] do
      if mt[t][b] > 0 then s = s + lt[t][b]; n = n + 1 end
    end
    if t <= k then first_sum, first_n = first_sum + s, first_n + n end
    if t <= upto then by_pos[t] = n > 0 and s / n or 0 / 0 end
  end
  return first_n > 0 and first_sum / first_n or 0 / 0, by_pos
end

---------------------------------------------------------------------------
-- The experiment

local exp = rnn.experiment.new{
  name = 'h0_comparison',
  description = [[
Does a learned or a random initial state h0 beat a zero h0? An LSTM (H = 32) is trained from each h0 policy on many-reset text (every fortune of Debian's fortunes-min starts from h0; character-level cross-entropy in nats) and on the adding problem (T = 20, MSE; the mean predictor scores 1/6).

Expected from the literature (Zimmermann et al. 2012; Pitis 2016, "Non-zero initial states for recurrent neural networks"): a learned h0 lowers the loss at the first positions after a reset (val_loss_first_k: the first k = 5); a random h0 acts as noise (a regulariser, or slower training); a learned h0 with noise sits between; far from the reset, and on the adding problem's single target at the end, h0 makes little difference.]],
  grid = {{'h0', {'zero', 'random', 'learned', 'learned+noise'}}, {'task', {'text', 'adding'}}},
  config = {steps = 500, hidden = 32, embed = 16, lr = 1e-2, batch = 32, max_len = 64, T = 20, clip = 1.0,
            h0_std = 0.5, h0_noise = 0.5, k = 5, positions = 40, val_batch = 512, checkpoint_every = 50,
            eval_every = 50, corpus = 'fortunes-min'},
  seeds = 2,
  -- every h0 against the zero h0, within a task (comparing tasks says nothing)
  baseline = {h0 = 'zero'},
  -- the checkpoint of the lowest validation loss, beside the last (the
  -- longer runs overfit the small corpus)
  select = 'val_loss',
  summary = {'val_loss_first_k', 'val_loss', 'train_loss'},
  presets = {paper = {
    description = 'zero against learned h0 on every Debian fortune and every verse of the King James Bible (~46k '
      .. 'records, ~6.9 MB; 4.6k held out), with the start symbol and without it (text_nostart: only the state '
      .. 'marks the reset), an LSTM with H = 64, 2000 steps, the best checkpoint by val_loss, 30 paired seeds.',
    config = {corpus = 'fortunes+kjv', hidden = 64, embed = 16, lr = 5e-3, steps = 2000, eval_every = 400,
              checkpoint_every = 400},
    grid = {{'h0', {'zero', 'learned'}}, {'task', {'text', 'text_nostart'}}},
    seeds = 30,
    summary = {'best_val_loss_first_k', 'val_loss_first_k', 'val_loss', 'train_loss'},
  }},
  plots = {facet = 'task', metrics = {'loss', 'loss_first_k', 'grad_norm', 'clipped'},
           titles = {loss_by_position = 'validation loss at each position after a reset'},
           xlabel = {loss_by_position = 'position after the reset'},
           ylabel = {loss_by_position = 'cross-entropy (nats)'},
           log_y = {loss_by_position = false}},

  setup = function(cfg, seed)
    local o = {hidden = cfg.hidden, embed = cfg.embed, h0 = cfg.h0, h0_std = cfg.h0_std, h0_noise = cfg.h0_noise}
    if cfg.task ~= 'adding' then
      o.vocab, o.output_size = text_corpus(cfg.corpus).vocab_size, corpus.vocab_size
    else
      o.input_size, o.output_size = 2, 1
    end
    local model = Net(o)
    local opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr})
    return {model = model, opt = opt, clip = rnn.clip.norm(cfg.clip), seed = seed}
  end,

  step = function(s, cfg, step)
    s.opt:zero_grad()
    local loss, first_k
    if cfg.task ~= 'adding' then
      local x, y, info = text_batch(s, cfg, step)
      local l, mask = text_losses(s.model, x, y, info, cfg.task)
      loss = (l * mask):sum() / mask:sum()
      first_k = position_means(l, mask, cfg.k, 0)
    else
      local x, y = rnn.data.adding{T = cfg.T, batch = cfg.batch}
      loss = F.mse(s.model(x)[-1], y)
    end
    loss:backward()
    local st = s.clip(s.model)
    s.opt:step()
    return {loss = loss:item(), loss_first_k = first_k, grad_norm = st.norm, clipped = st.clipped}
  end,

  evaluate = function(s, cfg)
    return rnn.no_grad(function()
      if cfg.task ~= 'adding' then
        local sum, n, first_sum, first_n = 0, 0, 0, 0
        local pos_sum, pos_n = {}, {}
        for x, y, info in corpus:record_batches{split = 'val', batch = 64, max_len = cfg.max_len, shuffle = false} do
          local l, mask = text_losses(s.model, x, y, info, cfg.task)
          local lt, mt = l:totable(), mask:totable()
          for t = 1, #lt do
            for b = 1, #lt[t] do
              if mt[t][b] > 0 then
                sum, n = sum + lt[t][b], n + 1
                if t <= cfg.k then first_sum, first_n = first_sum + lt[t][b], first_n + 1 end
                if t <= cfg.positions then
                  pos_sum[t], pos_n[t] = (pos_sum[t] or 0) + lt[t][b], (pos_n[t] or 0) + 1
                end
              end
            end
          end
        end
        local by_pos = {}
        for t = 1, #pos_sum do by_pos[t] = pos_sum[t] / pos_n[t] end
        return {val_loss = sum / n, val_loss_first_k = first_sum / first_n, series = {loss_by_position = by_pos}}
      else
        local x, y = rnn.data.adding{T = cfg.T, batch = cfg.val_batch, seed = 1000003}
        local mse = F.mse(s.model(x)[-1], y):item()
        return {val_loss = mse, success = mse < 0.1 * rnn.data.adding_baseline_mse}
      end
    end)
  end,
}

exp:run(arg)
