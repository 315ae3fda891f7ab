#!/bin/sh
# run-unit.sh BUILD - run every unit test binary BUILD/tests/*/test_*
#
# Runs the executables in name order, shows each one's output, then prints
# one summary line "N passed, N failed" that counts cmocka test cases (the
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines).  A binary
# that exits non-zero without reporting a failed case (a crash, a
# sanitizer abort) counts as one failed case.  Exit status 1 if any binary
# exited non-zero, else 0.  The tests find their fixtures through
# POSTERN_FIXTURES (tests/fixtures of this tree unless already set).
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD-DIRECTORY" >&2
	exit 2
fi
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
: "${POSTERN_FIXTURES:=$root/tests/fixtures}"
export POSTERN_FIXTURES
# Byte order for the file list; cmocka's own summary format is parsed below.
LC_ALL=C
export LC_ALL
CMOCKA_MESSAGE_OUTPUT=STDOUT
export CMOCKA_MESSAGE_OUTPUT

passed=0
failed=0
status=0
out=$(mktemp "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
trap 'exit 2' HUP INT TERM

for t in "$build"/tests/*/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	echo "== $t"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" |
	    awk '{ n += $1 } END { print n + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out" |
	    awk '{ n += $1 } END { print n + 0 }')
	if [ "$rc" -ne 0 ]; then
		status=1
		if [ "$f" -eq 0 ]; then
			echo "== $t exited with status $rc"
			f=1
		fi
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
exit $status
