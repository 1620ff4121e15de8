#!/usr/bin/env bash
# Builds the common library and its unit tests with AddressSanitizer + UBSan and runs them: the
# decoders, the shard store, the lists and the codecs on every test's inputs. With clang this is
# the fuzz preset's build (build/fuzz: the libFuzzer targets of scripts/fuzz.sh share its
# sanitized library, so CI compiles it once); without clang, the asan-core preset (gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
export UBSAN_OPTIONS=print_stacktrace=1
if command -v clang++ >/dev/null; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
  ctest --test-dir build/fuzz -j2 --output-on-failure
else
  cmake --preset asan-core >/dev/null
  cmake --build --preset asan-core
  ctest --preset asan-core
fi
