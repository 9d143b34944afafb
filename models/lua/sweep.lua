-- ARGV[4] batch size, [5] min services for self-preservation, [6] JSON of the self-preservation alert,
-- [7] blind ms (a gap in sweeps longer than this is PAS's outage: a grace for everyone).
regain_sight(tonumber(ARGV[7]))
local due = redis.call('ZRANGEBYSCORE', K_DEAD, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[4]))
-- Pass 1: warnings and downs, which self-preservation never delays.
for _, qid in ipairs(due) do advance(qid, false) end
local n = redis.call('SCARD', K_IDS)
local silent = redis.call('SCARD', K_SILENT)
if n >= tonumber(ARGV[5]) and silent * 2 > n then
  -- A new mass silence, or one that starts again while the last one's hold was running out (most had been heard
  -- again): the hold counts from now, not from the earlier start, or it would already be over.
  local again = redis.call('EXISTS', K_PRES_CLEARED) == 1
  if redis.call('SET', K_PRES, NOW_S, 'NX') or again then
    redis.call('SET', K_PRES, NOW_S)
    publish('alert', 'heartbeat_monitor', extend(ARGV[6], {missed_beats = silent, last_seen_ms = NOW}))
  end
  redis.call('DEL', K_PRES_CLEARED)
else
  -- Most are heard again; the hold lasts one cap more for the stragglers (hold_until), then ends.
  local since = num(redis.call('GET', K_PRES))
  if since then
    local cleared = num(redis.call('GET', K_PRES_CLEARED))
    if not cleared then
      cleared = NOW
      redis.call('SET', K_PRES_CLEARED, NOW_S)
    end
    if NOW >= math.max(since, cleared) + CAP_MS then
      redis.call('DEL', K_PRES, K_PRES_CLEARED)
      monitor_alert('released', silent, NOW, 'most services are heard again; deregistration is no longer held')
    end
  elseif redis.call('EXISTS', K_PRES_CLEARED) == 1 then
    redis.call('DEL', K_PRES_CLEARED)
  end
end
-- Pass 2: deregistrations, held while most services are silent at once (PAS itself was likely cut off).
for _, qid in ipairs(due) do advance(qid, true) end
redis.call('SET', K_LAST_SWEEP, NOW_S)
local nxt = redis.call('ZRANGE', K_DEAD, 0, 0, 'WITHSCORES')
local res = {NOW_S, nxt[2] or '', tostring(#due)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
