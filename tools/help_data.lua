-- Extracts the doc comments of rnnlua's sources into a Lua table, the data
-- of rnn.help. Run at build time (the Makefile's rule for
-- scripts/rnn/help_data.lua):
--
--     lua5.4 tools/help_data.lua config.ld > scripts/rnn/help_data.lua
--
-- The files are those of config.ld (LDoc's configuration: `make doc` reads
-- the same comments), so help and the HTML reference cannot disagree.
--
-- The comments are LDoc's. A doc comment starts with `---` in Lua (then
-- `--` lines) or `/***` in C (to `*/`). Its text before the first tag is the
-- description, whose first sentence is the summary. Tags:
--   @module NAME / @submodule NAME   the file's module (its first comment)
--   @type NAME                        a class of the module; the local that
--                                     the next line assigns (`local cls =`)
--                                     then names it in `function cls:m()`
--   @function NAME / @table NAME      an explicit name, relative to the
--                                     module: `zeros`, `Tensor:narrow`
--   @param NAME text, @tparam[opt=default] TYPE NAME text
--   @return text, @treturn TYPE text, @raise text, @usage text, @see NAME
--   @field NAME text, @tfield TYPE NAME text
--                                     a documented value (constant) of the
--                                     module or class
--   @alias NAME (in the module's comment: the local name of the module
--   table, for LDoc; names here drop any table prefix anyway)
--   @section end (closes a @type in LDoc's reference; nothing here)
-- and rnnlua's own (config.ld declares them for LDoc):
--   @option NAME (default) text       an option of an options table
--   @call text                        a way of calling it, when the
--                                     arguments alone do not show it
--   @also NAME ...                    other names this comment documents
--                                     (`Tensor:tanh_`, `LSTM:forward`)
-- Without @function/@table/@type/@module the name comes from the next line:
-- `function M.name(args)`, `function Class:name(args)`, `M.name = ...`.
-- A comment before `local function` or `local x =` documents nothing public
-- and is skipped. Anything else (an unknown tag, a comment that names
-- nothing, a name documented twice) is reported as file:line: a warning
-- that leaves the comment out, so a doc comment never breaks the build;
-- with --strict (tests/spec/help_spec.lua) any of them is an error.
--
--     lua5.4 tools/help_data.lua [--strict] config.ld > help_data.lua

local problems = {}
local function warn(file, line, fmt, ...)
  local msg = string.format('%s:%d: ' .. fmt, file, line, ...)
  problems[#problems + 1] = msg
  io.stderr:write('help_data: ', msg, '\n')
end
-- a problem that makes the current comment useless: warn and skip it
local Skip = {}
local function fail(file, line, fmt, ...)
  warn(file, line, fmt, ...)
  error(Skip, 0)
end

local TAGS = {
  module = true, submodule = true, type = true, ['function'] = true, table = true,
  param = true, tparam = true, ['return'] = true, treturn = true, raise = true, usage = true,
  see = true, field = true, tfield = true, option = true, call = true, also = true,
  alias = true, section = true,
}

local NAMING = {module = true, submodule = true, type = true, ['function'] = true, table = true}

-- ------------------------------------------------------------------ reading

-- The doc comments of a file: array of {line = n, lines = {...}, code = the
-- next line of code (or nil)}.
local function lua_comments(text)
  local lines = {}
  for l in (text .. '\n'):gmatch('([^\n]*)\n') do lines[#lines + 1] = l end
  local out = {}
  local i = 1
  while i <= #lines do
    local first = lines[i]:match('^%s*%-%-%-(.*)$')
    if first and not first:match('^%-') then
      local c = {line = i, lines = {(first:gsub('^ ', ''))}}
      i = i + 1
      while i <= #lines do
        local l = lines[i]
        local rest = l:match('^%s*%-%-(.*)$')
        if not rest or l:match("^%s*%-%-%-") then break end
        c.lines[#c.lines + 1] = (rest:gsub('^ ', ''))
        i = i + 1
      end
      if lines[i] and lines[i]:match('%S') and not lines[i]:match('^%s*%-%-') then c.code = lines[i] end
      out[#out + 1] = c
    else
      i = i + 1
    end
  end
  return out
end

local function c_comments(text)
  local out = {}
  local pos = 1
  while true do
    local s, e = text:find('/%*%*%*', pos)
    if not s then break end
    if text:sub(e + 1, e + 1) == '*' then
      pos = e + 1
    else
      local close = text:find('*/', e + 1, true)
      if not close then break end
      local body = text:sub(e + 1, close - 1)
      local _, nl = text:sub(1, s):gsub('\n', '')
      local c = {line = nl + 1, lines = {}}
      for l in (body .. '\n'):gmatch('([^\n]*)\n') do c.lines[#c.lines + 1] = l end
      -- common indentation of the lines after the first
      local indent
      for k = 2, #c.lines do
        local lead = c.lines[k]:match('^(%s*)%S')
        if lead and (not indent or #lead < #indent) then indent = lead end
      end
      for k = 1, #c.lines do
        local l = c.lines[k]
        if k == 1 then l = l:gsub('^%s+', '') elseif indent then l = l:sub(#indent + 1) end
        c.lines[k] = l:gsub('%s+$', '')
      end
      while c.lines[1] == '' do table.remove(c.lines, 1) end
      while c.lines[#c.lines] == '' do table.remove(c.lines) end
      out[#out + 1] = c
      pos = close + 2
    end
  end
  return out
end

-- ------------------------------------------------------------------ parsing

local function trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end

-- description text and tags {name, modifier, value} of a comment
local function split_tags(c, file)
  local desc, tags = {}, {}
  local cur
  for k, l in ipairs(c.lines) do
    local name, mod, rest = l:match('^%s*@([%w_]+)(%b[])(.*)$')
    if not name then name, rest = l:match('^%s*@([%w_]+)(.*)$') end
    if name then
      if not TAGS[name] then fail(file, c.line + k - 1, "unknown tag @%s", name) end
      cur = {name = name, mod = mod and mod:sub(2, -2), value = {trim(rest)}, line = c.line + k - 1}
      tags[#tags + 1] = cur
      -- a name takes one line: the text after it is description (LDoc
      -- reads `--- @module rnn.x` then the module's text the same way)
      if NAMING[name] then cur = nil end
    elseif cur then
      cur.value[#cur.value + 1] = l
    else
      desc[#desc + 1] = l
    end
  end
  while desc[#desc] and not desc[#desc]:match('%S') do desc[#desc] = nil end
  while desc[1] and not desc[1]:match('%S') do table.remove(desc, 1) end
  for _, t in ipairs(tags) do
    while #t.value > 1 and not t.value[#t.value]:match('%S') do t.value[#t.value] = nil end
  end
  return table.concat(desc, '\n'), tags
end

-- one line of a tag's value (continuation lines joined with spaces)
local function flat(t)
  local parts = {}
  for _, v in ipairs(t.value) do if v:match('%S') then parts[#parts + 1] = trim(v) end end
  return table.concat(parts, ' ')
end

-- LDoc's summary: the first sentence of the first paragraph
local function summary_of(desc)
  local para = desc:match('^(.-)\n%s*\n') or desc
  para = trim(para:gsub('%s*\n%s*', ' '))
  local s = para:match('^(.-[%.%?!])%s') or para
  return s
end

-- the [opt] or [opt=value] of a parameter
local function optional(mod)
  if not mod then return false end
  local default = mod:match('^opt=(.*)$')
  if default then return true, default end
  if mod == 'opt' then return true end
  return false
end

local function parse_param(t, typed)
  local text = flat(t)
  local ty, name, rest
  if typed then
    ty, name, rest = text:match('^(%S+)%s+(%S+)%s*(.*)$')
    if not ty then fail(t.file, t.line, '@tparam needs a type and a name') end
  else
    name, rest = text:match('^(%S+)%s*(.*)$')
    if not name then fail(t.file, t.line, '@param needs a name') end
  end
  local opt, default = optional(t.mod)
  return {name = name, type = ty, opt = opt or nil, default = default, text = rest}
end

-- "function A.b:c(x, y)" -> "A.b:c", "x, y"
local function code_name(code)
  local name, args = code:match('^%s*function%s+([%w_%.:]+)%s*%(([^)]*)%)')
  if name then return name, args, 'function' end
  if code:match('^%s*local%s') then return nil, nil, 'local' end
  name, args = code:match('^%s*([%w_%.]+)%s*=%s*function%s*%(([^)]*)%)')
  if name then return name, args, 'function' end
  name = code:match('^%s*([%w_%.]+)%s*=')
  if name then return name, nil, 'value' end
  return nil
end

-- ------------------------------------------------------------------ the table

local entries = {}
local sources = {}

local function add(file, line, e)
  local key = e.name:gsub(':', '.')
  if entries[key] then
    warn(file, line, '%s is documented twice (also at %s); the first is kept', e.name, sources[key])
    return
  end
  e.file = file
  entries[key] = e
  sources[key] = file .. ':' .. line
end

local function qualify(module, name)
  return module .. '.' .. name
end

-- the module a file is when its first comment does not say:
-- scripts/rnn/data/init.lua -> rnn.data, bindings/x.c -> rnn (LDoc would
-- name it after the file)
local function module_of_path(file)
  if file:match('%.c$') then return 'rnn' end
  local m = file:gsub('^scripts/', ''):gsub('/init%.lua$', ''):gsub('%.lua$', ''):gsub('/', '.')
  return m
end

local process_comment

local function process(file, comments)
  local state = {module = nil, types = {}}
  for ci, c in ipairs(comments) do
    local ok, err = pcall(process_comment, file, ci, c, state)
    if not ok and err ~= Skip then error(err, 0) end
  end
end

function process_comment(file, ci, c, state)
  local types = state.types -- local name -> class name
  do
    local desc, tags = split_tags(c, file)
    local by = {}
    for _, t in ipairs(tags) do
      t.file = file
      by[t.name] = by[t.name] or {}
      table.insert(by[t.name], t)
    end
    local function one(name)
      local list = by[name]
      if list and #list > 1 then fail(file, list[2].line, 'more than one @%s', name) end
      return list and flat(list[1])
    end
    local mod = one('module') or one('submodule')
    if ci == 1 and not mod then
      -- as LDoc: the first comment is the module's, named after the file
      mod = module_of_path(file)
      by.module = {{value = {mod}}}
      warn(file, c.line, 'the first doc comment must name the @module (taken as %s)', mod)
    end
    local module = state.module
    local e = {summary = summary_of(desc), text = desc, line = c.line}
    if mod then
      module = mod
      state.module = mod
      if by.module and desc ~= '' then
        e.name, e.kind = mod, 'module'
      end
    elseif by.section then
      -- a section of the HTML reference (`--- @section end` closes a
      -- @type there): nothing to look up
      e = nil
    elseif by.type then
      local cls = one('type')
      e.name, e.kind = qualify(module, cls), 'class'
      if c.code then
        local var = c.code:match('^%s*local%s+([%w_]+)%s*=') or c.code:match('^%s*([%w_]+)%s*=')
        if var then types[var] = cls end
      end
      types[cls] = cls
      if desc == '' then e.name = nil end -- a marker: later methods belong here
    elseif by['function'] or by.table then
      e.kind = by['function'] and 'function' or 'table'
      e.name = qualify(module, one('function') or one('table'))
      local _, args, what = code_name(c.code or '')
      if what == 'function' then e.args = args end
    else
      local name, args, what = code_name(c.code or '')
      if what == 'local' then
        e = nil
      elseif not name then
        fail(file, c.line, 'this doc comment names nothing: add @function NAME (or @table, @type)')
      else
        local head, sep, rest = name:match('^([%w_]+)([%.:]?)(.*)$')
        if types[head] then
          name = types[head] .. sep .. rest
        elseif sep == ':' then
          -- as LDoc: Class:method of a class named like its local
          name = head .. sep .. rest
        elseif sep == '' then
          fail(file, c.line, "'%s' is not a field of the module table", name)
        else
          name = rest
        end
        e.name = qualify(module, name)
        e.kind = what == 'function' and 'function' or 'field'
        e.args = args
      end
    end
    if e and e.name then
      if e.kind == 'function' and e.name:find(':') then e.kind = 'method' end
      e.params, e.returns, e.raises, e.usage, e.options, e.calls, e.see, e.fields = {}, {}, {}, {}, {}, {}, {}, {}
      for _, t in ipairs(tags) do
        local n = t.name
        if n == 'param' or n == 'tparam' then
          e.params[#e.params + 1] = parse_param(t, n == 'tparam')
        elseif n == 'return' then
          e.returns[#e.returns + 1] = {text = flat(t)}
        elseif n == 'treturn' then
          local ty, rest = flat(t):match('^(%S+)%s*(.*)$')
          e.returns[#e.returns + 1] = {type = ty, text = rest}
        elseif n == 'raise' then
          e.raises[#e.raises + 1] = flat(t)
        elseif n == 'usage' then
          e.usage[#e.usage + 1] = table.concat(t.value, '\n')
        elseif n == 'option' then
          local name, rest = flat(t):match('^(%S+)%s*(.*)$')
          e.options[#e.options + 1] = {name = name, text = rest}
        elseif n == 'call' then
          e.calls[#e.calls + 1] = table.concat(t.value, '\n')
        elseif n == 'see' then
          e.see[#e.see + 1] = flat(t)
        elseif n == 'field' or n == 'tfield' then
          local p = parse_param(t, n == 'tfield')
          e.fields[#e.fields + 1] = p
          add(file, t.line, {name = e.name .. '.' .. p.name, kind = 'field', summary = summary_of(p.text),
                             text = p.text, type = p.type, line = t.line, field_of = e.name})
        end
      end
      add(file, c.line, e)
      for _, t in ipairs(by.also or {}) do
        for alias in flat(t):gmatch('[^%s,]+') do
          local a = qualify(module, alias)
          add(file, t.line, {name = a, kind = a:find(':') and 'method' or e.kind, alias_of = e.name,
                             line = t.line, summary = e.summary})
        end
      end
    elseif e and by.also then
      fail(file, c.line, '@also on a comment that documents nothing')
    end
  end
end

-- ------------------------------------------------------------------ output

local function serialize(v, indent)
  local t = type(v)
  if t == 'string' then return (string.format('%q', v):gsub('\\\n', '\\n')) end
  if t == 'number' or t == 'boolean' then return tostring(v) end
  assert(t == 'table')
  if next(v) == nil then return '{}' end
  local inner = indent .. '  '
  local parts = {}
  if #v > 0 then
    for _, x in ipairs(v) do parts[#parts + 1] = inner .. serialize(x, inner) end
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local key = k:match('^[%a_][%w_]*$') and k or ('[' .. string.format('%q', k) .. ']')
      parts[#parts + 1] = inner .. key .. ' = ' .. serialize(v[k], inner)
    end
  end
  return '{\n' .. table.concat(parts, ',\n') .. ',\n' .. indent .. '}'
end

local function strip_empty(e)
  for k, v in pairs(e) do
    if type(v) == 'table' and next(v) == nil then e[k] = nil end
    if v == '' then e[k] = nil end
  end
  return e
end

local strict = arg[1] == '--strict'
local config_path = arg[strict and 2 or 1] or 'config.ld'
local env = {}
local chunk = assert(loadfile(config_path, 't', env))
chunk()
local root = config_path:match('^(.*)/[^/]*$') or '.'
for _, f in ipairs(env.file or {}) do
  local path = root .. '/' .. f
  local fh = io.open(path, 'rb')
  if not fh then
    io.stderr:write(string.format('help_data: %s: cannot read %s\n', config_path, path))
    os.exit(1)
  end
  local text = fh:read('a')
  fh:close()
  process(f, f:match('%.c$') and c_comments(text) or lua_comments(text))
end
for _, e in pairs(entries) do strip_empty(e) end
if strict and #problems > 0 then os.exit(1) end

io.write('-- Generated by tools/help_data.lua from the doc comments of the files in\n',
         '-- config.ld (make rebuilds it); edit those comments, not this file.\n',
         'return ', serialize(entries, ''), '\n')
