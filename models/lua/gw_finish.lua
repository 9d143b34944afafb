-- Gateway: close a call. Releases the held estimate and charges the actual cost on every budget that applies,
-- queues the final receipt for SQL, records each attempt in its provider's rolling window and circuit
-- breaker, and publishes cost_update (+ budget_update, provider_cooldown alerts) in the same step.
-- KEYS: run budget, agent budget, pending hash, pending zset, ship list, then 4 per provider:
--       latency list, outcomes list, consecutive-failures counter, cooldown marker.
-- ARGV[4] receipt id, [5] estimate held, [6] actual (micro-USD), [7] receipt JSON, [8] attempts JSON
-- [[key index, ok 0/1, ms, name], …], [9] failures that trip the breaker, [10] cooldown ms, [11] window,
-- [12] '1' if begin held a pending receipt, [13] run id, [14] agent.
if ARGV[12] == '1' then
  if redis.call('HDEL', KEYS[3], ARGV[4]) == 0 then return {0, out, {}} end  -- already closed (sweeper)
  redis.call('ZREM', KEYS[4], ARGV[4])
end
local est, actual = tonumber(ARGV[5]), tonumber(ARGV[6])
local run_budget = nil
for i = 1, 2 do
  local k = KEYS[i]
  if redis.call('EXISTS', k) == 1 then
    if ARGV[12] == '1' then redis.call('HINCRBY', k, 'inflight', -est) end
    local spent = redis.call('HINCRBY', k, 'spent', actual)
    if i == 1 then run_budget = {tonumber(redis.call('HGET', k, 'budget')), spent} end
  end
end
redis.call('RPUSH', KEYS[5], ARGV[7])
local threshold, cool_ms, window = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local cooled = {}
for _, a in ipairs(cjson.decode(ARGV[8])) do
  local base = 5 + (a[1] - 1) * 4
  local lat, outc, fails, cool = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4]
  redis.call('LPUSH', outc, a[2])
  redis.call('LTRIM', outc, 0, window - 1)
  if a[2] == 1 then
    redis.call('LPUSH', lat, a[3])
    redis.call('LTRIM', lat, 0, window - 1)
    redis.call('SET', fails, 0)
  else
    local n = redis.call('INCR', fails)
    if n >= threshold and redis.call('EXISTS', cool) == 0 then
      redis.call('SET', cool, NOW + cool_ms, 'PX', cool_ms)
      -- half-open after the cooldown: the next failure (the probe's) trips it again at once
      redis.call('SET', fails, threshold - 1)
      cooled[#cooled + 1] = a[4]
      publish('alert', 'gateway', cjson.encode({alert_type = 'provider_cooldown', severity = 'warning',
        provider = a[4], consecutive_failures = n, cooldown_ms = cool_ms,
        message = 'provider ' .. a[4] .. ' failed ' .. n .. ' times in a row: cooling down'}))
    end
  end
end
publish('cost_update', 'gateway', ARGV[7])
if run_budget then
  local budget, spent = run_budget[1], run_budget[2]
  local pct = 0
  if budget > 0 then pct = math.floor(spent * 10000 / budget + 0.5) / 100 end
  local level = 'ok'
  if pct >= 100 then level = 'critical' elseif pct >= 90 then level = 'warning' elseif pct >= 75 then level = 'caution' end
  publish('budget_update', 'gateway', cjson.encode({run_id = ARGV[13], spent_usd = spent / 1e6,
    budget_usd = budget / 1e6, percent_used = pct, alert_level = level}))
end
return {1, out, cooled}
