#!/usr/bin/env bash
# check.sh: "make check", the one test command. It runs every step even when
# an earlier one fails, so that one run (CI's in particular) shows every
# failure, then prints which steps failed and exits non-zero if any did.
#
# The steps: install the real NBD clients (as root; otherwise the tests that
# need a missing one fail), go vet and every test of every module with
# GONBD_REQUIRE_CLIENTS=1, lint, cross-builds, licences, the release
# rehearsal, the CI matrix check and actionlint.
set -uo pipefail
cd "$(dirname "$0")/../.."
make=${MAKE:-make}

passed=() failed=()
step() {
	local name=$1
	shift
	echo
	echo "=== check: $name"
	local start=$SECONDS
	if "$@"; then
		passed+=("$name")
		echo "=== check: $name passed ($((SECONDS - start))s)"
	else
		failed+=("$name")
		echo "=== check: $name FAILED ($((SECONDS - start))s)"
	fi
}

if [ "$(id -u)" -eq 0 ]; then
	step clients tools/ci/install-clients.sh
else
	echo "check: not root, so the NBD clients are not installed; tests needing a missing one will fail"
fi
# The helpers every later step uses; nothing else can run without them.
step tools "$make" --no-print-directory tools
if [ ${#failed[@]} -gt 0 ] && [ "${failed[-1]}" = tools ]; then
	echo "check: the helper programs of tools/ do not build; stopping"
	exit 1
fi
for target in vet test-all lint cross licenses release-check ci-matrix actionlint; do
	step "$target" "$make" --no-print-directory "$target"
done

echo
echo "check steps passed: ${passed[*]:-none}"
echo "check steps failed: ${failed[*]:-none}"
echo "check: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
