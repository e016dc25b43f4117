#!/bin/sh
# demo.sh - the main job, run by the README's first command.
set -eu
echo "ipckit is being built up; see docs/ for what works so far."
exec "$(dirname "$0")/../build/cli/ipckit" --help
