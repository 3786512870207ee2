#!/usr/bin/env bash
# Run by .ci/run before this module's tests (and by ci.sh): installs
# redis-server from Debian's packages if it is missing, so that the Redis
# adapter tests and benchmarks run against a real server (they start it
# themselves on a free 127.0.0.1 port and stop it). Without root or apt-get,
# or if the install fails, it warns and the Redis tests and benchmarks skip.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "ci-setup.sh: installing redis-server"
	if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; then
		echo "ci-setup.sh: $(redis-server --version)"
		exit 0
	fi
	echo "ci-setup.sh: WARNING: could not install redis-server; the Redis tests and benchmarks will be skipped"
else
	echo "ci-setup.sh: WARNING: no redis-server and no root apt-get; the Redis tests and benchmarks will be skipped"
fi
