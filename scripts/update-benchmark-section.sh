#!/usr/bin/env bash
# Replaces the lines between <!-- NAME:begin --> and <!-- NAME:end --> of docs/benchmarks.md with
# a line naming this machine and today's date, then the content of TABLE_FILE (used by the
# bench-*.sh drivers: every section says where and when it was measured).
#   scripts/update-benchmark-section.sh NAME TABLE_FILE
set -euo pipefail
name=$1 table=$2
doc="$(cd "$(dirname "$0")/.." && pwd)/docs/benchmarks.md"
grep -q "<!-- $name:begin -->" "$doc" || { echo "$doc has no <!-- $name:begin --> marker" >&2; exit 1; }
machine="Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)."
awk -v table="$table" -v machine="$machine" -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" '
  $0 == begin { print; print machine; while ((getline line < table) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
echo "updated $doc"
