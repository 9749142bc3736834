#!/usr/bin/env bash
# The product's llama.cpp engine against llama.cpp's own llama-bench, side by side in one
# run: same GGUF (the default model from the cache), same threads, pp512 / tg128,
# repetitions interleaved (assistant/benches/engines/vs_llama_bench.rs).
#
# Usage:
#   scripts/bench-engine-vs-llamacpp.sh build LLAMA_BENCH_SOURCES [WORK]
#       Builds llama-bench from the llama.cpp sources vendored in the llama-cpp-sys-2 crate
#       the workspace uses, as llama.cpp builds itself (CMake Release, GGML_NATIVE=ON,
#       its other defaults). The crate ships tools/llama-bench/README.md only, so
#       LLAMA_BENCH_SOURCES is a directory holding llama-bench's .cpp files (upstream's
#       tools/llama-bench/llama-bench.cpp and main.cpp of the nearest llama.cpp). WORK defaults to /tmp/llama-src;
#       the binary is WORK/build-release/bin/llama-bench.
#   scripts/bench-engine-vs-llamacpp.sh run LLAMA_BENCH [REPS]
#       Runs the side by side (REPS, default 7) and writes the table to
#       $RDT_BENCH_OUT (default /tmp/engine-vs-llamacpp.md).
#   Environment: RDT_LLM_THREADS (both sides; default 2), RDT_BENCH_PP, RDT_BENCH_TG,
#   RDT_BENCH_PROFILE (test, the default, or bench). Results: docs/benchmarks/engine-vs-llamacpp.md.
#   RDT_BENCH_LLAMA_BENCH_ARGS (more llama-bench arguments), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

vendored() {
    local version
    version=$(awk '/^name = "llama-cpp-sys-2"/{getline; print $3}' Cargo.lock | tr -d '"')
    ls -d "$HOME"/.cargo/registry/src/*/llama-cpp-sys-2-"$version"/llama.cpp | head -1
}

case "${1:-}" in
build)
    sources="${2:?a directory with the llama-bench sources}"
    work="${3:-/tmp/llama-src}"
    src="$(vendored)"
    echo "llama.cpp sources: $src"
    mkdir -p "$work"
    cp -r "$src"/. "$work"/
    cp "$sources"/*.cpp "$work"/tools/llama-bench/
    cp "$sources"/*.h "$work"/tools/llama-bench/ 2>/dev/null || true
    files=$(cd "$work"/tools/llama-bench && ls *.cpp | grep -v quant-bench | tr '\n' ' ')
    cat > "$work"/tools/llama-bench/CMakeLists.txt <<EOF
set(TARGET llama-bench)
add_executable(\${TARGET} $files)
target_link_libraries(\${TARGET} PRIVATE llama-common llama \${CMAKE_THREAD_LIBS_INIT})
target_compile_features(\${TARGET} PRIVATE cxx_std_17)
EOF
    # The other tools' directories hold READMEs only.
    cat > "$work"/tools/CMakeLists.txt <<'EOF'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(llama-bench)
EOF
    nice cmake -S "$work" -B "$work"/build-release -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_MTMD=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
    nice cmake --build "$work"/build-release --target llama-bench -j2
    echo "$work/build-release/bin/llama-bench"
    ;;
run)
    llama_bench="$(realpath "${2:?the llama-bench binary}")"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rdt/target}"
    export RDT_BENCH_LLAMA_BENCH="$llama_bench"
    export RDT_BENCH_REPS="${3:-7}"
    export RDT_BENCH_OUT="${RDT_BENCH_OUT:-/tmp/engine-vs-llamacpp.md}"
    # The test profile by default (RDT_BENCH_PROFILE=bench for a release build): it
    # reuses the test build, and llama.cpp is built the same in both (CMake Release,
    # `LLAMA_LIB_PROFILE` in .cargo/config.toml, GGML_NATIVE); only the engine's own Rust
    # glue is unoptimised there, which can only slow the engine's side.
    if [ "${RDT_BENCH_PROFILE:-test}" = bench ]; then
        nice cargo bench --workspace --locked --bench engines --no-run
        # The measurement itself runs at normal priority, like llama-bench beside it.
        cargo bench --workspace --locked --bench engines
    else
        nice cargo test --workspace --locked --bench engines --no-run
        cargo test --workspace --locked --bench engines
    fi
    ;;
*)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
