-- wrk script: POST a pre-built Kinesis request body. BODY_FILE and ACTION come from the
-- environment; the summary line RESULT <requests> <non-2xx> <duration_us> <socket errors>
-- is parsed by api_vs_peers.sh.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "Kinesis_20131202." .. os.getenv("ACTION")
local sig_file = os.getenv("SIG_FILE")
if sig_file and sig_file ~= "" then
  -- A real signature of this exact body (bench_setup.py with BENCH_SECRET), for a server that
  -- verifies signatures: line 1 is X-Amz-Date, line 2 the Authorization header.
  local s = assert(io.open(sig_file, "rb"))
  wrk.headers["X-Amz-Date"] = s:read("*l")
  wrk.headers["Authorization"] = s:read("*l")
  s:close()
else
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/kinesis/aws4_request, "
    .. "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    .. "Signature=0000000000000000000000000000000000000000000000000000000000000000"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, e.status, summary.duration,
    e.connect + e.read + e.write + e.timeout))
end
