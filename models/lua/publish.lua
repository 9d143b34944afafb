-- ARGV[4] event type, [5] source, [6] data JSON object.
publish(ARGV[4], ARGV[5], ARGV[6])
return out
