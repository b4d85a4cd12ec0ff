-- wrk script for bench/throughput.py: every request creates a new function call.
--
--   wrk -t 2 -c 32 -d 10s -H "Authorization: Bearer KEY" -s bench/wrk/create.lua \
--       http://127.0.0.1:PORT/humanlayer/v1/function_calls
--
-- with FOUREYES_WRK_PREFIX and FOUREYES_WRK_ACKED (a file path) in the environment.
--
-- Call ids are PREFIX-THREAD-N, PREFIX from FOUREYES_WRK_PREFIX, THREAD numbered by setup() in
-- wrk's main state, N counted by each thread's own state, so no two requests of a run share one.
-- Each thread counts the requests it built (wrk builds one more in its first thread, to check
-- the script, and never sends it) and the answers, and keeps the call id of every 2xx answer
-- (read from the answer's body, so it is the id the server says it stored). done() writes those
-- ids to FOUREYES_WRK_ACKED, one a line, and prints one line of JSON: wrk's own counts and
-- latency percentiles (microseconds) plus the threads' counts. The caller checks the ids
-- against the database.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

function init(args)
   prefix = os.getenv("FOUREYES_WRK_PREFIX") or "wrk"
   sent = 0
   acked = 0
   refused = 0
   acked_ids = {}
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   local body = string.format(
      '{"run_id":"bench","call_id":"%s-%d-%d",'
         .. '"spec":{"fn":"send_email","kwargs":{"to":"customer@example.com","n":%d}}}',
      prefix, thread_id, sent, sent)
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      acked = acked + 1
      acked_ids[acked] = body:match('"call_id":"([^"]*)"') or "?"
   else
      refused = refused + 1
   end
end

function done(summary, latency, requests)
   local sent_total, acked_total, refused_total = 0, 0, 0
   local out = assert(io.open(os.getenv("FOUREYES_WRK_ACKED") or "/dev/null", "w"))
   for _, thread in ipairs(threads) do
      sent_total = sent_total + thread:get("sent")
      acked_total = acked_total + thread:get("acked")
      refused_total = refused_total + thread:get("refused")
      for _, call_id in ipairs(thread:get("acked_ids")) do
         out:write(call_id, "\n")
      end
   end
   out:close()
   local e = summary.errors
   io.write(string.format(
      '{"duration_us":%d,"requests":%d,"sent":%d,"acked":%d,"refused":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
      summary.duration, summary.requests, sent_total, acked_total, refused_total,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean))
end
