-- ARGV[4] resource, [5] new capacity, [6] '1' = only if unset (start-up defaults).
local name, new = ARGV[4], tonumber(ARGV[5])
local old = redis.call('HGET', K_CAP, name)
if ARGV[6] == '1' then
  if old then return {'kept', old, NOW_S} end
  redis.call('HSET', K_CAP, name, new)
  return {'ok', '', NOW_S}
end
local used = stored_count(redis.call('HGET', K_ALLOC, name)) or 0  -- unreadable: nothing to stay above
if new < used then return {'conflict', tostring(used), NOW_S} end
redis.call('HSET', K_CAP, name, new)
return {'ok', old or '0', NOW_S}
