-- A tensor's memory goes back when the collector finalizes its box, whatever
-- runs at that moment. Under a debug hook (profilers, coverage tools and
-- debuggers use debug.sethook) a collection often starts inside the hook's
-- own machinery, and Lua then names the finalizer's caller "hook" rather
-- than "__gc": the binding took about one such finalizer in ten for a call
-- by hand and never released those tensors.
local rnn = require 'rnn'

local function settle()
  collectgarbage()
  collectgarbage()
  return rnn._tensors_alive()
end

-- recursion (Lua grows the stack inside the hook calls), strings and tables
local function rec(n)
  if n == 0 then return rnn.zeros(2) end
  local t = rnn.ones(2)
  return rec(n - 1) + t
end

local function churn(n)
  for i = 1, n do
    local t = rec(30) + i
    local parts = {}
    for j = 1, 20 do parts[#parts + 1] = tostring(j) end
    t = t * #table.concat(parts)
  end
end

-- what profilers and coverage tools do in their hooks
local hooks = {
  ['an empty'] = function() end,
  ['a debug.getinfo'] = function() local _ = debug.getinfo(2, 'Sl') end,
  ['a string-building'] = function(event, line) local _ = event .. tostring(line) end,
  ['a table-filling'] = function() local t = {} for i = 1, 10 do t[i] = i end end,
}

describe('finalizers', function()
  for _, mask in ipairs{{'count', '', 1}, {'line', 'l'}, {'call and return', 'cr'}, {'call, return and line', 'crl'}} do
    it('release every tensor allocated under a ' .. mask[1] .. ' hook', function()
      local base = settle()
      for _, name in ipairs{'an empty', 'a debug.getinfo', 'a string-building', 'a table-filling'} do
        debug.sethook(hooks[name], mask[2], mask[3])
        local ok, err = pcall(churn, 150)
        debug.sethook()
        assert(ok, err)
        assert.are.equal(base, settle(), 'tensors left after ' .. name .. ' hook')
      end
    end)
  end

  it('release the tensors allocated inside the hook function itself', function()
    local base = settle()
    debug.sethook(function() local _ = rnn.ones(3) * 2 end, '', 7)
    local ok, err = pcall(churn, 150)
    debug.sethook()
    assert(ok, err)
    assert.are.equal(base, settle())
  end)

  it('still ignore __gc called by hand, also from inside a hook', function()
    local t = rnn.full({2}, 3)
    getmetatable(t).__gc(t)
    assert.are.same({3, 3}, t:totable())
    debug.sethook(function() getmetatable(t).__gc(t) end, '', 1)
    local s = t:sum():item()
    debug.sethook()
    assert.are.equal(6, s)
    assert.are.same({3, 3}, t:totable())
  end)
end)
