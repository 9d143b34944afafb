-- wrk: PUT /heartbeat round-robin over svc-00000 … svc-<BENCH_N - 1> (registered by bench/heartbeats.py).
local n = tonumber(os.getenv("BENCH_N") or "1000")
local counter = math.random(0, n - 1)
local headers = {["Content-Type"] = "application/json"}
request = function()
  counter = (counter + 1) % n
  return wrk.format("PUT", "/heartbeat", headers, string.format('{"service_id":"svc-%05d"}', counter))
end
