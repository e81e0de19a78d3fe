-- The collector's pace (bindings/lrl.c, rlua_gc_account) is set by the
-- tensor memory a collection could free. The recurrent kernels' kept
-- buffers (spares and packed weights, core/rnn_workspace.h) are not such
-- memory: counted in, the buffers a big layer left there let the garbage of
-- a small loop run afterwards pile up to a third of them before each
-- collection, onto fresh pages and out of the caches (a config-C RNN step
-- after a config-B LSTM: bench/recurrent.lua after_b).
local rnn = require 'rnn'

describe('collector pace', function()
  it('is not slackened by the buffers a big recurrent layer left kept', function()
    rnn.manual_seed(0)
    local lstm = rnn.nn.LSTM{input_size = 64, hidden_size = 512}
    local x = rnn.randn({20, 32, 64})
    for _ = 1, 2 do lstm(x):sum():backward() end
    lstm, x = nil, nil -- luacheck: ignore
    collectgarbage()
    -- about 20 MB stay kept (none under AddressSanitizer, which keeps no
    -- spares: the loop below then checks the plain pace alone)
    local live0 = rnn._memory_stats().live
    local v = rnn.randn({32768}, 'float64') -- 256 KiB of garbage an iteration
    local pile = 0
    for _ = 1, 200 do
      local _ = (v * 2):sum()
      pile = math.max(pile, rnn._memory_stats().live - live0)
    end
    -- a collection every 512 KiB allocated (the floor of the pace) leaves
    -- under 1 MiB; counting the kept buffers let 10 MiB pile up
    assert.is_true(pile < 2 * 2 ^ 20, string.format('%.1f MiB of garbage piled up (kept: %.1f MiB)',
      pile / 2 ^ 20, live0 / 2 ^ 20))
  end)
end)
