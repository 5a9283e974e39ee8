-- wrk script for bench/load.py: every request is the next visitor's, and the results come back as JSON.
--
--   wrk -t1 -c16 -d15s -s bench/load.lua URL -- VISITORS_FILE
--   BENCH_LOAD_MODE=events wrk -t1 -c16 -d15s -s bench/load.lua URL -- VISITORS_FILE ORIGIN BATCH
--
-- VISITORS_FILE has one visitor a line, tab-separated: the Cookie header, the User-Agent,
-- the Accept-Language and the X-Forwarded-For address. The requests are built once per
-- thread (pages) or per request (events: a body of BATCH events, each with a fresh
-- UUID4-shaped id). Each thread starts at its own place in the list, so threads do not
-- send the same visitor at the same moment.
--
-- done() prints one line "WRK_JSON {...}": requests, duration, errors, latency percentiles and,
-- in events mode, the answers, those whose status is not 200, and the sum of their "accepted"
-- counts. The mode is an environment variable because wrk decides whether to hand responses to
-- Lua before any argument is read; in pages mode it does not (that costs wrk about 4%), and
-- wrk's own count of statuses over 399 is the check.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode = os.getenv("BENCH_LOAD_MODE") or "pages"
local visitors, cursor, origin, batch, run_tag, counter
not_ok = 0
accepted = 0
answers = 0

local function read_visitors(path)
  local list = {}
  for line in io.lines(path) do
    local cookie, agent, language, address = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if cookie then
      table.insert(list, {
        ["Cookie"] = cookie, ["User-Agent"] = agent, ["Accept-Language"] = language,
        ["X-Forwarded-For"] = address,
      })
    end
  end
  assert(#list > 0, "no visitors in " .. path)
  return list
end

function init(args)
  visitors = read_visitors(args[1])
  cursor = ((thread_id or 1) - 1) * math.floor(#visitors / 8)
  if mode == "pages" then
    -- Prebuilt: the per-request cost in wrk is a table lookup.
    local built = {}
    for i, headers in ipairs(visitors) do
      built[i] = wrk.format("GET", wrk.path, headers)
    end
    visitors = built
  else
    assert(mode == "events", "mode must be pages or events")
    origin, batch = args[2], tonumber(args[3])
    math.randomseed(os.time() * 1000 + (thread_id or 1))
    run_tag = string.format("%04x%04x", math.random(0, 65535), math.random(0, 65535))
    counter = 0
  end
end

local pages = { "/guides/cookieless-measurement", "/guides/experiments-for-small-teams", "/" }

-- A UUID version 4 in form; unique within the run by construction (thread and counter in the
-- last group), random elsewhere so that runs differ.
local function uuid4()
  counter = counter + 1
  return string.format("%s-%04x-4%03x-%x%03x-%04x%08x", run_tag, math.random(0, 65535),
    math.random(0, 4095), 8 + math.random(0, 3), math.random(0, 4095), thread_id or 1, counter)
end

local function events_body()
  local parts = {}
  for i = 1, batch do
    local kind, page = i % 3, pages[(i % #pages) + 1]
    if kind == 0 then
      parts[i] = string.format('{"id":"%s","type":"dwell","page":"%s","ms":%d}', uuid4(), page, 4000 + i)
    elseif kind == 1 then
      parts[i] = string.format('{"id":"%s","type":"scroll","page":"%s","depth":%d}', uuid4(), page, i % 101)
    else
      parts[i] = string.format(
        '{"id":"%s","type":"click","page":"/","block":"home-cta","variant":"default","target":"cta"}', uuid4())
    end
  end
  return '{"events":[' .. table.concat(parts, ",") .. "]}"
end

function request()
  cursor = cursor % #visitors + 1
  if mode == "pages" then
    return visitors[cursor]
  end
  local headers = {}
  for name, value in pairs(visitors[cursor]) do
    headers[name] = value
  end
  headers["Origin"] = origin
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/events", headers, events_body())
end

if mode == "events" then
  function response(status, headers, body)
    answers = answers + 1
    if status ~= 200 then
      not_ok = not_ok + 1
    else
      accepted = accepted + (tonumber(body:match('"accepted":%s*(%d+)')) or 0)
    end
  end
end

function done(summary, latency, requests)
  local totals = { not_ok = 0, accepted = 0, answers = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"not_ok":%d,"answers":%d,"accepted":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    totals.not_ok, totals.answers, totals.accepted, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
