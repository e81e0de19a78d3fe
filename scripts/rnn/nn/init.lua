--- rnn.nn: layers and losses.
local nn = {}
nn.functional = require 'rnn.nn.functional'
return nn
