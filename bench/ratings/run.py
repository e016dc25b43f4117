#!/usr/bin/env python3
"""run.py - time `ipckit ratings` against the tools people reach for, in
the same run, on MovieLens-shaped data; check that they all agree.

    python3 bench/ratings/run.py                 # 100K and 25M, 3 rounds
    python3 bench/ratings/run.py --size 100k     # just the small file
    python3 bench/ratings/run.py --rounds 5 --skip datamash,sqlite3
    python3 bench/ratings/run.py --instructions  # + callgrind Ir per row

Data is generated once (deterministic, bench/ratings/gen.c) into
bench/data/, which git ignores.  DuckDB comes from npm (@duckdb/node-api),
installed on first use into bench/data/node/.  Tools run round-robin, so
a noisy neighbour on this shared 2-core machine hits them all alike;
figures are medians (wall time of the whole command, start-up included).
Standard library only.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "bench", "data")
NODE_DIR = os.path.join(DATA, "node")
SYS_PYTHON = "/usr/bin/python3"  # Debian's, with python3-pandas

SIZES = {
    # name: (generator shape, rows, seed, file name)
    "100k": ("udata", 100_000, 1, "u.data"),
    "25m": ("csv", 25_000_000, 25, "ratings.csv"),
}

DUCKDB_JS = r"""
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const [file, csv] = [process.argv[2], process.argv[3] === 'csv'];
  const t0 = process.hrtime.bigint();
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const src = csv
    ? `read_csv('${file}', header=true, columns={'u':'BIGINT','m':'BIGINT','r':'DOUBLE','t':'BIGINT'})`
    : `read_csv('${file}', delim='\t', header=false, columns={'u':'BIGINT','m':'BIGINT','r':'DOUBLE','t':'BIGINT'})`;
  const res = await con.runAndReadAll(
    `SELECT m, count(*)::BIGINT AS c, avg(r) AS a FROM ${src} GROUP BY m ORDER BY m`);
  const rows = res.getRows();
  const out = [];
  for (const [m, c, a] of rows) out.push(`${m}\t${c}\t${a.toFixed(6)}`);
  process.stdout.write(out.join('\n') + '\n');
  process.stderr.write(`query_s ${Number(process.hrtime.bigint() - t0) / 1e9}\n`);
})();
"""

PANDAS_PY = r"""
import sys, pandas as pd
f, csv = sys.argv[1], sys.argv[2] == "csv"
if csv:
    df = pd.read_csv(f, usecols=["movieId", "rating"])
else:
    df = pd.read_csv(f, sep="\t", header=None, usecols=[1, 2],
                     names=["userId", "movieId", "rating", "ts"])
g = df.groupby("movieId")["rating"].agg(["count", "mean"])
g.to_csv(sys.stdout, sep="\t", header=False, float_format="%.6f")
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(builddir):
    if not os.path.exists(os.path.join(builddir, "build.ninja")):
        sh(["meson", "setup", builddir, "--buildtype=release"], cwd=ROOT,
           stdout=subprocess.DEVNULL)
    sh(["ninja", "-C", builddir], stdout=subprocess.DEVNULL)
    return (os.path.join(builddir, "cli", "ipckit"),
            os.path.join(builddir, "bench", "ratings", "ratings-gen"),
            os.path.join(builddir, "bench", "ratings", "ratings-ceiling"))


def ensure_data(gen, size):
    shape, rows, seed, name = SIZES[size]
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        os.makedirs(DATA, exist_ok=True)
        print(f"generating {path} ({rows} rows)...", file=sys.stderr)
        with open(path + ".part", "wb") as f:
            sh([gen, shape, str(rows), str(seed)], stdout=f)
        os.rename(path + ".part", path)
    return path


