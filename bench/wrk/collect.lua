-- wrk script: POSTs realistic collect batches with a unique batch id each.
-- BATCH (events per request, default 10), SITE, ORIGIN, RUN (a prefix that
-- keeps batch ids unique across runs) and VISITORS (per wrk thread, default
-- 5000) come from the environment; the path is the URL's given to wrk.
-- Each wrk thread posts for visitors of its own, one after the other: a
-- visitor is an address sent as X-Forwarded-For (the stack runs with
-- SITEPULSE_TRUST_PROXY=1, as behind a proxy) with one of five common
-- browsers and a language, so sp-collect hashes thousands of distinct
-- visitors and the database keeps thousands of visits, as a site's real
-- traffic does; each visitor posts a batch every few seconds. A batch is
-- what the snippet sends about one page: a page view, clicks, scroll marks
-- and a leave, on one of seven pages, the clicks where that visitor
-- clicks.
-- Every acknowledged (204) request is counted per thread; done() prints the
-- totals so the bench can compare them with the database.
local n = tonumber(os.getenv("BATCH") or "10")
local origin = os.getenv("ORIGIN") or "http://127.0.0.1:8080"
local run = os.getenv("RUN") or "r"
local site = os.getenv("SITE") or "demo"
local visitors = tonumber(os.getenv("VISITORS") or "5000")
local agents = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
}
local languages = { "en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "ja-JP,ja;q=0.9", "pt-BR,pt;q=0.9" }
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
end

-- The events of visitor v's batch number k: about one in four each of
-- page views, clicks, scroll marks and leaves.
local function events(v, k)
	local ev = {}
	local url = origin .. '/demo/p' .. (v + k) % 7
	for i = 1, n do
		local kind = i % 4
		if kind == 1 then
			ev[i] = '{"type":"pageview","url":"' .. url ..
			    '","ref":"https://www.google.com/","vw":1280,"vh":800,"sw":1920}'
		elseif kind == 2 then
			ev[i] = '{"type":"click","url":"' .. url ..
			    '","x":' .. (100 + (i * 37 + v * 13) % 1000) .. ',"y":' .. (200 + (i * 53 + v * 29) % 2000) ..
			    ',"dw":1280,"dh":3000,"vw":1280,"vh":800,"sel":"#buy-' .. (i + v) % 3 ..
			    '","ex":0.5,"ey":0.5}'
		elseif kind == 3 then
			ev[i] = '{"type":"scroll","url":"' .. url .. '","depth":' .. (25 * (i % 4 + 1)) .. '}'
		else
			ev[i] = '{"type":"leave","url":"' .. url .. '","depth":75,"engaged":' .. (1000 + i) .. '}'
		end
	end
	return table.concat(ev, ",")
end

function request()
	seq = seq + 1
	local k = math.floor(seq / visitors)
	local v = tid * 1000003 + seq % visitors
	local body = '{"site":"' .. site .. '","batch":"' .. run .. "-" .. tid .. "-" .. seq .. '-wrkbatch","events":[' ..
	    events(v, k) .. ']}'
	return wrk.format("POST", nil, {
		["Content-Type"] = "text/plain",
		["Origin"] = origin,
		["User-Agent"] = agents[1 + v % #agents],
		["Accept-Language"] = languages[1 + math.floor(v / 5) % #languages],
		["X-Forwarded-For"] = "10." .. math.floor(v / 65536) % 256 .. "." .. math.floor(v / 256) % 256 .. "." .. v % 256,
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
