#!/usr/bin/env bash
# Builds the common library and its unit tests with AddressSanitizer + UBSan (preset asan-core)
# and runs them: the decoders, the shard store, the lists and the codecs on every test's inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan-core >/dev/null
cmake --build --preset asan-core
ctest --preset asan-core
