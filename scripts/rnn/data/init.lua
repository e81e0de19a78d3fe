--- Seeded data sets for recurrent-network research.
--
--     local rnn = require 'rnn'
--     local x, y = rnn.data.adding{T = 200, batch = 64}      -- x (200,64,2), y (64,1)
--     local x, y = rnn.data.copy{T = 100}                    -- int64 (120,32) each
--     local x, y = rnn.data.temporal_order{T = 100}          -- x (100,32,6), y (32)
--     local x, y = rnn.data.mackey_glass{T = 1000, batch = 1}
--     local corpus = rnn.data.text.default_corpus()          -- fortunes, as records
--
-- Conventions, shared by every generator:
-- * options are one table, with defaults; unknown options and wrong types
--   raise an error naming rnn.data.<fn> and the option;
-- * tensors are seq-first, (T, B, ...), unless batch_first = true; values
--   are float32 unless dtype = 'float64'; classes and symbols are 1-based
--   int64 indices;
-- * all randomness comes from the one seeded generator (rnn.manual_seed), in
--   a documented order of draws. With `seed = n` a generator seeds it with n,
--   draws, and restores the generator's previous state: the result depends
--   on n alone, whatever ran before, and the caller's stream is untouched.
-- * each returns x, y and a table of details (marker positions, classes, ...).
-- @tfield number adding_baseline_mse 1/6: the adding problem's MSE of always
-- predicting 1, the mean of the target (the sum of two U(0,1) numbers, of
-- variance 2 · 1/12). A model must beat it to have learned anything.
-- @tfield table temporal_order_symbols the names of temporal_order's one-hot
-- channels: {'A', 'B', 'a', 'b', 'c', 'd'}
-- @tfield table temporal_order_classes the names of temporal_order's classes:
-- {'AA', 'AB', 'BA', 'BB'}
-- @module rnn.data
local tasks = require 'rnn.data.tasks'
local series = require 'rnn.data.series'

local M = {}

M.one_hot = tasks.one_hot
M.adding = tasks.adding
M.adding_baseline_mse = tasks.adding_baseline_mse
M.copy = tasks.copy
M.copy_baseline = tasks.copy_baseline
M.temporal_order = tasks.temporal_order
M.temporal_order_symbols = tasks.temporal_order_symbols
M.temporal_order_classes = tasks.temporal_order_classes

M.sine_mixture = series.sine_mixture
M.mackey_glass = series.mackey_glass
M.narma10 = series.narma10

M.text = require 'rnn.data.text'

return M
