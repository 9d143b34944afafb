-- After a summary: context to 0, breach settled. ARGV[4] state id, [5] breach seq summarized ('' none),
-- [6] summary_created event data JSON ('' = a plain clear).
local K_TG = P .. ':token_governor:'
local h = K_TG .. 'state:' .. ARGV[4]
if redis.call('EXISTS', h) == 0 then return {'not_found', NOW_S, '0'} end
local before = redis.call('HGET', h, 'ctx_used') or '0'
-- Passed on as text (cjson would print a number with 14 digits); an unreadable one (an older PAS) reads as 0.
local before_json = (string.match(before, '^%d+$') and #before <= 16) and before or '0'
redis.call('HSET', h, 'ctx_used', 0, 'status', 'ok', 'action', '', 'last_updated_ms', NOW_S)
if ARGV[5] ~= '' then
  local done_text = redis.call('HGET', h, 'summarized_for') or '0'
  local done = string.match(done_text, '^%d+$') and tonumber(done_text) or 0  -- 'nan' would never be passed
  if tonumber(ARGV[5]) > done then redis.call('HSET', h, 'summarized_for', ARGV[5]) end
end
if ARGV[6] ~= '' then
  publish('summary_created', 'token_governor', string.sub(ARGV[6], 1, -2) .. ',"ctx_before":' .. before_json .. '}')
end
local res = {'ok', NOW_S, before}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
