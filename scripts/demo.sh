#!/usr/bin/env bash
# The main job on embedded defaults (SQLite in the data directory, nothing to install):
# builds `rdt`; `rdt demo` generates and imports the demo cohort of virtual
# rheumatology patients when the store is empty and shows a journey; then the Synthea
# FHIR fixtures from ../shared are imported beside them.
#
# The data directory is RDT_DATA_DIR when set, else the per-user default
# (~/.local/share/rdt on Linux). Running it again is safe: nothing is duplicated.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
# cmake and libclang for llama.cpp (llama-cpp-2), when missing.
bash scripts/build-deps.sh
cargo build --release --locked --bin rdt
rdt="$CARGO_TARGET_DIR/release/rdt"

"$rdt" demo
if [ -d ../shared/fixtures/synthea-r4 ]; then
  echo
  "$rdt" import ../shared/fixtures/synthea-r4
fi
echo
echo "Try: $rdt patients | $rdt journey ID | $rdt audit verify   (add --json for scripts)"
