#!/bin/sh
# valgrind.sh PROGRAM [ARGS...] - the 'valgrind' test setup's wrapper.
# Fails the test on any memory error or definite/indirect leak in the
# program or any child it forks (valgrind follows fork by itself).
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect \
	--track-origins=yes --trace-children=no \
	--suppressions="$(dirname "$0")/valgrind.supp" "$@"
