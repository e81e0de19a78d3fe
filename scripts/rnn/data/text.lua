--- Character-level corpora, batches for truncated BPTT, many-reset record
-- batches, and sampling from a character model.
--
--     local corpus = rnn.data.text.load(path)                  -- one stream
--     local corpus = rnn.data.text.load(path, {delimiter = '\n%\n'})  -- records
--     local corpus = rnn.data.text.default_corpus()            -- fortunes, as records
--
--     for x, y, info in corpus:batches{batch = 32, bptt = 64} do ... end
--     for x, y, info in corpus:record_batches{batch = 32} do ... end
--     print(rnn.data.text.sample(step, corpus, {prime = 'The ', temperature = 0.8}))
--
-- Text is handled as bytes: the vocabulary is the set of bytes that occur,
-- in increasing byte order, numbered from 1; a UTF-8 character outside ASCII
-- is several symbols, and sampled text may cut one in the middle.
-- @tfield string DEFAULT_CORPUS_DIR '/usr/share/games/fortunes', where the
-- Debian package fortunes-min puts its files
-- @tfield string DEFAULT_CORPUS_PACKAGE 'fortunes-min'
-- @tfield string FORTUNE_DELIMITER '\n%\n', the record separator of fortune
-- files (a line holding only '%')
-- @module rnn.data.text
local core = require 'rnn.core'
local U = require 'rnn.data.util'

local M = {}

local NIL = U.NIL

-- Where the Debian package fortunes-min puts its files.
M.DEFAULT_CORPUS_DIR = '/usr/share/games/fortunes'
M.DEFAULT_CORPUS_PACKAGE = 'fortunes-min'
-- The record separator of fortune files: a line holding only '%'.
M.FORTUNE_DELIMITER = '\n%\n'

local function file_exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

--- The path of a public-domain corpus that Debian ships: a fortune file of
-- the package fortunes-min, installed by tools/deps.sh.
-- @tparam[opt='fortunes'] string name 'fortunes' (431 records, 24 kB),
-- 'literature' or 'riddles'
-- @treturn string the path
-- @raise naming the package, when the file is missing
function M.default_corpus_path(name)
  name = name or 'fortunes'
  if name ~= 'fortunes' and name ~= 'literature' and name ~= 'riddles' then
    error(string.format("rnn.data.text.default_corpus_path: argument 1 (name) must be 'fortunes', 'literature' or 'riddles', got %s",
      tostring(name)), 2)
  end
  local path = M.DEFAULT_CORPUS_DIR .. '/' .. name
  if not file_exists(path) then
    error(string.format('rnn.data.text.default_corpus_path: %s not found; install the Debian package %s '
      .. '(apt-get install %s, or run tools/deps.sh as root)', path, M.DEFAULT_CORPUS_PACKAGE,
      M.DEFAULT_CORPUS_PACKAGE), 2)
  end
  return path
end

-- -------------------------------------------------------------------------
-- The corpus object

--- A text corpus, from load, from_string or default_corpus. Fields: vocab
-- (index -> one-byte string, in byte order), stoi (one-byte string ->
-- index), vocab_size, train and val (int64 (n) streams of indices; with a
-- delimiter, the records of the split, each followed by the delimiter),
-- with a delimiter train_records and val_records (arrays of int64
-- tensors), path, n_bytes, unk_index and unk (with min_count > 1).
-- @type Corpus
local Corpus = {}
Corpus.__index = Corpus
M.Corpus = Corpus

