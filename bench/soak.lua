-- wrk script of bench/soak.sh, which prepends `objects` ({path, size, id}
-- for every object of a published release) and `manifest` (its path).
-- Each request is, at random: 45% a single byte range of an object with
-- If-Range (a resumed download or a CDN slice), 45% a whole object, 10%
-- the manifest. Any answer but 200 or 206 is counted by wrk as non-2xx/3xx
-- (a 304 never happens: no If-None-Match is sent).

local seeded = false

request = function()
    if not seeded then
        math.randomseed(os.time() + math.floor(os.clock() * 1e6))
        seeded = true
    end
    local r = math.random()
    if r < 0.10 then
        return wrk.format("GET", manifest)
    end
    local o = objects[math.random(#objects)]
    if r < 0.55 then
        local first = math.random(0, o[2] - 1)
        local last = math.min(o[2] - 1, first + math.random(0, 1048575))
        return wrk.format("GET", o[1], {
            ["Range"] = "bytes=" .. first .. "-" .. last,
            ["If-Range"] = "\"" .. o[3] .. "\"",
        })
    end
    return wrk.format("GET", o[1])
end
