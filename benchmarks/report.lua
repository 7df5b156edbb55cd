-- wrk script for run.py: send the bench key, spread threads over servers, print one line of JSON.
-- BENCH_PORTS (comma-separated) gives each wrk thread the next of these ports on the URL's
-- host, in turn: one wrk process loads several servers at once (three instances on one
-- database), its connections split evenly between them.
-- Latencies are in microseconds; "quantiles" holds the 0.1%, 0.2%, ... 100% points
-- of the latency distribution, so run.py can merge several runs exactly enough.
-- "non2xx" counts answers that were not 2xx/3xx.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "bench-key")

local addrs = nil
local threads = 0

function setup(thread)
  local ports = os.getenv("BENCH_PORTS")
  if not ports or ports == "" then
    return
  end
  if not addrs then
    addrs = {}
    for port in string.gmatch(ports, "%d+") do
      addrs[#addrs + 1] = wrk.lookup(wrk.host, port)[1]
    end
  end
  thread.addr = addrs[(threads % #addrs) + 1]
  threads = threads + 1
end

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
