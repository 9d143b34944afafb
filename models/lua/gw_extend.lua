-- Gateway: a call still streaming pushes its pending receipt's deadline forward, so the sweeper never closes a
-- live call. KEYS: pending deadlines zset. ARGV[4] receipt id, [5] ms from now. Only if it is still pending.
return redis.call('ZADD', KEYS[1], 'XX', NOW + tonumber(ARGV[5]), ARGV[4])
