-- The read load of tests/e2e/test_load.sh and bench/load.sh, for wrk:
--   wrk -t2 -c64 -d5s -s tests/e2e/load.lua URL -- PATHS_FILE KEY
-- PATHS_FILE holds one "ROUTE PATH" per line (ROUTE is a label for the
-- report); every thread cycles through the paths, each from its own place,
-- with the API key as a bearer token. Every answer's status is counted: wrk
-- itself only counts those of 400 and above. done() prints lines starting
-- with "load " for the shell to parse.

local threads = {}

-- setup: numbers the threads and keeps them, so that done() can read their counters.
function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

-- init: reads the paths and formats every request once (request() is the hot path).
function init(args)
	local file, key = args[1], args[2]
	reqs = {}
	for line in io.lines(file) do
		local path = line:match("^%S+%s+(%S+)$")
		if path then
			reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
		end
	end
	if #reqs == 0 then
		error("no paths in " .. tostring(file))
	end
	-- threads interleave their places in the cycle instead of marching in step
	pos = (id * 7919) % #reqs
	ok2xx, other, bad = 0, 0, ""
end

-- request: the next path of the cycle.
function request()
	pos = pos % #reqs + 1
	return reqs[pos]
end

-- response: counts by status; keeps the first few non-2xx answers to show.
function response(status, headers, body)
	if status >= 200 and status < 300 then
		ok2xx = ok2xx + 1
	else
		other = other + 1
		if other <= 3 then
			bad = bad .. "load bad " .. status .. " " .. tostring(body):sub(1, 200):gsub("%s", " ") .. "\n"
		end
	end
end

-- done: one parseable line per figure (latencies in microseconds).
function done(summary, latency, requests)
	local n2, no, badtext = 0, 0, ""
	for _, t in ipairs(threads) do
		n2 = n2 + t:get("ok2xx")
		no = no + t:get("other")
		badtext = badtext .. t:get("bad")
	end
	local e = summary.errors
	io.write(string.format("load requests %d duration_us %d bytes %d\n",
		summary.requests, summary.duration, summary.bytes))
	io.write(string.format("load status 2xx %d other %d\n", n2, no))
	io.write(string.format("load errors connect %d read %d write %d timeout %d status %d\n",
		e.connect, e.read, e.write, e.timeout, e.status))
	io.write(string.format("load latency_us p50 %d p90 %d p99 %d max %d mean %d\n",
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency.max, latency.mean))
	io.write(badtext)
end
