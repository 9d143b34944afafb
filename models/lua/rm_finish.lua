-- ARGV[4] new status (released|expired|killed), [5] reason, then reservation ids.
local done = {}
for i = 6, #ARGV do
  if finish(ARGV[i], ARGV[4], ARGV[5]) then done[#done + 1] = ARGV[i] end
end
local res = {NOW_S, cjson.encode(done)}
for _, e in ipairs(out) do res[#res + 1] = e end
return res
