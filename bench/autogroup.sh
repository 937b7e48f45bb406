#!/usr/bin/env bash
# Asks whether password hashes in a scheduling group of their own keep
# the other operations' tail short, at a fixed load. They did in the
# twentieth session; a helper process hashing for each node did not help
# at 70 % of a calibrated peak (docs/performance-history.md, twentieth
# session). Two Gatehouse nodes on PostgreSQL run the default
# mix's operations without the password ones at a fixed rate, in three
# arrangements, in turn, ROUNDS times:
#
#   none  nothing else;
#   same  `bench burn` verifying hashes at BURN_RATE from the load
#         generator's session, so in the nodes' autogroup, as a node's
#         own hashes are;
#   own   the same burn under setsid, in an autogroup of its own at nice
#         +10.
#
#   bench/autogroup.sh [OUT]          # from the repository root
#
# Environment: ROUNDS (2), RATE (610 operations/s), BURN_RATE (56
# verifications/s), DURATION (15s; in seconds), PG, SERVER (a gatehouse binary;
# default: built from ./cmd/gatehouse). Needs Linux with autogroup on
# (/proc/sys/kernel/sched_autogroup_enabled); prints the p99s at the end.
set -euo pipefail
OUT=${1:-bench-out/autogroup}
ROUNDS=${ROUNDS:-2}
RATE=${RATE:-610}
BURN_RATE=${BURN_RATE:-56}
DURATION=${DURATION:-15s}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
MIX=refresh=50,flow=12,jwks=10,user-get=15,user-list=5
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" != 1 ]; then
  echo "autogroup.sh: autogroup scheduling is off here (/proc/sys/kernel/sched_autogroup_enabled); the arrangements would not differ" >&2
  exit 1
fi
mkdir -p "$OUT"
go build -o "$OUT/bench" ./bench
if [ -z "${SERVER:-}" ]; then
  go build -o "$OUT/gatehouse" ./cmd/gatehouse
  SERVER=$OUT/gatehouse
fi
burn_for=$(( ${DURATION%s} + 40 ))s # outlasts the run's set-up and warm-up; stopped at its end

run() {
  echo "== $1" >&2
  "$OUT/bench" --server "$SERVER" --db postgres --nodes 2 --mix "$MIX" --alg RS256 --rate "$RATE" \
    --vus 128 --duration "$DURATION" --warmup 3s --progress 0 --postgres-url "$PG" \
    --json "$OUT/$1.json" > "$OUT/$1.txt" || echo "$1 failed; see $OUT/$1.txt" >&2
}

for r in $(seq "$ROUNDS"); do
  run none-$r
  "$OUT/bench" burn --rate "$BURN_RATE" --duration "$burn_for" > "$OUT/burn-same-$r.txt" &
  pid=$!
  run same-$r
  kill -INT "$pid"; wait "$pid" || true
  setsid "$OUT/bench" burn --rate "$BURN_RATE" --duration "$burn_for" --autogroup-nice 10 > "$OUT/burn-own-$r.txt" &
  pid=$!
  run own-$r
  kill -INT "$pid" 2>/dev/null || true; wait "$pid" || true
done

printf '%-8s %s\n' run 'p99 / max ms per operation'
for f in "$OUT"/none-*.txt "$OUT"/same-*.txt "$OUT"/own-*.txt; do
  printf '%-8s %s\n' "$(basename "$f" .txt)" \
    "$(grep -E '^ +(refresh|flow|jwks|user-get|user-list) +[0-9]' "$f" | awk '{printf "%s %s / %s; ", $1, $6, $7}')"
done
