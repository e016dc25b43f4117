#!/bin/sh
# deps.sh - install everything ipckit builds, tests and benchmarks with, from
# Debian 12's packages.  Idempotent; needs root (or sudo).
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

packages="
  build-essential meson ninja-build pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev clang-format-14 valgrind strace
  libcmocka-dev
  libsqlite3-dev sqlite3 librhash-dev rhash libssl-dev openssl
  libbz2-dev bzip2 zlib1g-dev libexpat1-dev libreadline-dev libncurses-dev
  libnng-dev libzmq3-dev liburing-dev
  uhub ncdc eiskaltdcpp-daemon tmux curl
  mawk datamash python3 python3-pandas
  netcat-openbsd iproute2 procps psmisc util-linux libxml2-utils
"

$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
# Node.js (for the DuckDB peer in bench/ratings only) may come from another
# source on some machines; install Debian's only when there is none.
if ! command -v node >/dev/null 2>&1; then
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
