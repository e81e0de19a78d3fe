-- core_deps.lua — the dependency graph of the C core's units, read from the
-- objects, and its cycles.
--
--   lua5.4 tools/core_deps.lua [OBJDIR]        (OBJDIR: build/core by default)
--
-- Each OBJDIR/X.o is the unit core/X.c. `nm` tells which rl_* names a unit
-- defines and which it uses undefined; a use of a name another unit defines
-- is an edge. Prints one line per unit (the units it calls, each with the
-- names), then each cycle found (strongly connected components of more than
-- one unit, with one loop through them spelt out), then
-- "core-deps: N passed, M failed". Exits 1 on a cycle or when there are no
-- objects. Compiler-made names (target_clones' resolvers, their .avx2 and
-- .default versions) are local and do not appear as uses.

local dir = arg[1] or "build/core"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local units, defines, uses = {}, {}, {}
local ls = assert(io.popen("ls " .. sh_quote(dir) .. "/*.o 2>/dev/null"))
for path in ls:lines() do
    local unit = path:match("([^/]+)%.o$")
    units[#units + 1] = unit
    uses[unit] = {}
end
ls:close()

local passed, failed = 0, 0
local function check(ok, what)
    if ok then
        passed = passed + 1
        print("ok - " .. what)
    else
        failed = failed + 1
        print("not ok - " .. what)
    end
end

check(#units > 0, "objects in " .. dir)
if #units == 0 then
    print(string.format("core-deps: %d passed, %d failed", passed, failed))
    os.exit(1)
end
table.sort(units)

for _, unit in ipairs(units) do
    local nm = assert(io.popen("nm " .. sh_quote(dir .. "/" .. unit .. ".o")))
    for line in nm:lines() do
        -- "addr T name" (defined) or "         U name" (used, undefined)
        local kind, name = line:match("^%x*%s+(%a)%s+(%S+)$")
        if name and name:match("^rl_") then
            if kind == "U" then
                uses[unit][name] = true
            elseif kind:match("[A-TV-Zi]") then -- global: T D B R C W V, and i (ifunc)
                if defines[name] and defines[name] ~= unit then
                    print(string.format("# %s is defined in both %s and %s", name, defines[name], unit))
                end
                defines[name] = unit
            end
        end
    end
    nm:close()
end

-- edges[a][b] = sorted list of the names a uses from b
local edges, unresolved = {}, {}
for _, a in ipairs(units) do
    edges[a] = {}
    for name in pairs(uses[a]) do
        local b = defines[name]
        if not b then
            unresolved[#unresolved + 1] = a .. ": " .. name
        elseif b ~= a then
            edges[a][b] = edges[a][b] or {}
            table.insert(edges[a][b], name)
        end
    end
end

local function targets(a)
    local t = {}
    for b in pairs(edges[a]) do t[#t + 1] = b end
    table.sort(t)
    return t
end

print("# unit -> the units it calls (the names it uses from each)")
for _, a in ipairs(units) do
    local parts = {}
    for _, b in ipairs(targets(a)) do
        table.sort(edges[a][b])
        parts[#parts + 1] = b .. " (" .. table.concat(edges[a][b], " ") .. ")"
    end
    print(a .. " -> " .. (#parts > 0 and table.concat(parts, ", ") or "(nothing)"))
end
table.sort(unresolved)
for _, u in ipairs(unresolved) do print("# not defined in the core: " .. u) end

-- Tarjan's strongly connected components
local index, low, onstack, stack, sccs, counter = {}, {}, {}, {}, {}, 0
local function connect(v)
    counter = counter + 1
    index[v], low[v] = counter, counter
    stack[#stack + 1] = v
    onstack[v] = true
    for _, w in ipairs(targets(v)) do
        if not index[w] then
            connect(w)
            low[v] = math.min(low[v], low[w])
        elseif onstack[w] then
            low[v] = math.min(low[v], index[w])
        end
    end
    if low[v] == index[v] then
        local scc = {}
        repeat
            local w = table.remove(stack)
            onstack[w] = nil
            scc[#scc + 1] = w
        until w == v
        if #scc > 1 then
            table.sort(scc)
            sccs[#sccs + 1] = scc
        end
    end
end
for _, v in ipairs(units) do
    if not index[v] then connect(v) end
end

-- the shortest loop from the component's first unit back to itself, inside it
local function loop_through(scc)
    local inside = {}
    for _, v in ipairs(scc) do inside[v] = true end
    local start = scc[1]
    local prev, queue, head = { [start] = false }, { start }, 1
    while head <= #queue do
        local v = queue[head]
        head = head + 1
        for _, w in ipairs(targets(v)) do
            if w == start then
                local path = { start }
                local u = v
                while u ~= start do
                    table.insert(path, 2, u)
                    u = prev[u]
                end
                path[#path + 1] = start
                return path
            end
            if inside[w] and prev[w] == nil then
                prev[w] = v
                queue[#queue + 1] = w
            end
        end
    end
end

for _, scc in ipairs(sccs) do
    local path = loop_through(scc)
    local steps = {}
    for i = 1, #path - 1 do
        steps[#steps + 1] = path[i] .. " -> " .. path[i + 1] .. " (" .. edges[path[i]][path[i + 1]][1] ..
            (#edges[path[i]][path[i + 1]] > 1 and ", ..." or "") .. ")"
    end
    print("# cycle among " .. table.concat(scc, " ") .. ": " .. table.concat(steps, "; "))
    local inside, within = {}, {}
    for _, v in ipairs(scc) do inside[v] = true end
    for _, v in ipairs(scc) do
        for _, w in ipairs(targets(v)) do
            if inside[w] then within[#within + 1] = v .. " -> " .. w end
        end
    end
    print("#   its edges: " .. table.concat(within, ", "))
end
check(#sccs == 0, #sccs == 0 and "no cycle among the core units"
    or string.format("no cycle among the core units (%d found)", #sccs))

print(string.format("core-deps: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
