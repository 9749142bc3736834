#!/usr/bin/env bash
# The main job on embedded defaults (SQLite in the data directory, nothing to install):
# builds `rdt`, imports the Synthea FHIR fixtures from ../shared and shows the patients
# and one patient's journey.
#
# The data directory is RDT_DATA_DIR when set, else the per-user default
# (~/.local/share/rdt on Linux). Importing again is safe: nothing is duplicated.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
cargo build --release --locked --bin rdt
rdt="$CARGO_TARGET_DIR/release/rdt"

"$rdt" import ../shared/fixtures/synthea-r4
echo
"$rdt" patients
first=$("$rdt" patients --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo
"$rdt" journey "$first" | head -n 40
echo "..."
echo "(full journey: $rdt journey $first; JSON: add --json)"
