#!/usr/bin/env bash
# CI step of the bench module, run by .ci/run instead of its plain benchmark
# step (after gofmt, go vet, staticcheck and go test -race): installs
# redis-server if it is missing, runs every benchmark once at the small
# default size (10k entries) so that none of them can rot, and runs the
# results tool on that output (into a temporary directory) so that it
# cannot rot either. The full run is ./run.sh.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "ci.sh: installing redis-server"
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; then
			echo "ci.sh: WARNING: could not install redis-server; the Redis benchmarks will be skipped"
		fi
	else
		echo "ci.sh: WARNING: no redis-server and no root apt-get; the Redis benchmarks will be skipped"
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/plot" ./cmd/plot
go test -run '^$' -bench . -benchtime 1x ./... | tee "$tmp/raw.txt"
"$tmp/plot" -raw "$tmp/raw.txt" -out "$tmp" >"$tmp/section.md"
echo "ci.sh: results tool OK ($(grep -c '^| ' "$tmp/section.md") table rows, $(ls "$tmp"/*.png | wc -l) charts)"
