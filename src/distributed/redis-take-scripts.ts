/**
 * The Lua scripts by which taskforge takes, keeps, hands back and removes
 * BullMQ jobs itself. A worker takes several in one call, where BullMQ's Worker moves one
 * job per call: a script call costs Redis and the worker more than the few
 * commands it runs for a job, so a worker taking the jobs for all its free
 * slots at once makes a fraction of the calls. Each mirrors what BullMQ
 * 6.7's own script does to a job (its keys, fields, lock, marker and
 * events), so that BullMQ's queue, stalled check and getters see the same
 * state either way; what they leave out, taskforge's queues never use:
 * rate limits, delayed jobs, job schedulers and the deprecated markers of
 * the wait list are handled as noted.
 *
 * Keys, in this order, for every script: the queue's BullMQ `wait`,
 * `active`, `prioritized`, `events`, `meta`, `pc` (priority counter),
 * `marker` and `stalled` keys.
 */
export const BULL_KEYS = ['wait', 'active', 'prioritized', 'events', 'meta', 'pc', 'marker', 'stalled'] as const;

const PRELUDE = `
local rcall = redis.call
local waitKey, activeKey, prioritizedKey, eventsKey, metaKey, pcKey, markerKey, stalledKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local prefix = ARGV[1]
-- BullMQ's getQueueMetadata: paused, or at the queue's global concurrency.
local function roomLeft(wanted)
  local meta = rcall('HMGET', metaKey, 'paused', 'concurrency')
  if meta[1] then return 0 end
  if meta[2] then return math.max(0, math.min(wanted, tonumber(meta[2]) - rcall('LLEN', activeKey))) end
  return wanted
end
`;

/** A take looks past at most this many waiting jobs of types its worker does not run (each costs Redis a few µs, twice). */
export const MAX_PASSED_PER_TAKE = 1000;

/**
 * Takes up to ARGV[5] jobs, in BullMQ's order (the plain wait list first,
 * then the prioritized set), each as BullMQ's moveToActive takes one: into
 * the active list, locked with its own token (ARGV[3] .. ':' .. its place
 * in this call) for ARGV[4] ms, `processedOn` set to ARGV[2], `ats`
 * (attempts started) counted, an `active` event. ARGV[6] on, when given,
 * are the task types the worker runs: a job of another type (its BullMQ
 * name is its task's type) is looked past and, at the end of the call, put
 * back exactly where it was (its place in the wait list, its score), so
 * that a worker that runs its type finds it in its turn; at most
 * MAX_PASSED_PER_TAKE are. A job id whose job is gone (removed while it
 * waited) is dropped. When jobs remain, the marker is set for the other
 * workers (BullMQ sets it after every job it takes). A paused queue, or one
 * at the global concurrency BullMQ lets a queue set (taskforge sets none),
 * gives nothing: the worker then waits on the marker (resume sets it) or
 * looks again within seconds. Returns the jobs taken (per job: its id, its
 * data, its attempts started, its stalled count, its lock token) and the
 * types of the jobs looked past.
 */
export const TAKE_SCRIPT = `${PRELUDE}
local now, tokenBase, lockDuration = ARGV[2], ARGV[3], ARGV[4]
local wanted = roomLeft(tonumber(ARGV[5]))
local runs
if #ARGV > 5 then
  runs = {}
  for i = 6, #ARGV do runs[ARGV[i]] = true end
end
local taken, count, tries = {}, 0, 0
-- Jobs of other types: ids from the wait list, and score and id pairs from the prioritized set, to put back.
local passedWait, passedPrioritized, passedTypes, passedTypeSet, passed = {}, {}, {}, {}, 0
local prioritizedEmptied = false
-- (A job id whose job is gone costs a try; at most as many such as jobs wanted.)
while count < wanted and tries < wanted * 2 and passed < ${String(MAX_PASSED_PER_TAKE)} do
  local jobId = rcall('RPOP', waitKey)
  local score
  -- (A marker in the wait list, deprecated since BullMQ 5: dropped, as BullMQ does.)
  if jobId and string.sub(jobId, 1, 2) == '0:' then jobId = rcall('RPOP', waitKey) end
  if not jobId then
    local popped = rcall('ZPOPMIN', prioritizedKey)
    if #popped == 0 then
      prioritizedEmptied = true
      break
    end
    jobId, score = popped[1], popped[2]
  end
  local jobKey = prefix .. jobId
  local fields = rcall('HMGET', jobKey, 'data', 'stc', 'name')
  if fields[1] and runs and fields[3] and not runs[fields[3]] then
    passed = passed + 1
    if score then
      table.insert(passedPrioritized, score)
      table.insert(passedPrioritized, jobId)
    else
      table.insert(passedWait, jobId)
    end
    if not passedTypeSet[fields[3]] then
      passedTypeSet[fields[3]] = true
      table.insert(passedTypes, fields[3])
    end
  else
    tries = tries + 1
    if fields[1] then
      rcall('LPUSH', activeKey, jobId)
      local token = tokenBase .. ':' .. tries
      rcall('SET', jobKey .. ':lock', token, 'PX', lockDuration)
      rcall('XADD', eventsKey, '*', 'event', 'active', 'jobId', jobId, 'prev', 'waiting')
      -- (tfToken: which take holds the job; a renewal that finds the lock lapsed re-takes only a job nobody took since.)
      rcall('HSET', jobKey, 'processedOn', now, 'tfToken', token)
      local started = rcall('HINCRBY', jobKey, 'ats', 1)
      table.insert(taken, jobId)
      table.insert(taken, fields[1])
      table.insert(taken, started)
      table.insert(taken, fields[2] or '0')
      table.insert(taken, token)
      count = count + 1
    end
  end
end
-- Put back from the last popped on: the wait list's right end is its oldest job.
for i = #passedWait, 1, -1 do rcall('RPUSH', waitKey, passedWait[i]) end
if #passedPrioritized > 0 then rcall('ZADD', prioritizedKey, unpack(passedPrioritized)) end
-- (BullMQ resets the priority counter once nothing is prioritized.)
if prioritizedEmptied and #passedPrioritized == 0 then rcall('DEL', pcKey) end
if (#taken > 0 or passed > 0) and (rcall('LLEN', waitKey) > 0 or rcall('ZCARD', prioritizedKey) > 0) then rcall('ZADD', markerKey, 0, '0') end
return { taken, passedTypes }
`;

