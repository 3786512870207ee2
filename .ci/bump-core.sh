#!/usr/bin/env bash
# Makes every nested module of the repository require the core module at
# COMMIT (a commit of main that exists on the remote), as its pseudo-version
# (or at a release tag: .ci/bump-core.sh v0.3.0). The replace directives for
# local development stay as they are. Run .ci/installable.sh afterwards.
# Usage: .ci/bump-core.sh COMMIT|TAG
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 COMMIT|TAG" >&2; exit 2; }
core=$(sed -n 's/^module //p' go.mod)
if [[ "$1" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] && git rev-parse -q --verify "refs/tags/$1" >/dev/null; then
	version=$1
else
	commit=$(git rev-parse --verify "$1^{commit}")
	version=$(cd .ci/modproxy && go run . -repo ../.. pseudo "$commit")
fi
for mod in $(git ls-files '*/go.mod'); do
	dir=$(dirname "$mod")
	if grep -q "^[[:space:]]*$core v\|^require $core v" "$mod"; then
		(cd "$dir" && go mod edit -require="$core@$version" && GOFLAGS=-mod=mod go mod tidy)
		echo "$dir: requires $core@$version"
	fi
done
