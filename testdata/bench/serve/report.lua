-- make bench-serve's wrk report: one line, req/s and latency percentiles.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status))
end
