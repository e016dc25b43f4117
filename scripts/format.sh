#!/bin/sh
# format.sh CLANG_FORMAT --check|--fix: clang-format every C file we own.
set -eu
cf=$1
mode=$2
cd "${MESON_SOURCE_ROOT:-$(dirname "$0")/..}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || exit 0
if [ "$mode" = --fix ]; then
	echo "$files" | xargs "$cf" -i
else
	echo "$files" | xargs "$cf" --dry-run -Werror
fi
