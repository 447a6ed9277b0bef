/**
 * The Lua scripts that keep taskforge's own state in Redis beside BullMQ's.
 * BullMQ holds the tasks that are ready (ordered, locked while they run,
 * returned when a worker dies); these scripts hold the rest, each change
 * in one atomic step, so that no process sees half of it:
 *
 * - `tasks`     hash id → meta JSON, for every task not yet finished
 * - `blocked`   hash id → job spec, tasks waiting for dependencies
 * - `unmet`     hash id → count of dependencies not yet completed
 * - `deps:ID`   set of the tasks that wait for ID
 * - `waited-on` set of the IDs that have a `deps:ID` (so that a batch of
 *               ends, in a queue where no task waits, skips looking for them)
 * - `releasing` hash id → "ms spec": ready, handed to BullMQ by the caller;
 *               swept and handed again if that caller died first
 * - `results`   hash id → finished record JSON; `finished` zset id → ms (retention)
 * - `events`    stream of task events (start, retry, progress, cancel; `ends`:
 *               the results of the tasks one script call ended, as a JSON array)
 * - `cancels`   set of ids whose cancellation was asked for (and
 *               `PREFIX:cancelReasons`, hash of the reasons given, by id)
 *
 * Every script gets the same KEYS and the first ARGV (see `commonArguments`).
 */

/** The keys every script is given, in this order. */
export const SCRIPT_KEYS = ['tasks', 'blocked', 'unmet', 'results', 'finished', 'releasing', 'events', 'cancels'] as const;

