#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls this script).
#
# Installs and starts what the tests need (PostgreSQL from Debian's packages), then
# runs every test of the workspace with the PostgreSQL tests required, not skipped.
# Reuses the build directory ~/.cache/rdt/target when it exists (CARGO_TARGET_DIR
# overrides), and still works from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/fixtures ]; then
  echo "error: ../shared (fixtures, model notes) must sit beside this checkout" >&2
  exit 2
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
mkdir -p "$CARGO_TARGET_DIR"
# cmake and libclang for llama.cpp (llama-cpp-2), when missing.
bash scripts/build-deps.sh

RDT_TEST_POSTGRES_URL="$(scripts/postgres.sh)"
export RDT_TEST_POSTGRES_URL
export RDT_REQUIRE_POSTGRES=1

# Tests of the note encoder need MiniLM's weights: `rdt setup` fetches them into the
# model cache (RDT_MODEL_CACHE, default ~/.cache/rdt/models) and verifies their sha256;
# RDT_REQUIRE_MODELS=1 makes a missing cache fail those tests instead of skipping them.
# The engine tests need the smallest GGUF (SmolLM2-135M) and the default one (1.5B).
export RDT_REQUIRE_MODELS=1
setup_dir="$(mktemp -d)"
cargo run --locked --quiet -- --data-dir "$setup_dir" setup --llm smallest,default
rm -rf "$setup_dir"

# The browser test (tests/web_browser.rs) drives Debian's headless Chromium through
# chromedriver; RDT_REQUIRE_BROWSER=1 makes a missing browser a failure, not a skip.
bash scripts/chromium.sh
export RDT_REQUIRE_BROWSER=1

# Every test binary runs even when an earlier one fails (--no-fail-fast), and the run
# ends with one list of every failing test, named with its crate's test binary, so a
# failure in one binary never hides the state of the others.
log="$(mktemp)"
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo
  echo "==== scripts/test.sh: failing tests (exit $status) ===="
  awk '
    /^ *Running / { binary = substr($0, index($0, $2)) }
    /^ *Doc-tests / { binary = "doc-tests " $2 }
    /^test .* \.\.\. FAILED$/ { sub(/^test /, ""); sub(/ \.\.\. FAILED$/, ""); print "  " binary ": " $0; n++ }
    END { if (n == 0) print "  (no test failed: a build or a test binary itself failed; see the log above)" }
  ' "$log"
  grep -E '^error: [0-9]+ targets? failed' -A40 "$log" | grep -E '^ +`' | sed 's/^/  target: /' || true
fi
rm -f "$log"
exit "$status"
