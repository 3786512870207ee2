#!/usr/bin/env bash
# CI step of the bench module, run by .ci/run instead of its plain benchmark
# step (after gofmt, go vet, staticcheck and go test -race): installs
# redis-server if it is missing (ci-setup.sh), runs every benchmark once at the small
# default size (10k entries) so that none of them can rot, and runs the
# results tool on that output (into a temporary directory) so that it
# cannot rot either. The full run is ./run.sh.
set -euo pipefail
cd "$(dirname "$0")"

./ci-setup.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/plot" ./cmd/plot
go test -run '^$' -bench . -benchtime 1x ./... | tee "$tmp/raw.txt"
"$tmp/plot" -raw "$tmp/raw.txt" -out "$tmp" >"$tmp/section.md"
echo "ci.sh: results tool OK ($(grep -c '^| ' "$tmp/section.md") table rows, $(ls "$tmp"/*.png | wc -l) charts)"
