/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scripts.c: the two Lua scripts that are the whole fleet protocol.
 *
 * Each refresh of an instance runs both, pipelined in one round trip (see
 * fleet.c). They are atomic (Redis runs a script to the end before anything
 * else), take their time from Redis (TIME), never from the instances, so
 * hosts with different clocks share one window, and set a PX TTL on every key
 * they touch, so a fleet that stops leaves nothing behind. Every key of one
 * fleet carries the hash tag {NAME}, so the scripts also run on Redis
 * Cluster. docs/fleet.md describes each argument and reply; keep the two in
 * step.
 */
#include "fleet_internal.h"

/*
 * BUDGET: report requests and spent retries, renew this instance's lease.
 * KEYS: 1 window hash (r:<bucket> requests, s:<bucket> spent retries),
 *       2 lease zset (instance -> expiry ms), 3 held hash (instance ->
 *       tokens; "#total" = sum over live leases).
 * ARGV: 1 instance, 2 requests, 3 spent, 4 held (tokens the instance still
 *       holds), 5 want (more tokens wanted), 6 ratio, 7 floor (tokens),
 *       8 bucket ms, 9 buckets, 10 lease ttl ms, 11 key ttl ms.
 * Reply: {granted, window requests, window spent, leased total, now ms}.
 */
