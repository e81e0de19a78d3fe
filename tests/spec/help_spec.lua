-- rnn.help: every public name is documented, and help finds and prints the
-- documentation of functions, modules, classes, methods, objects and names.
-- The documentation is the doc comments of the sources, extracted by
-- tools/help_data.lua (make) into rnn/help_data.lua; LDoc (make doc) reads
-- the same comments.
local rnn = require 'rnn'
local help = require 'rnn.help'

-- the interpreter running the specs (./rnnlua or the sanitizer build)
local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or './rnnlua'
end

local function run(cmd)
  local p = assert(io.popen(cmd .. ' 2>&1'))
  local out = p:read('a')
  local ok, _, code = p:close()
  return out, ok, code
end

-- Every public name, walking the module tables from rnn (rnn.distributed,
-- loaded on first use, included): {name, value, kind} with kind 'function',
-- 'table' or 'value'. Tensor methods come from the tensor metatable's
-- method table, as rnn.Tensor:<name>. Names starting with '_' are private.
-- The non-function fields of a class or of a documented table
-- (rnn.optim.Adam.name, rnn.nn.reference.GATES.lstm) are data, not API.
local function public_names()
  local _ = rnn.distributed
  local out, seen = {}, {}
  -- constants are checked in modules, not in classes or documented tables
  local function holds_constants(name)
    local e = help.lookup(name)
    return not e or e.kind == 'module'
  end
  local function walk(t, prefix, sep)
    if seen[t] then return end
    seen[t] = true
    local keys = {}
    for k in next, t do
      if type(k) == 'string' and k:sub(1, 1) ~= '_' then keys[#keys + 1] = k end
    end
    table.sort(keys)
    local constants = holds_constants(prefix)
    for _, k in ipairs(keys) do
      local v = rawget(t, k)
      local name = prefix .. sep .. k
      if t == rnn.Tensor and k == 'methods' then
        walk(v, 'rnn.Tensor', ':')
      elseif type(v) == 'function' then
        out[#out + 1] = {name, v, 'function'}
      elseif type(v) == 'table' then
        out[#out + 1] = {name, v, 'table'}
        walk(v, name, '.')
      elseif constants then
        out[#out + 1] = {name, v, 'value'}
      end
    end
  end
  walk(rnn, 'rnn', '.')
  return out
end

-- the public names without documentation
local function undocumented()
  local missing = {}
  for _, p in ipairs(public_names()) do
    local name, v, kind = p[1], p[2], p[3]
    local e = kind == 'value' and help.lookup(name) or help.lookup(v)
    if not e then missing[#missing + 1] = name end
  end
  return missing
end

describe('the documentation', function()
  it('is built (rnn/help_data.lua)', function()
    assert.is_table(require 'rnn.help_data')
  end)

  it('covers every public function, module, class, method and constant', function()
    local names = public_names()
    assert.is_true(#names > 400, 'public names: ' .. #names)
    local missing = undocumented()
    assert.are.same({}, missing, 'without documentation:\n  ' .. table.concat(missing, '\n  '))
  end)

  it('reports a public function without documentation', function()
    rnn.nn.undocumented_probe = function() end
    local ok, missing = pcall(undocumented)
    rnn.nn.undocumented_probe = nil
    assert.is_true(ok, missing)
    assert.are.same({'rnn.nn.undocumented_probe'}, missing)
  end)

  it('parses cleanly: no doc comment is skipped (tools/help_data.lua --strict)', function()
    local out, ok = run('lua5.4 tools/help_data.lua --strict config.ld > /dev/null')
    assert.is_true(ok, out)
  end)

  it('documents every option of the recurrent layers with its default', function()
    local e = help.lookup(rnn.nn.LSTM)
    local names = {}
    for _, o in ipairs(e.options) do
      names[#names + 1] = o.name
      assert.truthy(o.text:match('^%(.-%)'), o.name .. ': no default: ' .. o.text)
    end
    table.sort(names)
    assert.are.same({'batch_first', 'bias', 'bidirectional', 'bptt_clip', 'bptt_clip_mode', 'dropout', 'dtype',
                     'h0', 'h0_std', 'hidden_size', 'input_size', 'num_layers'}, names)
  end)
end)

describe('rnn.help', function()
  it('prints a class with its options and defaults, and returns the text', function()
    local text = help.text(rnn.nn.LSTM)
    assert.truthy(text:find('rnn.nn.LSTM', 1, true), text)
    assert.truthy(text:find('Options:', 1, true), text)
    assert.truthy(text:find("h0%s+%('zero'%)"), text)
    assert.truthy(text:find('num_layers%s+%(1%)'), text)
    assert.truthy(text:find('forward', 1, true), text)
    assert.truthy(text:find('Inherited from rnn.nn.Module', 1, true), text)
    local out, ok = run(interpreter() ..
      [[ -e "local rnn = require('rnn'); local t = rnn.help(rnn.nn.LSTM); io.write('<<', t, '>>')"]])
    assert.is_true(ok, out)
    -- printed, then returned: the same text twice
    assert.are.equal(text .. '\n<<' .. text .. '>>', out)
  end)

  it('gives the shapes of rnn.matmul', function()
    local text = help.text(rnn.matmul)
    assert.truthy(text:find('rnn.Tensor:matmul', 1, true), text)
    assert.truthy(text:find('(..., n, k)', 1, true), text)
    assert.truthy(text:find('rnn.matmul', 1, true), text)
  end)

  it('finds a tensor method by value and by name', function()
    local t = rnn.zeros(2, 3)
    local by_value = help.text(t.narrow)
    assert.truthy(by_value:find('^rnn.Tensor:narrow%(dim, start, length%)'), by_value)
    assert.are.equal(by_value, help.text('narrow'))
    assert.are.equal(by_value, help.text('Tensor:narrow'))
    assert.are.equal(by_value, help.text('t:narrow'))
    assert.are.equal(by_value, help.text(rnn.narrow))
  end)

  it('finds a method inherited from a base class', function()
    local lstm = rnn.nn.LSTM(2, 3)
    local text = help.text(lstm.parameters)
    assert.truthy(text:find('^rnn.nn.Module:parameters%(%)'), text)
  end)

  it('lists a module with one line per member', function()
    local text = help.text(rnn.optim)
    for _, name in ipairs{'Adam', 'SGD', 'AdamW', 'RMSprop', 'Adagrad', 'schedule', 'is_optimizer', 'Optimizer'} do
      assert.truthy(text:find('\n  ' .. name .. ' ', 1, true), name .. ' missing from\n' .. text)
    end
    assert.falsy(text:find('(no documentation)', 1, true), text)
    local all = help.text(rnn)
    for _, name in ipairs{'nn', 'optim', 'zeros', 'matmul', 'help', 'Tensor'} do
      assert.truthy(all:find('\n  ' .. name .. ' ', 1, true), name .. ' missing from help(rnn)')
    end
  end)

  it('shows the class of an object', function()
    local text = help.text(rnn.randn(2))
    assert.truthy(text:find('^An instance of rnn.Tensor'), text)
    local opt = rnn.optim.SGD({rnn.zeros(1):requires_grad(true)}, {lr = 0.1})
    assert.truthy(help.text(opt):find('^An instance of rnn.optim.Optimizer'), help.text(opt))
    assert.truthy(help.text(rnn.nn.Linear(2, 3)):find('^An instance of rnn.nn.Linear'))
    assert.truthy(help.text(rnn.clip.norm(1)):find('^An instance of rnn.clip.Policy'))
    local Net = rnn.nn.Module:extend('Net')
    assert.truthy(help.text(Net):find('derived from rnn.nn.Module', 1, true), help.text(Net))
  end)

  it('explains itself without an argument', function()
    local text = help.text()
    assert.truthy(text:find("help('narrow')", 1, true), text)
  end)

  it('suggests the closest names for an unknown one, without raising', function()
    local text = help.text('narow')
    assert.truthy(text:find("no documentation for 'narow'", 1, true), text)
    assert.truthy(text:find('rnn.Tensor:narrow', 1, true), text)
    assert.truthy(help.text('LTSM'):find('rnn.nn.LSTM', 1, true), help.text('LTSM'))
    assert.truthy(help.text(nil):find('got nil', 1, true))
    assert.truthy(help.text(42):find('no documentation for a number', 1, true))
    assert.truthy(help.text(print):find('not part of rnn', 1, true))
  end)

  it('lists the candidates of an ambiguous name', function()
    local text = help.text('mean')
    assert.truthy(text:find('rnn.Tensor:mean', 1, true), text)
    assert.truthy(text:find('rnn.stats.mean', 1, true), text)
  end)

  it('works from plain lua5.4', function()
    local out, ok = run([[lua5.4 -e "local rnn = require 'rnn'; io.write(rnn.help('zeros'))" ]])
    assert.is_true(ok, out)
    assert.truthy(out:find('rnn.zeros', 1, true), out)
  end)
end)

describe('make doc', function()
  local have_ldoc = os.execute('command -v ldoc > /dev/null 2>&1')
  local it_ldoc = have_ldoc and it or pending

  local function read(path)
    local f = io.open(path)
    if not f then return nil end
    local text = f:read('a')
    f:close()
    return text
  end

  it_ldoc('writes the HTML reference from the same comments, without a warning', function()
    local dir = assert(io.popen('mktemp -d "${TMPDIR:-/tmp}/rnnlua-doc.XXXXXX"')):read('l')
    local out, ok = run('ldoc -c config.ld -d ' .. dir .. ' .')
    local index = read(dir .. '/index.html')
    local nn = read(dir .. '/modules/rnn.nn.html') or ''
    local optim = read(dir .. '/modules/rnn.optim.html') or ''
    local tensor = read(dir .. '/modules/rnn.html') or ''
    local pages = {}
    for f in assert(io.popen('ls "' .. dir .. '/modules"')):lines() do
      pages[f:gsub('%.html$', '')] = read(dir .. '/modules/' .. f)
    end
    os.execute('rm -rf "' .. dir .. '"')
    assert.is_true(ok, out)
    assert.truthy(index, out)
    -- what LDoc prints besides its progress is a warning about a comment
    local warnings = {}
    for line in out:gmatch('[^\n]+') do
      if not (line:match('^reading configuration') or line:match('^found master module')
              or line:match('^%*%*%*closing section') or line:match('^output written')) then
        warnings[#warnings + 1] = line
      end
    end
    assert.are.same({}, warnings)
    for _, name in ipairs{'Class LSTM', 'LSTM:forward', 'Class GRU', 'Class Sigmoid', 'Module:parameters'} do
      assert.truthy(nn:find(name, 1, true), 'rnn.nn.html lacks ' .. name)
    end
    for _, name in ipairs{'SGD', 'Optimizer:step', 'AdamW'} do
      assert.truthy(optim:find(name, 1, true), 'rnn.optim.html lacks ' .. name)
    end
    assert.truthy(tensor:find('Tensor:narrow', 1, true), 'rnn.html lacks Tensor:narrow')
    -- every documented function and method is in its module's page under
    -- its own name: a module function not filed under a class (LDoc puts
    -- what follows a @type there until `--- @section end`), a method as
    -- Class:name, none dropped (LDoc skips a comment whose first line has
    -- `--` in it)
    local misfiled = {}
    for name, e in pairs(require 'rnn.help_data') do
      if (e.kind == 'function' or e.kind == 'method') and not e.alias_of then
        local page
        for m in pairs(pages) do
          if name:sub(1, #m + 1) == m .. '.' and (not page or #m > #page) then page = m end
        end
        local rest = name:sub(#page + 2)
        if e.kind == 'method' then rest = rest:gsub('%.([^.]+)$', ':%1') end
        if not pages[page]:find('name = "' .. rest .. '"', 1, true) then
          misfiled[#misfiled + 1] = name .. ' (not ' .. page .. '.html#' .. rest .. ')'
        end
      end
    end
    table.sort(misfiled)
    assert.are.same({}, misfiled)
  end)
end)
