#!/usr/bin/env bash
# gofmt-check.sh: fails, listing them, if any Go file under the current
# directory is not gofmt-ed. lint.sh runs it in every module.
set -euo pipefail
out=$(gofmt -l .)
if [ -n "$out" ]; then
	printf 'not gofmt-ed (run gofmt -w on them):\n%s\n' "$out"
	exit 1
fi
