-- wrk script for bench/run.sh: the default request, plus one machine-readable
-- line at the end ("BENCHJSON {...}") with exact counts, so run.sh does not
-- have to parse wrk's rounded human-readable output. Defines no request() or
-- response() hook, so wrk keeps its fast static-request path.

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max))
end
