#!/usr/bin/env bash
# cross.sh: go build and go vet of every module of go.work for each platform
# of CROSS_PLATFORMS, with cgo off, as "make cross" asks. It catches code
# that only builds on Linux (syscalls, build tags) before a user on another
# system does. Every platform is tried even when one fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
pkgs=${PKGS:-github.com/gonbd/gonbd/...}
failed=()
for p in ${CROSS_PLATFORMS:-linux/arm64 darwin/arm64 windows/amd64 freebsd/amd64 openbsd/amd64}; do
	echo "cross: GOOS=${p%/*} GOARCH=${p#*/}"
	if ! GOOS=${p%/*} GOARCH=${p#*/} CGO_ENABLED=0 sh -c "go build $pkgs && go vet $pkgs"; then
		failed+=("$p")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "cross: failed for ${failed[*]}" >&2
	exit 1
fi
