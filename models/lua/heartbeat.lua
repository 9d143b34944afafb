-- ARGV[4] escaped id, [5] status, [6] epoch ('' = any), [7] blind ms (see regain_sight), then field/value
-- pairs of reported metrics. The work is beat() (beat.lua).
local outcome, extra, paused = beat(ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV, 8)
local res = {outcome, NOW_S, extra, paused}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
