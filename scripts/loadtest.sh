#!/usr/bin/env bash
# Load test of the journey pages (issue 9): 50 concurrent clinician sessions for 20 s on
# loopback with wrk, against a fresh install holding the demo cohort. Prints wrk's
# latency distribution (p50, p99) and the error count; write the figures into
# docs/benchmarks/web.md.
#
# Needs: wrk (scripts/chromium.sh installs it), a release build of rdt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/chromium.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
cargo build --release --locked --bin rdt
rdt="$CARGO_TARGET_DIR/release/rdt"
data="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
export RDT_DATA_DIR="$data"

"$rdt" demo --no-serve --no-train >/dev/null
RDT_PASSWORD="load-test-password" "$rdt" user add loadtest --role clinician --all-patients
port=18080
"$rdt" serve --no-assistant --addr "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# One session per connection: log in 50 times, keep each cookie.
patients=$("$rdt" patients --json | python3 -c 'import json,sys; print("\n".join(p["id"] for p in json.load(sys.stdin)[:200]))')
cookies=()
for i in $(seq 50); do
  jar="$data/jar$i"
  curl -fs -c "$jar" "http://127.0.0.1:$port/login" >/dev/null
  token=$(awk '$6=="rdt_login_csrf"{print $7}' "$jar")
  curl -fs -b "$jar" -c "$jar" -o /dev/null -d "name=loadtest&password=load-test-password&csrf=$token" "http://127.0.0.1:$port/login"
  cookies+=("$(awk '$6=="rdt_session"{print $7}' "$jar")")
done
printf '%s\n' "${cookies[@]}" > "$data/sessions.txt"
printf '%s\n' $patients > "$data/patients.txt"

cat > "$data/journeys.lua" <<LUA
local sessions, patients, n = {}, {}, 0
for l in io.lines("$data/sessions.txt") do sessions[#sessions + 1] = l end
for l in io.lines("$data/patients.txt") do patients[#patients + 1] = l end
local errors = 0
function setup(thread) n = n + 1 end
request = function()
  local s = sessions[math.random(#sessions)]
  local p = patients[math.random(#patients)]
  return wrk.format("GET", "/patients/" .. p, { ["Cookie"] = "rdt_session=" .. s })
end
response = function(status) if status ~= 200 then errors = errors + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx/3xx %d, socket errors %d\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in pairs({ 50, 90, 99 }) do io.write(string.format("p%d %.1f ms\n", p, latency:percentile(p) / 1000)) end
end
LUA
wrk -t2 -c50 -d20s --latency -s "$data/journeys.lua" "http://127.0.0.1:$port"
