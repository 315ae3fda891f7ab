#!/bin/sh
# check.sh - what "make check" runs (after "make deps"):
#
#   1. build (make all)                          - a failure stops here
#   2. unit tests (make unit)
#   3. integration tests, Postern as the agent, chrooted and not
#   4. the ASan+UBSan build (make asan), its unit tests, and the
#      integration tests against it (chrooted and not)
#   5. the integration tests against Postfix's own smtp/lmtp (reference),
#      chrooted and not (the DNS tests need the chroot)
#
# Every step after the build runs even when an earlier one failed; a
# summary follows, and the exit status is 1 if any step failed.
set -e
cd "$(dirname "$0")/.."

results=""
failed=0
total_pass=0
total_fail=0

# run_rc LOG COMMAND... - run COMMAND, store its exit status in LOG.rc
# (a pipeline through tee would lose it).
run_rc() {
	rcfile=$1
	shift
	set +e
	"$@"
	echo $? >"$rcfile"
	set -e
}

# stepcmd NAME COMMAND... - run a step, show its output, remember its
# outcome and the last "N passed, N failed" line it printed.
stepcmd() {
	name=$1
	shift
	echo
	echo "=== check: $name"
	log=$(mktemp "${TMPDIR:-/tmp}/check.XXXXXX")
	t0=$(date +%s)
	{ run_rc "$log.rc" "$@" 2>&1; } | tee "$log"
	rc=$(cat "$log.rc" 2>/dev/null || echo 1)
	secs=$(($(date +%s) - t0))
	counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -1 || true)
	rm -f "$log" "$log.rc"
	if [ "$rc" -eq 0 ]; then
		verdict=ok
	else
		verdict="FAILED (exit $rc)"
		failed=1
	fi
	results="$results
  $name: $verdict${counts:+ - $counts} (${secs}s)"
	if [ -n "$counts" ]; then
		p=$(echo "$counts" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
		f=$(echo "$counts" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
		total_pass=$((total_pass + ${p:-0}))
		total_fail=$((total_fail + ${f:-0}))
	fi
	[ "$rc" -eq 0 ] || [ -n "$counts" ] || total_fail=$((total_fail + 1))
	return 0
}

echo "=== check: build"
t_all=$(date +%s)
make all
results="
  build: ok ($(($(date +%s) - t_all))s)"

stepcmd "unit tests" make unit
stepcmd "integration (postern, chroot n+y)" \
	python3 -u tests/integration/run.py --build build --agent postern --chroot both
stepcmd "asan build" make asan
if [ -x build-asan/postern-smtp ]; then
	stepcmd "unit tests (asan)" sh tests/run-unit.sh build-asan
	stepcmd "integration (postern asan, chroot n+y)" \
		python3 -u tests/integration/run.py --build build-asan --agent postern --chroot both
fi
stepcmd "integration (reference: postfix smtp, chroot n+y)" \
	python3 -u tests/integration/run.py --agent postfix --chroot both

echo
echo "=== check: summary$results
  total: $(($(date +%s) - t_all))s"
if [ $failed -ne 0 ]; then
	echo "check: FAILED"
	echo "$total_pass passed, $total_fail failed"
	exit 1
fi
echo "check: ok"
echo "$total_pass passed, $total_fail failed"
exit 0
