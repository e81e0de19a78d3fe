-- make tsan's training script (tests/tsan.sh): a few steps at 2 threads of
-- what the threaded kernels run: recurrent layers (LSTM, GRU, RNN) forward
-- and backward, elementwise ops and reductions on tensors past the sizes
-- where they split over threads, and optimizer updates (Adam, SGD). Sizes
-- stay small: ThreadSanitizer makes everything 5-15 times slower.
local rnn = require 'rnn'
rnn.set_num_threads(2)
assert(rnn.get_num_threads() == 2, 'the pool did not take 2 threads')
rnn.manual_seed(0)

local T, B, I, H = 10, 16, 32, 128
local layers = {
  rnn.nn.LSTM{input_size = I, hidden_size = H},
  rnn.nn.GRU{input_size = I, hidden_size = H},
  rnn.nn.RNN{input_size = I, hidden_size = H},
}
local x = rnn.randn({T, B, I})
for _, layer in ipairs(layers) do
  local opt = rnn.optim.Adam(layer, {lr = 1e-3})
  for _ = 1, 2 do
    opt:zero_grad()
    local out = layer(x)
    local loss = (out * out):mean()
    loss:backward()
    opt:step()
  end
end

-- elementwise chain and reductions on 1M elements, with gradients
local v = rnn.randn({1024, 1024}):requires_grad(true)
local w = rnn.randn({1024, 1024})
local opt = rnn.optim.SGD({v}, {lr = 0.1, momentum = 0.9})
for _ = 1, 2 do
  opt:zero_grad()
  local z = (v:sigmoid() * w):tanh() + v:exp() * 0.5 - v:relu()
  local loss = z:sum() + z:mean(1):sum() + (z * z):sum(2):max()
  loss:backward()
  opt:step()
end
local g = v.grad:sum():item()
assert(g == g and math.abs(g) < math.huge, 'gradients are not finite')
print('tsan_train: done')
