--- rnn.help: the documentation of rnnlua's functions, modules, classes and
-- methods, where the user is (the REPL, a script, plain lua5.4).
--
-- The text comes from the doc comments of the sources, which the build
-- extracts into rnn/help_data.lua (tools/help_data.lua); `make doc` turns
-- the same comments into the HTML reference. A function value is named by
-- walking the module tables from `rnn`, so `help(t.narrow)` finds
-- `rnn.Tensor:narrow` and `help(lstm.parameters)` finds
-- `rnn.nn.Module:parameters`.
--
-- This file is self-contained: `help = rnn.help` is all an interpreter
-- needs to offer a global help.
local M = {}

local USAGE = [[
help(x) prints the documentation of x and returns it as a string:

  help(rnn.matmul)        a function            help(rnn.nn.LSTM)   a class and its options
  help(rnn.nn)            a module's contents   help(t.narrow)      a tensor method (t a tensor)
  help('narrow')          by name: 'narrow', 'Tensor:narrow', 'nn.LSTM', 'rnn.optim.Adam'
  help(lstm)              an object: the documentation of its class
  help(rnn)               everything, with one line each

A name that is not found gives the closest ones. The same text as HTML:
`make doc` writes build/doc/index.html.]]

-- ------------------------------------------------------------------ data

local data_cache
local function data()
  if data_cache == nil then
    local ok, d = pcall(require, 'rnn.help_data')
    data_cache = ok and type(d) == 'table' and d or false
  end
  return data_cache
end

local function norm(name) return (name:gsub(':', '.')) end

-- the entry documenting a (normalised) name, following @also aliases
local function entry(name)
  local d = data()
  local e = d and d[norm(name)]
  if e and e.alias_of then return d[norm(e.alias_of)] or e end
  return e
end

-- ------------------------------------------------------------------ values

