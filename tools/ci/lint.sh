#!/usr/bin/env bash
# lint.sh: gofmt and staticcheck in every module of go.work ("make vet" is its
# own step). Run by "make lint", which builds the helpers and installs
# staticcheck first and exports BIN and STATICCHECK. Every linter runs even when one fails, so
# that one run shows every finding.
set -uo pipefail
cd "$(dirname "$0")/../.."
each="$BIN/gonbd-each"
status=0

echo "lint: gofmt -l"
"$each" "$PWD/tools/ci/gofmt-check.sh" || status=1
echo "lint: staticcheck"
"$STATICCHECK" "${PKGS:-github.com/gonbd/gonbd/...}" || status=1

exit $status
