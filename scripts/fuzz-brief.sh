#!/usr/bin/env bash
# Runs every fuzz target of the module briefly, one at a time, as
# `go test -fuzz` requires. FUZZTIME is a count by default (20000x):
# a time-based run can end in "context deadline exceeded" with no failing
# input on a loaded machine (golang/go#75804). A failure that wrote no new
# input under testdata/fuzz is that fuzzer fault, not a finding, so the
# target is run once more; a failure with an input fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
fuzztime=${FUZZTIME:-20000x}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
found=0

# inputs lists the failing inputs the fuzzer has written for one target.
inputs() { { find "$1/testdata/fuzz/$2" -type f 2>/dev/null || true; } | sort; }

while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  dir=$(dirname "$file")
  found=$((found + 1))
  for attempt in 1 2; do
    echo "fuzz ./$dir $name ($fuzztime)"
    before=$(inputs "$dir" "$name")
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./$dir" >"$log" 2>&1; then
      break
    fi
    if [ "$(inputs "$dir" "$name")" != "$before" ] || [ "$attempt" = 2 ]; then
      cat "$log"
      exit 1
    fi
    echo "  $name failed without writing an input (the fuzzer's own fault, golang/go#75804); once more:"
    sed 's/^/    /' "$log" | tail -5
  done
done < <(grep -rHE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' internal cmd 2>/dev/null | sort)
echo "fuzzed $found target(s)"
