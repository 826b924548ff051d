-- wrk script for bench/run.py: POST GraphQL requests, rotating over a prepared list.
--
-- Usage: wrk ... -s bench/graphql.lua <url> -- <data.lua>
-- <data.lua> (written by bench/run.py) returns a table:
--   { path = "/graphql", run = "<unique per invocation>", key = "<placeholder>" or nil,
--     requests = { { headers = { ... }, body = "..." }, ... } }
-- Requests are sent in turn. When `key` is set, each request's body gets the placeholder
-- replaced by a key unique to the run, thread and request (payBill's idempotency key).
-- A response counts as failed unless it is a 200 without a top-level or payload `errors`
-- entry; done() prints one line "BENCH {json}" with wrk's figures and the failures.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local data
local prepared = {}
local counter = 0
failed = 0
sample = ""

function init(args)
  data = dofile(args[1])
  if not data.key then
    for i, r in ipairs(data.requests) do
      prepared[i] = wrk.format("POST", data.path, r.headers, r.body)
    end
  end
end

function request()
  counter = counter + 1
  local i = (counter % #data.requests) + 1
  if data.key then
    local r = data.requests[i]
    local key = data.run .. "-" .. tid .. "-" .. counter
    return wrk.format("POST", data.path, r.headers, (string.gsub(r.body, data.key, key)))
  end
  return prepared[i]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors":%s*%[%s*{') then
    failed = failed + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body, 1, 400)
    end
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local total, first = 0, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("failed")
    if first == "" then
      first = thread:get("sample")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "failed": %d, "socket_errors": %d, "timeouts": %d, "sample": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, total, e.connect + e.read + e.write, e.timeout,
    quote(first)
  ))
end
