-- ARGV[4] new status (released|expired|killed), [5] reason, then reservation ids.
local held = {}
for i = 6, #ARGV do
  local base = finish(ARGV[i], ARGV[4], ARGV[5])
  if base then held[#held + 1] = base end
end
local res = {NOW_S, tostring(#held)}
for _, b in ipairs(held) do res[#res + 1] = b end
for _, e in ipairs(out) do res[#res + 1] = e end
return res
