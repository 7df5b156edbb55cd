-- wrk script for run.py: send the bench key, then print one line of JSON.
-- Latencies are in microseconds; "quantiles" holds the 0.1%, 0.2%, ... 100% points
-- of the latency distribution, so run.py can merge several runs exactly enough.
-- "non2xx" counts answers that were not 2xx/3xx.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "bench-key")

done = function(summary, latency, requests)
  local e = summary.errors
  local points = {}
  for i = 1, 1000 do
    points[i] = tostring(latency:percentile(i / 10))
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "quantiles": [%s]}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    table.concat(points, ",")))
end
