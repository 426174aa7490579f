/**
 * One instance's lease renewal for one target's connection budget, run atomically in Redis
 * (EVALSHA): drop instances whose lease ran out, record this one's demand, work out every live
 * instance's fair share, and grant this one at most what the others do not hold.
 *
 * KEYS: 1 held (hash instance → connections it may hold), 2 demand (hash instance → active +
 * waiting), 3 expiry (zset instance → lease end, ms), 4 clock (hash: last = last renewal by
 * anyone, since = start of the current settled period).
 * ARGV: 1 instance, 2 demand, 3 open (server connections it has now), 4 previous grant,
 * 5 budget, 6 lease ms, 7 quiet ms.
 * Returns { grant, fair share, live instances, settled (1/0) }.
 *
 * Invariant: the sum of `held` never exceeds the budget, because a grant is at most the budget
 * minus what every other live instance holds, and an instance records as held the larger of its
 * grant and what it still has open (a shrinking instance counts until its connections closed).
 *
 * A gap in renewals longer than `quiet` (Redis restarted empty, or unreachable for everyone)
 * means the figures cannot be trusted: live instances may hold connections Redis does not know
 * of. For one lease time after such a gap nobody grows past its previous grant, so every live
 * instance has renewed (and recorded what it holds) before anything is handed out again.
 * Time comes from Redis (TIME), so instances' clocks do not matter.
 */
export const RENEW_LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = ARGV[1]
local demand = tonumber(ARGV[2])
local open = tonumber(ARGV[3])
local previous = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local quiet = tonumber(ARGV[7])

for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('HDEL', KEYS[1], name)
  redis.call('HDEL', KEYS[2], name)
  redis.call('ZREM', KEYS[3], name)
end

local last = tonumber(redis.call('HGET', KEYS[4], 'last') or '0')
local since = tonumber(redis.call('HGET', KEYS[4], 'since') or '0')
if last == 0 or now - last > quiet then since = now end
redis.call('HSET', KEYS[4], 'last', now, 'since', since)
local settled = (now - since) >= lease

redis.call('HSET', KEYS[2], me, demand)
redis.call('ZADD', KEYS[3], now + lease, me)

local names = redis.call('ZRANGE', KEYS[3], 0, -1)
table.sort(names)
local n = #names
local want = {}
local wanted = 0
for i, name in ipairs(names) do
  local d = tonumber(redis.call('HGET', KEYS[2], name) or '0')
  if d < 1 then d = 1 end
  want[i] = d
  wanted = wanted + d
end

-- Fair shares: what each wants when it all fits, the rest spread evenly (headroom for bursts);
-- otherwise at least one each, the rest in proportion to what each wants beyond that.
local share = {}
if wanted <= budget then
  local spare = budget - wanted
  for i = 1, n do
    share[i] = want[i] + math.floor(spare / n)
    if i <= spare % n then share[i] = share[i] + 1 end
  end
elseif budget >= n then
  local rest = budget - n
  local extra = wanted - n
  local given = 0
  local remainders = {}
  for i = 1, n do
    local exact = rest * (want[i] - 1) / extra
    share[i] = 1 + math.floor(exact)
    given = given + math.floor(exact)
    remainders[i] = { exact - math.floor(exact), i }
  end
  table.sort(remainders, function(a, b)
    if a[1] == b[1] then return a[2] < b[2] end
    return a[1] > b[1]
  end)
  for k = 1, rest - given do
    local i = remainders[k][2]
    share[i] = share[i] + 1
  end
else
  -- Fewer connections than instances: one each to the most wanting.
  local order = {}
  for i = 1, n do order[i] = i; share[i] = 0 end
  table.sort(order, function(a, b)
    if want[a] == want[b] then return a < b end
    return want[a] > want[b]
  end)
  for k = 1, budget do share[order[k]] = 1 end
end

local fair = 0
for i, name in ipairs(names) do
  if name == me then fair = share[i] end
end

local others = 0
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  if held[i] ~= me then others = others + tonumber(held[i + 1]) end
end

local grant = math.min(fair, budget - others)
if not settled then grant = math.min(grant, previous) end
if grant < 0 then grant = 0 end
local mine = grant
if open > mine then mine = open end
redis.call('HSET', KEYS[1], me, mine)

for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], lease * 20) end
return { grant, fair, n, settled and 1 or 0 }
`;
