-- A user's own spec, as plain busted runs it: require 'rnn' (no global rnn),
-- train an LSTM and a Linear head for a few Adam steps on one batch of the
-- adding problem. Run by the packaging tests under `busted --lua=lua5.4`
-- against the source tree, an installed prefix and a luarocks tree.
local rnn = require 'rnn'

describe('rnn under plain busted', function()
  it('is the module, not a global left by rnnlua', function()
    assert.are.equal('table', type(rnn))
    assert.is_nil(rawget(_G, 'rnn'))
  end)

  it('trains: one step changes the weights, five lower the loss', function()
    rnn.manual_seed(7)
    local lstm = rnn.nn.LSTM{input_size = 2, hidden_size = 8}
    local head = rnn.nn.Linear(8, 1)
    local params = lstm:parameters()
    for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
    local opt = rnn.optim.Adam(params, {lr = 1e-2})
    local x, y = rnn.randn{10, 4, 2}, rnn.randn{4, 1}
    local function loss()
      local out = lstm(x)
      return rnn.nn.functional.mse(head(out[10]), y)
    end
    local before = params[1]:clone()
    local first
    for step = 1, 5 do
      local l = loss()
      if step == 1 then first = l:item() end
      opt:zero_grad()
      l:backward()
      assert.is_not_nil(params[1].grad, 'backward left no gradient')
      opt:step()
      if step == 1 then
        assert.is_true((params[1] - before):abs():max():item() > 0, 'a step changed no weight')
      end
    end
    local last = loss():item()
    assert.is_true(last < first, ('loss %g after 5 steps, %g before'):format(last, first))
  end)
end)
