-- Leases: TTLs that ran out, and holders whose service is down or gone (on the Redis clock).
local expired = {}
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', NOW, 'LIMIT', 0, 1000)) do
  if finish(rid, 'expired', 'ttl') then expired[#expired + 1] = rid end
end
for _, q in ipairs(redis.call('SMEMBERS', K_HOLDERS)) do
  local f = redis.call('HMGET', K_SVC .. q, 'last_hb_ms', 'interval_ms', 'state')
  local gone = not f[1]
  local down = gone or f[3] == 'down' or (NOW - tonumber(f[1])) >= 2 * tonumber(f[2])
  if down then
    for _, rid in ipairs(redis.call('SMEMBERS', holder_key(q))) do
      if finish(rid, 'expired', gone and 'holder_deregistered' or 'holder_down') then
        expired[#expired + 1] = rid
      end
    end
  end
end
local res = {NOW_S, cjson.encode(expired)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
