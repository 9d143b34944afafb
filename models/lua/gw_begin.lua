-- Gateway: check every budget that applies and hold the call's estimate, then write the pending receipt.
-- KEYS: run budget, agent budget, pending hash, pending deadlines zset.
-- ARGV[4] receipt id, [5] pending receipt JSON, [6] estimate (micro-USD), [7] ms until the sweeper may
-- close the receipt as interrupted, [8] run id, [9] agent. All or nothing (RELIABILITY decisions 4 and 5).
-- A refusal publishes a budget_exceeded alert, once per budget (until the budget is set again).
local est = tonumber(ARGV[6])
-- Sent again after a lost reply (a retry on a broken connection): the first run already holds it.
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return {1, NOW} end
for i = 1, 2 do
  local k = KEYS[i]
  local b = redis.call('HMGET', k, 'budget', 'spent', 'inflight')
  if b[1] then
    local budget, spent, inflight = tonumber(b[1]), tonumber(b[2] or '0'), tonumber(b[3] or '0')
    if spent + inflight + est > budget then
      if redis.call('HSETNX', k, 'alerted', 1) == 1 then
        local scope, name = 'run', ARGV[8]
        if i == 2 then scope, name = 'agent', ARGV[9] end
        publish('alert', 'gateway', cjson.encode({alert_type = 'budget_exceeded', severity = 'warning',
          scope = scope, name = name, budget_usd = budget / 1e6, spent_usd = spent / 1e6,
          message = scope .. ' ' .. name .. ' spent its budget: its calls are refused until it is raised'}))
      end
      return {0, i, budget, spent, inflight, out}
    end
  end
end
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HINCRBY', KEYS[i], 'inflight', est) end
end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[4], NOW + tonumber(ARGV[7]), ARGV[4])
return {1, NOW}
