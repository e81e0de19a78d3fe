--- rnn.experiment.json: JSON with a deterministic encoding, decoded by
-- lua-cjson (Debian lua-cjson).
--
--     local json = require 'rnn.experiment.json'
--     json.encode{b = 1, a = {0.1, true}}   --> {"a":[0.10000000000000001,true],"b":1}
--     json.encode(t, {indent = 2})          -- pretty, one key a line
--     json.decode(s)                        -- cjson.decode
--
-- Objects are written with their keys sorted (byte order), so the same
-- table always gives the same text (cjson keeps the hash order, which
-- changes from run to run). Numbers: integers as %d, floats as %.17g (exact:
-- they read back to the same double), NaN and infinities as NaN, Infinity
-- and -Infinity (as Python's json module writes and reads them; cjson reads
-- them too). A table is an array when its keys are exactly 1..n (n >= 1);
-- an empty table is written as {} unless marked with json.array(t). Keys
-- must be strings or integers (written as strings). Strings are escaped by
-- cjson, and must be valid UTF-8 (cjson would copy other bytes as they
-- are, making text that is not JSON): encode refuses them, naming the
-- byte. json.null (cjson.null) is null.
--
-- Decoding goes through cjson, which gives every number as a float: use
-- math.tointeger where an integer is wanted (json.integers(t) converts the
-- integral numbers of a table, recursively, in place). Integers beyond 2^53
-- do not survive a decode: store them as strings.
local cjson = require 'cjson'

local M = {}

M.null = cjson.null

local ARRAY = {}

--- Marks t to be written as an array even when empty; returns t.
function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

--- A number as the metrics files and the JSON writer spell it: integers as
-- %d, floats as %.17g, nan/inf/-inf for the others (CSV spelling).
function M.number(v)
  if math.type(v) == 'integer' then return string.format('%d', v) end
  if v ~= v then return 'nan' end
  if v == math.huge then return 'inf' end
  if v == -math.huge then return '-inf' end
  return string.format('%.17g', v)
end

local function json_number(v)
  if math.type(v) == 'integer' then return string.format('%d', v) end
  if v ~= v then return 'NaN' end
  if v == math.huge then return 'Infinity' end
  if v == -math.huge then return '-Infinity' end
  return string.format('%.17g', v)
end

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= 'integer' or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

--- The keys of t sorted (strings and integers, compared as strings).
function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local encode_value

-- a string as JSON text; refuses one that is not valid UTF-8
local function encode_string(s)
  local n, bad = utf8.len(s)
  if not n then
    error(string.format('rnn.experiment.json.encode: the text %q is not valid UTF-8 (byte %d); JSON text must be '
      .. 'UTF-8', s, bad), 0)
  end
  return cjson.encode(s)
end
M.encode_string = encode_string

local function encode_table(t, out, indent, depth, seen)
  if seen[t] then error('rnn.experiment.json.encode: the table contains itself', 0) end
  seen[t] = true
  local nl, pad, pad_in, colon = '', '', '', ':'
  if indent then
    nl = '\n'
    pad = string.rep(' ', indent * depth)
    pad_in = string.rep(' ', indent * (depth + 1))
    colon = ': '
  end
  if is_array(t) then
    if #t == 0 then
      out[#out + 1] = '[]'
    else
      out[#out + 1] = '[' .. nl
      for i = 1, #t do
        out[#out + 1] = pad_in
        encode_value(t[i], out, indent, depth + 1, seen)
        if i < #t then out[#out + 1] = ',' end
        out[#out + 1] = nl
      end
      out[#out + 1] = pad .. ']'
    end
  else
    local keys = M.sorted_keys(t)
    if #keys == 0 then
      out[#out + 1] = '{}'
    else
      out[#out + 1] = '{' .. nl
      for i, k in ipairs(keys) do
        if type(k) ~= 'string' and math.type(k) ~= 'integer' then
          error(string.format('rnn.experiment.json.encode: object keys must be strings, got a %s key', type(k)), 0)
        end
        out[#out + 1] = pad_in .. encode_string(tostring(k)) .. colon
        encode_value(t[k], out, indent, depth + 1, seen)
        if i < #keys then out[#out + 1] = ',' end
        out[#out + 1] = nl
      end
      out[#out + 1] = pad .. '}'
    end
  end
  seen[t] = nil
end


encode_value = function(v, out, indent, depth, seen)
  local tv = type(v)
  if v == nil or v == cjson.null then
    out[#out + 1] = 'null'
  elseif tv == 'boolean' then
    out[#out + 1] = v and 'true' or 'false'
  elseif tv == 'number' then
    out[#out + 1] = json_number(v)
  elseif tv == 'string' then
    out[#out + 1] = encode_string(v)
  elseif tv == 'table' then
    encode_table(v, out, indent, depth, seen)
  else
    error(string.format('rnn.experiment.json.encode: cannot encode a %s', tv), 0)
  end
end

--- encode(value [, {indent = n}]) -> string (see the header).
function M.encode(v, opts)
  local out = {}
  encode_value(v, out, opts and opts.indent, 0, {})
  return table.concat(out)
end

--- An object with its keys in the given order (then the rest sorted), on
-- one line: for rows of metrics.jsonl, where "step" comes first.
function M.encode_ordered(t, first)
  local out, done = {}, {}
  local parts = {}
  for _, k in ipairs(first or {}) do
    if t[k] ~= nil then
      out = {}
      encode_value(t[k], out, nil, 0, {})
      parts[#parts + 1] = encode_string(k) .. ':' .. table.concat(out)
    end
    done[k] = true
  end
  for _, k in ipairs(M.sorted_keys(t)) do
    if not done[k] then
      out = {}
      encode_value(t[k], out, nil, 0, {})
      parts[#parts + 1] = encode_string(tostring(k)) .. ':' .. table.concat(out)
    end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

--- cjson.decode, errors as 'rnn.experiment.json.decode: ...'; null becomes nil
-- in objects (cjson.null elsewhere). Text that is not UTF-8 is refused, as
-- the encoder refuses it (cjson would read the bytes as they are, and a
-- file damaged that way would then fail at the next write instead).
function M.decode(s)
  local n, bad = true, nil
  if type(s) == 'string' then n, bad = utf8.len(s) end
  if not n then
    error(string.format('rnn.experiment.json.decode: the text is not valid UTF-8 (byte %d); JSON text must be UTF-8',
      bad), 2)
  end
  local ok, v = pcall(cjson.decode, s)
  if not ok then error('rnn.experiment.json.decode: ' .. tostring(v), 2) end
  return v
end

--- Converts, in place and recursively, every float of t that is integral
-- (and within +-2^53) to an integer; returns t.
function M.integers(t)
  if type(t) ~= 'table' then return t end
  for k, v in pairs(t) do
    if type(v) == 'number' then
      if math.type(v) == 'float' and v == math.floor(v) and math.abs(v) <= 2 ^ 53 then
        t[k] = math.tointeger(v)
      end
    elseif type(v) == 'table' then
      M.integers(v)
    end
  end
  return t
end

return M
