--- rnn: recurrent neural networks for Lua 5.4.
-- The C core (tensors, BLAS, random numbers) is `rnn.core`; this file adds
-- the parts written in Lua and returns the module table.
local core = require 'rnn.core'
local format = require 'rnn.format'

local rnn = {}
for k, v in pairs(core) do rnn[k] = v end

rnn._VERSION = 'rnnlua 0.1.0'
rnn.core = core -- the C module itself (internal functions such as core._recurrent)

core.Tensor.__tostring = format.tensor

rnn.nn = require 'rnn.nn'
rnn.gradcheck = require 'rnn.gradcheck'
rnn.optim = require 'rnn.optim'
rnn.init = require 'rnn.initializers' -- not rnn/init.lua: that file is this package entry
rnn.clip = require 'rnn.clip'
rnn.data = require 'rnn.data'
rnn.experiment = require 'rnn.experiment'
rnn.stats = require 'rnn.stats'
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
