--- rnn.experiment.svg: a small SVG writer for line plots with bands.
--
--     local svg = require 'rnn.experiment.svg'
--     local text = svg.line_plot{
--       title = 'Training loss', xlabel = 'step', ylabel = 'loss',
--       log_y = true,                        -- logarithmic y axis
--       series = {
--         {label = 'h0=zero', x = {1, 2, 3}, y = {1.0, 0.5, 0.3},
--          lo = {0.9, 0.4, 0.2}, hi = {1.1, 0.6, 0.4}},   -- band, optional
--         ...},
--     }
--     svg.write('loss.svg', text)
--
-- Options: title, xlabel, ylabel, xunits, yunits (shown after the label:
-- 'val_loss (nats)'; a log axis adds 'log scale' there), log_y (false),
-- width (plot area 470 px plus margins: the legend is as wide as its
-- longest label), height (400, taller for many series), series (an array
-- of {label, x, y [, lo, hi] [, color] [, dash]}), hlines (horizontal
-- dashed reference lines {{y = 0.1667, label = 'mean predictor'}, ...},
-- inside the y range), note (a short text under the legend, wrapped),
-- ymin, ymax, xmin, xmax (fixed limits, else from the data with a little
-- room), id (makes the clip-path id unique when several plots are inlined
-- in one HTML page). Points whose x or y is
-- not finite (or not > 0 on a log axis) break the line; bands likewise.
-- Series get the colours of a ten-colour palette (Tableau's) in order,
-- dashed from the eleventh on. Text is 12 px or larger (M.FONT).
-- The result is a standalone SVG 1.1 document (an XML declaration, one
-- <svg> element), readable by browsers, by rsvg-convert and by inlining
-- into HTML (svg.inline(text) drops the declaration).
local M = {}

M.PALETTE = {'#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
             '#bcbd22', '#17becf'}

--- Escapes &, <, >, " and ' for XML text and attributes.
function M.escape(s)
  return (tostring(s):gsub('[&<>"\']', {['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;',
                                        ["'"] = '&#39;'}))
end

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

local function fmt(v)
  -- coordinates: two decimals are plenty, and keep files small and stable
  local s = string.format('%.2f', v)
  s = s:gsub('%.?0+$', '')
  if s == '-0' or s == '' then s = '0' end
  return s
end

-- a tick label: up to 4 significant digits, no trailing noise
local function label(v)
  if v == 0 then return '0' end
  local s = string.format('%.4g', v)
  return s
end

-- "nice" linear ticks covering [lo, hi], about n of them
local function nice_ticks(lo, hi, n)
  local span = hi - lo
  if span <= 0 then return {lo} end
  local raw = span / math.max(1, n)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step
  for _, m in ipairs{1, 2, 2.5, 5, 10} do
    step = m * mag
    if step >= raw then break end
  end
  local ticks = {}
  local first = math.ceil(lo / step - 1e-9) * step
  for k = 0, 1000 do
    local v = first + k * step
    if v > hi + step * 1e-9 then break end
    if math.abs(v) < step * 1e-9 then v = 0 end
    ticks[#ticks + 1] = v
  end
  return ticks
end

-- linear ticks on [lo, hi], at least `least` of them where the span allows
local function enough_ticks(lo, hi, least)
  local t
  for n = least, least + 12 do
    t = nice_ticks(lo, hi, n)
    if #t >= least then break end
  end
  return t
end

-- ticks for a log axis on [lo, hi] (both > 0): decades, then 1-2-5, then
-- finer multiples until there are four labels or more; a span too short
-- for any of these (0.51..0.58) gets linear ticks, at least three
local function log_ticks(lo, hi)
  local a, b = math.floor(math.log(lo, 10) + 1e-9), math.ceil(math.log(hi, 10) - 1e-9)
  local major, minor
  for _, mult in ipairs{{1}, {1, 2, 5}, {1, 2, 3, 5}, {1, 1.5, 2, 3, 4, 5, 6, 8}} do
    major, minor = {}, {}
    for e = a, b do
      for _, m in ipairs(mult) do
        local v = m * 10 ^ e
        if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) then major[#major + 1] = v end
      end
      for m = 2, 9 do
        local v = m * 10 ^ e
        if v >= lo and v <= hi then minor[#minor + 1] = v end
      end
    end
    if #major >= 4 then break end
  end
  if #major < 3 then
    major, minor = {}, {}
    for _, v in ipairs(enough_ticks(lo, hi, 3)) do if v > 0 then major[#major + 1] = v end end
    return major, minor
  end
  -- many decades: label every k-th one (about eight labels), the rest as
  -- minor ticks, so the labels do not pile up
  if #major > 10 then
    local k = math.ceil((b - a + 1) / 8)
    local kept = {}
    for _, v in ipairs(major) do
      local e = math.floor(math.log(v, 10) + 0.5)
      if (e - a) % k == 0 then kept[#kept + 1] = v else minor[#minor + 1] = v end
    end
    major = kept
  end
  return major, minor
end
M.log_ticks = log_ticks

-- text sizes in px (nothing under 12, so a figure shrunk to a column or
-- a paper's width stays legible) and the width of a character, roughly,
-- in DejaVu Sans (the usual sans-serif of Debian, and rsvg-convert's)
M.FONT = {title = 16, label = 14, tick = 13, legend = 13, note = 12}
local function text_width(s, size)
  s = tostring(s)
  return 0.62 * size * (utf8.len(s) or #s)
end

-- words of s in lines of at most `width` px at font size `size`
local function wrap(s, width, size)
  local lines, cur = {}, nil
  for w in tostring(s):gmatch('%S+') do
    if cur and text_width(cur .. ' ' .. w, size) > width then
      lines[#lines + 1] = cur
      cur = w
    else
      cur = cur and (cur .. ' ' .. w) or w
    end
  end
  lines[#lines + 1] = cur
  return lines
end

-- the axis label with its units and scale: 'val_loss (nats, log scale)'
local function axis_label(text, units, log)
  local extra = {}
  if units and units ~= '' then extra[#extra + 1] = units end
  if log then extra[#extra + 1] = 'log scale' end
  if #extra == 0 then return text end
  return text .. ' (' .. table.concat(extra, ', ') .. ')'
end

-- the ranges of the data (x and y over y, lo, hi and the horizontal
-- lines); `ok_y` says which y values can be drawn. nil when none can.
local function data_range(series, hlines, ok_y)
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(series) do
    for i = 1, #s.x do
      local x = s.x[i]
      if finite(x) then
        for _, arr in ipairs{s.y, s.lo or {}, s.hi or {}} do
          local v = arr[i]
          if ok_y(v) then
            xmin, xmax = math.min(xmin, x), math.max(xmax, x)
            ymin, ymax = math.min(ymin, v), math.max(ymax, v)
          end
        end
      end
    end
  end
  if ymin > ymax then return nil end
  for _, h in ipairs(hlines) do
    if ok_y(h.y) then ymin, ymax = math.min(ymin, h.y), math.max(ymax, h.y) end
  end
  return xmin, xmax, ymin, ymax
end

--- The plot as an SVG document (a string); see the header.
function M.line_plot(o)
  local series = o.series or {}
  local hlines = o.hlines or {}
  local F = M.FONT
  local log_y = o.log_y and true or false
  local function ok_y(v) return finite(v) and (not log_y or v > 0) end

  local xmin, xmax, ymin, ymax = data_range(series, hlines, ok_y)
  local empty = xmin == nil
  if empty then xmin, xmax, ymin, ymax = 0, 1, log_y and 1 or 0, log_y and 10 or 1 end
  xmin, xmax = o.xmin or xmin, o.xmax or xmax
  ymin, ymax = o.ymin or ymin, o.ymax or ymax
  if xmax <= xmin then xmin, xmax = xmin - 0.5, xmax + 0.5 end
  if ymax <= ymin then
    if log_y then ymin, ymax = ymin / 2, ymax * 2 else
      local d = math.abs(ymin) > 0 and math.abs(ymin) * 0.1 or 1
      ymin, ymax = ymin - d, ymax + d
    end
  end
  -- a little room below and above the data (in log space on a log axis)
  if log_y then
    local pad = (math.log(ymax, 10) - math.log(ymin, 10)) * 0.04
    if not o.ymin then ymin = ymin / 10 ^ pad end
    if not o.ymax then ymax = ymax * 10 ^ pad end
  else
    local pad = (ymax - ymin) * 0.04
    if not o.ymin then ymin = ymin - pad end
    if not o.ymax then ymax = ymax + pad end
  end

  local yt, yminor
  if log_y then yt, yminor = log_ticks(ymin, ymax) else yt, yminor = nice_ticks(ymin, ymax, 6), {} end
  local xt = nice_ticks(xmin, xmax, 6)

  -- margins: the y tick labels and the y label on the left, the legend
  -- (as wide as its longest label) on the right
  local widest_tick = 0
  for _, v in ipairs(yt) do widest_tick = math.max(widest_tick, text_width(label(v), F.tick)) end
  local longest = 0
  for si, s in ipairs(series) do
    longest = math.max(longest, text_width(s.label or ('series ' .. si), F.legend))
  end
  local ml, mr, mt, mb = math.floor(math.max(64, 38 + widest_tick)), math.floor(math.max(180, 56 + longest)), 40, 56
  local note = o.note and wrap(o.note, mr - 24, F.note) or {}
  local legend_h = 22 * #series + (#note > 0 and (10 + 16 * #note) or 0)
  local W = o.width or (ml + 470 + mr)
  local H = o.height or math.max(400, mt + mb + 16 + legend_h)
  local pw, ph = W - ml - mr, H - mt - mb

  local ly0, ly1
  if log_y then ly0, ly1 = math.log(ymin, 10), math.log(ymax, 10) end
  local function px(x) return ml + (x - xmin) / (xmax - xmin) * pw end
  local function py(y)
    if log_y then return mt + ph - (math.log(y, 10) - ly0) / (ly1 - ly0) * ph end
    return mt + ph - (y - ymin) / (ymax - ymin) * ph
  end

  local out = {}
  local function add(s) out[#out + 1] = s end
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add(string.format('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">\n', W, H, W, H, F.tick))
  add(string.format('<rect x="0" y="0" width="%d" height="%d" fill="white"/>\n', W, H))
  if o.title then
    add(string.format('<text x="%s" y="24" text-anchor="middle" font-size="%d" font-weight="bold">%s</text>\n',
      fmt(ml + pw / 2), F.title, M.escape(o.title)))
  end

  -- grid and ticks
  add('<g stroke="#e6e6e6" stroke-width="1">\n')
  for _, v in ipairs(yminor) do
    add(string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#f3f3f3"/>\n', fmt(ml), fmt(py(v)),
      fmt(ml + pw), fmt(py(v))))
  end
  for _, v in ipairs(yt) do
    add(string.format('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', fmt(ml), fmt(py(v)), fmt(ml + pw), fmt(py(v))))
  end
  for _, v in ipairs(xt) do
    add(string.format('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', fmt(px(v)), fmt(mt), fmt(px(v)), fmt(mt + ph)))
  end
  add('</g>\n')
  add(string.format('<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#444"/>\n', fmt(ml), fmt(mt),
    fmt(pw), fmt(ph)))
  add(string.format('<g fill="#222" font-size="%d">\n', F.tick))
  for _, v in ipairs(yt) do
    add(string.format('<text x="%s" y="%s" text-anchor="end">%s</text>\n', fmt(ml - 6), fmt(py(v) + 4),
      M.escape(label(v))))
  end
  for _, v in ipairs(xt) do
    add(string.format('<text x="%s" y="%s" text-anchor="middle">%s</text>\n', fmt(px(v)), fmt(mt + ph + 18),
      M.escape(label(v))))
  end
  add('</g>\n')
  if o.xlabel then
    add(string.format('<text class="xlabel" x="%s" y="%s" text-anchor="middle" font-size="%d">%s</text>\n',
      fmt(ml + pw / 2), fmt(H - 12), F.label, M.escape(axis_label(o.xlabel, o.xunits))))
  end
  if o.ylabel then
    add(string.format('<text class="ylabel" x="18" y="%s" text-anchor="middle" font-size="%d" '
      .. 'transform="rotate(-90 18 %s)">'
      .. '%s</text>\n', fmt(mt + ph / 2), F.label, fmt(mt + ph / 2),
      M.escape(axis_label(o.ylabel, o.yunits, log_y))))
  end
  if empty then
    add(string.format('<text x="%s" y="%s" text-anchor="middle" fill="#888" font-size="%d">no data</text>\n',
      fmt(ml + pw / 2), fmt(mt + ph / 2), F.label))
  end

  -- clip the data to the plot area
  local id = 'plotarea-' .. tostring(o.id or 'plot'):gsub('[^%w_%-]', '_')
  add(string.format('<defs><clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>\n',
    id, fmt(ml), fmt(mt), fmt(pw), fmt(ph)))
  add(string.format('<g clip-path="url(#%s)">\n', id))
  for si, s in ipairs(series) do
    local color = s.color or M.PALETTE[(si - 1) % #M.PALETTE + 1]
    local dash = s.dash or si > #M.PALETTE -- the second round of colours dashed
    -- band: one polygon per run of points where lo and hi are drawable; on
    -- a log axis a lower edge at 0 or below runs along the bottom
    local function band_y(v)
      if log_y and finite(v) and v <= 0 then return mt + ph + 2 end
      return py(v)
    end
    local function band_ok(v) return ok_y(v) or (log_y and finite(v)) end
    if s.lo and s.hi then
      local i = 1
      while i <= #s.x do
        local j = i
        while j <= #s.x and finite(s.x[j]) and band_ok(s.lo[j]) and ok_y(s.hi[j]) do j = j + 1 end
        if j - i >= 2 then
          local pts = {}
          for k = i, j - 1 do pts[#pts + 1] = fmt(px(s.x[k])) .. ',' .. fmt(py(s.hi[k])) end
          for k = j - 1, i, -1 do pts[#pts + 1] = fmt(px(s.x[k])) .. ',' .. fmt(band_y(s.lo[k])) end
          add(string.format('<polygon points="%s" fill="%s" fill-opacity="0.18" stroke="none"/>\n',
            table.concat(pts, ' '), color))
        end
        i = math.max(j, i + 1)
      end
    end
    local d, pen = {}, false
    local npts = 0
    for k = 1, #s.x do
      if finite(s.x[k]) and ok_y(s.y[k]) then
        d[#d + 1] = (pen and 'L' or 'M') .. fmt(px(s.x[k])) .. ',' .. fmt(py(s.y[k]))
        pen = true
        npts = npts + 1
      else
        pen = false
      end
    end
    if #d > 0 then
      add(string.format('<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>\n', table.concat(d, ' '),
        color, dash and ' stroke-dasharray="5,3"' or ''))
      if npts == 1 then
        -- a single point: a dot, or it would not show
        for k = 1, #s.x do
          if finite(s.x[k]) and ok_y(s.y[k]) then
            add(string.format('<circle cx="%s" cy="%s" r="3" fill="%s"/>\n', fmt(px(s.x[k])), fmt(py(s.y[k])),
              color))
          end
        end
      end
    end
  end
  -- horizontal reference lines (baselines), labelled at their right end,
  -- above the line (below it at the top of the plot)
  for _, h in ipairs(hlines) do
    if ok_y(h.y) then
      local y = py(h.y)
      add(string.format('<line class="baseline" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333" stroke-width="1.5" '
        .. 'stroke-dasharray="7,4"/>\n', fmt(ml), fmt(y), fmt(ml + pw), fmt(y)))
      if h.label then
        local ty = y - 6 < mt + F.note + 2 and y + F.note + 4 or y - 6
        add(string.format('<text x="%s" y="%s" text-anchor="end" font-size="%d" fill="#222" stroke="white" '
          .. 'stroke-width="3" paint-order="stroke">%s</text>\n', fmt(ml + pw - 6), fmt(ty), F.note,
          M.escape(h.label)))
      end
    end
  end
  add('</g>\n')

  -- legend
  add(string.format('<g font-size="%d">\n', F.legend))
  for si, s in ipairs(series) do
    local color = s.color or M.PALETTE[(si - 1) % #M.PALETTE + 1]
    local dash = s.dash or si > #M.PALETTE
    local y = mt + 8 + (si - 1) * 22
    add(string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"%s/>\n', fmt(ml + pw + 12),
      fmt(y), fmt(ml + pw + 34), fmt(y), color, dash and ' stroke-dasharray="5,3"' or ''))
    add(string.format('<text x="%s" y="%s">%s</text>\n', fmt(ml + pw + 40), fmt(y + 5), M.escape(s.label or
      ('series ' .. si))))
  end
  for i, line in ipairs(note) do
    add(string.format('<text x="%s" y="%s" fill="#555" font-size="%d">%s</text>\n', fmt(ml + pw + 12),
      fmt(mt + 8 + #series * 22 + 6 + 16 * (i - 1)), F.note, M.escape(line)))
  end
  add('</g>\n')
  add('</svg>\n')
  return table.concat(out)
end

--- A forest plot (a string, SVG): one row per estimate with its interval,
-- and a dashed line at zero. o = {title, xlabel, xunits, ylabel ('comparison'),
-- rows = {{label, est, lo, hi}, ...}, width (760), id}. A row without an
-- interval shows its point alone; one without an estimate says "n/a".
function M.forest_plot(o)
  local F = M.FONT
  local rows = o.rows or {}
  local longest = 0
  for _, r in ipairs(rows) do longest = math.max(longest, text_width(r.label, F.tick)) end
  local ml, mr, mt, mb, rh = math.floor(math.max(130, 44 + longest)), 200, 42, 56, 28
  local W = o.width or math.max(760, ml + mr + 300)
  local H = mt + mb + rh * math.max(1, #rows)
  local pw = W - ml - mr
  local lo, hi = 0, 0
  for _, r in ipairs(rows) do
    for _, v in ipairs{r.est, r.lo, r.hi} do
      if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
    end
  end
  if hi == lo then lo, hi = lo - 1, hi + 1 end
  local pad = 0.05 * (hi - lo)
  lo, hi = lo - pad, hi + pad
  local function X(v) return ml + (v - lo) / (hi - lo) * pw end
  local out = {}
  local function add(...) for i = 1, select('#', ...) do out[#out + 1] = select(i, ...) end end
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="', W, '" height="', H, '" viewBox="0 0 ', W,
    ' ', H, '" font-family="sans-serif" font-size="', F.tick, '">\n')
  add('<rect width="', W, '" height="', H, '" fill="white"/>\n')
  if o.title then
    add('<text x="', fmt(W / 2), '" y="24" text-anchor="middle" font-size="', F.title, '" font-weight="bold">',
      M.escape(o.title), '</text>\n')
  end
  local y0, y1 = mt, H - mb
  for _, t in ipairs(nice_ticks(lo, hi, 6)) do
    local x = fmt(X(t))
    add('<line x1="', x, '" y1="', y0, '" x2="', x, '" y2="', y1, '" stroke="#e5e5e5"/>\n')
    add('<text x="', x, '" y="', y1 + 18, '" text-anchor="middle">', label(t), '</text>\n')
  end
  add('<line x1="', ml, '" y1="', y1, '" x2="', ml + pw, '" y2="', y1, '" stroke="#333"/>\n')
  add('<line x1="', fmt(X(0)), '" y1="', y0, '" x2="', fmt(X(0)), '" y2="', y1,
    '" stroke="#555" stroke-dasharray="5,4"/>\n')
  if o.xlabel then
    add('<text class="xlabel" x="', fmt(ml + pw / 2), '" y="', H - 12, '" text-anchor="middle" font-size="',
      F.label, '">',
      M.escape(axis_label(o.xlabel, o.xunits)), '</text>\n')
  end
  local cy = fmt(mt + (y1 - mt) / 2)
  add('<text class="ylabel" x="18" y="', cy, '" text-anchor="middle" font-size="', F.label,
    '" transform="rotate(-90 18 ', cy,
    ')">', M.escape(o.ylabel or 'comparison'), '</text>\n')
  for i, r in ipairs(rows) do
    local y = fmt(mt + rh * (i - 0.5))
    add('<text x="', ml - 8, '" y="', y, '" dy="4" text-anchor="end">', M.escape(r.label), '</text>\n')
    local text
    if finite(r.lo) and finite(r.hi) then
      local a, b = fmt(X(r.lo)), fmt(X(r.hi))
      add('<line x1="', a, '" y1="', y, '" x2="', b, '" y2="', y, '" stroke="#1f77b4" stroke-width="2"/>\n')
      for _, e in ipairs{a, b} do
        add('<line x1="', e, '" y1="', fmt(tonumber(y) - 5), '" x2="', e, '" y2="', fmt(tonumber(y) + 5),
          '" stroke="#1f77b4" stroke-width="2"/>\n')
      end
    end
    if finite(r.est) then
      add('<rect x="', fmt(X(r.est) - 4), '" y="', fmt(tonumber(y) - 4), '" width="8" height="8" fill="#1f77b4"/>\n')
      text = label(r.est) .. ((finite(r.lo) and finite(r.hi)) and (' [' .. label(r.lo) .. ', ' .. label(r.hi) .. ']')
        or '')
    else
      text = 'n/a'
    end
    add('<text x="', ml + pw + 10, '" y="', y, '" dy="4">', M.escape(text), '</text>\n')
  end
  add('</svg>\n')
  return table.concat(out)
end

--- The SVG without its XML declaration, for inlining into HTML.
function M.inline(text)
  return (text:gsub('^<%?xml[^>]*%?>%s*', ''))
end

--- Writes text to path (through a temporary file and a rename).
function M.write(path, text)
  require('rnn.experiment.files').write_atomic(path, text)
end

return M
