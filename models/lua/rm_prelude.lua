-- Resource manager state. Amounts are integers (cpu, disk_gb in thousandths) so every check is exact.
local K_RM = P .. ':resource_manager:'
local K_CAP = K_RM .. 'capacity'        -- hash resource -> total
local K_ALLOC = K_RM .. 'allocated'     -- hash resource -> allocated (CHECK: 0 <= allocated <= total)
local K_PORTS = K_RM .. 'ports'         -- hash port -> reservation id
local K_ROLES = K_RM .. 'role_active'   -- hash role -> active reservations
local K_ACTIVE = K_RM .. 'active'       -- zset reservation id -> lease end ms (inf: none)
local K_HOLDERS = K_RM .. 'holders'     -- set of escaped service ids holding a lease
local K_ALL = K_RM .. 'all'             -- zset reservation id -> created ms
local function res_key(rid) return K_RM .. 'reservation:' .. rid end
local function status_key(s) return K_RM .. 'status:' .. s end
local function holder_key(q) return K_RM .. 'by_holder:' .. q end

-- A stored count (HGET's reply): 0 when absent, nil when it is not an integer (an older PAS, a hand edit).
local function stored_count(v)
  if not v then return 0 end
  if not string.match(v, '^-?%d+$') or #v > 16 then return nil end
  return tonumber(v)
end

-- Ends an active reservation once (compare-and-set on its status); returns its event base (what it held),
-- or false if it was not active.
local function finish(rid, new_status, reason)
  local h = res_key(rid)
  local f = redis.call('HMGET', h, 'status', 'amounts', 'ports', 'role', 'holder', 'event_base')
  if f[1] ~= 'active' then return false end
  local amounts = cjson.decode(f[2])
  for name, amt in pairs(amounts) do
    local left = redis.call('HINCRBY', K_ALLOC, name, -amt)
    if left < 0 then return redis.error_reply('allocated ' .. name .. ' went negative') end
  end
  for _, port in ipairs(cjson.decode(f[3])) do
    if redis.call('HGET', K_PORTS, tostring(port)) == rid then redis.call('HDEL', K_PORTS, tostring(port)) end
  end
  if f[4] and f[4] ~= '' then redis.call('HINCRBY', K_ROLES, f[4], -1) end
  if f[5] and f[5] ~= '' then
    redis.call('SREM', holder_key(f[5]), rid)
    if redis.call('SCARD', holder_key(f[5])) == 0 then redis.call('SREM', K_HOLDERS, f[5]) end
  end
  redis.call('HSET', h, 'status', new_status, 'released_ms', NOW_S, 'reason', reason)
  redis.call('ZREM', K_ACTIVE, rid)
  local created = redis.call('ZSCORE', K_ALL, rid)
  redis.call('ZREM', status_key('active'), rid)
  redis.call('ZADD', status_key(new_status), created or NOW, rid)
  publish('reservation_' .. new_status, 'resource_manager', extend(f[6], {status = new_status, reason = reason}))
  return f[6]
end