const PRELUDE = `
local K = { tasks = KEYS[1], blocked = KEYS[2], unmet = KEYS[3], results = KEYS[4], finished = KEYS[5], releasing = KEYS[6], events = KEYS[7], cancels = KEYS[8] }
local P, now, nowIso, maxFinished, maxAge, eventsMax = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local released = {}
local waitedOn = P .. ':waited-on'

local function emit(kind, id, body)
  redis.call('XADD', K.events, 'MAXLEN', '~', eventsMax, '*', 'kind', kind, 'id', id, 'body', body)
end

local function metaOf(id)
  local meta = redis.call('HGET', K.tasks, id)
  if meta then return cjson.decode(meta) end
  return nil
end

-- The result of a task that ends without running (TaskResult's shape).
local function failedWithoutRunning(id, code, message, details)
  local meta = metaOf(id)
  local err = { code = code, message = message, retryable = false }
  if details then err.details = details end
  return cjson.encode({ id = id, type = meta and meta.type or 'unknown', status = 'failed', success = false, error = err,
    attempts = meta and meta.attempts or 0, startedAt = nowIso, finishedAt = nowIso, durationMs = 0 })
end

-- The end of a task that did not run because its dependency did not complete (as task-ends.ts words it).
local function dependencyFailed(id, dep, code, root, rootCode)
  local message = "task '" .. id .. "' did not run: its dependency '" .. dep .. "' did not complete (" .. code .. ")"
  if root ~= dep then message = message .. ": the chain failed first at '" .. root .. "' (" .. rootCode .. ")" end
  return failedWithoutRunning(id, 'DEPENDENCY_FAILED', message, { dependency = dep, dependencyCode = code, root = root, rootCode = rootCode })
end

local function release(id)
  local spec = redis.call('HGET', K.blocked, id)
  if not spec then return end
  redis.call('HDEL', K.blocked, id)
  redis.call('HDEL', K.unmet, id)
  redis.call('HSET', K.releasing, id, now .. ' ' .. spec)
  table.insert(released, spec)
end

local function trim()
  local excess = redis.call('ZCARD', K.finished) - maxFinished
  if excess > 0 then
    local old = redis.call('ZPOPMIN', K.finished, math.min(excess, 1000))
    for i = 1, #old, 2 do redis.call('HDEL', K.results, old[i]) end
  end
  if maxAge > 0 then
    local old = redis.call('ZRANGEBYSCORE', K.finished, '-inf', now - maxAge, 'LIMIT', 0, 1000)
    for _, id in ipairs(old) do
      redis.call('HDEL', K.results, id)
      redis.call('ZREM', K.finished, id)
    end
  end
end

-- Calls a command whose last arguments are the list, in chunks (Lua's unpack has a limit).
local function callChunked(command, key, list, stride)
  local chunk = 960
  for first = 1, #list, chunk do
    redis.call(command, key, unpack(list, first, math.min(first + chunk - 1, #list)))
  end
end

-- Records the ends of a batch of tasks, each once (an end of a task that
-- ended already, or that is unknown, is ignored), and releases their
-- dependents, or fails them, transitively, when a task did not complete.
-- items: { {id, result JSON, completed, error code[, root, root code]}, ... }
-- (a DEPENDENCY_FAILED end names the task where its chain failed first). The commands
-- are one per batch, not one per task: a script's calls into Redis cost
-- more than the work they do. Every end goes to the stream in one entry,
-- "ends", whose body is the JSON array of the results. Returns one flag
-- per item: 1 when recorded now.
local function finishAll(items)
  local fresh, ended, seen, first = {}, {}, {}, true
  local wave = items
  while #wave > 0 do
    local ids = {}
    for i, item in ipairs(wave) do ids[i] = item[1] end
    local metas = {}
    for at = 1, #ids, 960 do
      for _, meta in ipairs(redis.call('HMGET', K.tasks, unpack(ids, at, math.min(at + 959, #ids)))) do table.insert(metas, meta) end
    end
    local records, scores, done, outcomes = {}, {}, {}, {}
    for i, item in ipairs(wave) do
      local id = item[1]
      local recorded = metas[i] and not seen[id]
      if recorded then
        seen[id] = true
        table.insert(records, id)
        table.insert(records, '{"task":' .. metas[i] .. ',"result":' .. item[2] .. '}')
        table.insert(scores, now)
        table.insert(scores, id)
        table.insert(done, id)
        table.insert(outcomes, item)
        table.insert(ended, item[2])
      end
      if first then fresh[i] = recorded and 1 or 0 end
    end
    first = false
    local nextWave = {}
    if #done > 0 then
      callChunked('HSET', K.results, records)
      callChunked('ZADD', K.finished, scores)
      callChunked('HDEL', K.tasks, done)
      -- (Each argument costs: a key that holds nothing is not asked to remove every task of the batch.)
      for _, key in ipairs({ K.blocked, K.unmet, K.releasing }) do
        if redis.call('HLEN', key) > 0 then callChunked('HDEL', key, done) end
      end
      if redis.call('SCARD', K.cancels) > 0 then
        callChunked('SREM', K.cancels, done)
        callChunked('HDEL', P .. ':cancelReasons', done)
      end
      local waiting = 0
      local depsKeys = {}
      -- (Each key passed to Redis costs about a microsecond: none are built when no task waits at all.)
      if redis.call('SCARD', waitedOn) > 0 then
        for i, id in ipairs(done) do depsKeys[i] = P .. ':deps:' .. id end
        for at = 1, #depsKeys, 960 do waiting = waiting + redis.call('EXISTS', unpack(depsKeys, at, math.min(at + 959, #depsKeys))) end
      end
      if waiting > 0 then
        for i, item in ipairs(outcomes) do
          local tid, ok, tcode = item[1], item[3], item[4]
          local root, rootCode = item[5] or tid, item[6] or tcode
          local children = redis.call('SMEMBERS', depsKeys[i])
          if #children > 0 then
            redis.call('DEL', depsKeys[i])
            redis.call('SREM', waitedOn, tid)
          end
          for _, child in ipairs(children) do
            if redis.call('HEXISTS', K.blocked, child) == 1 then
              if ok then
                if redis.call('HINCRBY', K.unmet, child, -1) <= 0 then release(child) end
              else
                local failed = dependencyFailed(child, tid, tcode, root, rootCode)
                table.insert(nextWave, { child, failed, false, 'DEPENDENCY_FAILED', root, rootCode })
              end
            end
          end
        end
      end
    end
    wave = nextWave
  end
  if #ended > 0 then
    emit('ends', '', '[' .. table.concat(ended, ',') .. ']')
    trim()
  end
  return fresh
end
`;

/**
 * Stores a batch, all or nothing. ARGV[7] = mode (`link`: readiness from
 * each task's dependencies; `given`: from the flag), ARGV[8] = count, then
 * per task: id, meta JSON, job spec, ready flag (`given` mode).
 * Returns {'ALREADY_EXISTS', index} | {'UNKNOWN_DEPENDENCY', index, depIndex}
 * | {'OK', outcomes, released specs}: an outcome is `ready`, `blocked`, or
 * the result of a task failed at once by a failed dependency.
 */
