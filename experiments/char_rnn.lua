-- char_rnn: a character-level LSTM language model on a small public-domain
-- corpus — how low does the validation loss go, and what does it write?
--
-- Question. Trained to predict the next character of a text, how many nats
-- per character does an LSTM reach on held-out text, how does that compare
-- with what the character frequencies alone give, and what does text
-- sampled from it look like?
--
-- Setting. The default corpus, Debian's fortunes-min (rnn.data.text.
-- default_corpus(): 431 fortunes, 24 kB, a byte vocabulary of 80; the
-- fortunes are shuffled and 10% of them held out for validation, each
-- followed by its '\n%\n' delimiter so the model also learns where a
-- fortune ends). The training stream is cut into 32 parallel tracks walked
-- in chunks of 64 characters (corpus:batches: truncated BPTT as in
-- Karpathy's char-rnn), the LSTM state carried from one chunk to the next
-- and reset at the start of every pass over the stream; the carried state
-- lives in the model as buffers, so checkpoints hold it and a resumed run
-- continues exactly. Model: an embedding of 32, one LSTM layer of 128, a
-- linear read-out to the 80 symbols; Adam (lr 3e-3), global-norm clipping
-- at 5 (char-rnn's default), 500 steps (about 45 passes over the 22 kB
-- training stream). Every 100 steps and at the end: val_loss, the
-- cross-entropy on the validation stream in nats per character (4 tracks,
-- state carried across chunks of 128), its bits-per-character equivalent
-- val_bpc, and a sample of 300 characters at temperature 0.8 from the
-- prime 'The ' (rnn.data.text.sample with a fixed seed). References in the
-- summary: unigram_loss, the validation cross-entropy of the training
-- set's character frequencies (add-one smoothed), and ln 80 = 4.38 for a
-- uniform guess. The final sample is printed after the summary and saved
-- as sample.txt in each run's folder (every evaluation's sample is also in
-- eval.jsonl, showing how the text improves during training).
--
-- What the literature leads one to expect. Karpathy's char-rnn (2015, "The
-- Unreasonable Effectiveness of Recurrent Neural Networks"; Karpathy,
-- Johnson and Fei-Fei 2015) shows an LSTM learning, in order, the
-- character frequencies and spaces, then common short words, spelling,
-- punctuation and line structure; Graves (2013) reports the same
-- progression on larger corpora. A 24 kB corpus is tiny for a model of
-- ~100,000 parameters: the training loss keeps falling while the validation
-- loss levels off and then rises (overfitting — char-rnn's advice is to
-- watch this gap and add dropout or shrink the model). Expect val_loss to
-- fall from ln 80 = 4.38 through the unigram level (about 3.1 nats) to
-- roughly 1.7-1.9 nats per character (2.5-2.7 bits) at the defaults, with
-- samples made of English-looking words, mostly real short ones, some
-- invented, and fortune-like punctuation, without sense. Runtime at the
-- defaults: 25-40 s. --steps 2000 shows the overfitting (val_loss
-- rising again); --set hidden=64 or --set lr=1e-3 trade it off.
--
-- Run: rnnlua experiments/char_rnn.lua [--steps 1000] [--set hidden=256]
--      [--set temperature=0.5] [--set prime=Q:] [--seeds 3]
-- Results: runs/char_rnn/index.html; samples in runs/char_rnn/*/seed-*/sample.txt.
local rnn = require 'rnn'
local F = rnn.nn.functional

-- One BLAS thread is as fast as two for these sizes on a shared machine.
-- --threads N, or OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, override this.
if not os.getenv('OPENBLAS_NUM_THREADS') and not os.getenv('OMP_NUM_THREADS') then rnn.set_num_threads(1) end

local SAMPLE_SEED = 1000003

local corpus -- loaded once per process
local function get_corpus()
  corpus = corpus or rnn.data.text.default_corpus()
  return corpus
end

---------------------------------------------------------------------------
-- The model: embedding -> LSTM -> linear, with the state carried between
-- training chunks kept as (persistent) buffers

local CharNet = rnn.nn.Module:extend('CharNet')

function CharNet:__init(o)
  self.embed = rnn.nn.Embedding(o.vocab, o.embed)
  self.lstm = rnn.nn.LSTM{input_size = o.embed, hidden_size = o.hidden, num_layers = o.layers}
  self.head = rnn.nn.Linear(o.hidden, o.vocab)
  self:register_buffer('carry_h', rnn.zeros{o.layers, o.batch, o.hidden})
  self:register_buffer('carry_c', rnn.zeros{o.layers, o.batch, o.hidden})
end

-- x: (T, B) int64 -> logits (T, B, V), final state
function CharNet:forward(x, state)
  local out, st = self.lstm(self.embed(x), state)
  return self.head(out), st
end

---------------------------------------------------------------------------
-- Data

