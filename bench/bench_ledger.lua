-- SPDX-License-Identifier: Apache-2.0
-- bench_ledger.lua: wrk script for examples/ledger. Every request is a new
-- charge with its own Idempotency-Key (thread id + counter), the same body
-- and the same principal, so "with" and "without the helper" runs send
-- byte-identical requests apart from the key. With REPLAY=1 in the
-- environment every request reuses one key (measures the replay path).
-- LEDGER_TOKEN is the bearer token (bench_ledger.sh mints it with
-- `ledger --mint-token bench`).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local counter = 0
local replay = os.getenv("REPLAY") == "1"
local body = '{"account":"acct_bench","amount_cents":1250}'
local run = tostring(os.time())
local auth = "Bearer " .. (os.getenv("LEDGER_TOKEN") or "")

request = function()
  counter = counter + 1
  local key
  if replay then
    key = '"bench-replay"'
  else
    key = string.format('"bench-%s-%d-%d"', run, tid, counter)
  end
  return wrk.format("POST", "/charges", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auth,
    ["Idempotency-Key"] = key,
  }, body)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("p50_us=%d p99_us=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
