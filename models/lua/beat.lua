-- The registry heartbeat as a function, shared by heartbeat.lua and the agent hooks' scripts (a hook is a
-- heartbeat of the catalogue agent it names). qid: escaped id; epoch '' = any; fields: ARGV-style list
-- args[from], args[from + 1] … of field/value pairs (JSON texts). Returns outcome, extra, paused ('0'/'1').
local function beat(qid, status, epoch, blind_ms, args, from)
  local h = K_SVC .. qid
  if redis.call('EXISTS', h) == 0 then return 'not_found', '', '0' end
  -- The first beat after Valkey came back may come before any sweep: it must not deregister its own sender.
  regain_sight(blind_ms)
  -- A late beat first settles what the clock already decided: heartbeats never resurrect.
  if not advance(qid, true) then return 'not_found', '', '0' end
  local cur = redis.call('HGET', h, 'epoch')
  if epoch ~= '' and epoch ~= cur then return 'stale_epoch', cur, '0' end
  local f = redis.call('HMGET', h, 'state', 'status', 'interval_ms', 'ttl_ms')
  for i = from, #args, 2 do redis.call('HSET', h, args[i], args[i + 1]) end
  redis.call('HSET', h, 'last_hb_ms', NOW_S, 'missed', 0, 'state', 'up', 'status', status, 'suspect', '0')
  redis.call('ZADD', K_DEAD, NOW + (num(f[3]) or 60000), qid)
  redis.call('SREM', K_SILENT, qid)
  redis.call('SET', K_ALIVE .. qid, cur, 'PX', math.max(1, math.floor(num(f[4]) or 1000)))
  local paused = '0'
  -- Pause All (or this agent's pause) from the HMI: the agent learns it from its heartbeat response.
  if redis.call('EXISTS', P .. ':hmi:paused') == 1 or redis.call('SISMEMBER', P .. ':hmi:paused_agents', qid) == 1 then
    paused = '1'
  end
  if f[1] == 'down' then
    alert(h, 'heartbeat_restored', 'restored', 0, NOW)
    publish('status_update', 'registry', extend(redis.call('HGET', h, 'alert_base'),
      {from = 'down', to = status}))
  end
  return 'ok', cur, paused
end
