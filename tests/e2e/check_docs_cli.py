#!/usr/bin/env python3
"""docs/cli.md must be what `ipckit help --markdown` prints today, and the
man page must name every command: both come from the command table."""
import os
import subprocess
import sys

ipckit = os.environ["IPCKIT"]
root = os.environ["IPCKIT_SOURCE_ROOT"]
want = subprocess.run([ipckit, "help", "--markdown"], check=True,
                      capture_output=True, text=True, timeout=20).stdout
with open(os.path.join(root, "docs", "cli.md"), encoding="utf-8") as f:
    have = f.read()
if have != want:
    print("not ok - docs/cli.md is stale: run "
          "`build/cli/ipckit help --markdown > docs/cli.md`")
    sys.exit(1)
man = subprocess.run([ipckit, "help", "--man"], check=True,
                     capture_output=True, text=True, timeout=20).stdout
for line in want.splitlines():
    if line.startswith("## ipckit "):
        name = line.split()[2]
        if f'.SS "ipckit {name}' not in man:
            print(f"not ok - man page lacks {name}")
            sys.exit(1)
print("ok - docs/cli.md and the man page match the command table")
