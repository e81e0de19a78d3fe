--- rnn.nn: modules (layers) and losses.
--   Module (the base class; user modules: rnn.nn.Module:extend('Name')),
--   Linear, Embedding, Dropout, Identity, ReLU, Tanh, Sigmoid, Sequential,
--   RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU; functional (losses and
--   stateless functions); reference (the recurrent equations in pure Lua);
--   detach_state (for truncated BPTT); is_module.
local nn = {}
nn.functional = require 'rnn.nn.functional'
nn.Module = require 'rnn.nn.module'
nn.is_module = nn.Module.is_module
nn.Sequential = require 'rnn.nn.container'
nn.reference = require 'rnn.nn.reference'
for _, file in ipairs{'rnn.nn.basic', 'rnn.nn.cells', 'rnn.nn.recurrent'} do
  for k, v in pairs(require(file)) do nn[k] = v end
end
return nn
