-- SPDX-License-Identifier: Apache-2.0
-- wrk script for the nginx module's tests and bench: counts answers by
-- kind (200, shed = 503/429, other), shed answers without Retry-After, and
-- the mean Retry-After; prints one RESULT line. Optional env REIN_ATTEMPT
-- sets the Rein-Attempt header (2 = a retry); REIN_DELAY_MS makes each
-- connection pause between requests, uniformly in [0, 2 x REIN_DELAY_MS]
-- (jittered, so connections shed together do not come back as one wave),
-- so C connections offer at most about C * 1000 / REIN_DELAY_MS requests a
-- second however fast the answers (an open-ish load: sheds do not turn
-- into a flood).
local threads = {}
function setup(t) table.insert(threads, t) end
function init(args)
  ok = 0; shed = 0; noretry = 0; other = 0; ra_sum = 0
  local a = os.getenv("REIN_ATTEMPT")
  if a and a ~= "" then wrk.headers["Rein-Attempt"] = a end
  pause = tonumber(os.getenv("REIN_DELAY_MS") or "") or 0
  math.randomseed(os.time() + (args and #args or 0) + math.floor(os.clock() * 1e6))
end
function delay()
  if pause <= 0 then return 0 end
  return math.random(0, 2 * pause)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 or status == 429 then
    shed = shed + 1
    local ra = headers["Retry-After"]
    if ra == nil then noretry = noretry + 1 else ra_sum = ra_sum + (tonumber(ra) or 0) end
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, s, n, x, r = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); s = s + t:get("shed"); n = n + t:get("noretry")
    x = x + t:get("other"); r = r + t:get("ra_sum")
  end
  io.write(string.format(
    "RESULT ok=%d shed=%d shed_without_retry_after=%d other=%d ra_mean=%.3f secs=%.3f errors=%d\n",
    o, s, n, x, s > 0 and r / s or 0, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
