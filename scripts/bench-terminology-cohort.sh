#!/usr/bin/env bash
# Cohort query time with a 500-entry ConceptMap vs none, side by side in one run.
#
# The same virtual cohort twice: in RDT's codes with no map, and in the virtual
# hospital's local codes with its ConceptMap padded to 500 entries (the 22 real ones
# plus 478 for codes the data does not carry). Each install gets the same tiny twin;
# then `rdt cohort` for the same patients, rounds interleaved so the shared machine's
# noise hits both alike. Prints median wall times and their ratio.
#
# Usage: scripts/bench-terminology-cohort.sh [PATIENTS] [ROUNDS]   (RDT=path/to/rdt)
# Results: docs/benchmarks/terminology.md.
set -euo pipefail

PATIENTS="${1:-300}"
ROUNDS="${2:-5}"
RDT="${RDT:-${CARGO_TARGET_DIR:-target}/debug/rdt}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

for coding in rdt local; do
  "$RDT" synth --patients "$PATIENTS" --seed 7 --coding "$coding" --out "$WORK/export-$coding" >/dev/null
done

# The local map padded to 500 entries.
python3 - "$WORK/export-local/ConceptMap.json" "$WORK/map500.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
have = sum(len(g["element"]) for g in m["group"])
pad = [{"code": f"PAD-{i}", "target": [{"code": "crp", "equivalence": "equivalent"}]} for i in range(500 - have)]
m["group"].append({"source": "urn:oid:2.999.1.9", "target": "urn:rdt:code", "element": pad})
json.dump(m, open(sys.argv[2], "w"))
EOF

setup() { # coding data-dir
  local dir="$2"
  if [ "$1" = local ]; then "$RDT" --data-dir "$dir" terminology import "$WORK/map500.json" --as bench >/dev/null; fi
  "$RDT" --data-dir "$dir" import "$WORK/export-$1" >/dev/null
  "$RDT" --data-dir "$dir" train --pretrain-epochs 1 --fusion-epochs 1 --hidden 16 --max-events 32 >/dev/null
  "$RDT" --data-dir "$dir" embed >/dev/null
}
setup rdt "$WORK/none"
setup local "$WORK/map"

mapfile -t PATIENT_IDS < <(head -n 5 "$WORK/export-rdt/ground_truth.ldjson" | python3 -c 'import json,sys; [print(json.loads(l)["patient_id"]) for l in sys.stdin]')
declare -A TIMES
for round in $(seq 1 "$ROUNDS"); do
  for config in none map; do
    start=$(date +%s.%N)
    for p in "${PATIENT_IDS[@]}"; do
      "$RDT" --data-dir "$WORK/$config" cohort --patient "$p" --k 10 --min-n 3 --json --as bench >/dev/null
    done
    end=$(date +%s.%N)
    t=$(python3 -c "print(($end - $start) / ${#PATIENT_IDS[@]})")
    echo "round $round: $config $t s per query" >&2
    TIMES[$config]="${TIMES[$config]:-} $t"
  done
done
python3 - "${TIMES[none]}" "${TIMES[map]}" <<'EOF'
import statistics, sys
none = statistics.median(map(float, sys.argv[1].split()))
mapped = statistics.median(map(float, sys.argv[2].split()))
print(f"| map | cohort query, median per query |\n|---|---:|\n| no map (RDT's codes) | {none:.3f} s |\n| 500-entry map (local codes) | {mapped:.3f} s |")
print(f"\nwith the map / without: {mapped / none:.3f}x")
EOF
