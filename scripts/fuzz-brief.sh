#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (FUZZTIME each, default 3s),
# one at a time, as `go test -fuzz` requires.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
found=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  found=$((found + 1))
  echo "fuzz $pkg $name ($fuzztime)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/fuzz-$$.log 2>&1 || { cat /tmp/fuzz-$$.log; exit 1; }
done < <(grep -rHE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' internal cmd 2>/dev/null | sort)
rm -f /tmp/fuzz-$$.log
echo "fuzzed $found target(s)"
