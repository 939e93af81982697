/**
 * The Lua scripts of RedisPresence: each change to a room's presence is one script, so that two
 * nodes changing the same room at once cannot both see "first connection" or "last connection".
 *
 * Keys, for each room:
 * - `parley:presence:conns:<room>`  sorted set of `<node>|<userId>|<connId>`, scored by the time
 *   (Redis's clock, ms) the entry expires unless its node refreshes it;
 * - `parley:presence:counts:<room>` hash userId -> that user's entries in the room (every node);
 * - `parley:presence:names:<room>`  hash userId -> the user's label (presenceLabel: the name, marked
 *   when a guest), for `list`;
 * and one for all rooms: `parley:presence:due`, a sorted set of rooms scored by when the sweeper
 * should look at the room next (never later than its earliest expiry). Refreshes raise entries'
 * scores without touching `due`, so a room is looked at about once per TTL for nothing, and the
 * sweeper never scans rooms where nothing expired.
 *
 * Times come from Redis (TIME), not from the nodes, whose clocks may disagree. The refresh and
 * sweep scripts reach the keys of many rooms, which Redis Cluster would not allow: presence needs
 * one Redis (or a primary with replicas), not a cluster.
 *
 * The scripts are sent whole (EVAL) each time, not by their SHA1: when Redis does not have a script
 * (after a restart) a client sends it again after the NOSCRIPT error, behind commands issued later,
 * and a refresh that overtook a remove that way would put back an entry that had just left.
 */

const PREFIX = 'parley:presence:';

export const presenceKeys = (room: string): string[] => [
  `${PREFIX}conns:${room}`,
  `${PREFIX}counts:${room}`,
  `${PREFIX}names:${room}`,
  `${PREFIX}due`,
];

/** Functions shared by the scripts. KEYS, when a script has them, are presenceKeys(room). */
const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function user_of(member)
  return string.match(member, '^[^|]*|([^|]*)|')
end

-- Removes the room's entries that expired by now; appends (room, userId, name) to out for each
-- user who has no entry left in the room.
local function sweep(room, conns, counts, names, now, out)
  local expired = redis.call('ZRANGEBYSCORE', conns, '-inf', now)
  if #expired == 0 then return end
  redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
  for _, member in ipairs(expired) do
    local id = user_of(member)
    if redis.call('HINCRBY', counts, id, -1) <= 0 then
      redis.call('HDEL', counts, id)
      out[#out + 1] = room
      out[#out + 1] = id
      out[#out + 1] = redis.call('HGET', names, id) or ''
      redis.call('HDEL', names, id)
    end
  end
end

-- Puts a new or refreshed entry; returns 1 when it is the user's first in the room.
local function put(conns, counts, names, expires, member, id, name)
  local first = 0
  if redis.call('ZADD', conns, expires, member) == 1 and redis.call('HINCRBY', counts, id, 1) == 1 then
    first = 1
  end
  redis.call('HSET', names, id, name)
  return first
end
`;

/**
 * ARGV: room, member, userId, name, ttl (ms). Expired entries of the room go first, so that one
 * of them never makes a new connection look like a second tab.
 * Returns {entered (0/1), departures: flat (room, userId, name)...}.
 */
export const ADD = `${COMMON}
local room, member, id, name, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
local out = {}
sweep(room, KEYS[1], KEYS[2], KEYS[3], now, out)
local entered = put(KEYS[1], KEYS[2], KEYS[3], now + ttl, member, id, name)
redis.call('ZADD', KEYS[4], 'LT', now + ttl, room)
return {entered, out}
`;

/**
 * ARGV: room, member, userId. Returns {left (0/1), departures}. An entry already gone (expired and
 * swept, its departure reported then) is not a departure again.
 */
export const REMOVE = `${COMMON}
local room, member, id = ARGV[1], ARGV[2], ARGV[3]
local out = {}
sweep(room, KEYS[1], KEYS[2], KEYS[3], now_ms(), out)
local left = 0
if redis.call('ZREM', KEYS[1], member) == 1 and redis.call('HINCRBY', KEYS[2], id, -1) <= 0 then
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  left = 1
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('ZREM', KEYS[4], room) end
return {left, out}
`;

/** ARGV: none. Returns the users with an unexpired entry: flat (userId, name)..., unordered. */
export const LIST = `${COMMON}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms(), '+inf')
local seen, out = {}, {}
for _, member in ipairs(members) do
  local id = user_of(member)
  if not seen[id] then
    seen[id] = true
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
  end
end
return out
`;

/**
 * ARGV: ttl, then (room, member, userId, name) for each of this node's entries, those of a room
 * together. Pushes back their expiry, and puts back any that Redis no longer has (it restarted, or
 * swept them while this node could not reach it); then sweeps each room. Own entries first, so that
 * a node late with its refresh does not report its own users as gone. One call covers many rooms:
 * a script per room would cost a round of the script's text per room.
 * Returns {returned: flat (room, userId, name) of users who were not in the room any more, departures}.
 */
export const REFRESH = `${COMMON}
local ttl = tonumber(ARGV[1])
local now = now_ms()
local returned, out = {}, {}
local function finish(room)
  sweep(room, '${PREFIX}conns:' .. room, '${PREFIX}counts:' .. room, '${PREFIX}names:' .. room, now, out)
  redis.call('ZADD', '${PREFIX}due', 'LT', now + ttl, room)
end
local room = nil
for i = 2, #ARGV, 4 do
  if ARGV[i] ~= room then
    if room then finish(room) end
    room = ARGV[i]
  end
  local id, name = ARGV[i + 2], ARGV[i + 3]
  if put('${PREFIX}conns:' .. room, '${PREFIX}counts:' .. room, '${PREFIX}names:' .. room, now + ttl, ARGV[i + 1], id, name) == 1 then
    returned[#returned + 1] = room
    returned[#returned + 1] = id
    returned[#returned + 1] = name
  end
end
if room then finish(room) end
return {returned, out}
`;

/**
 * KEYS: the due set. ARGV: the most rooms to look at. Sweeps the rooms that are due and schedules
 * each again at its earliest expiry (or forgets it, empty).
 * Returns {rooms looked at, ms until the next room is due (-1: none), departures}.
 */
export const SWEEP = `${COMMON}
local now = now_ms()
local rooms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, room in ipairs(rooms) do
  local conns = '${PREFIX}conns:' .. room
  sweep(room, conns, '${PREFIX}counts:' .. room, '${PREFIX}names:' .. room, now, out)
  local first = redis.call('ZRANGE', conns, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', KEYS[1], room)
  else
    redis.call('ZADD', KEYS[1], first[2], room)
  end
end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if #next > 0 then wait = math.max(0, tonumber(next[2]) - now) end
return {#rooms, wait, out}
`;

export const DUE_KEY = `${PREFIX}due`;