/**
 * Renews the locks of the jobs this worker holds, as BullMQ's extendLocks:
 * ARGV[2] = lock duration (ms), then job id and token pairs. A lock renewed
 * takes its job out of the stalled set. A lock that lapsed (no renewal
 * reached Redis for its duration: an outage, a paused process) is set
 * again when its job is still active and the take that holds it is still
 * this token's (`tfToken`): nobody else can have taken the job meanwhile,
 * since a job leaves the active list to be taken again. Returns, for each
 * job whose lock is not renewed, its id and why: 'gone' (no such job:
 * its end was recorded elsewhere, or Redis lost it), 'taken' (another take
 * holds it, or took it since), 'waiting' (BullMQ's stalled check handed
 * it back; nobody has taken it yet); and 'relocked' for a lock set again.
 */
export const EXTEND_SCRIPT = `${PRELUDE}
local lockDuration = ARGV[2]
local told = {}
for i = 3, #ARGV, 2 do
  local jobId, token = ARGV[i], ARGV[i + 1]
  local jobKey = prefix .. jobId
  local lockKey = jobKey .. ':lock'
  local holder = rcall('GET', lockKey)
  if holder == token then
    rcall('SET', lockKey, token, 'PX', lockDuration)
    rcall('SREM', stalledKey, jobId)
  else
    local how
    if holder then
      how = 'taken'
    elseif rcall('EXISTS', jobKey) == 0 then
      how = 'gone'
    elseif rcall('HGET', jobKey, 'tfToken') ~= token then
      how = 'taken'
    elseif rcall('LPOS', activeKey, jobId) then
      rcall('SET', lockKey, token, 'PX', lockDuration)
      rcall('SREM', stalledKey, jobId)
      how = 'relocked'
    else
      how = 'waiting'
    end
    table.insert(told, jobId)
    table.insert(told, how)
  end
end
return told
`;

/**
 * Hands a job this worker holds back to the queue unfinished, as BullMQ's
 * moveJobFromActiveToWait: ARGV[2] = job id, ARGV[3] = its lock token. Only
 * while the token holds its lock (else another worker holds it now). The
 * job goes ahead of the jobs of its priority (BullMQ's pushBackJobWithPriority),
 * or to the wait list when it has none; the marker is set (BullMQ's script
 * leaves a worker that waits on it asleep). Returns 1 when handed back.
 */
export const HAND_BACK_SCRIPT = `${PRELUDE}
local jobId, token = ARGV[2], ARGV[3]
local jobKey = prefix .. jobId
if rcall('GET', jobKey .. ':lock') ~= token then return 0 end
rcall('DEL', jobKey .. ':lock')
rcall('SREM', stalledKey, jobId)
if rcall('LREM', activeKey, 1, jobId) == 0 then return 0 end
local priority = tonumber(rcall('HGET', jobKey, 'priority')) or 0
if priority > 0 then
  rcall('ZADD', prioritizedKey, priority * 0x100000000, jobId)
else
  rcall('RPUSH', waitKey, jobId)
end
if roomLeft(1) > 0 then rcall('ZADD', markerKey, 0, '0') end
rcall('XADD', eventsKey, '*', 'event', 'waiting', 'jobId', jobId, 'prev', 'active')
return 1
`;

/**
 * Removes a job while it waits, as BullMQ's removeJob does one that is not
 * locked: ARGV[2] = job id. Unlike BullMQ's, it says 0 for a job that is not
 * waiting (taken, or gone: its task ended and its worker removed it), for
 * BullMQ's says 1 for any job id without a lock, there or not, and a cancel
 * would take that for having ended the task itself. Taskforge's jobs have no
 * children, logs aside no keys of their own, and are never delayed or
 * deduplicated. Returns 0 when not removed, else 1 + the runs of it that
 * were started (BullMQ's `ats`: runs a dead worker cut off, the job handed
 * back to wait by the stalled check).
 */
export const REMOVE_WAITING_SCRIPT = `${PRELUDE}
local jobId = ARGV[2]
local jobKey = prefix .. jobId
if rcall('EXISTS', jobKey .. ':lock') == 1 then return 0 end
local prev
if rcall('ZREM', prioritizedKey, jobId) == 1 then
  prev = 'prioritized'
elseif rcall('LREM', waitKey, 1, jobId) == 1 then
  prev = 'wait'
else
  return 0
end
local started = tonumber(rcall('HGET', jobKey, 'ats')) or 0
rcall('DEL', jobKey, jobKey .. ':logs')
local maxEvents = tonumber(rcall('HGET', metaKey, 'opts.maxLenEvents')) or 10000
rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'removed', 'jobId', jobId, 'prev', prev)
return 1 + started
`;
