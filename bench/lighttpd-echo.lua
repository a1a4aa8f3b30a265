-- mod_magnet script for bench/lighttpd.conf: GET /echo/{text} answers 200
-- text/plain with the text, as nginx.conf's `return 200 $1` does.
local text = string.sub(lighty.r.req_attr["uri.path"], 7)
lighty.r.resp_header["Content-Type"] = "text/plain"
lighty.r.resp_body:set({ text })
return 200
