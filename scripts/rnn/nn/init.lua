--- Layers (modules) and losses, with PyTorch's equations, parameter names,
-- layouts and initialisation, so weights and state dicts move between the
-- two unchanged.
--
--     local lstm = rnn.nn.LSTM{input_size = 8, hidden_size = 64}
--     local head = rnn.nn.Linear(64, 1)
--     local out = lstm(x)                        -- x (T, B, 8): out (T, B, 64)
--     local loss = rnn.nn.functional.mse(head(out[out:size(1)]), y)
--
-- Module is the base class (user modules: `rnn.nn.Module:extend('Name')`);
-- layers: Linear, Embedding, Dropout, Identity, ReLU, Tanh, Sigmoid,
-- Sequential; recurrent layers RNN, LSTM, GRU and the cells RNNCell,
-- LSTMCell, GRUCell; functional (losses and stateless functions);
-- reference (the recurrent equations in plain Lua).
-- @module rnn.nn
local nn = {}
nn.functional = require 'rnn.nn.functional'
nn.Module = require 'rnn.nn.module'

--- Whether x is a module (an instance of rnn.nn.Module or of a class
-- derived from it); false for classes and other values.
-- @function is_module
-- @param x any value
-- @treturn boolean
nn.is_module = nn.Module.is_module
nn.Sequential = require 'rnn.nn.container'
nn.reference = require 'rnn.nn.reference'
for _, file in ipairs{'rnn.nn.basic', 'rnn.nn.cells', 'rnn.nn.recurrent'} do
  for k, v in pairs(require(file)) do nn[k] = v end
end
return nn
