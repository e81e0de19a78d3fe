-- The same LSTM trained on the adding problem under three clipping policies,
-- printing the clip stats of every step.
--   rnnlua experiments/clip_demo.lua [steps]
local rnn = require 'rnn'
local steps = tonumber(arg and arg[1]) or 10

local policies = {
  {'none', rnn.clip.none()},
  {'norm(0.5)', rnn.clip.norm(0.5)},
  {'adaptive p10', rnn.clip.adaptive{percentile = 10}},
}

for _, entry in ipairs(policies) do
  local name, clip = entry[1], entry[2]
  rnn.manual_seed(1)                          -- the same model and data for every policy
  local lstm = rnn.nn.LSTM{input_size = 2, hidden_size = 16}
  local head = rnn.nn.Linear(16, 1)
  local params = lstm:parameters()
  for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
  local opt = rnn.optim.Adam(params, {lr = 1e-2})
  print(('-- %s'):format(name))
  for step = 1, steps do
    local x, y = rnn.data.adding{T = 30, batch = 16}
    local out = lstm(x)
    local loss = rnn.nn.functional.mse(head(out[out:size(1)]), y)
    opt:zero_grad()
    loss:backward()
    local s = clip(params)
    opt:step()
    print(('step %2d  loss %.4f  grad norm %.4f  clipped %-5s  scale %s'):format(
      step, loss:item(), s.norm, tostring(s.clipped), s.scale and ('%.3f'):format(s.scale) or '-'))
  end
end