-- the chunks of one pass over the training stream, built once per process
local chunk_cache = {}
local function train_chunks(cfg)
  local key = cfg.batch .. 'x' .. cfg.bptt
  if not chunk_cache[key] then
    local list = {}
    for x, y in get_corpus():batches{batch = cfg.batch, bptt = cfg.bptt, drop_last = true} do
      list[#list + 1] = {x, y}
    end
    chunk_cache[key] = list
  end
  return chunk_cache[key]
end

-- mean cross-entropy (nats per character) of the model on a split's stream,
-- in `batch` tracks with the state carried across chunks of `bptt`
local function stream_loss(model, split, batch, bptt)
  return rnn.no_grad(function()
    local sum, count, state = 0, 0, nil
    for x, y in get_corpus():batches{split = split, batch = batch, bptt = bptt} do
      local logits
      logits, state = model(x, state)
      sum = sum + F.cross_entropy(logits, y, {reduction = 'sum'}):item()
      count = count + y:numel()
    end
    return sum / count
  end)
end

-- the validation cross-entropy of the training set's character
-- frequencies (add-one smoothing)
local unigram_cache
local function unigram_loss()
  if unigram_cache then return unigram_cache end
  local c = get_corpus()
  local counts = {}
  for k = 1, c.vocab_size do counts[k] = 1 end
  local n = c.vocab_size
  for _, k in ipairs(c.train:totable()) do counts[k] = counts[k] + 1; n = n + 1 end
  local sum, m = 0, 0
  for _, k in ipairs(c.val:totable()) do sum = sum - math.log(counts[k] / n); m = m + 1 end
  unigram_cache = sum / m
  return unigram_cache
end

local function sample(model, cfg)
  local step = function(index, state)
    local logits, st = model(index:view(1, 1), state)
    return logits, st
  end
  return (rnn.data.text.sample(step, get_corpus(), {prime = cfg.prime, length = cfg.sample_length,
                                                    temperature = cfg.temperature, seed = SAMPLE_SEED}))
end

---------------------------------------------------------------------------
-- The experiment

local exp = rnn.experiment.new{
  name = 'char_rnn',
  description = [[
A character-level LSTM language model (embedding 32, one LSTM layer of 128, Adam, truncated BPTT over chunks of 64 characters with the state carried between chunks) on Debian's fortunes-min (431 fortunes, 24 kB; 10% of the fortunes held out). val_loss is the validation cross-entropy in nats per character (val_bpc in bits); unigram_loss is what the character frequencies alone give; a uniform guess over the 80 symbols scores ln 80 = 4.38. A sample of 300 characters at temperature 0.8 is printed at the end and saved as sample.txt in each run's folder.

Expected from the literature (Karpathy 2015, char-rnn; Graves 2013): the model learns character frequencies, then short words, spelling and punctuation; on a corpus this small the validation loss levels off while the training loss keeps falling (overfitting). At the defaults, roughly 1.7-1.9 nats per character, and samples of English-looking words without sense.]],
  config = {steps = 500, embed = 32, hidden = 128, layers = 1, batch = 32, bptt = 64, lr = 3e-3, clip = 5.0,
            val_batch = 4, val_bptt = 128, eval_every = 100, checkpoint_every = 100, prime = 'The ',
            sample_length = 300, temperature = 0.8},
  seeds = 1,
  summary = {'val_loss', 'val_bpc', 'unigram_loss', 'train_loss'},
  -- the small corpus is overfitted in a long run: keep the best checkpoint beside the last
  select = 'val_loss',
  presets = {paper = {
    description = '2000 steps (about 18 epochs), the checkpoint of the lowest validation loss kept beside the '
      .. 'last, 10 seeds for intervals.',
    config = {steps = 2000, eval_every = 100, checkpoint_every = 200},
    seeds = 10,
  }},
  plots = {metrics = {'loss', 'grad_norm'}},

  setup = function(cfg)
    local c = get_corpus()
    local model = CharNet{vocab = c.vocab_size, embed = cfg.embed, hidden = cfg.hidden, layers = cfg.layers,
                          batch = cfg.batch}
    return {model = model, opt = rnn.optim.Adam(model:parameters(), {lr = cfg.lr}),
            clip = rnn.clip.norm(cfg.clip, {nonfinite = 'skip'})}
  end,

  step = function(s, cfg, step)
    local chunks = train_chunks(cfg)
    local k = (step - 1) % #chunks + 1
    local m = s.model
    if k == 1 then
      rnn.no_grad(function() m.carry_h:zero_(); m.carry_c:zero_() end)
    end
    local x, y = chunks[k][1], chunks[k][2]
    local logits, state = m(x, {h = m.carry_h, c = m.carry_c})
    local loss = F.cross_entropy(logits, y)
    s.opt:zero_grad()
    loss:backward()
    local st = s.clip(m)
    s.opt:step()
    rnn.no_grad(function() m.carry_h:copy_(state.h); m.carry_c:copy_(state.c) end)
    return {loss = loss:item(), grad_norm = st.norm, clipped = st.clipped, epoch = (step - 1) // #chunks + 1}
  end,

  evaluate = function(s, cfg)
    local v = stream_loss(s.model, 'val', cfg.val_batch, cfg.val_bptt)
    return {val_loss = v, val_bpc = v / math.log(2), unigram_loss = unigram_loss(), sample = sample(s.model, cfg)}
  end,
}

local result = exp:run(arg)

-- the final samples: printed (unless --quiet), and saved next to each
-- run's metrics
local quiet = false
for _, a in ipairs(arg or {}) do if a == '--quiet' then quiet = true end end
if result and result.runs then
  for _, r in ipairs(result.runs) do
    local text = r.done and r.done.eval and r.done.eval.sample
    if type(text) == 'string' then
      if not quiet then
        print(string.format('\n-- sample (%s, seed %d; %s/sample.txt):', r.cell, r.seed, r.dir))
        print(text)
      end
      local f = io.open(r.dir .. '/sample.txt', 'w')
      if f then f:write(text, '\n'); f:close() end
    end
  end
end
