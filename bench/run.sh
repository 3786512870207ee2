#!/usr/bin/env bash
# The full benchmark run of the bench module: every implementation, every
# workload, at 1M and 10M live entries, 1 and 2 goroutines, -count 6.
# Writes results/raw.txt (raw go test output), results/benchstat.txt
# (benchstat -col /impl), the PNG charts results/*.png and the results
# section of README.md. About 25 minutes at 1M on 2 cores; well over an
# hour at 10M (filling and collecting the pointer-heavy caches); a few GiB.
#
# Environment (defaults in brackets):
#   REVOKE_BENCH_SIZES   live entries, comma-separated [1M,10M]
#   REVOKE_BENCH_COUNT   -count [6]
#   REVOKE_BENCH_CPU     -cpu [1,2]
#   REVOKE_BENCH_TIME    -benchtime [1s]
#   REVOKE_BENCH_FILTER  -bench regexp [.]
#   REVOKE_BENCH_APPEND  1: add to results/raw.txt instead of starting anew
#                        (to run sizes or benchmarks in separate steps)
#   REVOKE_BENCH_LOCK    lock file held while benchmarking, so that runs on
#                        a shared machine do not overlap [/tmp/revoke-bench.lock]
#   REDIS_ADDR           an existing Redis server to use (its DB 15 is FLUSHED);
#                        otherwise redis-server is started on a free port
set -euo pipefail
cd "$(dirname "$0")"

SIZES=${REVOKE_BENCH_SIZES:-1M,10M}
COUNT=${REVOKE_BENCH_COUNT:-6}
CPU=${REVOKE_BENCH_CPU:-1,2}
BENCHTIME=${REVOKE_BENCH_TIME:-1s}
FILTER=${REVOKE_BENCH_FILTER:-.}
LOCK=${REVOKE_BENCH_LOCK:-/tmp/revoke-bench.lock}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

if [ -z "${REDIS_ADDR:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: installing redis-server"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	else
		echo "run.sh: no redis-server on PATH: install it (Debian: apt-get install redis-server) or set REDIS_ADDR" >&2
		exit 1
	fi
fi

mkdir -p results
if [ "${REVOKE_BENCH_APPEND:-}" != 1 ]; then
	: >results/raw.txt
	: >results/commands.txt
fi

cmd="REVOKE_BENCH_SIZES=$SIZES go test -run '^\$' -bench '$FILTER' -count $COUNT -cpu $CPU -benchtime $BENCHTIME -timeout 0 ."
echo "$cmd" | tee -a results/commands.txt
lock=()
if command -v flock >/dev/null 2>&1; then
	lock=(flock "$LOCK")
fi
"${lock[@]}" env REVOKE_BENCH_SIZES="$SIZES" \
	go test -run '^$' -bench "$FILTER" -count "$COUNT" -cpu "$CPU" -benchtime "$BENCHTIME" -timeout 0 . |
	tee -a results/raw.txt
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

go run "$BENCHSTAT" -col /impl results/raw.txt >results/benchstat.txt || echo "run.sh: benchstat failed (results/benchstat.txt incomplete)" >&2
go run ./cmd/plot -raw results/raw.txt -out results -readme README.md \
	-cmd "$(cat results/commands.txt)" -load "$load (1, 5, 15 min, at the end)"
echo "run.sh: results/raw.txt, results/benchstat.txt, results/*.png, README.md"
