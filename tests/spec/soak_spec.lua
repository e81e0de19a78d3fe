-- Memory soak: a small training-like graph run 100,000 times must keep the
-- resident set flat. The tape's buffers are released by each backward and
-- the collector is paced by the C memory it cannot see, so without any
-- collectgarbage() in the loop the process stays within the bounds below.
local rnn = require 'rnn'

local function rss_kib()
  local f = assert(io.open('/proc/self/status'))
  local text = f:read('a')
  f:close()
  return tonumber(text:match('VmRSS:%s*(%d+)'))
end

-- Bounds, in KiB: after a 10,000-iteration warm-up, the resident set may
-- not grow by more than GROWTH over the next 90,000 iterations (a leak of 100
-- bytes per iteration would already be 8.8 MiB), and no sample, warm-up
-- included, may exceed the level before the first iteration by more than
-- SWING: garbage waiting for a collector that was not told of C memory
-- (measured: +36 MiB without the pacing, +9 MiB when it reported every
-- 16 MiB, +1 MiB with the proportional pacing in lrl.c, pools included).
-- Under AddressSanitizer (make asan sets RNNLUA_SANITIZED) freed memory sits
-- in quarantine, so the loop runs for leaks and errors but the resident set
-- is not judged.
local GROWTH = 8 * 1024
local SWING = 4 * 1024
local SANITIZED = os.getenv('RNNLUA_SANITIZED') ~= nil

describe('memory soak', function()
  it('100,000 forward/backward iterations keep a flat resident set', function()
    rnn.manual_seed(0)
    local w = rnn.randn({16, 16}):requires_grad(true)
    local b = rnn.zeros({16}):requires_grad(true)
    local x = rnn.randn({4, 16})
    local h0 = rnn.zeros({4, 16})
    local function step()
      local h = (rnn.matmul(x, w) + b + h0):tanh()
      local loss = (h * h):mean()
      loss:backward()
      rnn.no_grad(function()
        w:sub_(w.grad * 1e-3)
        w.grad:zero_()
        b.grad:zero_()
      end)
    end
    collectgarbage()
    local start = rss_kib()
    local peak = start
    for i = 1, 10000 do
      step()
      if i % 1000 == 0 then peak = math.max(peak, rss_kib()) end
    end
    collectgarbage()
    local base = rss_kib()
    for i = 1, SANITIZED and 10000 or 90000 do
      step()
      if i % 5000 == 0 then peak = math.max(peak, rss_kib()) end
    end
    collectgarbage()
    local final = rss_kib()
    if not SANITIZED then
      assert(final - base <= GROWTH,
        string.format('resident set grew by %d KiB (bound %d KiB)', final - base, GROWTH))
      assert(peak - start <= SWING,
        string.format('resident set peaked %d KiB above its start (bound %d KiB)', peak - start, SWING))
    end
    print(string.format('\nsoak: start %d KiB, peak +%d KiB, after warm-up +%d KiB, final +%d KiB',
      start, peak - start, base - start, final - start))
    -- nothing of the graphs is left once they are unreachable
    assert.are.equal(0, rnn._nodes_alive())
  end)
end)
