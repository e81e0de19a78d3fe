-- rnn.experiment.uv: lua-luv, loaded once per Lua state and kept for its
-- lifetime. luv closes its event loop when its module table is collected;
-- a later require (after package.loaded.luv was cleared, as busted does
-- between spec files) then returns a module whose loop is gone, and the
-- next spawn crashes inside libuv. Every use of luv in rnn goes through
-- here, so the first module loaded is the one kept, in the registry.
--
--     local uv = require 'rnn.experiment.uv'   -- the luv module table
local KEY = 'rnn.experiment.uv'
local registry = debug.getregistry()
if not registry[KEY] then registry[KEY] = require 'luv' end
return registry[KEY]
