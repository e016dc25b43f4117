#!/usr/bin/env python3
"""ci_count.py LOGDIR [meson test args]: print "passed failed" for the last
`meson test` run, read from its testlog JSON.  A skipped test counts as a
failure: CI installs every peer, so nothing there has a reason to skip.

For each test that did not pass it writes to stderr what the test printed:
its TAP lines but the passing ones ("ok N"), and the end of its stderr, so
a failure on a CI machine can be read from CI's own log."""
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


def explain(rec):
    """What a failed test printed, shortened for a CI log."""
    out = [f"--- {rec.get('name', '?')}: {rec.get('result', '?')}"]
    lines = [ln for ln in (rec.get("stdout") or "").splitlines()
             if not (ln.startswith("ok ") and ln[3:4].isdigit())]
    out += lines[-120:]
    err = (rec.get("stderr") or "").splitlines()
    if err:
        out.append("stderr (last lines):")
        out += err[-40:]
    print("\n".join(out), file=sys.stderr)


try:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            result = rec.get("result", "ERROR")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
                explain(rec)
except OSError:
    failed = 1
if passed + failed == 0:
    failed = 1
print(passed, failed)
