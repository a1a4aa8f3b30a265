-- wrk script for bench/run.sh: HTTP/1.1 pipelining, PIPELINE_DEPTH (default
-- 16) requests for "/" written back to back in one buffer; wrk counts every
-- response. The usual wrk pipeline pattern: build the buffer once in init()
-- with wrk.format and hand it out from request().

local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local path = os.getenv("PIPELINE_PATH") or "/"
local req

init = function(args)
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format(nil, path)
   end
   req = table.concat(r)
end

request = function()
   return req
end

-- The BENCHJSON summary line: done() from summary.lua, beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "summary.lua")
