-- wrk script of scripts/load-bench: cycles the tokens of a file, one per request, as
-- `Authorization: Bearer <token>` on `GET /posts`.
--
--   wrk -t1 -c32 -d8s -s scripts/load-bench.lua http://127.0.0.1:PORT -- TOKENS_FILE \
--       [STOP_AFTER DONE_FILE]
--
-- With STOP_AFTER, wrk's thread stops once that many responses have arrived (one pass over a
-- file of never-seen tokens) and creates DONE_FILE, so that the caller can interrupt wrk's
-- main thread, which otherwise sleeps out -d; -d still bounds the run. `done` prints one JSON
-- line.

local requests = {}
local count = 0
local next_index = 0
local stop_after = 0
local done_file = nil
local responses = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s load-bench.lua URL -- TOKENS_FILE [STOP_AFTER DONE_FILE]")
  end
  stop_after = tonumber(args[2] or "0") or 0
  done_file = args[3]
  for line in io.lines(path) do
    if #line > 0 then
      count = count + 1
      requests[count] = wrk.format("GET", "/posts", { ["Authorization"] = "Bearer " .. line })
    end
  end
  if count == 0 then
    error("no tokens in " .. path)
  end
  -- Defined only when needed: with a response() function wrk hands every response to Lua.
  if stop_after > 0 then
    response = function(status, headers, body)
      responses = responses + 1
      if responses == stop_after then
        if done_file ~= nil then
          local marker = io.open(done_file, "w")
          if marker ~= nil then
            marker:close()
          end
        end
        wrk.thread:stop()
      end
    end
  end
end

function request()
  next_index = next_index + 1
  if next_index > count then
    next_index = 1
  end
  return requests[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.2f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
