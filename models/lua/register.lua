-- ARGV[4] escaped id, [5] expected existing id for an agent-by-name upsert ('' = none), [6] name index key,
-- [7] agent type index key, [8] interval ms, [9] ttl ms, [10] idx keys JSON, [11] status, then field/value pairs.
local qid = ARGV[4]
if ARGV[6] ~= '' then
  local found = redis.call('SINTER', ARGV[6], ARGV[7])
  local cur = found[1] or ''
  if cur ~= ARGV[5] then return {'retry'} end
end
local h = K_SVC .. qid
local existed = redis.call('EXISTS', h) == 1
local was_down = false
if existed then
  was_down = redis.call('HGET', h, 'state') == 'down'
  local old = redis.call('HGET', h, 'idx')
  if old then for _, k in ipairs(cjson.decode(old)) do redis.call('SREM', k, qid) end end
end
local interval = tonumber(ARGV[8])
for i = 12, #ARGV, 2 do redis.call('HSET', h, ARGV[i], ARGV[i + 1]) end
local epoch = redis.call('HINCRBY', h, 'epoch', 1)
redis.call('HSET', h, 'interval_ms', ARGV[8], 'ttl_ms', ARGV[9], 'idx', ARGV[10], 'status', ARGV[11],
  'state', 'up', 'missed', 0, 'suspect', '0', 'last_hb_ms', NOW_S, 'registered_ms', NOW_S)
for _, k in ipairs(cjson.decode(ARGV[10])) do redis.call('SADD', k, qid) end
redis.call('SADD', K_IDS, qid)
redis.call('SREM', K_SILENT, qid)
redis.call('ZADD', K_DEAD, NOW + interval, qid)
redis.call('SET', K_ALIVE .. qid, epoch, 'PX', ARGV[9])
if was_down then
  alert(h, 'heartbeat_restored', 'restored', 0, NOW)
end
publish('service_registered', 'registry', extend(redis.call('HGET', h, 'summary'),
  {reason = existed and 'updated' or 'created', epoch = epoch}))
local res = {existed and 'updated' or 'created', NOW_S, tostring(epoch)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
