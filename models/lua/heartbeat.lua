-- ARGV[4] escaped id, [5] status, [6] epoch ('' = any), [7] blind ms (see regain_sight), then field/value
-- pairs of reported metrics.
local qid = ARGV[4]
local h = K_SVC .. qid
local paused = '0'
local function reply(outcome, extra)
  local res = {outcome, NOW_S, extra or '', paused}
  for _, e in ipairs(out) do res[#res + 1] = e end
  return res
end
if redis.call('EXISTS', h) == 0 then return reply('not_found') end
-- The first beat after Valkey came back may come before any sweep: it must not deregister its own sender.
regain_sight(tonumber(ARGV[7]))
-- A late beat first settles what the clock already decided: heartbeats never resurrect.
if not advance(qid, true) then return reply('not_found') end
local epoch = redis.call('HGET', h, 'epoch')
if ARGV[6] ~= '' and ARGV[6] ~= epoch then return reply('stale_epoch', epoch) end
local f = redis.call('HMGET', h, 'state', 'status', 'interval_ms', 'ttl_ms')
for i = 8, #ARGV, 2 do redis.call('HSET', h, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', h, 'last_hb_ms', NOW_S, 'missed', 0, 'state', 'up', 'status', ARGV[5], 'suspect', '0')
redis.call('ZADD', K_DEAD, NOW + (num(f[3]) or 60000), qid)
redis.call('SREM', K_SILENT, qid)
redis.call('SET', K_ALIVE .. qid, epoch, 'PX', math.max(1, math.floor(num(f[4]) or 1000)))
-- Pause All (or this agent's pause) from the HMI: the agent learns it from its heartbeat response.
if redis.call('EXISTS', P .. ':hmi:paused') == 1 or redis.call('SISMEMBER', P .. ':hmi:paused_agents', qid) == 1 then
  paused = '1'
end
if f[1] == 'down' then
  alert(h, 'heartbeat_restored', 'restored', 0, NOW)
  publish('status_update', 'registry', extend(redis.call('HGET', h, 'alert_base'),
    {from = 'down', to = ARGV[5]}))
end
return reply('ok', epoch)
