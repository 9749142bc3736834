#!/usr/bin/env bash
# The prediction benchmark of docs/benchmarks/predictive-protocol.md, end to end:
# the virtual cohort coded as a hospital codes it, imported into a fresh install, a
# twin trained and indexed, then `rdt cohort --evaluate` on one part of the frozen
# split (tuning while developing; `test` only for a report).
#
# Usage: scripts/bench-predictive.sh [PATIENTS] [PART] [TRAIN FLAGS...]
#   PATIENTS default 10000 (the protocol's), PART tuning|test (default tuning).
#   RDT=path/to/rdt (default: the release build under $CARGO_TARGET_DIR or target/);
#   EMBED_FLAGS="--decisions starts" passes flags to `rdt embed`.
# Prints the cohort evaluation (twin cohort, twin head and baselines; written to
# $WORK/data/reports/cohort-eval.md with its reliability SVGs) and `rdt eval`'s subtype
# agreement, ceiling and modality ablation ($WORK/data/reports/twin-eval.md).
set -euo pipefail

PATIENTS="${1:-10000}"
PART="${2:-tuning}"
shift $(( $# > 2 ? 2 : $# )) || true
TARGET="${CARGO_TARGET_DIR:-target}"
RDT="${RDT:-$TARGET/release/rdt}"
WORK="${WORK:-$(mktemp -d)}"
DATA="$WORK/data"

echo "commit $(git rev-parse --short HEAD), $PATIENTS patients, part $PART, work $WORK" >&2
t0=$(date +%s)
"$RDT" synth --patients "$PATIENTS" --seed 19 --coding standard --out "$WORK/cohort" >/dev/null
"$RDT" --data-dir "$DATA" import "$WORK/cohort" >/dev/null
t1=$(date +%s)
"$RDT" --data-dir "$DATA" train --as bench "$@" >/dev/null
t2=$(date +%s)
"$RDT" --data-dir "$DATA" embed ${EMBED_FLAGS:-} >/dev/null
t3=$(date +%s)
"$RDT" --data-dir "$DATA" cohort --evaluate --score-on "$PART" >/dev/null
t4=$(date +%s)
"$RDT" --data-dir "$DATA" eval --truth "$WORK/cohort/ground_truth.ldjson" --no-cohort >/dev/null
t5=$(date +%s)
echo "synth+import $((t1 - t0)) s, train $((t2 - t1)) s, embed $((t3 - t2)) s, evaluate $((t4 - t3)) s, subtype eval $((t5 - t4)) s" >&2
cat "$DATA/reports/cohort-eval.md"
sed -n '/## Subtype agreement/,/## State model/p' "$DATA/reports/twin-eval.md"