-- bytes of s -> array of indices through map (byte -> index); unknown bytes
-- go to `unk` or raise via on_unknown(byte)
local function indices_of(s, map, unk, on_unknown)
  local out, n = {}, 0
  local CH = 4096
  for i = 1, #s, CH do
    local bytes = {s:byte(i, math.min(i + CH - 1, #s))}
    for j = 1, #bytes do
      local k = map[bytes[j]] or unk
      if k == nil then on_unknown(bytes[j]) end
      n = n + 1
      out[n] = k
    end
  end
  return out
end

local function describe_byte(b)
  if b >= 32 and b < 127 then return string.format("'%s'", string.char(b)) end
  return string.format('byte %d', b)
end

--- The 1-based vocabulary indices of the bytes of a string. A byte outside
-- the vocabulary maps to the unknown symbol when there is one (min_count >
-- 1), otherwise raises.
-- @tparam string s
-- @treturn Tensor int64 (#s)
function Corpus:encode(s)
  if type(s) ~= 'string' then
    error(string.format('rnn.data.text.encode: argument 1 (text) must be a string, got %s', type(s)), 2)
  end
  local idx = indices_of(s, self.byte_index, self.unk_index, function(b)
    error(string.format('rnn.data.text.encode: %s is not in the vocabulary of %d symbols', describe_byte(b),
      self.vocab_size), 4)
  end)
  return core.tensor(idx, 'int64')
end

--- The text of indices (the unknown symbol decodes as corpus.unk).
-- @tparam Tensor|table|integer t an int64 tensor of any shape (read in
-- row-major order), an array of integers, or one integer
-- @treturn string
-- @raise for an index outside 1..vocab_size
function Corpus:decode(t)
  local fn = 'rnn.data.text.decode'
  local list
  if core.is_tensor(t) then
    if t:dtype() ~= 'int64' then
      error(string.format('%s: argument 1 (indices) must be an int64 tensor, got %s', fn, t:dtype()), 2)
    end
    list = t:numel() == 0 and {} or t:reshape(-1):totable()
  elseif type(t) == 'table' then
    list = t
  elseif math.type(t) == 'integer' or (type(t) == 'number' and U.as_int(t)) then
    list = {t}
  else
    error(string.format('%s: argument 1 (indices) must be an int64 tensor, an array or an integer, got %s', fn,
      type(t)), 2)
  end
  local V, vocab = self.vocab_size, self.vocab
  local parts = {}
  for i = 1, #list do
    local k = U.as_int(list[i])
    if k == nil or k < 1 or k > V then
      error(string.format('%s: index %s at position %d is outside 1..%d', fn, tostring(list[i]), i, V), 2)
    end
    parts[i] = vocab[k]
  end
  return table.concat(parts)
end

--- The symbol (a one-byte string) of index k, or nil.
-- @tparam integer k
-- @treturn ?string
function Corpus:symbol(k) return self.vocab[k] end

--- The index of a one-byte string, or nil.
-- @tparam string ch
-- @treturn ?integer
function Corpus:index(ch) return self.stoi[ch] end

function Corpus:__tostring()
  local s = string.format('rnn.data.text corpus: %s, %d bytes, vocabulary %d, train %d, val %d',
    self.path or '(string)', self.n_bytes, self.vocab_size, self.train:numel(), self.val:numel())
  if self.delimiter then
    s = s .. string.format(', records %d train / %d val', #self.train_records, #self.val_records)
  end
  return s
end

local function check_split(fn, split, level)
  if split ~= 'train' and split ~= 'val' then
    error(string.format("%s: option split must be 'train' or 'val', got '%s'", fn, tostring(split)), level + 1)
  end
  return split
end

local BATCHES = {batch = 32, bptt = 64, split = 'train', drop_last = false}

--- An iterator of x, y, info for truncated BPTT, as char-rnn and
-- torch-rnn: the split's stream (n symbols) is cut into `batch` contiguous tracks of
-- L = (n - 1) // batch symbols, track b reading positions (b-1)·L + 1 .. b·L,
-- and each track is walked in chunks of `bptt` steps. x, y: (bptt, B) int64,
-- y[t][b] the symbol after x[t][b]. The last chunk is shorter when bptt does
-- not divide L, unless drop_last. Chunk k+1 continues chunk k on every track,
-- so carry the state across (rnn.nn.detach_state); info.reset is true only
-- for the first chunk, where the state should start afresh. info.index,
-- info.count: the chunk's number and the number of chunks. Each call makes
-- a new pass (an epoch) over the same chunks; nothing is random.
-- @tparam[opt] table opts options
-- @option batch (32) the number B of tracks
-- @option bptt (64) the steps of a chunk
-- @option split ('train') 'train' or 'val'
-- @option drop_last (false) leave out a last, shorter chunk
-- @treturn function an iterator of x (T, B) int64, y (T, B) int64 (the
-- symbols one step ahead) and info {reset, index, count}
-- @raise when the split is too short for the tracks
-- @usage local state
-- for x, y, info in corpus:batches{batch = 32, bptt = 64} do
--   if info.reset then state = nil end
--   local out
--   out, state = lstm(emb(x), state)      -- (T, B, H)
--   state = rnn.nn.detach_state(state)
-- end
function Corpus:batches(opts)
  local fn = 'rnn.data.text.batches'
  local o = U.resolve(fn, opts, BATCHES)
  local B = U.int(fn, o, 'batch', 1)
  local bptt = U.int(fn, o, 'bptt', 1)
  check_split(fn, o.split, 2)
  local data = self[o.split]
  local n = data:numel()
  local L = (n - 1) // B
  if L < 1 then
    error(string.format('%s: the %s split has %d symbols, too few for %d tracks (needs at least %d)', fn, o.split,
      n, B, B + 1), 2)
  end
  local count = o.drop_last and L // bptt or (L + bptt - 1) // bptt
  if count < 1 then
    error(string.format('%s: tracks of %d symbols are shorter than bptt = %d with drop_last', fn, L, bptt), 2)
  end
  local xs = data:narrow(1, 1, B * L):view(B, L):t()     -- (L, B) view
  local ys = data:narrow(1, 2, B * L):view(B, L):t()
  local k = 0
  return function()
    k = k + 1
    if k > count then return nil end
    local start = (k - 1) * bptt + 1
    local len = math.min(bptt, L - start + 1)
    return xs:narrow(1, start, len):contiguous(), ys:narrow(1, start, len):contiguous(),
      {reset = k == 1, index = k, count = count}
  end
end

local RECORDS = {batch = 32, max_len = NIL, split = 'train', shuffle = true, seed = NIL, drop_last = false,
                 ignore_index = 0, pad_index = 1}

--- An iterator of x, y, info for the many-reset setting (a corpus loaded
-- with a delimiter): every row of a batch is one record from its start, so
-- each batch starts from the initial state (h0) and info.reset is always
-- true. A record r of n symbols gives x = r[1..n-1], y = r[2..n], cut to
-- max_len steps when given (the rest of a longer record is dropped). x, y:
-- (T, B) int64 with T the longest in the batch; past a row's length x holds
-- pad_index (a valid index, harmless for embeddings) and y holds
-- ignore_index, for cross_entropy(logits, y, {ignore_index = 0}).
-- info.lengths: a Lua array of the B lengths, for layer(x, {lengths = ...});
-- info.records: their record numbers in the split; info.index, info.count.
-- Records of fewer than two symbols have nothing to predict and are left
-- out. The order is shuffled (randperm from the generator, or from `seed`,
-- see rnn.data) at each call, unless shuffle = false; the last batch is
-- smaller unless drop_last.
-- @tparam[opt] table opts options
-- @option batch (32) records per batch
-- @option max_len (none) cut rows to this many steps
-- @option split ('train') 'train' or 'val'
-- @option shuffle (true) a new order at each call
-- @option seed (none) shuffle from this seed instead of the generator
-- @option drop_last (false) leave out a last, smaller batch
-- @option ignore_index (0) y past a row's length
-- @option pad_index (1) x past a row's length, in 1..vocab_size
-- @treturn function an iterator of x (T, B) int64, y (T, B) int64 and info
-- {reset = true, lengths, records, index, count}
-- @raise when the corpus has no records (loaded without a delimiter)
function Corpus:record_batches(opts)
  local fn = 'rnn.data.text.record_batches'
  local o = U.resolve(fn, opts, RECORDS, {max_len = 'number', seed = 'number'})
  if not self.delimiter then
    error(string.format('%s: the corpus has no records; load it with a delimiter (e.g. {delimiter = %q})', fn,
      M.FORTUNE_DELIMITER), 2)
  end
  local B = U.int(fn, o, 'batch', 1)
  if o.max_len ~= nil then U.int(fn, o, 'max_len', 1) end
  check_split(fn, o.split, 2)
  U.seed(fn, o)
  U.int(fn, o, 'ignore_index', nil)
  U.int(fn, o, 'pad_index', 1)
  if o.pad_index > self.vocab_size then
    error(string.format('%s: option pad_index must be in 1..%d, got %d', fn, self.vocab_size, o.pad_index), 2)
  end
  local recs = self[o.split .. '_records']
  local usable = {}
  for i, r in ipairs(recs) do
    if r:numel() >= 2 then usable[#usable + 1] = i end
  end
  if #usable == 0 then
    error(string.format('%s: the %s split has no record of two or more symbols', fn, o.split), 2)
  end
  local order = usable
  if o.shuffle then
    local perm = U.with_seed(o.seed, core.randperm, #usable):totable()
    order = {}
    for i, p in ipairs(perm) do order[i] = usable[p] end
  end
  local count = o.drop_last and #order // B or (#order + B - 1) // B
  if count < 1 then
    error(string.format('%s: %d records make no full batch of %d with drop_last', fn, #order, B), 2)
  end
  local k = 0
  return function()
    k = k + 1
    if k > count then return nil end
    local first = (k - 1) * B + 1
    local nb = math.min(B, #order - first + 1)
    local lengths, ids, T = {}, {}, 0
    for j = 1, nb do
      local id = order[first + j - 1]
      local len = recs[id]:numel() - 1
      if o.max_len and len > o.max_len then len = o.max_len end
      lengths[j], ids[j] = len, id
      if len > T then T = len end
    end
    local x = core.full({T, nb}, o.pad_index, 'int64')
    local y = core.full({T, nb}, o.ignore_index, 'int64')
    for j = 1, nb do
      local r, len = recs[ids[j]], lengths[j]
      x:select(2, j):narrow(1, 1, len):copy_(r:narrow(1, 1, len))
      y:select(2, j):narrow(1, 1, len):copy_(r:narrow(1, 2, len))
    end
    return x, y, {reset = true, lengths = lengths, records = ids, index = k, count = count}
  end
end

-- -------------------------------------------------------------------------
-- Loading

local LOAD = {delimiter = NIL, val_fraction = 0.1, min_count = 1, unk = '?', keep_delimiter = false,
              shuffle = true, seed = 1}

local function build(fn, text, o, path)
  if #text == 0 then
    error(string.format('%s: %s is empty', fn, path and ("'" .. path .. "'") or 'the text'), 3)
  end
  -- records
  local records
  if o.delimiter then
    records = {}
    local d = o.delimiter
    local pos = 1
    while pos <= #text do
      local a, b = text:find(d, pos, true)
      local piece = text:sub(pos, (a or #text + 1) - 1)
      if #piece > 0 then records[#records + 1] = o.keep_delimiter and a and piece .. d or piece end
      if not a then break end
      pos = b + 1
    end
    if #records == 0 then
      error(string.format('%s: %s holds no record between delimiters %q', fn, path or 'the text', d), 3)
    end
  end
  -- vocabulary: bytes in increasing order; with min_count > 1 the rare ones
  -- share one unknown symbol, the last index
  local counts = {}
  for b = 0, 255 do counts[b] = 0 end
  for i = 1, #text, 4096 do
    local bytes = {text:byte(i, math.min(i + 4095, #text))}
    for j = 1, #bytes do counts[bytes[j]] = counts[bytes[j]] + 1 end
  end
  local vocab, stoi, byte_index = {}, {}, {}
  local dropped = 0
  for b = 0, 255 do
    if counts[b] >= o.min_count then
      local ch = string.char(b)
      vocab[#vocab + 1] = ch
      stoi[ch] = #vocab
      byte_index[b] = #vocab
    elseif counts[b] > 0 then
      dropped = dropped + 1
    end
  end
  local unk_index
  if dropped > 0 then
    vocab[#vocab + 1] = o.unk
    unk_index = #vocab
  end
  local self = setmetatable({
    path = path, n_bytes = #text, vocab = vocab, stoi = stoi, byte_index = byte_index,
    vocab_size = #vocab, unk_index = unk_index, unk = unk_index and o.unk or nil, counts = counts,
    delimiter = o.delimiter, val_fraction = o.val_fraction,
  }, Corpus)
  if records then
    -- a seeded shuffle of the records (fortune files are sorted), then the
    -- last val_fraction of them are the validation set
    local order = {}
    for i = 1, #records do order[i] = i end
    if o.shuffle then order = U.with_seed(o.seed, core.randperm, #records):totable() end
    local n_val = math.floor(o.val_fraction * #records + 0.5)
    if n_val >= #records then n_val = #records - 1 end
    local n_train = #records - n_val
    local tr, va, trs, vas = {}, {}, {}, {}
    for i = 1, #records do
      local r = records[order[i]]
      local enc = core.tensor(indices_of(r, byte_index, unk_index), 'int64')
      local stream_piece = o.keep_delimiter and r or r .. o.delimiter
      if i <= n_train then
        tr[#tr + 1] = enc; trs[#trs + 1] = stream_piece
      else
        va[#va + 1] = enc; vas[#vas + 1] = stream_piece
      end
    end
    self.train_records, self.val_records = tr, va
    self.record_order = order
    self.train = core.tensor(indices_of(table.concat(trs), byte_index, unk_index), 'int64')
    self.val = core.tensor(indices_of(table.concat(vas), byte_index, unk_index), 'int64')
  else
    local all = core.tensor(indices_of(text, byte_index, unk_index), 'int64')
    local n_val = math.floor(o.val_fraction * #text + 0.5)
    if n_val >= #text then n_val = #text - 1 end
    self.train = all:narrow(1, 1, #text - n_val)
    self.val = all:narrow(1, #text - n_val + 1, n_val)
  end
  return self
end

local function check_load(fn, o)
  if o.delimiter ~= nil and (type(o.delimiter) ~= 'string' or #o.delimiter == 0) then
    U.fail(3, '%s: option delimiter must be a non-empty string, got %s', fn,
      type(o.delimiter) == 'string' and "''" or type(o.delimiter))
  end
  U.num(fn, o, 'val_fraction', 0)
  if o.val_fraction >= 1 then
    U.fail(3, '%s: option val_fraction must be in [0, 1), got %s', fn, tostring(o.val_fraction))
  end
  U.int(fn, o, 'min_count', 1)
  if #o.unk ~= 1 then U.fail(3, '%s: option unk must be a one-byte string, got %q', fn, o.unk) end
  U.seed(fn, o)
end

--- @section end

--- Loads a text file as a corpus: a byte vocabulary (counting every byte
-- of the file), train and validation streams, and with a delimiter the
-- records.
-- @tparam string path
-- @tparam[opt] table opts options
-- @option delimiter (nil) nil: the text is one stream; a string ('\n%\n'
-- for fortune files): it separates records, each a sequence of its own
-- (empty pieces are skipped)
-- @option val_fraction (0.1) the share of the text (stream: the last bytes)
-- or of the records (after the shuffle) kept for validation, in [0, 1)
-- @option shuffle (true) shuffle the records before the split (fortune
-- files are sorted)
-- @option seed (1) the seed of that shuffle (the global generator is left
-- untouched)
-- @option keep_delimiter (false) append the delimiter to each record, so a
-- model learns where records end
-- @option min_count (1) bytes seen fewer times share one unknown symbol,
-- the last index
-- @option unk ('?') how the unknown symbol decodes
-- @treturn Corpus
-- @raise when the file cannot be read or is empty
-- @usage local corpus = rnn.data.text.load('input.txt', {val_fraction = 0.05})
function M.load(path, opts)
  local fn = 'rnn.data.text.load'
  if type(path) ~= 'string' then
    error(string.format('%s: argument 1 (path) must be a string, got %s', fn, type(path)), 2)
  end
  local o = U.resolve(fn, opts, LOAD, {delimiter = 'string'})
  check_load(fn, o)
  local f, err = io.open(path, 'rb')
  if not f then error(string.format('%s: cannot open %s', fn, err), 2) end
  local text = f:read('a')
  f:close()
  return build(fn, text, o, path)
end

--- load() for text in memory.
-- @tparam string text
-- @tparam[opt] table opts the options of load
-- @treturn Corpus
function M.from_string(text, opts)
  local fn = 'rnn.data.text.from_string'
  if type(text) ~= 'string' then
    error(string.format('%s: argument 1 (text) must be a string, got %s', fn, type(text)), 2)
  end
  local o = U.resolve(fn, opts, LOAD, {delimiter = 'string'})
  check_load(fn, o)
  return build(fn, text, o, nil)
end

--- Debian's fortunes as a corpus of records: load(default_corpus_path(
-- opts.name), opts) with the fortune delimiter '\n%\n' unless
-- opts.delimiter is given (false: one stream).
-- @tparam[opt] table opts the options of load, and name (the fortune file,
-- 'fortunes' by default)
-- @treturn Corpus
-- @raise naming the package fortunes-min when the file is missing
function M.default_corpus(opts)
  local fn = 'rnn.data.text.default_corpus'
  if opts ~= nil and type(opts) ~= 'table' then
    error(string.format('%s: options must be a table, got %s', fn, type(opts)), 2)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  local name = o.name
  o.name = nil
  if o.delimiter == nil then o.delimiter = M.FORTUNE_DELIMITER
  elseif o.delimiter == false then o.delimiter = nil end
  local ok, path = pcall(M.default_corpus_path, name)
  if not ok then error((path:gsub('^.-rnn%.data%.text%.default_corpus_path', fn)), 2) end
  local opts2 = U.resolve(fn, o, LOAD, {delimiter = 'string'})
  check_load(fn, opts2)
  local f = assert(io.open(path, 'rb'))
  local text = f:read('a')
  f:close()
  return build(fn, text, opts2, path)
end

-- -------------------------------------------------------------------------
-- Sampling

local function logits_table(fn, logits, level)
  if core.is_tensor(logits) then
    if logits:dtype() == 'int64' then
      error(string.format('%s: the logits must be float32 or float64, got int64', fn), level + 1)
    end
    return logits:reshape(-1):totable()
  elseif type(logits) == 'table' then
    return logits
  end
  error(string.format('%s: the logits must be a tensor or an array of numbers, got %s', fn, type(logits)), level + 1)
end

-- an index drawn from softmax(l / temperature); temperature 0: the first
-- largest. One uniform draw from the generator (none for temperature 0).
local function draw(l, temperature)
  local V = #l
  local best, bi = -math.huge, 1
  for i = 1, V do
    if l[i] > best then best, bi = l[i], i end
  end
  if temperature == 0 or best == math.huge then return bi end
  local cum, total = {}, 0
  for i = 1, V do
    total = total + math.exp((l[i] - best) / temperature)
    cum[i] = total
  end
  local u = core.rand({1}, 'float64'):item() * total
  for i = 1, V do
    if u < cum[i] then return i end
  end
  return bi -- u rounded onto total: unreachable but for rounding
end

--- A 1-based index drawn from softmax(logits / temperature) with one
-- uniform draw from the seeded generator against the cumulative sum;
-- temperature 0 gives the (first) argmax without a draw.
-- @tparam Tensor|table logits a tensor of any shape read flat, or an array
-- of numbers
-- @tparam[opt=1] number temperature >= 0
-- @treturn integer
function M.sample_index(logits, temperature)
  local fn = 'rnn.data.text.sample_index'
  local l = logits_table(fn, logits, 2)
  if #l == 0 then error(string.format('%s: the logits are empty', fn), 2) end
  temperature = temperature or 1
  if type(temperature) ~= 'number' or not (temperature >= 0) or temperature == math.huge then
    error(string.format('%s: argument 2 (temperature) must be a finite number >= 0, got %s', fn,
      tostring(temperature)), 2)
  end
  for i = 1, #l do
    if l[i] ~= l[i] then error(string.format('%s: logit %d is NaN', fn, i), 2) end
  end
  return draw(l, temperature)
end

local SAMPLE = {prime = 'The ', length = 200, temperature = 1.0, seed = NIL, state = NIL, stop = NIL}

local function sample(step_fn, corpus, o, prime_idx)
  local fn = 'rnn.data.text.sample'
  local state = o.state
  local logits
  for i = 1, #prime_idx do
    logits, state = step_fn(core.tensor({prime_idx[i]}, 'int64'), state)
  end
  local out = {o.prime}
  local text_tail = o.prime
  for i = 1, o.length do
    local l = logits_table(fn, logits, 1)
    if #l ~= corpus.vocab_size then
      error(string.format('%s: step_fn returned %d logits for a vocabulary of %d', fn, #l, corpus.vocab_size), 0)
    end
    local k = draw(l, o.temperature)
    local ch = corpus.vocab[k]
    out[#out + 1] = ch
    if o.stop then
      text_tail = (text_tail .. ch):sub(-#o.stop)
      if text_tail == o.stop then break end
    end
    if i < o.length then logits, state = step_fn(core.tensor({k}, 'int64'), state) end
  end
  return table.concat(out), state
end

--- Generates text from any character model, given as a step function
-- step_fn(index, state) -> logits, new_state, where
-- index is an int64 tensor (1) and logits has vocab_size elements (e.g.
-- (1, V)); state is whatever the model carries (nil at the start: the
-- model's own initial state, unless opts.state is given). The prime is fed
-- symbol by symbol, then `length` symbols are drawn: temperature 0 picks the
-- argmax (greedy, no randomness), otherwise softmax(logits / temperature)
-- through sample_index. Runs under no_grad. opts: prime = 'The ' (non-empty,
-- every byte in the vocabulary), length = 200, temperature = 1, seed (draws
-- from this seed, leaving the generator as it was), state, stop (a string:
-- stop once the text ends with it, e.g. the delimiter). Returns the prime
-- followed by the generated text, and the final state.
-- @tparam function step_fn (index, state) -> logits, new_state
-- @tparam Corpus corpus its vocabulary decodes the draws
-- @tparam[opt] table opts options
-- @option prime ('The ') fed first; non-empty, every byte in the vocabulary
-- @option length (200) symbols to generate
-- @option temperature (1.0) 0: greedy
-- @option seed (none) draw from this seed, leaving the generator as it was
-- @option state (nil) the state passed with the first symbol
-- @option stop (none) a string: stop once the text ends with it
-- @treturn string the prime and the generated text
-- @return the final state
-- @usage local function step(idx, state)          -- idx: int64 (1)
--   local out, s = lstm(emb(idx:view(1, 1)), state) -- (1, 1, H)
--   return head(out:view(1, -1)), s                 -- logits (1, V)
-- end
-- print(rnn.data.text.sample(step, corpus, {prime = 'The ', temperature = 0.8}))
function M.sample(step_fn, corpus, opts)
  local fn = 'rnn.data.text.sample'
  if type(step_fn) ~= 'function' and not (type(step_fn) == 'table' and getmetatable(step_fn)
      and getmetatable(step_fn).__call) then
    error(string.format('%s: argument 1 (step_fn) must be a function, got %s', fn, type(step_fn)), 2)
  end
  if getmetatable(corpus) ~= Corpus then
    error(string.format('%s: argument 2 (corpus) must be a corpus from rnn.data.text.load, got %s', fn,
      type(corpus)), 2)
  end
  local o = U.resolve(fn, opts, SAMPLE, {seed = 'number', stop = 'string'})
  if type(o.prime) ~= 'string' or #o.prime == 0 then
    error(string.format('%s: option prime must be a non-empty string', fn), 2)
  end
  U.int(fn, o, 'length', 0)
  U.num(fn, o, 'temperature', 0)
  U.seed(fn, o)
  if o.stop ~= nil and #o.stop == 0 then error(string.format('%s: option stop must not be empty', fn), 2) end
  local prime_idx = indices_of(o.prime, corpus.byte_index, corpus.unk_index, function(b)
    error(string.format('%s: the prime holds %s, which is not in the vocabulary', fn, describe_byte(b)), 4)
  end)
  return U.with_seed(o.seed, core.no_grad, sample, step_fn, corpus, o, prime_idx)
end

return M
