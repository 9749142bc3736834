#!/usr/bin/env bash
# Cold `rdt ask`, process start to answer, of two binaries side by side on one install:
# each question is asked by one binary then the other (the order alternating), so both
# see the same machine load; a new process every time. Prints one line per run and the
# p50/max per binary; docs/benchmarks/assistant-speed.md has the figures.
#
#   scripts/bench-cold-ask.sh OLD_RDT NEW_RDT DATA_DIR PATIENT [ROUNDS]
#
# The install needs the active LLM (`rdt setup`) and the patient. "startup" is the wall
# time outside `Assistant::ask` (process start, store, registry, weight checks and
# loads); "prompt" and "generate" are the model call's own timings.
set -euo pipefail
old=$1 new=$2 data=$3 patient=$4 rounds=${5:-6}
questions=(
  "What is the latest CRP?"
  "Is the ESR raised?"
  "What was the last DAS28?"
  "Which DMARDs has the patient taken?"
  "What is the latest haemoglobin?"
  "How has the CRP changed over the last year?"
)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
  local label=$1 bin=$2 question=$3
  local start end
  start=$(date +%s.%N)
  RDT_DATA_DIR=$data "$bin" ask "$question" --patient "$patient" --as bench --json >"$out/answer.json" 2>/dev/null || true
  end=$(date +%s.%N)
  python3 - "$label" "$start" "$end" "$out/answer.json" "$question" <<'EOF' | tee -a "$out/runs.tsv"
import json, sys
label, start, end, path, question = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
wall = end - start
try:
    a = json.load(open(path))
    t = a["timings"]
    calls = t.get("calls") or [{}]
    prompt = sum(c.get("prompt_seconds", 0) for c in calls)
    gen = sum(c.get("generate_seconds", 0) for c in calls)
    print(f"{label}\t{wall:.2f}\t{wall - t['total']:.2f}\t{prompt:.2f}\t{gen:.2f}\t{question}")
except Exception as e:
    print(f"{label}\t{wall:.2f}\tnan\tnan\tnan\t{question} (no answer: {e})")
EOF
}
printf 'binary\twall_s\tstartup_s\tprompt_s\tgenerate_s\tquestion\n'
for ((i = 0; i < rounds; i++)); do
  q=${questions[$((i % ${#questions[@]}))]}
  if ((i % 2 == 0)); then run old "$old" "$q"; run new "$new" "$q"; else run new "$new" "$q"; run old "$old" "$q"; fi
done
python3 - "$out/runs.tsv" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for label in ("old", "new"):
    walls = sorted(float(r[1]) for r in rows if r[0] == label)
    starts = sorted(float(r[2]) for r in rows if r[0] == label and r[2] != "nan")
    print(f"{label}: wall p50 {statistics.median(walls):.2f} s, max {max(walls):.2f} s; "
          f"startup p50 {statistics.median(starts):.2f} s, max {max(starts):.2f} s (n={len(walls)})")
old = statistics.median(float(r[1]) for r in rows if r[0] == "old")
new = statistics.median(float(r[1]) for r in rows if r[0] == "new")
print(f"p50 ratio old/new: {old / new:.2f}x")
EOF
