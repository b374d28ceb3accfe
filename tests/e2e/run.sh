#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (or those whose name contains one of the
# arguments), each against its own fresh `orgsync serve` on its own port
# and database, E2E_JOBS files at a time (default: the number of CPUs), and
# ends with the line "e2e: N passed, M failed, K skipped" (cases; a skip is
# "ok - FILE: CASE # SKIP REASON", and is never counted as a pass). Exits
# non-zero on any failure. With ORGSYNC_REQUIRE_ALL=1 (make check) a case
# skipped for want of a tool fails instead (tests/e2e/lib.sh).
#   ORGSYNC="valgrind -q --error-exitcode=99 build/orgsync" tests/e2e/run.sh
#   ORGSYNC_DB=postgres tests/e2e/run.sh    the same on PostgreSQL
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export ORGSYNC=${ORGSYNC:-build/orgsync}
JOBS=${E2E_JOBS:-$(nproc 2>/dev/null || echo 2)}
case $ORGSYNC in *valgrind*) JOBS=${E2E_JOBS:-1} ;; esac

# The longest runs first, so that the jobs end together: the files that
# drive large orgs, then the others largest first (the most cases).
files=()
for f in tests/e2e/test_crash.sh tests/e2e/test_concurrency.sh $(ls -S tests/e2e/test_*.sh |
	grep -v -e test_crash.sh -e test_concurrency.sh); do
	if [ $# -gt 0 ]; then
		want=0
		for a in "$@"; do [[ $f == *"$a"* ]] && want=1; done
		[ $want -eq 1 ] || continue
	fi
	files+=("$f")
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# ORGSYNC_DB=postgres: every file on a database of its own on PostgreSQL, on a
# throwaway cluster unless ORGSYNC_TEST_DB names a server (tests/e2e/lib.sh).
if [ "${ORGSYNC_DB:-}" = postgres ] && [ -z "${ORGSYNC_TEST_DB:-}" ]; then
	ORGSYNC_TEST_DB=$(scripts/pg-cluster.sh start "$OUT/pg") || exit 1
	export ORGSYNC_TEST_DB
	trap 'scripts/pg-cluster.sh stop "$OUT/pg"; rm -rf "$OUT"' EXIT
fi
start=$(date +%s)
# Every answer the files receive is kept, and validated against the OpenAPI
# description once they are done (check_responses.sh).
export ORGSYNC_RECORD_DIR=$OUT/responses
mkdir -p "$ORGSYNC_RECORD_DIR"

# one FILE: runs a test file; its output and timing go to $OUT/NAME.*
one() {
	local name t0
	name=$(basename "$1" .sh)
	t0=$(date +%s)
	bash "$@" >"$OUT/$name.log" 2>&1
	echo $? >"$OUT/$name.rc"
	echo $(($(date +%s) - t0)) >"$OUT/$name.secs"
}

running=0
for f in "${files[@]}"; do
	if [ "$JOBS" -le 1 ]; then
		one "$f"
		cat "$OUT/$(basename "$f" .sh).log"
		continue
	fi
	one "$f" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
one tests/e2e/check_responses.sh "$ORGSYNC_RECORD_DIR"
[ "$JOBS" -le 1 ] && cat "$OUT/check_responses.log"
files+=(tests/e2e/check_responses.sh)

pass=0
fail=0
skipped=0
for f in $(printf '%s\n' "${files[@]}" | sort); do
	name=$(basename "$f" .sh)
	[ "$JOBS" -le 1 ] || cat "$OUT/$name.log"
	k=$(grep -c '^ok - .* # SKIP ' "$OUT/$name.log" 2>/dev/null) || k=${k:-0}
	p=$(grep -c '^ok - ' "$OUT/$name.log" 2>/dev/null) || p=${p:-0}
	p=$((p - k))
	m=$(grep -c '^not ok - ' "$OUT/$name.log" 2>/dev/null) || m=${m:-0}
	rc=$(cat "$OUT/$name.rc" 2>/dev/null)
	# A file that left no result, or ran no case, failed: silence is not a pass.
	if [ -z "$rc" ]; then
		echo "not ok - $name: left no result (its output in $OUT is gone)"
		m=1
	elif [ "$rc" -ne 0 ] && [ "$m" -eq 0 ]; then
		echo "not ok - $name: exited with status $rc"
		m=1
	elif [ $((p + m + k)) -eq 0 ]; then
		echo "not ok - $name: ran no case"
		m=1
	fi
	echo "# $name: $(cat "$OUT/$name.secs" 2>/dev/null) s"
	pass=$((pass + p))
	fail=$((fail + m))
	skipped=$((skipped + k))
done
echo "# total time: $(($(date +%s) - start)) s"
echo "e2e: $pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
