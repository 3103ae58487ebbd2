-- wrk script: one sale of 1.00 per request, to a random meter of the generated population
-- (meters 1000000 up to 1000000 + VEND_METERS - 1), through POST /api/v1/sales.
local meters = tonumber(os.getenv("VEND_METERS") or "20000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VEND_TOKEN")

request = function()
  local meter = 1000000 + math.random(0, meters - 1)
  return wrk.format(nil, "/api/v1/sales", nil, '{"meter":"' .. meter .. '","amount":"1.00"}')
end

done = function(summary, latency, requests)
  -- Only answered sales count: a refusal (e.g. a meter whose card already holds 8 unapplied
  -- purchases, on a small population) is cheaper than a sale and would flatter the figure.
  local seconds = summary.duration / 1e6
  local sold = summary.requests - summary.errors.status
  io.write(string.format("sales: %d sold in %.1f s = %.0f/s; refused: %d non-2xx; p50 %.1f ms, p99 %.1f ms\n",
    sold, seconds, sold / seconds, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
