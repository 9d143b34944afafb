-- KEYS[1] the event's marker (keys.event_once): the event is written only if the marker is new, so a step that
-- runs again (a job settled again after an outage cut it short) writes it once. ARGV[4] event type, [5] source,
-- [6] data JSON object, [7] the marker's lifetime in ms (longer than any retry of the step can come).
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[7]) then
  publish(ARGV[4], ARGV[5], ARGV[6])
end
return out
