#!/usr/bin/env bash
# go-install.sh DEST PKG@VERSION: installs a Go program at a pinned version
# as the file DEST (e.g. .bin/staticcheck@v0.8.2), with the Go toolchain at
# hand and outside the workspace, so the program's own go.mod decides its
# dependencies.
set -euo pipefail
dest=$1 pkg=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOWORK=off GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "$pkg"
name=${pkg%@*}
mkdir -p "$(dirname "$dest")"
mv "$tmp/${name##*/}" "$dest"
