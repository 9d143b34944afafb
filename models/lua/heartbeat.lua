-- ARGV[4] escaped id, [5] status, [6] epoch ('' = any), [7] blind ms (see regain_sight), then field/value
-- pairs of reported metrics. The work is beat() (beat.lua).
local h = K_SVC .. ARGV[4]
local before = redis.call('HMGET', h, 'status', 'state')
local outcome, extra, paused = beat(ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV, 8)
-- A beat that changes the status (a model going degraded, an agent running) is a status_update, with the
-- message now stored (JSON text written by the registry, spliced in as it is). beat() reports a restore itself.
if outcome == 'ok' and before[1] and before[1] ~= ARGV[5] and before[2] ~= 'down' then
  local data = extend(redis.call('HGET', h, 'alert_base'), {from = before[1], to = ARGV[5]})
  local message = redis.call('HGET', h, 'message') or 'null'
  publish('status_update', 'registry', string.sub(data, 1, -2) .. ',"message":' .. message .. '}')
end
local res = {outcome, NOW_S, extra, paused}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
