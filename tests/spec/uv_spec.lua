-- rnn.experiment.uv keeps the first luv module of the state, so clearing
-- package.loaded (as busted's insulation does) cannot hand out a module
-- whose event loop was closed by the collector.
describe('rnn.experiment.uv', function()
  it('spawns after luv was unloaded and collected', function()
    local proc = require 'rnn.experiment.proc'
    assert.are.equal('one\n', proc.run{'echo', 'one'}.out)
    for _ = 1, 2 do
      package.loaded.luv = nil
      package.loaded['rnn.experiment.uv'] = nil
      collectgarbage(); collectgarbage()
      local r = proc.run{'echo', 'two'}
      assert.are.equal(0, r.code)
      assert.are.equal('two\n', r.out)
    end
  end)
end)
