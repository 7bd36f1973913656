"""The Lua scripts of the Redis per-host gate (``politeness_redis``), run atomically by Redis.

Each host has four keys (one hash tag, so a Redis Cluster keeps them on one node), named by a
digest of the host name (bounded length, no host in the clear):

- ``<ns>:{d}`` a hash: ``next`` (when the next request may start, in Redis time, microseconds),
  ``fails`` (failures in a row), ``seq`` (the waiting queue's ticket counter);
- ``<ns>:{d}:slots`` a sorted set of leases, scored by when each lease ends: a slot held by a
  killed worker frees itself then;
- ``<ns>:{d}:queue`` / ``:queue-ttl`` the requests waiting for a slot, in arrival order, and
  when each waiter drops out unless it asks again (a dead process's waiter ends after
  ``QUEUE_TTL``).

The two scripts change them atomically: ``ACQUIRE`` (drop ended leases, take a slot unless the
queue is ahead, hand out the next turn spaced by ``min_interval``, or say how far the turn is),
and ``FINISH`` (give the slot back and record the outcome: success resets the failures, a failure
backs off with equal jitter, Retry-After pauses). Time is Redis's clock (``TIME``), the same for
every process.

Arguments are integers (microseconds, milliseconds for key expiry) so no float formatting can
shift a turn; ``ACQUIRE`` answers ``{1, wait}`` (granted, the turn starts in ``wait`` us),
``{0, 0}`` (queued: ask again) or ``{-1, wait}`` (the turn is further than ``max_wait``).
"""

from __future__ import annotations

from workers.recheck.redis_pipeline import Script

#: KEYS: state, slots, queue, queue-ttl. ARGV: lease, concurrency, min_interval (us),
#: max_wait (us), lease length (us), queue TTL (us), state kept after its pause (ms).
ACQUIRE = Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
if #stale > 0 then
  redis.call('ZREM', KEYS[3], unpack(stale))
  redis.call('ZREM', KEYS[4], unpack(stale))
end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2])
local ahead = redis.call('ZRANK', KEYS[3], lease)
local queued = ahead ~= false
if not queued then ahead = redis.call('ZCARD', KEYS[3]) end
local following = tonumber(redis.call('HGET', KEYS[1], 'next') or 0)
local keep = tonumber(ARGV[7])
if ahead >= free then
  if not queued then
    redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), lease)
  end
  local ttl = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[4], now + ttl, lease)
  local expire = math.ceil(2 * ttl / 1000)
  redis.call('PEXPIRE', KEYS[3], expire)
  redis.call('PEXPIRE', KEYS[4], expire)
  redis.call('PEXPIREAT', KEYS[1], math.ceil(math.max(following, now) / 1000) + keep)
  return {0, 0}
end
if queued then
  redis.call('ZREM', KEYS[3], lease)
  redis.call('ZREM', KEYS[4], lease)
end
local start = math.max(now, following)
local wait = start - now
if wait > tonumber(ARGV[4]) then return {-1, wait} end
following = start + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'next', following)
redis.call('ZADD', KEYS[2], start + tonumber(ARGV[5]), lease)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], math.ceil(tonumber(last[2]) / 1000) + 1)
redis.call('PEXPIREAT', KEYS[1], math.ceil(following / 1000) + keep)
return {1, wait}
""",
    key_count=4,
    argument_count=7,
)

#: KEYS: as ACQUIRE. ARGV: lease, outcome (0 neutral, 1 success, 2 failure, 3 throttled),
#: pause (us), jitter in [0, 1), back-off base (us), back-off max (us), state kept (ms).
FINISH = Script(
    """
local lease = ARGV[1]
local outcome = tonumber(ARGV[2])
redis.call('ZREM', KEYS[2], lease)
if outcome == 0 then
  redis.call('ZREM', KEYS[3], lease)
  redis.call('ZREM', KEYS[4], lease)
  return 0
end
if outcome == 1 then
  redis.call('HDEL', KEYS[1], 'fails')
  return 0
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
local pause
if outcome == 3 then
  pause = tonumber(ARGV[3])
else
  local ceiling = math.min(tonumber(ARGV[6]), tonumber(ARGV[5]) * 2 ^ math.min(fails - 1, 64))
  pause = ceiling / 2 + tonumber(ARGV[4]) * ceiling / 2
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local following = tonumber(redis.call('HGET', KEYS[1], 'next') or 0)
following = math.max(following, math.floor(now + pause))
redis.call('HSET', KEYS[1], 'next', following)
redis.call('PEXPIREAT', KEYS[1], math.ceil(following / 1000) + tonumber(ARGV[7]))
return fails
""",
    key_count=4,
    argument_count=7,
)
