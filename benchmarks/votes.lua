-- wrk script: POST /votes with distinct votes. Args (after --): run id, votes per request,
-- then optionally bearer tokens (thread n sends token n).
-- Every vote has its own user id (run id, thread, counter), so every accepted vote is distinct.
-- With a token the votes carry no user_id (the endpoint takes the token's sub) and the counter
-- goes into the title id instead, so they stay distinct.
-- done() prints one line "WRK {json}" that benchmarks/pipeline.py reads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter, prefix, batch, token = 0, "", 1, nil
local aspects = { "overall", "story", "acting", "visuals", "sound" }
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  prefix = (args[1] or "run") .. "-t" .. tid .. "-"
  batch = tonumber(args[2] or "1")
  local tokens = #args - 2
  if tokens > 0 then
    token = args[3 + (tid - 1) % tokens]
    headers["Authorization"] = "Bearer " .. token
  end
  math.randomseed(tid)
end

local function vote()
  counter = counter + 1
  if token then
    return string.format('{"title_id":"tt%s%d","aspect":"%s","score":%d}',
      prefix, counter, aspects[math.random(1, 5)], math.random(1, 5))
  end
  return string.format('{"user_id":"%s%d","title_id":"tt%d","aspect":"%s","score":%d}',
    prefix, counter, math.random(1, 1000), aspects[math.random(1, 5)], math.random(1, 5))
end

function request()
  local body
  if batch == 1 then
    body = vote()
  else
    local votes = {}
    for i = 1, batch do votes[i] = vote() end
    body = '{"votes":[' .. table.concat(votes, ",") .. ']}'
  end
  return wrk.format("POST", "/votes", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
