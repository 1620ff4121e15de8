#!/usr/bin/env bash
# Replaces the lines between <!-- NAME:begin --> and <!-- NAME:end --> of docs/benchmarks.md with
# the content of TABLE_FILE (used by the bench-*.sh drivers).
#   scripts/update-benchmark-section.sh NAME TABLE_FILE
set -euo pipefail
name=$1 table=$2
doc="$(cd "$(dirname "$0")/.." && pwd)/docs/benchmarks.md"
grep -q "<!-- $name:begin -->" "$doc" || { echo "$doc has no <!-- $name:begin --> marker" >&2; exit 1; }
awk -v table="$table" -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" '
  $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
echo "updated $doc"