export const SUBMIT_SCRIPT = `${PRELUDE}
local mode, n = ARGV[7], tonumber(ARGV[8])
local ids, metas, specs, flags, inBatch = {}, {}, {}, {}, {}
for i = 1, n do
  local at = 8 + (i - 1) * 4
  ids[i], metas[i], specs[i], flags[i] = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
end
for i = 1, n do
  if inBatch[ids[i]] or redis.call('HEXISTS', K.tasks, ids[i]) == 1 or redis.call('HEXISTS', K.results, ids[i]) == 1 then
    return { 'ALREADY_EXISTS', i - 1 }
  end
  inBatch[ids[i]] = true
end
local dependsOn = {}
for i = 1, n do
  local deps = cjson.decode(metas[i]).dependsOn
  if type(deps) ~= 'table' then deps = {} end
  dependsOn[i] = deps
  if mode == 'link' then
    for j, dep in ipairs(deps) do
      if not inBatch[dep] and redis.call('HEXISTS', K.tasks, dep) == 0 and redis.call('HEXISTS', K.results, dep) == 0 then
        return { 'UNKNOWN_DEPENDENCY', i - 1, j - 1 }
      end
    end
  end
end
for i = 1, n do redis.call('HSET', K.tasks, ids[i], metas[i]) end
local outcomes = {}
for i = 1, n do
  local id = ids[i]
  if redis.call('HEXISTS', K.results, id) == 1 then
    -- failed already, by a dependency earlier in this batch
    outcomes[i] = cjson.encode(cjson.decode(redis.call('HGET', K.results, id)).result)
  elseif mode == 'given' then
    if flags[i] == '1' then
      redis.call('HSET', K.releasing, id, now .. ' ' .. specs[i])
      table.insert(released, specs[i])
      outcomes[i] = 'ready'
    else
      redis.call('HSET', K.blocked, id, specs[i])
      redis.call('HSET', K.unmet, id, 0)
      outcomes[i] = 'blocked'
    end
  else
    local unmet, failedDep, failedCode, root, rootCode = 0, nil, nil, nil, nil
    for _, dep in ipairs(dependsOn[i]) do
      local record = redis.call('HGET', K.results, dep)
      if record then
        local result = cjson.decode(record).result
        if result.status ~= 'completed' then
          failedDep, failedCode = dep, (type(result.error) == 'table' and result.error.code) or 'FAILED'
          local details = type(result.error) == 'table' and result.error.details
          if failedCode == 'DEPENDENCY_FAILED' and type(details) == 'table' and type(details.root) == 'string' and type(details.rootCode) == 'string' then
            root, rootCode = details.root, details.rootCode
          else
            root, rootCode = failedDep, failedCode
          end
          break
        end
      else
        unmet = unmet + 1
        redis.call('SADD', P .. ':deps:' .. dep, id)
        redis.call('SADD', waitedOn, dep)
      end
    end
    if failedDep then
      local failed = dependencyFailed(id, failedDep, failedCode, root, rootCode)
      finishAll({ { id, failed, false, 'DEPENDENCY_FAILED', root, rootCode } })
      outcomes[i] = failed
    elseif unmet > 0 then
      redis.call('HSET', K.blocked, id, specs[i])
      redis.call('HSET', K.unmet, id, unmet)
      outcomes[i] = 'blocked'
    else
      redis.call('HSET', K.releasing, id, now .. ' ' .. specs[i])
      table.insert(released, specs[i])
      outcomes[i] = 'ready'
    end
  end
end
return { 'OK', outcomes, released }
`;

/**
 * Records the ends of a batch of tasks, and removes from BullMQ the jobs
 * they ran as, in the same atomic step: a job leaves BullMQ only with its
 * task's end recorded, so a worker that dies in between leaves the job to
 * BullMQ's stalled check (run again, the end recorded once) and never a
 * completed job whose end is lost. ARGV[7] = count, then per task: id,
 * result JSON, '1' when it completed, its error code; then the BullMQ key
 * prefix of the queue (`PREFIX:NAME:`) and a count of jobs, then per job:
 * job id, lock token, the place of its task's end among the ends (0: none),
 * when its run took it (its `processedOn`). A job is removed only while the
 * token still holds its lock (else another worker took it after a stall,
 * and owns it now); and then that end is not recorded either: it is the new
 * holder's to record. Nor is the end of a run whose lock is gone and whose
 * job is no longer the one it took (taken since, or gone: Redis lost it and
 * the id was submitted again): the task under that id now is another.
 * This mirrors BullMQ 6.7's moveToFinished for a job removed on completion
 * (removeLock, LREM active, removeJobKeys), less its events, the fetch of
 * the next job, and the keys of job logs and flows. Returns {one flag per task: 1 when recorded now (0: it
 * had ended already, or is unknown), released specs}.
 */
