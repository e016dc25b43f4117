#!/bin/sh
# fuzz.sh BUILD_DIR SECONDS - run every libFuzzer target built in BUILD_DIR
# (configured with -Dfuzz=true and clang) for SECONDS each, starting from
# its corpus in tests/fuzz/corpus/<name>/.  Fails on the first crash.
set -eu
build=$1
secs=$2
src=$(cd "$(dirname "$0")/.." && pwd)
found=0
for f in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	case "$f" in *.p) continue ;; esac
	name=$(basename "$f")
	found=1
	work=$(mktemp -d)
	cp -r "$src/tests/fuzz/corpus/${name#fuzz_}/." "$work/" 2>/dev/null || true
	echo "fuzzing $name for ${secs}s"
	rc=0
	"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$work" >"$work.log" 2>&1 || rc=$?
	tail -n 12 "$work.log"
	rm -rf "$work" "$work.log"
	[ "$rc" -eq 0 ] || { echo "$name failed (exit $rc)"; exit 1; }
done
[ "$found" -eq 1 ] || { echo "no fuzz targets in $build"; exit 1; }
