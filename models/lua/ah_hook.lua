-- Claude Code's hooks, one script for every event kind, so a run, its session, its agent's registry status
-- and the events they emit change together (all or nothing). Ids arrive escaped (key parts) in FACTS, raw in
-- the event data; each step is a compare-and-set, so a duplicate or out-of-order hook changes nothing twice.
-- KEYS: [1] session hash prefix, [2] session runs prefix, [3] run hash prefix, [4] agent runs prefix,
-- [5] tool prefix, [6] closing zset (session -> due ms), [7] active zset (session -> last ms),
-- [8] open sessions set, [9] running runs set, [10] the registry's type:agent index, [11] the timeline stream
-- (capped copy of this script's own events for the HMI), [12] per-agent totals prefix.
-- ARGV: [4] blind ms, [5] kind (start|stop|pre|post|close|touch|sweep), [6] FACTS JSON (strings),
-- [7] event data JSON built by the caller (or ''), [8] usage event data JSON (or '').
local KS_SESSION, KS_SRUNS, KS_RUN, KS_ARUNS, KS_TOOL = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_CLOSING, K_ACTIVE, K_OPEN, K_RUNNING, K_AGENTS = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_TIMELINE, KS_TOTALS = KEYS[11], KEYS[12]
local BLIND = tonumber(ARGV[4])
local KIND = ARGV[5]
local F = cjson.decode(ARGV[6])
local DATA = ARGV[7]
local SRC = 'agent_router'
local RUN_TTL = tonumber(F.run_ttl_ms)
local DONE_TTL = tonumber(F.done_ttl_ms)

local function null_if_empty(v)
  if v == nil or v == '' then return cjson.null end
  return v
end

-- A hook's own event: into the event stream (publish) and the timeline the HMI reads its snapshots from (the
-- event stream's window is shared by every service; this one keeps only sessions, runs and tool calls).
local function hook_event(event_type, data_json)
  publish(event_type, SRC, data_json)
  redis.call('XADD', K_TIMELINE, 'MAXLEN', '~', tonumber(F.timeline_maxlen), '*', 'e', out[#out])
end

local function registered(qid)
  return type(qid) == 'string' and qid ~= '' and redis.call('SISMEMBER', K_AGENTS, qid) == 1
end

local function parent_of(qid)
  local base = redis.call('HGET', K_SVC .. qid, 'alert_base')
  if not base then return cjson.null end
  return cjson.decode(base).parent or cjson.null
end

-- The catalogue agent's registry status, set by a heartbeat; a change is a status_update event.
local function set_agent(qid, status, session_id, agent_id)
  local h = K_SVC .. qid
  local before = redis.call('HMGET', h, 'status', 'state')
  local message = cjson.encode('claude-code session ' .. session_id .. ' run ' .. agent_id .. ' ' .. status)
  local outcome = beat(qid, status, '', BLIND, {'message', message}, 1)
  if outcome == 'ok' and before[1] ~= status and before[2] ~= 'down' then  -- beat() reports a restore itself
    publish('status_update', SRC, extend(redis.call('HGET', h, 'alert_base'),
      {from = before[1] or cjson.null, to = status, session_id = session_id, run_id = agent_id}))
  end
end

local function session_event(session_id, status, previous)
  hook_event('session_update', cjson.encode({session_id = session_id, status = status,
    previous = previous or cjson.null}))
end

-- Any event of a session is a sign of life: it is open (again) and its idle clock restarts.
local function touch_session()
  local k = KS_SESSION .. F.session
  local st = redis.call('HGET', k, 'status')
  if st ~= 'open' then
    redis.call('HSET', k, 'status', 'open', 'session_id', F.session_id)
    if not st then redis.call('HSET', k, 'opened_ms', NOW_S) end
    redis.call('ZREM', K_CLOSING, F.session)
    redis.call('SADD', K_OPEN, F.session)
    session_event(F.session_id, 'open', st)
  end
  redis.call('HSET', k, 'last_ms', NOW_S)
  redis.call('PEXPIRE', k, RUN_TTL)
  redis.call('ZADD', K_ACTIVE, NOW, F.session)
end

local function run_data(r)
  return {session_id = r.session_id, agent_id = r.agent_id, agent_type = r.agent_type,
    service_id = null_if_empty(r.service_id)}
end

-- A run starts once: a duplicate start, or a start after its stop (out of order), changes nothing.
local function start_run(implicit)
  local rk = KS_RUN .. F.run
  if redis.call('EXISTS', rk) == 1 then return false end
  local reg = registered(F.qid)
  redis.call('HSET', rk, 'status', 'running', 'session', F.session, 'session_id', F.session_id,
    'agent_id', F.agent_id, 'agent_type', F.agent_type, 'qid', reg and F.qid or '',
    'service_id', reg and F.service_id or '', 'started_ms', NOW_S)
  redis.call('PEXPIRE', rk, RUN_TTL)
  redis.call('SADD', KS_SRUNS .. F.session, F.run)
  redis.call('PEXPIRE', KS_SRUNS .. F.session, RUN_TTL)
  redis.call('SADD', K_RUNNING, F.run)
  local data = run_data({session_id = F.session_id, agent_id = F.agent_id, agent_type = F.agent_type,
    service_id = reg and F.service_id or ''})
  data.registered = reg
  data.implicit = implicit
  data.parent = cjson.null
  if reg then
    redis.call('SADD', KS_ARUNS .. F.qid, F.run)
    redis.call('PEXPIRE', KS_ARUNS .. F.qid, RUN_TTL)
    data.parent = parent_of(F.qid)
    set_agent(F.qid, 'running', F.session_id, F.agent_id)
  end
  hook_event('agent_run_started', cjson.encode(data))
  return true
end

-- A run stops once. Its agent goes done when no other run of it (another session's) is still going.
local function stop_run(run_q, reason, transcript)
  local rk = KS_RUN .. run_q
  local st = redis.call('HGET', rk, 'status')
  if st and st ~= 'running' then return false end
  if not st then  -- a stop without a start: the run is known from this hook alone
    local reg = registered(F.qid)
    redis.call('HSET', rk, 'session', F.session, 'session_id', F.session_id, 'agent_id', F.agent_id,
      'agent_type', F.agent_type, 'qid', reg and F.qid or '', 'service_id', reg and F.service_id or '')
  end
  local r = redis.call('HMGET', rk, 'qid', 'session', 'started_ms', 'session_id', 'agent_id', 'agent_type',
    'service_id')
  redis.call('HSET', rk, 'status', 'done', 'stopped_ms', NOW_S, 'reason', reason)
  if transcript ~= nil and transcript ~= '' then redis.call('HSET', rk, 'transcript', transcript) end
  redis.call('PEXPIRE', rk, DONE_TTL)
  redis.call('SREM', KS_SRUNS .. (r[2] or F.session), run_q)
  redis.call('SREM', K_RUNNING, run_q)
  local data = run_data({session_id = r[4], agent_id = r[5], agent_type = r[6], service_id = r[7]})
  data.reason = reason
  data.started = st ~= false and st ~= nil
  data.duration_ms = cjson.null
  if num(r[3]) then data.duration_ms = NOW - num(r[3]) end
  if registered(r[1]) then
    redis.call('SREM', KS_ARUNS .. r[1], run_q)
    if redis.call('SCARD', KS_ARUNS .. r[1]) == 0 then set_agent(r[1], 'done', r[4], r[5]) end
  end
  hook_event('agent_run_finished', cjson.encode(data))
  return true
end

-- A tool call inside a sub-agent: its run is alive (a heartbeat of its agent); a run PAS never saw start
-- (PAS was down at SubagentStart) starts here.
local function tool_beat()
  if F.run == '' then return end
  local rk = KS_RUN .. F.run
  local r = redis.call('HMGET', rk, 'status', 'qid', 'session_id', 'agent_id')
  if not r[1] then
    if F.agent_type ~= '' then start_run(true) end
    return
  end
  if r[1] == 'running' then
    redis.call('PEXPIRE', rk, RUN_TTL)
    -- At most one beat a second per agent (the contract's heartbeat rate): a busy run's tool calls stay cheap.
    if registered(r[2]) then
      local last = redis.call('HMGET', K_SVC .. r[2], 'last_hb_ms', 'status')
      if last[2] ~= 'running' or NOW - (num(last[1]) or 0) >= 1000 then set_agent(r[2], 'running', r[3], r[4]) end
    end
  end
end

local function close_session(sess_q, reason)
  local k = KS_SESSION .. sess_q
  local s = redis.call('HMGET', k, 'status', 'session_id')
  for _, run_q in ipairs(redis.call('SMEMBERS', KS_SRUNS .. sess_q)) do stop_run(run_q, reason, '') end
  redis.call('DEL', KS_SRUNS .. sess_q)
  redis.call('ZREM', K_CLOSING, sess_q)
  redis.call('ZREM', K_ACTIVE, sess_q)
  redis.call('SREM', K_OPEN, sess_q)
  if s[1] and s[1] ~= 'closed' then
    redis.call('HSET', k, 'status', 'closed', 'closed_ms', NOW_S)
    session_event(s[2] or sess_q, 'closed', s[1])
  end
end

local function reply(outcome, extra)
  local res = {outcome, NOW_S, extra or ''}
  for _, e in ipairs(out) do res[#res + 1] = e end
  return res
end

if KIND == 'sweep' then
  local batch = tonumber(F.batch)
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', K_CLOSING, '-inf', NOW, 'LIMIT', 0, batch)) do
    close_session(s, 'session_closed')
  end
  local idle_before = NOW - tonumber(F.idle_ms)
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', idle_before, 'LIMIT', 0, batch)) do
    close_session(s, 'session_idle')
  end
  return reply('ok', redis.call('ZCARD', K_CLOSING))
end

if KIND == 'close' then  -- Stop (the main agent finished its turn) or SessionEnd: finish what is left, later
  local k = KS_SESSION .. F.session
  local st = redis.call('HGET', k, 'status')
  local new = F.close
  if st == 'ended' and new == 'idle' then new = 'ended' end
  redis.call('HSET', k, 'session_id', F.session_id, 'last_ms', NOW_S)
  if not st then redis.call('HSET', k, 'opened_ms', NOW_S) end
  redis.call('PEXPIRE', k, RUN_TTL)
  redis.call('SADD', K_OPEN, F.session)
  redis.call('ZADD', K_ACTIVE, NOW, F.session)
  redis.call('ZADD', K_CLOSING, 'NX', NOW + tonumber(F.grace_ms), F.session)
  if st ~= new then
    redis.call('HSET', k, 'status', new)
    session_event(F.session_id, new, st)
  end
  return reply('ok')
end

touch_session()

if KIND == 'touch' then return reply('ok') end

if KIND == 'start' then
  if not start_run(false) then return reply('dup') end
  return reply('ok')
end

if KIND == 'stop' then
  if not stop_run(F.run, 'subagent_stop', F.transcript) then return reply('dup') end
  return reply('ok')
end

tool_beat()
local tk = KS_TOOL .. F.tool
local tool_ttl = tonumber(F.tool_ttl_ms)

if KIND == 'pre' then
  if redis.call('HSETNX', tk, 'start_ms', NOW_S) == 0 then return reply('dup') end
  redis.call('PEXPIRE', tk, tool_ttl)
  if F.target_qid ~= '' then  -- an Agent call: a delegation from the session (or agent) to the named agent
    hook_event('agent_delegation', extend(DATA, {phase = 'started', to_registered = registered(F.target_qid)}))
  end
  return reply('ok')
end

-- post
local t = redis.call('HMGET', tk, 'start_ms', 'done')
if t[2] then return reply('dup') end
local duration = num(F.duration_ms)
if duration == nil and num(t[1]) then duration = NOW - num(t[1]) end
redis.call('HSET', tk, 'done', '1')
redis.call('PEXPIRE', tk, tool_ttl)
hook_event('tool_call', extend(DATA, {duration_ms = duration or cjson.null, matched_pre = t[1] ~= false}))
local transcript = ''
if F.usage_run ~= '' then  -- an Agent call's report: the run's tokens (its SubagentStop may not have come)
  local rk = KS_RUN .. F.usage_run
  local exists = redis.call('EXISTS', rk) == 1
  if exists then
    redis.call('HSET', rk, 'input_tokens', F.input_tokens, 'output_tokens', F.output_tokens,
      'ctx_used', F.ctx_used, 'total_tokens', F.total_tokens)
    transcript = redis.call('HGET', rk, 'transcript') or ''
    if redis.call('HGET', rk, 'status') == 'running' then stop_run(F.usage_run, 'agent_returned', '') end
  end
  hook_event('agent_usage', ARGV[8])
  if registered(F.usage_qid) then  -- a catalogue agent's running totals, for its tree node
    local k_totals = KS_TOTALS .. F.usage_qid
    redis.call('HINCRBY', k_totals, 'tokens', tonumber(F.usage_tokens))
    redis.call('HINCRBY', k_totals, 'runs', 1)
    if num(F.cost_usd) then redis.call('HINCRBYFLOAT', k_totals, 'cost_usd', F.cost_usd) end
  end
end
return reply('ok', transcript)
