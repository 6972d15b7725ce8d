-- wrk script: POSTs realistic collect batches with a unique batch id each.
-- BATCH (events per request, default 10), SITE, ORIGIN and RUN (a prefix that
-- keeps batch ids unique across runs) come from the environment; the path is
-- the URL's given to wrk.
-- Every acknowledged (204) request is counted per thread; done() prints the
-- totals so the bench can compare them with the database.
local n = tonumber(os.getenv("BATCH") or "10")
local origin = os.getenv("ORIGIN") or "http://127.0.0.1:8080"
local run = os.getenv("RUN") or "r"
local site = os.getenv("SITE") or "demo"
local threads = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
	table.insert(threads, thread)
end

function init(args)
	seq = 0
	acked = 0
	others = 0
	local ev = {}
	for i = 1, n do
		local k = i % 4
		if k == 1 then
			ev[i] = '{"type":"pageview","url":"' .. origin .. '/demo/p' .. (i % 7) ..
			    '","ref":"https://www.google.com/","vw":1280,"vh":800,"sw":1920}'
		elseif k == 2 then
			ev[i] = '{"type":"click","url":"' .. origin .. '/demo/p' .. (i % 7) ..
			    '","x":' .. (100 + i * 37 % 1000) .. ',"y":' .. (200 + i * 53 % 2000) ..
			    ',"dw":1280,"dh":3000,"vw":1280,"vh":800,"sel":"#buy-' .. (i % 3) ..
			    '","ex":0.5,"ey":0.5}'
		elseif k == 3 then
			ev[i] = '{"type":"scroll","url":"' .. origin .. '/demo/p' .. (i % 7) ..
			    '","depth":' .. (25 * (i % 4 + 1)) .. '}'
		else
			ev[i] = '{"type":"leave","url":"' .. origin .. '/demo/p' .. (i % 7) ..
			    '","depth":75,"engaged":' .. (1000 + i) .. '}'
		end
	end
	events = table.concat(ev, ",")
end

function request()
	seq = seq + 1
	local body = '{"site":"' .. site .. '","batch":"' .. run .. "-" .. tid .. "-" .. seq .. '-wrkbatch","events":[' ..
	    events .. ']}'
	return wrk.format("POST", nil, {
		["Content-Type"] = "text/plain",
		["Origin"] = origin,
		["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0." .. tid .. ".0 Safari/537.36",
	}, body)
end

function response(status, headers, body)
	if status == 204 then acked = acked + 1 else others = others + 1 end
end

function done(summary, latency, requests)
	local a, o = 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("acked")
		o = o + t:get("others")
	end
	io.write(string.format("RESULT requests=%d acked=%d other=%d errors=%d p50_us=%d p99_us=%d seconds=%.2f\n",
	    summary.requests, a, o, summary.errors.connect + summary.errors.read + summary.errors.write +
	    summary.errors.timeout, latency:percentile(50), latency:percentile(99), summary.duration / 1e6))
end
