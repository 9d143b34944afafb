-- ARGV[4] escaped id.
local qid = ARGV[4]
local h = K_SVC .. qid
if redis.call('EXISTS', h) == 0 then return {'not_found', NOW_S} end
publish('service_deregistered', 'registry', extend(redis.call('HGET', h, 'summary'), {reason = 'manual'}))
remove(qid, h)
local res = {'ok', NOW_S}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
