#!/usr/bin/env bash
# Proves that each nested module given as argument can be installed by a user
# with `go get`, without the replace directives of its go.mod (those apply only
# inside the module itself):
#   1. .ci/modproxy builds a file-based module proxy from this repository's git
#      history: each module at HEAD, as a pseudo-version of HEAD, and every
#      module of the repository it requires at the version it requires (the
#      core at its pseudo-version or tag), zipped as the public proxy would.
#   2. In a scratch module outside the repository, `go get <module>` through
#      GOPROXY=file://<proxy>,https://proxy.golang.org (third-party modules
#      come from the public proxy; only our own module path skips the
#      checksum database, since these zips are not published).
#   3. Builds and runs .ci/installable/<dir>.go if there is one (a program
#      that uses the module), else a program that imports its root package.
# Usage: .ci/installable.sh natsrevoke [grpcrevoke promrevoke ...]
# Requires a committed HEAD: what is checked is HEAD, not the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
[ $# -gt 0 ] || { echo "usage: $0 MODDIR..." >&2; exit 2; }
if ! git diff --quiet HEAD -- "$@"; then
	echo "installable: note: uncommitted changes in $* are not checked (HEAD is)" >&2
fi

work=$(mktemp -d)
core=$(sed -n 's/^module //p' go.mod)
modcache=$(go env GOMODCACHE)
# Our zips are not the published ones: leave none of them in the module cache.
cleanup() {
	rm -rf "$work"
	for d in "$modcache/cache/download/${core%/*}" "$modcache/${core%/*}"; do
		[ -d "$d" ] && chmod -R u+w "$d" && rm -rf "$d"
	done
	return 0
}
trap cleanup EXIT
(cd .ci/modproxy && go build -o "$work/modproxy" .)

for dir in "$@"; do
	echo "--- installable: $dir"
	proxy="$work/proxy-$dir"
	line=$("$work/modproxy" -repo "$repo" -out "$proxy" "$dir")
	path=${line% *}
	version=${line#* }
	scratch="$work/scratch-$dir"
	mkdir -p "$scratch"
	(
		cd "$scratch"
		export GOWORK=off GOFLAGS="-mod=mod" GOPROXY="file://$proxy,https://proxy.golang.org"
		export GONOSUMDB="$core" GONOSUMCHECK=1 GOPRIVATE= GONOPROXY=
		go mod init example.com/installable >/dev/null 2>&1
		go get "$path" # as a user types it: @latest is HEAD's pseudo-version
		got=$(go list -m -f '{{.Version}}' "$path")
		[ "$got" = "$version" ] || { echo "installable: got $path@$got, want $version" >&2; exit 1; }
		if [ -f "$repo/.ci/installable/$dir.go" ]; then
			cp "$repo/.ci/installable/$dir.go" main.go
			sed -i '/^\/\/go:build ignore$/d' main.go
		else
			printf 'package main\n\nimport _ "%s"\n\nfunc main() { println("imported %s") }\n' "$path" "$path" >main.go
		fi
		go mod tidy
		echo "resolved: $(go list -m all | grep "^$core" | tr '\n' ' ')"
		go build -o prog .
		./prog
	)
done
echo "installable: OK for $*"