export const FINISH_SCRIPT = `${PRELUDE}
local n = tonumber(ARGV[7])
local items = {}
for i = 1, n do
  local at = 7 + (i - 1) * 4
  items[i] = { ARGV[at + 1], ARGV[at + 2], ARGV[at + 3] == '1', ARGV[at + 4] }
end
local base = 8 + n * 4
local jobs = tonumber(ARGV[base + 1] or '0')
local bull = ARGV[base]
-- An end whose job's lock another worker holds now is not this worker's to record (that worker runs the
-- task again and records its own end): fenced as the task's writes are. A lapsed lock no one took leaves it,
-- while the job is still the one this run took (the lookup is made only then: never on the common path).
local refused = {}
local held = {}
for i = 1, jobs do
  local at = base + 4 * (i - 1)
  local jobId, token, item, takenAt = ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4]), ARGV[at + 5]
  local holder = redis.call('GET', bull .. jobId .. ':lock')
  if holder == token then
    table.insert(held, jobId)
  elseif item > 0 and (holder or redis.call('HGET', bull .. jobId, 'processedOn') ~= takenAt) then
    refused[item] = true
  end
end
local kept, places = {}, {}
for i, item in ipairs(items) do
  if not refused[i] then
    table.insert(kept, item)
    table.insert(places, i)
  end
end
local keptFresh = finishAll(kept)
local fresh = {}
for i = 1, n do fresh[i] = 0 end
for k, i in ipairs(places) do fresh[i] = keptFresh[k] end
if #held > 0 then
  local active = bull .. 'active'
  local keys = {}
  for _, jobId in ipairs(held) do
    redis.call('LREM', active, -1, jobId)
    -- (BullMQ's removeJobKeys also deletes the keys of job logs and flows, which taskforge never makes; each key costs.)
    table.insert(keys, bull .. jobId)
    table.insert(keys, bull .. jobId .. ':lock')
  end
  for first = 1, #keys, 960 do redis.call('DEL', unpack(keys, first, math.min(first + 959, #keys))) end
  if redis.call('SCARD', bull .. 'stalled') > 0 then callChunked('SREM', bull .. 'stalled', held) end
end
return { fresh, released }
`;

/**
 * Asks for a task's cancellation. ARGV[7] = id, ARGV[8] = the message of a
 * task cancelled before it ran, ARGV[9] = the cancel event's body (JSON
 * with the id and reason), also what the workers are sent.
 * Returns {'finished', record} | {'cancelled', result} (it was blocked: ended
 * now) | {'signalled', meta} (published to the workers; it may be waiting
 * in BullMQ or running) | {'unknown'}.
 */
export const CANCEL_SCRIPT = `${PRELUDE}
local id = ARGV[7]
local record = redis.call('HGET', K.results, id)
if record then return { 'finished', record } end
if redis.call('HEXISTS', K.blocked, id) == 1 then
  local event = cjson.decode(ARGV[9])
  event.type = metaOf(id).type
  event.previousStatus = 'pending'
  emit('cancel', id, cjson.encode(event))
  local failed = failedWithoutRunning(id, 'CANCELLED', ARGV[8], nil)
  finishAll({ { id, failed, false, 'CANCELLED' } })
  return { 'cancelled', failed }
end
local meta = redis.call('HGET', K.tasks, id)
if meta then
  -- Published first: a user without the queue's channels is refused here, and Redis keeps a script's
  -- writes made before a refused command, so a mark made first would outlive the refusal.
  redis.call('PUBLISH', P .. ':cancel', ARGV[9])
  redis.call('SADD', K.cancels, id)
  -- (Kept for a worker that takes the task after its last one died: it ends it with the reason asked.)
  local reason = cjson.decode(ARGV[9]).reason
  if type(reason) == 'string' then redis.call('HSET', P .. ':cancelReasons', id, reason) end
  return { 'signalled', meta }
end
return { 'unknown' }
`;

/**
 * The ready tasks whose handing to BullMQ was not confirmed within ARGV[7]
 * ms (their submitter or releaser died in between). Returns their entries as
 * stored ("releasedAt spec"), so that their jobs carry their release time.
 */
export const STRANDED_SCRIPT = `${PRELUDE}
local olderThan = now - tonumber(ARGV[7])
local entries = redis.call('HGETALL', K.releasing)
local stranded = {}
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local space = string.find(value, ' ', 1, true)
  if tonumber(string.sub(value, 1, space - 1)) < olderThan then table.insert(stranded, value) end
end
return stranded
`;
