-- Gateway: set (or replace) a budget; what was spent and what is in flight are kept.
-- KEYS[1] budget hash. ARGV[4] budget (micro-USD), [5] scope, [6] name.
redis.call('HSET', KEYS[1], 'budget', ARGV[4])
redis.call('HDEL', KEYS[1], 'alerted')  -- a new budget: its first refusal alerts again
redis.call('HSETNX', KEYS[1], 'spent', 0)
redis.call('HSETNX', KEYS[1], 'inflight', 0)
local b = redis.call('HMGET', KEYS[1], 'spent', 'inflight')
publish('budget_update', 'gateway', cjson.encode({scope = ARGV[5], name = ARGV[6], budget_usd = tonumber(ARGV[4]) / 1e6,
  spent_usd = tonumber(b[1]) / 1e6}))
return {out, b[1], b[2]}
