#!/usr/bin/env python3
"""ci_count.py LOGDIR [meson test args]: print "passed failed" for the last
`meson test` run, read from its testlog JSON.  A skipped test counts as a
failure: CI installs every peer, so nothing there has a reason to skip."""
import json
import os
import sys

logdir = sys.argv[1]
setup = None
args = sys.argv[2:]
if "--setup" in args:
    setup = args[args.index("--setup") + 1]
name = "testlog.json" if setup is None else f"testlog-{setup}.json"
path = os.path.join(logdir, name)
passed = failed = 0
try:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result", "ERROR")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
except OSError:
    failed = 1
if passed + failed == 0:
    failed = 1
print(passed, failed)
