#!/bin/sh
# lint.sh - project checks that the compiler does not make:
#  - banned functions (unbounded string copies),
#  - layering: includes must point down (util <- master, global <- smtp),
#  - the manual page parses (mandoc -Tlint, when mandoc is installed),
#  - cppcheck, when installed.
set -u
cd "$(dirname "$0")/.."
fail=0

banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|gets)[[:space:]]*\('
if grep -nE "$banned" src/*/*.c include/*/*.h; then
	echo "lint: banned function (use strbuf/snprintf/strsep)" >&2
	fail=1
fi

# layer order: util=0 global=1 master=2 dns=2 maps=2 tls=3 sasl=3 smtp=4
# (the master skeleton reads global parameters, as Postfix's does)
rank() {
	case $1 in
	util) echo 0 ;; global) echo 1 ;; master | dns | maps) echo 2 ;;
	tls | sasl) echo 3 ;; smtp) echo 4 ;; *) echo 9 ;;
	esac
}
for f in src/*/*.c include/*/*.h; do
	layer=$(echo "$f" | cut -d/ -f2)
	mine=$(rank "$layer")
	for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*"/\1/p' "$f" | sort -u); do
		theirs=$(rank "$inc")
		if [ "$theirs" -gt "$mine" ] ||
		    { [ "$theirs" -eq "$mine" ] && [ "$inc" != "$layer" ]; }; then
			echo "lint: $f ($layer) includes $inc: layers point down only" >&2
			fail=1
		fi
	done
done

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning man/postern-smtp.8 || fail=1
fi
if command -v cppcheck >/dev/null 2>&1; then
	cppcheck --quiet --error-exitcode=1 --enable=warning \
	    --suppress=missingIncludeSystem -Iinclude src/*/*.c || fail=1
fi
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
