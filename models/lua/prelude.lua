-- Shared by every registry/monitor script. ARGV[1..3] are common: key prefix, event stream max length,
-- self-preservation cap (ms). Liveness uses the Redis clock only (RELIABILITY decision 2).
local P = ARGV[1]
local MAXLEN = tonumber(ARGV[2])
local CAP_MS = tonumber(ARGV[3])
local K_SVC = P .. ':registry:service:'
local K_IDS = P .. ':registry:ids'
local K_DEAD = P .. ':heartbeat_monitor:deadlines'
local K_ALIVE = P .. ':heartbeat_monitor:alive:'
local K_SILENT = P .. ':heartbeat_monitor:silent'
local K_PRES = P .. ':heartbeat_monitor:preservation'
local K_PRES_CLEARED = P .. ':heartbeat_monitor:preservation_cleared'
local K_GRACE = P .. ':heartbeat_monitor:grace_from'
local K_LAST_SWEEP = P .. ':heartbeat_monitor:last_sweep'
local K_LAST_HEARD = P .. ':heartbeat_monitor:last_heard'
local K_SEQ = P .. ':event_stream:seq'
local K_EVENTS = P .. ':event_stream:events'

local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local NOW_S = string.format('%d', NOW)

local out = {}  -- event bodies written by this script, returned for live emission

-- A stored number, or nil: a value that is not a finite number (an older version's, a hand edit) never
-- breaks a script.
local function num(v)
  local n = tonumber(v)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

-- Since a grace (PAS itself was deaf: Valkey restarted, or no sweep ran), ages count from the grace's start.
local grace_cache = nil
local function grace_from()
  if grace_cache == nil then grace_cache = num(redis.call('GET', K_GRACE)) or 0 end
  return grace_cache
end

-- data_json is a JSON object text built by the caller (labels and caps pass through untouched).
local function publish(event_type, source, data_json)
  local seq = redis.call('INCR', K_SEQ)
  local body = '{"seq":' .. seq .. ',"event_type":"' .. event_type .. '","source":"' .. source
    .. '","ts_ms":' .. NOW_S .. ',"data":' .. data_json .. '}'
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', MAXLEN, seq .. '-1', 'e', body)
  out[#out + 1] = body
end

-- Appends the fields of tbl (a non-empty Lua table) to a JSON object text.
local function extend(obj_json, tbl)
  local extra = string.sub(cjson.encode(tbl), 2)
  if obj_json == '{}' then return '{' .. extra end
  return string.sub(obj_json, 1, -2) .. ',' .. extra
end

local function alert(h, alert_type, action, missed, last)
  local base = redis.call('HGET', h, 'alert_base')
  publish('alert', 'heartbeat_monitor', extend(base, {
    alert_type = alert_type, action = action, missed_beats = missed, last_seen_ms = last}))
end

local function remove(qid, h)
  local idx = redis.call('HGET', h, 'idx')
  if idx then
    for _, k in ipairs(cjson.decode(idx)) do redis.call('SREM', k, qid) end
  end
  redis.call('SREM', K_IDS, qid)
  redis.call('ZREM', K_DEAD, qid)
  redis.call('SREM', K_SILENT, qid)
  redis.call('DEL', h, K_ALIVE .. qid)
end

-- Deregistration is held while self-preservation is on: for max(cap, one interval) from its start, and for
-- cap after most services were heard again (the stragglers of a backlog are still being ingested then).
local function hold_until(interval)
  local since = num(redis.call('GET', K_PRES))
  if not since then return nil end
  local until_ms = since + math.max(CAP_MS, interval)
  local cleared = num(redis.call('GET', K_PRES_CLEARED))
  if cleared then until_ms = math.max(until_ms, cleared + CAP_MS) end
  if NOW < until_ms then return until_ms end
  return nil
end

-- A monitor-wide alert (self-preservation held / released, a grace), the shape of a service's alerts.
local function monitor_alert(action, missed, last, message)
  publish('alert', 'heartbeat_monitor', cjson.encode({
    alert_type = 'self_preservation', action = action, service_id = cjson.null, service_name = cjson.null,
    parent = cjson.null, missed_beats = missed, last_seen_ms = last, message = message}))
end

-- After a gap longer than blind_ms in which the store ran no heartbeat and no sweep (Valkey stopped, killed and
-- restarted from its AOF, or all of PAS down), what the clock says about that time is PAS's outage, not the
-- services': every ladder starts again from now (RELIABILITY decision 9), once per gap, whichever script runs
-- first. A gap in the sweeps alone (beat or worker away while heartbeats were still written) is no blindness: the
-- beats were recorded, and a service silent then was silent. Stores written before `last_heard` existed fall back
-- on the last sweep.
local function regain_sight(blind_ms)
  local last = num(redis.call('GET', K_LAST_HEARD)) or num(redis.call('GET', K_LAST_SWEEP))
  redis.call('SET', K_LAST_HEARD, NOW_S)
  if not last or NOW - last <= blind_ms or grace_from() >= last then return end
  redis.call('SET', K_GRACE, NOW_S)
  grace_cache = NOW
  monitor_alert('grace', 0, last, string.format('the store heard nothing for %d ms (Valkey stopped or '
    .. 'restarted, or PAS down): every service gets a fresh start', NOW - last))
end

-- Walks one service up the miss ladder (1 warning, 2 down, 3 deregistered) to where the clock says it is.
-- Each step is a compare-and-set on the stored level, so a second sweep emits nothing twice.
-- Returns false when the service is (now) gone.
local function advance(qid, allow_dereg)
  local h = K_SVC .. qid
  local f = redis.call('HMGET', h, 'last_hb_ms', 'interval_ms', 'missed', 'state', 'status')
  if not f[1] then
    redis.call('ZREM', K_DEAD, qid)
    redis.call('SREM', K_SILENT, qid)
    return false
  end
  local last, interval, level = num(f[1]) or 0, num(f[2]) or 60000, num(f[3]) or 0
  if interval < 1 then interval = 60000 end
  local from = math.max(last, grace_from())
  local missed = math.floor((NOW - from) / interval)
  while level < missed and level < 3 do
    local nxt = level + 1
    if nxt == 3 then
      if not allow_dereg then break end
      local until_ms = hold_until(interval)
      if until_ms then
        redis.call('HSET', h, 'suspect', '1')
        redis.call('ZADD', K_DEAD, until_ms, qid)
        return true
      end
      alert(h, 'service_deregistered', 'deregistered', 3, last)
      publish('service_deregistered', 'heartbeat_monitor',
        extend(redis.call('HGET', h, 'summary'), {reason = 'missed_heartbeats'}))
      remove(qid, h)
      return false
    elseif nxt == 1 then
      redis.call('SADD', K_SILENT, qid)
      alert(h, 'heartbeat_miss', 'warning', 1, last)
    else
      redis.call('HSET', h, 'state', 'down')
      alert(h, 'service_down', 'marked_down', 2, last)
      publish('status_update', 'heartbeat_monitor', extend(redis.call('HGET', h, 'alert_base'),
        {from = f[5], to = 'down', missed_beats = 2}))
    end
    level = nxt
    redis.call('HSET', h, 'missed', level)
  end
  if level < 3 then redis.call('ZADD', K_DEAD, from + (level + 1) * interval, qid) end
  return true
end
