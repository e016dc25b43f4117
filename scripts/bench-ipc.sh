#!/bin/sh
# bench-ipc.sh [ipc-bench options] - build the release tree and run the IPC
# benchmark: every ipckit scheme beside raw syscalls, nng and ZeroMQ.
# Takes a few minutes; docs/bench.md explains the output.  Needs
# libnng-dev and libzmq3-dev (scripts/deps.sh).
set -eu
cd "$(dirname "$0")/.."
if [ ! -d build-rel ]; then
	meson setup build-rel --buildtype=release >/dev/null
fi
ninja -C build-rel bench/ipc/ipc-bench >/dev/null
exec build-rel/bench/ipc/ipc-bench "$@"
