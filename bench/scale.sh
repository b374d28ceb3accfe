#!/usr/bin/env bash
# The plan and the store at scale (bench/README.md): the unit tests' large
# cases run at full size, with their times printed. The unit tests run the
# same cases small, for what they check; the sizes and the timing live here.
#   bench/scale.sh BUILD_DIR        (after make BUILD_DIR/tests/test_plan BUILD_DIR/tests/test_store)
# Environment: PLAN_MEMBERS=200000, STORE_MEMBERS=100000.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/tests/test_plan" ] || [ ! -x "$1/tests/test_store" ]; then
	echo "usage: $0 BUILD_DIR  (holding tests/test_plan and tests/test_store)" >&2
	exit 2
fi

# run PROGRAM ARGS...: its figures, without cmocka's bookkeeping; its status.
run() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	grep -v '^\[' <<<"$out"
	return $rc
}
run "$1/tests/test_plan" --scale "${PLAN_MEMBERS:-200000}"
run "$1/tests/test_store" --scale "${STORE_MEMBERS:-100000}"
