-- The pooled allocator that `require 'rnn'` installs into the Lua state
-- (bindings/lalloc.c): Lua's own objects (strings, tables growing and
-- shrinking across the pool's 256-byte limit, closures, userdata) must keep
-- their contents through allocation, reuse and collection.
local rnn = require 'rnn'

describe('pooled Lua allocator', function()
  it('is installed and serves the state', function()
    local keep = {}
    for i = 1, 1000 do keep[i] = {i} end
    assert.is_true(rnn._lua_pool_chunks() >= 1)
  end)

  it('keeps strings, tables and closures intact through growth, shrinking and collection', function()
    local seed = 12345
    local function rand(n) -- a small LCG: the test does not depend on math.random
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    local strings, tables, closures = {}, {}, {}
    for round = 1, 20 do
      for i = 1, 300 do
        local len = rand(600)
        strings[rand(400)] = string.rep(string.char(65 + len % 26), len) .. len
        local n = rand(80) -- array parts from 16 bytes to past the pool's limit
        local t = {}
        for k = 1, n do t[k] = k * round end
        t.n, t.round = n, round
        tables[rand(400)] = t
        local captured = rand(1000)
        closures[rand(200)] = function() return captured, round end
      end
      -- shrink some tables: drop most of the array part, then force a rehash
      for _, t in pairs(tables) do
        if t.n > 40 and rand(2) == 1 then
          for k = 9, t.n do t[k] = nil end
          t.n = 8
          for k = 1, 20 do t['key' .. k] = k end
          for k = 1, 20 do t['key' .. k] = nil end
        end
      end
      collectgarbage()
    end
    for _, s in pairs(strings) do
      local len = tonumber(s:match('(%d+)$'))
      assert.equal(string.rep(string.char(65 + len % 26), len) .. len, s)
    end
    for _, t in pairs(tables) do
      for k = 1, t.n do assert.equal(k * t.round, t[k]) end
      assert.is_nil(t[t.n + 1])
    end
    for _, f in pairs(closures) do
      local c, r = f()
      assert.is_true(c >= 1 and c <= 1000 and r >= 1 and r <= 20)
    end
  end)

  it('keeps tensors and their boxes intact through many collections', function()
    local sum = 0
    local kept = {}
    for i = 1, 20000 do
      local t = rnn.tensor{i}
      if i % 100 == 0 then kept[#kept + 1] = t end
      sum = sum + t:item()
    end
    collectgarbage()
    assert.equal(20000 * 20001 / 2, sum)
    for k, t in ipairs(kept) do assert.equal(k * 100, t:item()) end
  end)
end)
