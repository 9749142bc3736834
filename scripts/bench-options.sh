#!/usr/bin/env bash
# The treatment-options benchmark of docs/benchmarks/options-protocol.md, end to end:
# the virtual cohort (with its counterfactual truth) coded as a hospital codes it,
# imported into a fresh install, a twin trained and indexed, then `rdt eval options`
# on one part of the frozen split (tuning while choosing; `test` only for a report).
#
# Usage: scripts/bench-options.sh [PATIENTS] [PART]
#   PATIENTS default 10000 (the protocol's), PART tuning|test (default tuning).
#   RDT=path/to/rdt (default: the release build under $CARGO_TARGET_DIR or target/);
#   WORK=dir (default: a new temporary directory; reuse one to skip the training);
#   SEED=n (default 19, protocol version 1; version 2 scores seed 29's test part).
# Prints the report (also in $WORK/data/reports/options-eval.md) and the times.
set -euo pipefail

PATIENTS="${1:-10000}"
PART="${2:-tuning}"
SEED="${SEED:-19}"
TARGET="${CARGO_TARGET_DIR:-target}"
RDT="${RDT:-$TARGET/release/rdt}"
WORK="${WORK:-$(mktemp -d)}"
DATA="$WORK/data"

echo "commit $(git rev-parse --short HEAD), $PATIENTS patients, seed $SEED, part $PART, work $WORK" >&2
t0=$(date +%s)
if [ ! -d "$DATA/index" ]; then
  "$RDT" synth --patients "$PATIENTS" --seed "$SEED" --coding standard --out "$WORK/cohort" >/dev/null
  "$RDT" --data-dir "$DATA" import "$WORK/cohort" >/dev/null
  "$RDT" --data-dir "$DATA" train --as bench >/dev/null
  "$RDT" --data-dir "$DATA" embed >/dev/null
fi
t1=$(date +%s)
"$RDT" --data-dir "$DATA" eval options --truth "$WORK/cohort/counterfactuals.ldjson" --score-on "$PART" >/dev/null
t2=$(date +%s)
echo "cohort, twin and index $((t1 - t0)) s, evaluate $((t2 - t1)) s" >&2
cat "$DATA/reports/options-eval.md"
