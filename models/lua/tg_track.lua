-- ARGV[4] state id (escaped agent ':' escaped run), [5] fields JSON, every value a string (agent, run_id,
-- ctx_used, ctx_limit, target_ratio, hard_max_ratio, status, action), [6] auto-summarize '1'|'0', [7] event data JSON,
-- [8] messages JSON list or '', [9] message window size.
local K_TG = P .. ':token_governor:'
local id = ARGV[4]
local h = K_TG .. 'state:' .. id
local f = cjson.decode(ARGV[5])
local prev = redis.call('HGET', h, 'status')
-- Stored as sent: strings, digit for digit (tostring of a Lua number prints 14 digits: 10^14 became '1e+14').
for k, v in pairs(f) do redis.call('HSET', h, k, v) end
redis.call('HSET', h, 'last_updated_ms', NOW_S)
redis.call('SADD', K_TG .. 'index', id)
if ARGV[8] ~= '' then
  local key = K_TG .. 'messages:' .. id
  for _, m in ipairs(cjson.decode(ARGV[8])) do redis.call('RPUSH', key, m) end
  redis.call('LTRIM', key, -tonumber(ARGV[9]), -1)
end
-- A counter an older PAS (or a hand edit) left unreadable starts over rather than failing every call.
local seq_text = redis.call('HGET', h, 'breach_seq') or '0'
if not string.match(seq_text, '^%d+$') or #seq_text > 15 then
  seq_text = '0'
  redis.call('HSET', h, 'breach_seq', 0)
end
local seq = tonumber(seq_text)
local enqueue = 0
if f.status == 'breach' and prev ~= 'breach' then
  seq = redis.call('HINCRBY', h, 'breach_seq', 1)
  publish('context_breach', 'token_governor', extend(ARGV[7], {breach = seq}))
  publish('alert', 'token_governor', extend(ARGV[7], {alert_type = 'context_breach', severity = 'critical'}))
  if ARGV[6] == '1' then
    redis.call('HSET', h, 'enqueued_for', seq)
    enqueue = 1
  end
elseif f.status == 'warning' and prev ~= 'warning' and prev ~= 'breach' then
  publish('context_warning', 'token_governor', ARGV[7])
end
local res = {NOW_S, tostring(seq), tostring(enqueue)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
