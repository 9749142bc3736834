#!/usr/bin/env bash
# Fuzzes the journey crate's parsers with cargo-fuzz (libFuzzer, nightly toolchain):
# `fhir_parse` (any bytes as a Bundle or NDJSON file, through every resource mapper) and
# `concept_map` (any bytes as a ConceptMap upload), each for SECONDS (default 600),
# seeded with the Synthea fixtures and the virtual cohort's ConceptMap.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz` (crates.io).
# Results: docs/benchmarks/fuzz.md (executions, time, crashes found and fixed).
set -euo pipefail
cd "$(dirname "$0")/../journey"

SECONDS_EACH="${1:-600}"
[ "$#" -gt 0 ] && shift
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=(fhir_parse concept_map); fi

seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
# Small seeds run hundreds of times faster than whole Synthea bundles: one resource of
# each type (as a document and as an NDJSON line), and one small Bundle of them.
python3 - ../../shared/fixtures/synthea-r4 "$seeds" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
seen = {}
for name in sorted(os.listdir(src)):
    for e in json.load(open(os.path.join(src, name))).get("entry", []):
        r = e.get("resource", {})
        seen.setdefault(r.get("resourceType"), (e, r))
for i, (t, (e, r)) in enumerate(seen.items()):
    json.dump(r, open(os.path.join(out, f"{t}.json"), "w"))
    open(os.path.join(out, f"{t}.ndjson"), "w").write(json.dumps(r) + "\n")
bundle = {"resourceType": "Bundle", "type": "collection", "entry": [e for e, _ in seen.values()]}
json.dump(bundle, open(os.path.join(out, "bundle.json"), "w"))
PY
printf '%s\n' '{"resourceType":"ConceptMap","url":"urn:x","group":[{"source":"urn:oid:1.2","target":"urn:rdt:code","element":[{"code":"D","target":[{"code":"das28-esr","equivalence":"equivalent"}]}]}]}' >"$seeds/conceptmap.json"

for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: $SECONDS_EACH s" >&2
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "$seeds" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 2>&1 |
    grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==|SUMMARY|Done )' || true
done
