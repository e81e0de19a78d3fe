--- Recurrent neural networks for Lua 5.4: tensors with autograd, fused
-- RNN, LSTM and GRU kernels, optimizers, data sets and an experiment
-- harness, over a C core on BLAS.
--
--     local rnn = require 'rnn'        -- rnnlua preloads it as the global rnn
--     rnn.manual_seed(42)
--     local x = rnn.randn{100, 32, 8}  -- float32 unless a dtype is given
--     local lstm = rnn.nn.LSTM{input_size = 8, hidden_size = 64}
--     local out, state = lstm(x)       -- out (100, 32, 64)
--
-- The module holds the tensor functions (creation, arithmetic, shapes,
-- reductions, autograd, files) and the submodules nn, optim, clip, init,
-- data, experiment, stats, linalg and distributed (loaded on first use).
-- Indices and dimensions are 1-based; negative ones count from the end.
-- Sizes go as a table or as arguments: `rnn.zeros{2, 3}`, `rnn.zeros(2, 3)`.
-- help(x) (rnn.help) shows the documentation of any of them.
-- @module rnn
local core = require 'rnn.core'
local format = require 'rnn.format'

local rnn = {}
for k, v in pairs(core) do rnn[k] = v end

rnn._VERSION = 'rnnlua 0.1.0'

--- The C module itself: the same functions as rnn's (and internal ones
-- whose names start with `_`).
-- @table core
rnn.core = core

core.Tensor.__tostring = format.tensor

rnn.nn = require 'rnn.nn'
rnn.gradcheck = require 'rnn.gradcheck'
rnn.optim = require 'rnn.optim'
rnn.init = require 'rnn.initializers' -- not rnn/init.lua: that file is this package entry
rnn.clip = require 'rnn.clip'
rnn.data = require 'rnn.data'
rnn.experiment = require 'rnn.experiment'
rnn.stats = require 'rnn.stats'

--- Prints the documentation of x and returns it as a string: a function,
-- module, class or method given as a value (`rnn.matmul`, `rnn.nn.LSTM`,
-- `t.narrow` for a tensor t, an object such as a layer), or a name
-- (`'narrow'`, `'nn.LSTM'`, `'rnn.optim.Adam'`). With no argument, how to
-- use it. An unknown name gives the closest documented ones; nothing
-- raises. The text comes from the doc comments of the sources (built into
-- rnn/help_data.lua by make).
-- @function help
-- @param[opt] x the thing or its name
-- @treturn string the text printed
-- @usage help(rnn.nn.LSTM)   help('narrow')   help(rnn.optim)
rnn.help = require('rnn.help').help

-- rnn.distributed loads on first use (the MPI module rnn/mpi.so and libmpi
-- only under a launcher): most processes never need it
setmetatable(rnn, {__index = function(t, k)
  if k == 'distributed' then
    local d = require 'rnn.distributed'
    rawset(t, k, d)
    return d
  end
end})

return rnn