def ensure_duckdb():
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@duckdb",
                                      "node-api")):
        print("installing @duckdb/node-api into bench/data/node...",
              file=sys.stderr)
        os.makedirs(NODE_DIR, exist_ok=True)
        r = subprocess.run(["npm", "install", "--silent", "--prefix", NODE_DIR,
                            "@duckdb/node-api"], stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            return None
    js = os.path.join(NODE_DIR, "ratings.js")
    with open(js, "w") as f:
        f.write(DUCKDB_JS)
    return js


def tools(ipckit, ceiling, path, csv, skip, tmp):
    """[(name, argv, stdin file or None)]."""
    fs = "," if csv else "\t"
    awk_skip = "NR>1" if csv else ""
    t = [
        ("ipckit --via mmap", [ipckit, "ratings", "--via", "mmap", path]),
        ("ipckit --via shm", [ipckit, "ratings", "--via", "shm", path]),
        ("page-cache ceiling", [ceiling, path, "2"]),
        ("spawn floor (true)", ["/bin/true"]),
    ]
    js = ensure_duckdb() if "duckdb" not in skip else None
    if js:
        t.append(("duckdb", ["node", js, path, "csv" if csv else "tsv"]))
    if shutil.which("mawk"):
        t.append(("mawk", ["mawk", "-F", fs, awk_skip + "{c[$2]++; s[$2]+=$3}"
                           " END {for (k in c) printf \"%s\\t%d\\t%.6f\\n\","
                           " k, c[k], s[k]/c[k]}", path]))
    if shutil.which("datamash"):
        t.append(("datamash -s", ["sh", "-c", "datamash -s -t '" + fs + "' "
                                  "--output-delimiter '\t' "
                                  + ("--header-in " if csv else "")
                                  + "-g 2 count 2 mean 3 < \"$0\"", path]))
    if shutil.which("sqlite3"):
        script = ("CREATE TABLE t(u INTEGER, m INTEGER, r REAL, ts INTEGER);\n"
                  + (".mode csv\n.import --skip 1 " if csv else
                     ".mode tabs\n.import ")
                  + path + " t\n.mode tabs\n"
                  "SELECT m, count(*), printf('%.6f', avg(r)) FROM t "
                  "GROUP BY m ORDER BY m;\n")
        sql = os.path.join(tmp, "ratings.sql")
        with open(sql, "w") as f:
            f.write(script)
        t.append(("sqlite3", ["sqlite3", ":memory:"], sql))
    if os.path.exists(SYS_PYTHON) and subprocess.run(
            [SYS_PYTHON, "-c", "import pandas"], capture_output=True
    ).returncode == 0:
        t.append(("pandas", [SYS_PYTHON, "-c", PANDAS_PY, path,
                             "csv" if csv else "tsv"]))
    if has_avx512():
        # The parser this one replaced where it can, in the same run.
        t.insert(2, ("ipckit, AVX2 path", [ipckit, "ratings", path], None,
                     dict(os.environ, IPCKIT_RATINGS_NO_AVX512="1")))
    return [x + (None,) * (4 - len(x)) for x in t
            if x[0].split()[0] not in skip]


def has_avx512():
    """The CPU has what the AVX-512 parser needs (ratings/parse.c)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return all(x in flags for x in ("avx512f", "avx512bw", "avx512dq",
                                     "avx512vl", "avx512vbmi",
                                     "avx512_vbmi2"))


def timed(argv, stdin, out_path, err_path, env=None):
    """(wall seconds, cpu seconds, stderr) of one run; stdout to out_path.
    posix_spawn, not subprocess: a fork of this Python costs milliseconds,
    which would swamp the 100K figures."""
    fds = [os.open(stdin or os.devnull, os.O_RDONLY),
           os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
           os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    try:
        acts = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
        exe = shutil.which(argv[0]) or argv[0]
        t0 = time.perf_counter()
        pid = os.posix_spawn(exe, argv, env or os.environ,
                             file_actions=acts)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        for fd in fds:
            os.close(fd)
    with open(err_path, errors="replace") as f:
        err = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} exited {status}: {err[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime, err


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            k, c, m = line.rstrip("\n").split("\t")
            res[int(k)] = (int(c), float(m))
    return res


def check(ours, path):
    """None when the output at path agrees with ours, else why not."""
    try:
        return agree(ours, load(path))
    except ValueError as e:
        return f"unreadable output ({e})"


def agree(ours, theirs):
    """None, or why they differ: same ids and counts, means within
    half a unit of the 4th decimal (ours is rounded, theirs are not)."""
    if ours.keys() != theirs.keys():
        return f"ids differ ({len(ours)} vs {len(theirs)})"
    for k, (c, m) in ours.items():
        c2, m2 = theirs[k]
        if c != c2 or abs(m - m2) > 0.00005 + 1e-7:
            return f"id {k}: {c} {m} vs {c2} {m2}"
    return None


def bench(size, args, ipckit, gen, ceiling):
    path = ensure_data(gen, size)
    csv = SIZES[size][0] == "csv"
    mb = os.path.getsize(path) / 1e6
    sh(["cat", path], stdout=subprocess.DEVNULL)  # into the page cache
    tmp = tempfile.mkdtemp(prefix="ratings-bench-")
    ts = tools(ipckit, ceiling, path, csv, set(args.skip.split(",")), tmp)
    wall = {n: [] for n, _, _, _ in ts}
    cpu = {n: [] for n, _, _, _ in ts}
    query = []
    fast = {"ipckit --via mmap", "ipckit --via shm", "ipckit, AVX2 path",
            "page-cache ceiling", "spawn floor (true)"}
    same_as_ours = {"ipckit --via shm", "ipckit, AVX2 path"}
    try:
        for r in range(args.rounds):
            for name, argv, stdin, env in ts:
                reps = args.fast_reps if name in fast else 1
                for _ in range(reps):
                    w, c, err = timed(argv, stdin, os.path.join(tmp, name),
                                      os.path.join(tmp, "stderr"), env)
                    wall[name].append(w)
                    cpu[name].append(c)
                    if name == "duckdb":
                        query += [float(x.split()[1]) for x in err.splitlines()
                                  if x.startswith("query_s")]
            print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr)
        ours = load(os.path.join(tmp, "ipckit --via mmap"))
        same = {}
        for name in same_as_ours:
            if name in wall:
                with open(os.path.join(tmp, "ipckit --via mmap"), "rb") as a, \
                        open(os.path.join(tmp, name), "rb") as b:
                    same[name] = a.read() == b.read()
        checks = {}
        for name, _, _, _ in ts:
            if name in fast:
                continue
            checks[name] = check(ours, os.path.join(tmp, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(wall["ipckit --via mmap"])
    print(f"\n{size}: {SIZES[size][1]:,} rows, {mb:.0f} MB "
          f"({'ratings.csv' if csv else 'u.data'} shape), {os.cpu_count()} "
          f"cores; wall seconds, median of n runs; x = tool / ipckit mmap")
    print(f"  {'tool':<22} {'median':>8} {'min':>8} {'cpu':>7} {'n':>3} "
          f"{'x':>8}  agrees")
    for name, _, _, _ in ts:
        med = statistics.median(wall[name])
        ok = ("byte-identical" if same.get(name)
              else "DIFFERS" if name in same
              else "yes" if checks.get(name, None) is None
              and name in checks else "-" if name not in checks
              else f"NO: {checks[name]}")
        print(f"  {name:<22} {med:8.4f} {min(wall[name]):8.4f} "
              f"{statistics.median(cpu[name]):7.3f} {len(wall[name]):3d} "
              f"{med / base:7.2f}x  {ok}")
    if query:
        print(f"  {'duckdb (query only)':<22} {statistics.median(query):8.4f}"
              f" {min(query):8.4f} {'':7} {len(query):3d} "
              f"{statistics.median(query) / base:7.2f}x")
    def fig(name):
        return (statistics.median(wall[name]), min(wall[name]),
                statistics.median(cpu[name]))

    res = {"base": fig("ipckit --via mmap"), "shm": fig("ipckit --via shm"),
           "ceiling": fig("page-cache ceiling")}
    if "ipckit, AVX2 path" in wall:
        res["avx2"] = fig("ipckit, AVX2 path")
    if "duckdb" in wall:
        res["duckdb"] = fig("duckdb")
    return res


def instructions(ipckit, gen):
    """Instructions per row of one worker, by callgrind, on 1M rows."""
    path = ensure_data(gen, "25m")
    tmp = tempfile.mkdtemp(prefix="ratings-cg-")
    try:
        small = os.path.join(tmp, "1m.csv")
        with open(path, "rb") as f, open(small, "wb") as o:
            for i, line in enumerate(f):
                if i > 1_000_000:
                    break
                o.write(line)
        # valgrind has no AVX-512 (it hides it from CPUID), so this
        # counts the AVX2 path; the variable says so explicitly.
        sh(["valgrind", "--tool=callgrind", "--callgrind-out-file=" +
            os.path.join(tmp, "cg.%p"), ipckit, "ratings", "-j", "1", small],
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
           env=dict(os.environ, IPCKIT_RATINGS_NO_AVX512="1"))
        counts = []
        for n in os.listdir(tmp):
            if n.startswith("cg."):
                with open(os.path.join(tmp, n)) as f:
                    for line in f:
                        if line.startswith("summary:") or \
                                line.startswith("totals:"):
                            counts.append(int(line.split()[1]))
                            break
        worker, coord = max(counts), min(counts)
        print(f"\ncallgrind, 1,000,000 rows, -j 1, AVX2 path: worker "
              f"{worker / 1e6:.1f} instructions per row (all of it: read, "
              f"parse, tables, send); coordinator {coord / 1e6:.1f} M in "
              f"all")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=["100k", "25m", "all"], default="all")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds over all tools (default 3)")
    ap.add_argument("--fast-reps", type=int, default=5,
                    help="runs per round of ipckit and the ceiling")
    ap.add_argument("--skip", default="",
                    help="comma-separated: duckdb,mawk,datamash,sqlite3,"
                    "pandas")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-rel"))
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions per row with callgrind")
    args = ap.parse_args()
    ipckit, gen, ceiling = build(args.build)
    print(f"ipckit ratings benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    res = {}
    for size in (["100k", "25m"] if args.size == "all" else [args.size]):
        if size == "100k":
            args_small = argparse.Namespace(**vars(args))
            args_small.fast_reps = max(args.fast_reps, 7)
            res[size] = bench(size, args_small, ipckit, gen, ceiling)
        else:
            res[size] = bench(size, args, ipckit, gen, ceiling)
    print(f"\ntargets (median wall; in brackets: best wall, median CPU "
          f"time; load average now {os.getloadavg()[0]:.2f}):")

    def ratios(x, y):
        return [x[i] / y[i] for i in range(3)]

    if "25m" in res:
        r = res["25m"]
        if "duckdb" in r:
            x = ratios(r["duckdb"], r["base"])
            print(f"  >= 10x faster than DuckDB (25M): {x[0]:.1f}x "
                  f"[{x[1]:.1f}x, {x[2]:.1f}x] "
                  f"-> {'met' if x[0] >= 10 else 'NOT met'}")
        x = ratios(r["base"], r["ceiling"])
        print(f"  within 2x of the page-cache ceiling (25M): {x[0]:.2f}x "
              f"[{x[1]:.2f}x, {x[2]:.2f}x] ({r['base'][0]:.3f} s vs "
              f"{r['ceiling'][0]:.3f} s) -> {'met' if x[0] <= 2 else 'NOT met'}")
        x = ratios(r["shm"], r["base"])
        print(f"  shm / mmap (25M): {x[0]:.3f} [{x[1]:.3f}, {x[2]:.3f}]")
        if "avx2" in r:
            x = ratios(r["avx2"], r["base"])
            print(f"  AVX2 path / AVX-512 path (25M): {x[0]:.2f}x "
                  f"[{x[1]:.2f}x, {x[2]:.2f}x]")
    if "100k" in res:
        r = res["100k"]
        print(f"  100K file under 10 ms with start-up: "
              f"{r['base'][0] * 1000:.1f} ms [{r['base'][1] * 1000:.1f} ms, "
              f"CPU {r['base'][2] * 1000:.1f} ms] -> "
              f"{'met' if r['base'][0] < 0.010 else 'NOT met'}")
        x = ratios(r["shm"], r["base"])
        print(f"  shm / mmap (100K): {x[0]:.3f} [{x[1]:.3f}, {x[2]:.3f}]")
    if args.instructions:
        instructions(ipckit, gen)


if __name__ == "__main__":
    main()
