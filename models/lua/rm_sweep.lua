-- Leases: TTLs that ran out, and holders whose service is down or gone (on the Redis clock).
local expired = {}
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', NOW, 'LIMIT', 0, 1000)) do
  if finish(rid, 'expired', 'ttl') then expired[#expired + 1] = rid end
end
-- A holder that is down loses its lease, unless PAS itself stopped hearing everyone (self-preservation, or the
-- grace after Valkey came back): that is PAS's outage, not the holder's (RELIABILITY L9).
for _, q in ipairs(redis.call('SMEMBERS', K_HOLDERS)) do
  local f = redis.call('HMGET', K_SVC .. q, 'last_hb_ms', 'interval_ms', 'state')
  local gone = not f[1]
  local reason = gone and 'holder_deregistered' or nil
  if not gone then
    local interval = num(f[2]) or 60000
    local from = math.max(num(f[1]) or 0, grace_from())
    if (f[3] == 'down' or (NOW - from) >= 2 * interval) and not hold_until(interval) then reason = 'holder_down' end
  end
  if reason then
    for _, rid in ipairs(redis.call('SMEMBERS', holder_key(q))) do
      if finish(rid, 'expired', reason) then expired[#expired + 1] = rid end
    end
  end
end
local res = {NOW_S, cjson.encode(expired)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
