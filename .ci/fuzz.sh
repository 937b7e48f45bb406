#!/usr/bin/env bash
# A short run of every fuzz target (Go fuzzes one target per invocation).
# FUZZTIME (default 5s) is per target. Failing inputs are written under
# the package's testdata/fuzz, where plain go test then replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-5s}"
n=0
run() { # dir package
  local dir=$1 pkg=$2
  for target in $(cd "$dir" && go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    echo "-- $pkg $target"
    (cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg")
    n=$((n + 1))
  done
}
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' internal cmd | xargs -n1 dirname | sort -u); do
  run . "./$pkg"
done
run sdk/go ./gatehouse
echo "fuzzed $n targets for $FUZZTIME each"