-- Every public value reachable from `rnn`, breadth first (so the shortest
-- name comes first): names[value] = {name, ...}, where names are written
-- as documented ('rnn.Tensor:narrow' for the methods of rnn.Tensor).
-- Fields starting with '_' are private and skipped.
local function index()
  local rnn = require 'rnn'
  local names, order = {}, {}
  local queue = {{rnn, 'rnn'}}
  names[rnn] = {'rnn'}
  local head = 1
  while queue[head] do
    local t, prefix = queue[head][1], queue[head][2]
    head = head + 1
    local keys = {}
    for k in next, t do
      if type(k) == 'string' and k:sub(1, 1) ~= '_' then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = rawget(t, k)
      local name = prefix .. '.' .. k
      -- rnn.Tensor keeps its methods in a table of their own
      if k == 'methods' and t == rnn.Tensor and type(v) == 'table' then
        for mk, mv in next, v do
          if type(mk) == 'string' and mk:sub(1, 1) ~= '_' then
            local mname = prefix .. ':' .. mk
            local list = names[mv]
            if not list then list = {}; names[mv] = list; order[#order + 1] = mv end
            list[#list + 1] = mname
          end
        end
      elseif type(v) == 'function' or type(v) == 'table' then
        local list = names[v]
        if not list then
          list = {}
          names[v] = list
          order[#order + 1] = v
          if type(v) == 'table' then queue[#queue + 1] = {v, name} end
        end
        list[#list + 1] = name
      end
    end
  end
  return names
end

-- the base class of a class table (its metatable's __index), if any
local function base_of(cls)
  local mt = getmetatable(cls)
  local b = type(mt) == 'table' and rawget(mt, '__index')
  if type(b) == 'table' and b ~= cls then return b end
  return nil
end

-- The documented name and entry of a value: the first of its names that
-- has documentation, or an override of a documented method of a base
-- class (rnn.nn.LSTM.extra_repr is documented by rnn.nn.Module:extra_repr).
local function doc_of(names, v)
  local list = names[v]
  if not list then return nil end
  for _, n in ipairs(list) do
    local e = entry(n)
    if e then return e.name, e end
  end
  for _, n in ipairs(list) do
    local owner, method = n:match('^(.*)[%.:]([^%.:]+)$')
    if owner then
      for _, ov in ipairs(M._owners(names, owner)) do
        local b = base_of(ov)
        local depth = 0
        while b and depth < 16 do
          for _, bn in ipairs(names[b] or {}) do
            local e = entry(bn .. '.' .. method)
            if e then return n, e, e.name end
          end
          b = base_of(b)
          depth = depth + 1
        end
      end
    end
  end
  return list[1], nil
end

-- the values named `name` (a list, usually of one)
function M._owners(names, name)
  local out = {}
  for v, list in pairs(names) do
    for _, n in ipairs(list) do
      if n == name then out[#out + 1] = v end
    end
  end
  return out
end

-- ------------------------------------------------------------------ text

-- Text reflowed to the width: consecutive lines make a paragraph; blank
-- lines separate paragraphs; indented lines (code, formulas) stay as they
-- are.
local function wrap(text, indent, width)
  width = width or 78
  local out, para = {}, {}
  local function flush()
    if #para == 0 then return end
    local line = ''
    for word in table.concat(para, ' '):gmatch('%S+') do
      if line ~= '' and #indent + #line + 1 + #word > width then
        out[#out + 1] = indent .. line
        line = word
      else
        line = line == '' and word or (line .. ' ' .. word)
      end
    end
    out[#out + 1] = indent .. line
    para = {}
  end
  for l in (text .. '\n'):gmatch('([^\n]*)\n') do
    if not l:match('%S') then
      flush()
      out[#out + 1] = ''
    elseif l:match('^%s') or l:match('^[%-%*] ') then
      flush()
      if l:match('^[%-%*] ') then para[1] = l else out[#out + 1] = indent .. l end
    else
      para[#para + 1] = l
    end
  end
  flush()
  return table.concat(out, '\n')
end

-- a summary on one line of a listing: without a leading "name(args): "
-- (older comments start so), cut to the width
local function one_line(text, width)
  text = text:gsub('^rnn%.[%w_%.:]+%b()[^:]-: +', ''):gsub('^rnn%.[%w_%.]+: +', '')
    :gsub('^stats%.[%w_]+%b() *[-=>]* *[^:]-: +', ''):gsub('^D%.[%w_]+%b() *: *', '')
    :gsub('^D%.[%w_]+%b() *%->[^.]*%. *', '')
  if #text > width then
    local cut = text:sub(1, width - 3):gsub('%s+%S*$', '')
    text = cut .. '...'
  end
  return text
end

-- a two-column list: name, text (one_line: each text cut to one line)
local function columns(rows, indent, single)
  local w = 0
  for _, r in ipairs(rows) do if #r[1] > w then w = #r[1] end end
  w = math.min(w, 22)
  local out = {}
  for _, r in ipairs(rows) do
    local head = indent .. r[1]
    local text = r[2] or ''
    if single then text = one_line(text, 78 - #indent - math.max(w, #r[1]) - 2) end
    if text == '' then
      out[#out + 1] = head
    elseif #r[1] > w then
      out[#out + 1] = head
      out[#out + 1] = wrap(text, indent .. string.rep(' ', w + 2))
    else
      local body = wrap(text, indent .. string.rep(' ', w + 2))
      out[#out + 1] = head .. string.rep(' ', w + 2 - #r[1]) .. body:sub(#indent + w + 3)
    end
  end
  return table.concat(out, '\n')
end

local function signature(e)
  if e.calls then return table.concat(e.calls, '\n') end
  if e.kind ~= 'function' and e.kind ~= 'method' then return e.name end
  local args = {}
  if e.params then
    local opened = 0
    for i, p in ipairs(e.params) do
      local sep = i > 1 and ', ' or ''
      if p.opt then
        args[#args + 1] = (i > 1 and ' [, ' or '[') .. p.name
        opened = opened + 1
      else
        args[#args + 1] = sep .. p.name
      end
    end
    args[#args + 1] = string.rep(']', opened)
    return e.name .. '(' .. table.concat(args) .. ')'
  end
  return e.name .. '(' .. (e.args or '') .. ')'
end

local KIND = {module = 'module', class = 'class', ['function'] = 'function', method = 'method',
              table = 'table', field = 'value'}

-- "type: text", "type" or "text"
local function typed(ty, text)
  text = text or ''
  if ty and text ~= '' then return ty .. ': ' .. text end
  return ty or text
end

local function render_entry(e, shown_as, others)
  local out = {signature(e)}
  if shown_as and norm(shown_as) ~= norm(e.name) then
    out[#out + 1] = '  (' .. shown_as .. ' is ' .. e.name .. ')'
  end
  local also = {}
  for _, n in ipairs(others or {}) do
    if norm(n) ~= norm(e.name) and norm(n) ~= norm(shown_as or '') and not n:match('^rnn%.core[%.:]') then
      also[#also + 1] = n
    end
  end
  if #also > 0 then out[#out + 1] = '  also ' .. table.concat(also, ', ') end
  if e.text then out[#out + 1] = '\n' .. wrap(e.text, '  ') end
  local function section(title, rows)
    if rows and #rows > 0 then out[#out + 1] = '\n' .. title .. ':\n' .. columns(rows, '  ') end
  end
  if e.options then
    local rows = {}
    for _, o in ipairs(e.options) do rows[#rows + 1] = {o.name, o.text} end
    section('Options', rows)
  end
  if e.params then
    local rows = {}
    for _, p in ipairs(e.params) do
      local d = ''
      if p.default then d = ' (default ' .. p.default .. ')'
      elseif p.opt then d = ' (optional)' end
      rows[#rows + 1] = {p.name, typed(p.type, p.text) .. d}
    end
    section('Arguments', rows)
  end
  if e.fields then
    local rows = {}
    for _, f in ipairs(e.fields) do rows[#rows + 1] = {f.name, typed(f.type, f.text)} end
    section('Fields', rows)
  end
  if e.returns then
    local rows = {}
    for i, r in ipairs(e.returns) do
      rows[#rows + 1] = {tostring(i), typed(r.type, r.text)}
    end
    if #rows == 1 then
      out[#out + 1] = '\nReturns: ' .. (rows[1][2]:gsub('^%s+', ''))
    else
      section('Returns', rows)
    end
  end
  if e.raises then
    out[#out + 1] = '\nErrors:\n' .. wrap(table.concat(e.raises, '\n'), '  ')
  end
  if e.usage then -- code: kept as written
    local lines = {}
    for line in (table.concat(e.usage, '\n') .. '\n'):gmatch('([^\n]*)\n') do
      lines[#lines + 1] = line:match('%S') and ('  ' .. line) or ''
    end
    out[#out + 1] = '\nUsage:\n' .. table.concat(lines, '\n')
  end
  if e.see then out[#out + 1] = '\nSee also: ' .. table.concat(e.see, ', ') end
  return table.concat(out, '\n')
end

-- the direct members of a documented container name: a map short name ->
-- {name = full name, value = the value if known}
local function members(names, container, value)
  local out = {}
  local d = data() or {}
  local prefix = norm(container) .. '.'
  for key, e in pairs(d) do
    local short = key:sub(#prefix + 1)
    if key:sub(1, #prefix) == prefix and not short:find('[%.]') and short:sub(1, 1) ~= '_' and not e.field_of then
      out[key:sub(#prefix + 1)] = {name = e.name}
    end
  end
  if type(value) == 'table' then
    local rnn = require 'rnn'
    local t = value == rnn.Tensor and rawget(value, 'methods') or value
    for k, v in next, t do
      if type(k) == 'string' and k:sub(1, 1) ~= '_' and (type(v) == 'function' or type(v) == 'table')
          and not (value == rnn.Tensor and k == 'methods') then
        out[k] = out[k] or {name = container .. (value == rnn.Tensor and ':' or '.') .. k}
        out[k].value = v
      end
    end
  end
  return out
end

local function summary_of(names, m)
  local e = entry(m.name)
  if not e and m.value ~= nil then
    local _, de = doc_of(names, m.value)
    e = de
  end
  if not e then return '(no documentation)', nil end
  -- an in-place variant documented with its function (`@also Tensor:abs_`)
  local short = m.name:match('([^%.:]+)$')
  local base = e.name:match('([^%.:]+)$')
  if short ~= base and short == base .. '_' then
    return base .. ' in place (returns the tensor).', e
  end
  return e.summary, e
end

-- a module or class: its documentation, then its contents by kind
local function render_container(names, e, name, value)
  local out = {e and render_entry(e) or name}
  local is_class = (e and e.kind == 'class') or (type(value) == 'table' and base_of(value) ~= nil)
  local groups = {{'Modules', {}}, {'Classes', {}}, {'Functions', {}}, {'Methods', {}}, {'Values', {}}}
  local which = {module = 1, class = 2, table = 1, ['function'] = 3, method = 4, field = 5}
  local keys = {}
  local mem = members(names, name, value)
  for k in pairs(mem) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local m = mem[k]
    local summary, me = summary_of(names, m)
    local kind = me and me.kind or (type(m.value) == 'table' and 'table' or 'function')
    if type(m.value) == 'function' or kind == 'function' or kind == 'method' then
      -- in a class its methods; in a module functions (rnn.narrow is the
      -- method rnn.Tensor:narrow as a function), or the class methods a
      -- module re-exports
      kind = (is_class or m.name:find(':')) and 'method' or 'function'
      if me and me.kind == 'function' and not m.name:find(':') then kind = 'function' end
    end
    local g = groups[which[kind] or 3][2]
    g[#g + 1] = {k, summary}
  end
  for _, g in ipairs(groups) do
    if #g[2] > 0 then out[#out + 1] = '\n' .. g[1] .. ':\n' .. columns(g[2], '  ', true) end
  end
  -- what a class inherits
  if type(value) == 'table' then
    local b = base_of(value)
    local seen = {}
    while b and not seen[b] do
      seen[b] = true
      local bname = names[b] and names[b][1]
      if bname and entry(bname) and entry(bname).kind == 'class' then
        local inh = {}
        for k in pairs(members(names, bname, b)) do if not mem[k] then inh[#inh + 1] = k end end
        table.sort(inh)
        if #inh > 0 then
          out[#out + 1] = '\nInherited from ' .. bname .. ':\n' .. wrap(table.concat(inh, ', '), '  ')
        end
      end
      b = base_of(b)
    end
  end
  return table.concat(out, '\n')
end

-- ------------------------------------------------------------------ lookup

local function distance(a, b)
  if a == b then return 0 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = ca == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- the documented names closest to a string
local function closest(s, limit)
  local d = data() or {}
  local q = norm(s):lower():gsub('^rnn%.', '')
  local scored = {}
  for key, e in pairs(d) do
    if not e.alias_of and not e.field_of then
      local short = key:match('([^%.]+)$'):lower()
      local rel = key:lower():gsub('^rnn%.', '')
      local score = math.min(distance(q, short), distance(q, rel))
      if #q >= 3 and (short:find(q, 1, true) or rel:find(q, 1, true)) then score = math.min(score, 1) end
      if score <= math.max(2, #q // 3) then scored[#scored + 1] = {e.name, score} end
    end
  end
  table.sort(scored, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    if #a[1] ~= #b[1] then return #a[1] < #b[1] end
    return a[1] < b[1]
  end)
  local out = {}
  for i = 1, math.min(limit or 6, #scored) do out[i] = scored[i][1] end
  return out
end

-- the entries a string names: exact (with or without 'rnn.'), else every
-- name that ends with it ('narrow', 'LSTM', 'optim.Adam', 't:narrow')
local function by_name(s)
  local d = data() or {}
  local q = norm((s:gsub('^%s+', ''):gsub('[%s%(%)]+$', '')))
  for _, k in ipairs{q, 'rnn.' .. q} do
    if d[k] then return {entry(k)} end
  end
  local found, seen = {}, {}
  local function scan(suffix)
    for key, e in pairs(d) do
      if not e.field_of and (key:sub(-#suffix - 1) == '.' .. suffix) then
        local p = entry(key)
        if p and not seen[p] then seen[p] = true; found[#found + 1] = p end
      end
    end
  end
  scan(q)
  if #found == 0 then
    -- `t:narrow`, `x.sum`: a method named through a variable
    local method = s:match('^[%w_]+[:%.]([%w_]+)$')
    if method then scan(method) end
  end
  table.sort(found, function(a, b) return a.name < b.name end)
  return found
end

local function not_found(what, s)
  local lines = {string.format('help: no documentation for %s.', what)}
  local near = s and closest(s) or {}
  if #near > 0 then lines[#lines + 1] = 'Closest names: ' .. table.concat(near, ', ') end
  lines[#lines + 1] = 'help() explains how to use help; help(rnn) lists everything.'
  return table.concat(lines, '\n')
end

local function missing_data()
  return 'help: the documentation has not been built (rnn/help_data.lua is missing):\n' ..
         'run make in the rnnlua source tree (or make install).'
end

-- ------------------------------------------------------------------ help

local function render_value(names, v, shown)
  local name, e, inherited = doc_of(names, v)
  if e and (e.kind == 'module' or e.kind == 'class' or e.kind == 'table') then
    return render_container(names, e, e.name, v)
  end
  if e then
    local text = render_entry(e, shown or name, names[v])
    if inherited then text = text .. '\n\n(' .. name .. ' overrides ' .. inherited .. ')' end
    return text
  end
  if name and type(v) == 'table' then return render_container(names, nil, name, v) end
  return nil, name
end

-- the class of an object (a tensor, a module, an optimizer, ...) or nil
local function class_of(names, x)
  local mt = getmetatable(x)
  local depth = 0
  while type(mt) == 'table' and depth < 16 do
    if names[mt] then return mt end
    local n = rawget(mt, '__name')
    if type(n) == 'string' and entry(n) then
      for v, list in pairs(names) do
        for _, ln in ipairs(list) do if ln == entry(n).name then return v end end
      end
    end
    local idx = rawget(mt, '__index')
    if type(idx) == 'table' and names[idx] then return idx end
    mt = getmetatable(mt)
    depth = depth + 1
  end
  return nil
end

-- The documentation entry of x (a value, or an exact name with or without
-- 'rnn.') and the name it is found under; nil when there is none.
function M.lookup(x)
  if not data() then return nil end
  if type(x) == 'string' then
    local q = norm(x)
    for _, k in ipairs{q, 'rnn.' .. q} do
      local e = entry(k)
      if e then return e, k end
    end
    return nil
  end
  local name, e = doc_of(index(), x)
  if e then return e, name end
  return nil
end

-- The text help(...) prints, without printing it.
function M.text(...)
  if select('#', ...) == 0 then return USAGE end
  if not data() then return missing_data() end
  local x = ...
  local tx = type(x)
  if x == nil then
    return 'help: got nil, so the name before it does not exist (a typo?). ' ..
           "By name, help('LSTM') gives the closest matches; help() explains help."
  end
  local names = index()
  if tx == 'string' then
    local found = by_name(x)
    if #found == 1 then
      local e = found[1]
      local v
      for val, list in pairs(names) do
        for _, n in ipairs(list) do if norm(n) == norm(e.name) then v = val end end
      end
      if e.kind == 'module' or e.kind == 'class' or e.kind == 'table' then
        return render_container(names, e, e.name, v)
      end
      return render_entry(e, nil, v and names[v])
    elseif #found > 1 then
      local rows = {}
      for _, e in ipairs(found) do rows[#rows + 1] = {e.name, e.summary} end
      return string.format("help: '%s' names %d things; ask for one by its full name:\n%s", x, #found,
        columns(rows, '  ', true))
    end
    return not_found(string.format("'%s'", x), x)
  end
  if tx == 'function' or tx == 'table' or tx == 'userdata' then
    local text = names[x] and render_value(names, x)
    if text then return text end
    if names[x] then
      return not_found(names[x][1], names[x][1]:match('([^%.:]+)$'))
    end
    -- a class of the user's own, derived from one of ours (its instances
    -- take it as their metatable)
    if tx == 'table' and rawget(x, '__index') == x then
      local b = base_of(x)
      while b and not names[b] do b = base_of(b) end
      if b then
        return string.format('%s: a class of your own, derived from %s: help(%s) for what it inherits.',
          tostring(rawget(x, '__name') or x), names[b][1], names[b][1])
      end
    end
    local cls = class_of(names, x)
    local own = getmetatable(x)
    if cls and type(own) == 'table' and own ~= cls and not names[own] and rawget(own, '__index') == own then
      -- an instance of a class of the user's own
      local cname = names[cls][1]
      return string.format('An instance of %s, a class of your own derived from %s.\n\n',
        tostring(rawget(own, '__name') or own), cname) .. render_container(names, entry(cname), cname, cls)
    end
    if cls then
      local cname = names[cls][1]
      local e = entry(cname)
      return 'An instance of ' .. cname .. '.\n\n' .. (e and render_container(names, e, cname, cls)
        or render_container(names, nil, cname, cls))
    end
    if tx == 'function' then
      local info = debug.getinfo(x, 'S')
      local where = info.short_src and info.linedefined > 0 and (' (defined at ' .. info.short_src .. ':' ..
        info.linedefined .. ')') or ''
      return not_found('this function' .. where .. ': it is not part of rnn', nil)
    end
    return not_found('this ' .. tx .. ': it is not part of rnn', nil)
  end
  return not_found(string.format('a %s (%s)', tx, tostring(x)), nil)
end

-- Prints the documentation of x and returns it as a string (rnn.help).
function M.help(...)
  local text = M.text(...)
  io.stdout:write(text, '\n')
  return text
end

return M