const char rein__fleet_lua_budget[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local id = ARGV[1]\n"
    "local req, spent = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local held, want = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local ratio, floor_ = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local bms, nb = tonumber(ARGV[8]), tonumber(ARGV[9])\n"
    "local lttl, kttl = tonumber(ARGV[10]), tonumber(ARGV[11])\n"
    "local total = tonumber(redis.call('HGET', KEYS[3], '#total') or '0')\n"
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "for _, m in ipairs(dead) do\n"
    "  total = total - tonumber(redis.call('HGET', KEYS[3], m) or '0')\n"
    "  redis.call('HDEL', KEYS[3], m)\n"
    "end\n"
    "if #dead > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "end\n"
    "total = total - tonumber(redis.call('HGET', KEYS[3], id) or '0')\n"
    "if total < 0 then total = 0 end\n"
    "local b = math.floor(now / bms)\n"
    "if req > 0 then redis.call('HINCRBY', KEYS[1], 'r:' .. b, req) end\n"
    "if spent > 0 then redis.call('HINCRBY', KEYS[1], 's:' .. b, spent) end\n"
    "local R, S = 0, 0\n"
    "local kv = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #kv, 2 do\n"
    "  local f = kv[i]\n"
    "  local fb = tonumber(string.sub(f, 3))\n"
    "  if fb == nil or fb <= b - nb then redis.call('HDEL', KEYS[1], f)\n"
    "  elseif string.sub(f, 1, 1) == 'r' then R = R + tonumber(kv[i + 1])\n"
    "  else S = S + tonumber(kv[i + 1]) end\n"
    "end\n"
    "local avail = math.floor(ratio * R + floor_) - S - total - held\n"
    "local g = want\n"
    "if g > avail then g = avail end\n"
    "if g < 0 then g = 0 end\n"
    "local out = held + g\n"
    "if out > 0 then\n"
    "  redis.call('HSET', KEYS[3], id, out)\n"
    "  redis.call('ZADD', KEYS[2], now + lttl, id)\n"
    "else\n"
    "  redis.call('HDEL', KEYS[3], id)\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "end\n"
    "total = total + out\n"
    "redis.call('HSET', KEYS[3], '#total', total)\n"
    "for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], kttl) end\n"
    "return {g, R, S, total, now}\n";

/*
 * BREAKER: report outcomes, run the fleet state machine, claim or return a
 * half-open probe slot.
 * KEYS: 1 window hash (c:<bucket> calls, f:<bucket> failures, s:<bucket>
 *       slow calls), 2 state hash (state, gen, until, claimed, ok, fail,
 *       since).
 * ARGV: 1 generation the counts belong to, 2 calls, 3 failures, 4 slow,
 *       5 probe successes, 6 probe failures, 7 want a probe (0/1),
 *       8 probes returned unused, 9 bucket ms, 10 buckets, 11 min calls,
 *       12 failure rate, 13 slow rate (0 = rule off), 14 open ms,
 *       15 half-open probes, 16 key ttl ms.
 * Reply: {state (0 closed, 1 open, 2 half-open), gen, open ms left,
 *         probe granted (0/1), now ms}.
 */
const char rein__fleet_lua_breaker[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local a = {}\n"
    "for i = 1, 16 do a[i] = tonumber(ARGV[i]) end\n"
    "local h = redis.call('HMGET', KEYS[2], 'state', 'gen', 'until',\n"
    "                     'claimed', 'ok', 'fail', 'since')\n"
    "local state = tonumber(h[1] or '0')\n"
    "local gen = tonumber(h[2] or '0')\n"
    "local untl = tonumber(h[3] or '0')\n"
    "local claimed = tonumber(h[4] or '0')\n"
    "local pok, pfail = tonumber(h[5] or '0'), tonumber(h[6] or '0')\n"
    "local since = tonumber(h[7] or '0')\n"
    "local bms, nb, minc = a[9], a[10], a[11]\n"
    "local rate, srate, openms, probes = a[12], a[13], a[14], a[15]\n"
    "local granted = 0\n"
    "local function open()\n"
    "  state = 1; gen = gen + 1; untl = now + openms\n"
    "  claimed, pok, pfail = 0, 0, 0\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "if state == 1 and now >= untl then\n"
    "  state = 2; since = now; claimed, pok, pfail = 0, 0, 0\n"
    "end\n"
    "if state == 0 then\n"
    "  local b = math.floor(now / bms)\n"
    "  if a[1] == gen and a[2] > 0 then\n"
    "    redis.call('HINCRBY', KEYS[1], 'c:' .. b, a[2])\n"
    "    if a[3] > 0 then redis.call('HINCRBY', KEYS[1], 'f:' .. b, a[3]) end\n"
    "    if a[4] > 0 then redis.call('HINCRBY', KEYS[1], 's:' .. b, a[4]) end\n"
    "  end\n"
    "  local C, F, S = 0, 0, 0\n"
    "  local kv = redis.call('HGETALL', KEYS[1])\n"
    "  for i = 1, #kv, 2 do\n"
    "    local f = kv[i]\n"
    "    local fb = tonumber(string.sub(f, 3))\n"
    "    local k = string.sub(f, 1, 1)\n"
    "    if fb == nil or fb <= b - nb then redis.call('HDEL', KEYS[1], f)\n"
    "    elseif k == 'c' then C = C + tonumber(kv[i + 1])\n"
    "    elseif k == 'f' then F = F + tonumber(kv[i + 1])\n"
    "    else S = S + tonumber(kv[i + 1]) end\n"
    "  end\n"
    "  if C >= minc and (F >= rate * C or (srate > 0 and S >= srate * C))\n"
    "  then open() end\n"
    "elseif state == 2 then\n"
    "  if a[1] == gen then\n"
    "    pok = pok + a[5]; pfail = pfail + a[6]\n"
    "    claimed = claimed - a[8]\n"
    "    if claimed < pok + pfail then claimed = pok + pfail end\n"
    "  end\n"
    "  if pok + pfail >= probes then\n"
    "    if pfail < rate * probes then\n"
    "      state = 0; gen = gen + 1; claimed, pok, pfail = 0, 0, 0\n"
    "      redis.call('DEL', KEYS[1])\n"
    "    else open() end\n"
    "  elseif now - since >= openms then open()\n"
    "  elseif a[7] > 0 and claimed < probes then\n"
    "    claimed = claimed + 1; granted = 1\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'state', state, 'gen', gen, 'until', untl,\n"
    "           'claimed', claimed, 'ok', pok, 'fail', pfail, 'since', since)\n"
    "redis.call('PEXPIRE', KEYS[2], a[16])\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('PEXPIRE', KEYS[1], a[16])\n"
    "end\n"
    "local left = 0\n"
    "if state == 1 then left = untl - now end\n"
    "return {state, gen, left, granted, now}\n";
