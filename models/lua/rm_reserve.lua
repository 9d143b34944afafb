-- ARGV[4] reservation id, [5] role ('' none), [6] role limit (-1 none), [7] lease ms (0 none), [8] holder
-- escaped service id ('' none), [9] event base JSON, [10] stored fields JSON, [11] ports JSON, [12] amounts JSON
-- (only non-zero), [13] escaped job id, then the resource names in the order their shortage is named.
local rid = ARGV[4]
local function deny(resource, requested, available)
  publish('reservation_denied', 'resource_manager', extend(ARGV[9], {
    status = 'denied', resource = resource, requested = requested, available = available}))
  local res = {'denied', resource, tostring(requested), tostring(available)}
  for _, e in ipairs(out) do res[#res + 1] = e end
  return res
end
local amounts = cjson.decode(ARGV[12])
for i = 14, #ARGV do
  local name = ARGV[i]
  local amt = amounts[name]
  local cap = stored_count(redis.call('HGET', K_CAP, name))
  local used = stored_count(redis.call('HGET', K_ALLOC, name))
  -- unreadable: refused before anything is written (HINCRBY would fail halfway through)
  if cap == nil or used == nil then return deny(name, amt, 0) end
  if used + amt > cap then return deny(name, amt, cap - used) end
end
local ports = cjson.decode(ARGV[11])
for _, port in ipairs(ports) do
  local holder = redis.call('HGET', K_PORTS, tostring(port))
  if holder then return deny('port', port, 0) end
end
local role, limit = ARGV[5], tonumber(ARGV[6])
if role ~= '' and limit >= 0 then
  local active = stored_count(redis.call('HGET', K_ROLES, role))
  if active == nil then return deny('role:' .. role, 1, 0) end
  if active + 1 > limit then return deny('role:' .. role, active + 1, limit - active) end
end
-- granted: everything at once
for i = 14, #ARGV do redis.call('HINCRBY', K_ALLOC, ARGV[i], amounts[ARGV[i]]) end
for _, port in ipairs(ports) do redis.call('HSET', K_PORTS, tostring(port), rid) end
if role ~= '' then redis.call('HINCRBY', K_ROLES, role, 1) end
local h = res_key(rid)
local fields = cjson.decode(ARGV[10])
for k, v in pairs(fields) do redis.call('HSET', h, k, v) end
redis.call('HSET', h, 'status', 'active', 'created_ms', NOW_S, 'amounts', ARGV[12], 'ports', ARGV[11],
  'role', role, 'holder', ARGV[8], 'event_base', ARGV[9])
local lease = tonumber(ARGV[7])
redis.call('ZADD', K_ACTIVE, lease > 0 and (NOW + lease) or '+inf', rid)
redis.call('ZADD', K_ALL, NOW, rid)
redis.call('SADD', K_RM .. 'by_job:' .. ARGV[13], rid)
redis.call('ZADD', status_key('active'), NOW, rid)
if ARGV[8] ~= '' then
  redis.call('SADD', holder_key(ARGV[8]), rid)
  redis.call('SADD', K_HOLDERS, ARGV[8])
end
publish('reservation_granted', 'resource_manager', extend(ARGV[9], {status = 'granted'}))
local res = {'granted', NOW_S}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
