#!/usr/bin/env python3
"""run.py - the hub benchmark: ipckit hub and Debian's uhub, the same
load from bench/hub/hubload, in the same run, several times; prints the
median of each figure side by side.  Not a test (docs/hub.md, "Benchmark").

    python3 bench/hub/run.py [--runs 3] [--users 1000] [--big 10000]
                             [--rate 0.1] [--duration 10] [--build build]
                             [--skip-uhub] [--skip-floor] [--no-uring-too]
                             [--read-epoll]

Each run also runs bench/hub/fanout with the same users, rate and duration:
no hub, one process writing every line straight to every reader's loopback
socket.  Its figures (the "floor" column) are what the kernel and the
scheduler cost on this machine at that moment; a hub cannot deliver faster.
fanout writes as the hub does: each turn's writes as one io_uring batch
(--uring), or one send() each where the kernel refuses io_uring.
--no-uring-too adds a column: ipckit hub with IPCKIT_HUB_NO_URING set (one
system call a write), run interleaved with the others.

hubload and fanout's reader receive on io_uring (a multishot receive per
socket, bench/hub/uring_rx.c) where the kernel can, so the generator takes
less CPU per delivery from the machine it shares with the hub; the
"load receives on io_uring" row says whether it did.  --read-epoll makes
them read with epoll and recv as before, to compare.

Both hubs run with flood limits off, no chat history replayed on login, a
1 MiB send queue per user, the same accounts (u<i> / pw-u<i>, passwords
checked by the challenge) and a raised open-file limit.  uhub is started
with a generated config and SQLite user database in a temporary directory;
no uhub code is part of ipckit."""
import argparse
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_port(port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"hub exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("hub did not listen")


class Ours:
    def __init__(self, ipckit, tmp, users, no_uring=False):
        self.name = "hub no uring" if no_uring else "ipckit hub"
        self.env = dict(os.environ)
        if no_uring:
            self.env["IPCKIT_HUB_NO_URING"] = "1"
        else:
            self.env.pop("IPCKIT_HUB_NO_URING", None)
        self.ipckit = ipckit
        self.dir = os.path.join(tmp, "ours-no-uring" if no_uring else "ours")
        os.mkdir(self.dir)
        self.db = os.path.join(self.dir, "hub.db")
        lines = "".join(f"u{i} pw-u{i}\n" for i in range(users + 1))
        subprocess.run([ipckit, "hub", "user", "import", "--db", self.db],
                       input=lines, text=True, check=True,
                       capture_output=True)

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [self.ipckit, "hub", "--db", self.db,
             "--listen", f"127.0.0.1:{self.port}",
             "--set", "chat_flood=0/1", "--set", "search_flood=0/1",
             "--set", "max_users=20000", "--set", "history_on_login=0",
             "--set", "max_send_queue=1048576"],
            stderr=subprocess.DEVNULL, preexec_fn=raise_nofile, env=self.env)
        wait_port(self.port, self.proc)


class Uhub:
    name = "uhub"

    def __init__(self, tmp, users):
        self.dir = os.path.join(tmp, "uhub")
        os.mkdir(self.dir)
        self.db = os.path.join(self.dir, "users.db")
        subprocess.run(["uhub-passwd", self.db, "create"], check=True,
                       capture_output=True)
        con = sqlite3.connect(self.db)
        con.executemany("INSERT INTO users(nickname, password, credentials)"
                        " VALUES (?, ?, 'user')",
                        [(f"u{i}", f"pw-u{i}") for i in range(users + 1)])
        con.commit()
        con.close()
        with open(os.path.join(self.dir, "plugins.conf"), "w") as f:
            f.write(f'plugin /usr/lib/uhub/mod_auth_sqlite.so '
                    f'"file={self.db}"\n')
        open(os.path.join(self.dir, "users.conf"), "w").close()

    def start(self):
        self.port = free_port()
        conf = os.path.join(self.dir, "uhub.conf")
        with open(conf, "w") as f:
            f.write(f"""server_port={self.port}
server_bind_addr=127.0.0.1
max_users=20000
show_banner=0
registered_users_only=0
hub_name=bench
file_acl={self.dir}/users.conf
file_plugins={self.dir}/plugins.conf
flood_ctl_interval=1
flood_ctl_chat=0
flood_ctl_connect=0
flood_ctl_search=0
flood_ctl_update=0
flood_ctl_extras=0
max_recv_buffer=16384
max_send_buffer=1048576
max_send_buffer_soft=1000000
""")
        self.proc = subprocess.Popen(["uhub", "-q", "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     preexec_fn=raise_nofile)
        wait_port(self.port, self.proc)


def stop(hub):
    hub.proc.terminate()
    try:
        hub.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        hub.proc.kill()
        hub.proc.wait()


def floor(fanout, users, rate, duration, extra=()):
    """bench/hub/fanout's figures, named as hubload's where they mean the
    same (its writer stands for the hub, its reader for hubload)."""
    for mode in ("--uring", "--send"):  # --send: the kernel refused
        cp = subprocess.run([fanout, "--conns", str(users),
                             "--rate", str(users * rate),
                             "--duration", str(duration), mode] +
                            list(extra),
                            capture_output=True, text=True, timeout=600,
                            preexec_fn=raise_nofile)
        if "io_uring_queue_init" not in cp.stderr:
            break
    if cp.returncode != 0:
        last = cp.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"fanout failed: {last[0]}", file=sys.stderr, flush=True)
        return {"failed": 1.0}
    names = {"write_cpu_ns_per_delivery": "hub_cpu_ns_per_delivery",
             "read_cpu_ns_per_delivery": "load_cpu_ns_per_delivery",
             "read_uring": "load_uring"}
    out = {}
    for line in cp.stdout.splitlines():
        k, v = line.split()
        out[names.get(k, k)] = float(v)
    out["rate_lost"] = 0.0  # fanout dies if a write is short
    return out


def hubload(load, hub, *args):
    """hubload's figures; a run that fails (the hub dropped clients, a
    storm that did not end) is reported and counts as no figures."""
    cp = subprocess.run([load, "--addr", f"127.0.0.1:{hub.port}",
                         "--hub-pid", str(hub.proc.pid)] + list(args),
                        capture_output=True, text=True, timeout=600,
                        preexec_fn=raise_nofile)
    if cp.returncode != 0:
        last = cp.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"hubload against {hub.name} failed: {last[0]}",
              file=sys.stderr, flush=True)
        return {"failed": 1.0}
    out = {}
    for line in cp.stdout.splitlines():
        k, v = line.split()
        out[k] = float(v)
    return out


ROWS = [
    ("light_login_ms_p50", "login at light load, ms (p50)", "lower"),
    ("light_login_ms_p99", "login at light load, ms (p99)", "lower"),
    ("logins_per_s", "logins/s, storm of {users}", "higher"),
    ("rate_deliveries_per_s", "deliveries/s at {users} x {rate} lines/s",
     "higher"),
    ("rate_lost", "  messages lost", "lower"),
    ("latency_ms_p50", "  delivery latency, ms (p50)", "lower"),
    ("latency_ms_p99", "  delivery latency, ms (p99)", "lower"),
    ("line_first_ms_p50", "  a line's first recipient, ms (p50)", "lower"),
    ("line_last_ms_p50", "  a line's last recipient, ms (p50)", "lower"),
    ("hub_cpu_ns_per_delivery", "  hub CPU per delivery, ns", "lower"),
    ("load_cpu_ns_per_delivery", "  hubload CPU per delivery, ns", "lower"),
    ("load_uring", "  load receives on io_uring (1 yes, 0 no)", "same"),
    ("sat_deliveries_per_s", "saturation deliveries/s ({users} users)",
     "higher"),
    ("sat_hub_cpu_ns_per_delivery", "  hub CPU per delivery, ns", "lower"),
    ("big_logins_per_s", "logins/s, storm of {big} (uhub {big_uhub})",
     "higher"),
    ("big_hub_rss_per_user_bytes", "RSS per idle user, bytes (same)",
     "lower"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--big", type=int, default=10000)
    ap.add_argument("--big-uhub", type=int, default=2000,
                    help="uhub 0.4.1 logs in ~30 users/s under a storm: "
                         "its big storm is smaller so a run ends")
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--sat-seconds", type=float, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--skip-uhub", action="store_true")
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--no-uring-too", action="store_true")
    ap.add_argument("--read-epoll", action="store_true",
                    help="hubload and fanout read with epoll and recv")
    a = ap.parse_args()
    ipckit = os.path.join(a.build, "cli", "ipckit")
    load = os.path.join(a.build, "bench", "hub", "hubload")
    fanout = os.path.join(a.build, "bench", "hub", "fanout")
    rd = ["--read-epoll"] if a.read_epoll else []
    tmp = tempfile.mkdtemp(prefix="ipk-hubbench-")
    try:
        hubs = [Ours(ipckit, tmp, max(a.users, a.big))]
        if a.no_uring_too:
            hubs.append(Ours(ipckit, tmp, max(a.users, a.big), True))
        if not a.skip_uhub and shutil.which("uhub"):
            hubs.append(Uhub(tmp, max(a.users, a.big)))
        res = {h.name: {} for h in hubs}
        if not a.skip_floor:
            res["floor"] = {}
        for run in range(a.runs):
            if not a.skip_floor:
                r = floor(fanout, a.users, a.rate, a.duration, rd)
                for k, v in r.items():
                    res["floor"].setdefault(k, []).append(v)
                print(f"run {run + 1}/{a.runs} floor: " +
                      " ".join(f"{k}={v:g}" for k, v in sorted(r.items())),
                      file=sys.stderr, flush=True)
            for h in hubs:  # interleaved, so both see the same noise
                h.start()
                try:
                    r = hubload(load, h, *rd, "--users", str(a.users),
                                "--light-logins", "50",
                                "--rate", str(a.rate),
                                "--duration", str(a.duration),
                                "--saturate", str(a.sat_seconds),
                                "--senders", "100", "--window", "8")
                finally:
                    stop(h)
                h.start()
                try:
                    n_big = a.big if isinstance(h, Ours) else a.big_uhub
                    big = hubload(load, h, *rd, "--users", str(n_big),
                                  "--light-logins", "20",
                                  "--concurrency", "500")
                finally:
                    stop(h)
                for k, v in big.items():
                    r["big_" + k] = v
                for k, v in r.items():
                    res[h.name].setdefault(k, []).append(v)
                print(f"run {run + 1}/{a.runs} {h.name}: " +
                      " ".join(f"{k}={v:g}" for k, v in sorted(r.items())),
                      file=sys.stderr, flush=True)
        names = [h.name for h in hubs]
        print(f"hub benchmark: medians of {a.runs} runs "
              f"(2 shared cores; hubload and the hub on one machine)")
        print(f"{'':46}" + "".join(f"{n:>14}" for n in names) +
              ("       ratio" if len(names) == 2 else "") +
              ("         floor" if "floor" in res else ""))
        for key, label, better in ROWS:
            vals = [statistics.median(res[n][key]) if key in res[n]
                    else float("nan") for n in names]
            line = f"{label.format(**vars(a)):46}" + \
                "".join(f"{v:14.4g}" for v in vals)
            if len(vals) == 2 and vals[1] and vals[0] and better != "same":
                ratio = vals[0] / vals[1] if better == "higher" \
                    else vals[1] / vals[0]
                line += f"   {ratio:8.2f}x"
            elif "floor" in res and len(vals) == 2:
                line += f"{'':12}"
            if "floor" in res and key in res["floor"]:
                line += f"{statistics.median(res['floor'][key]):14.4g}"
            print(line)
        if "floor" in res:
            print("floor: bench/hub/fanout, no hub: each line written "
                  "straight to every reader's socket")
            if res["floor"].get("failed"):
                print(f"floor: {sum(res['floor']['failed']):g} run(s) "
                      "failed")
        for n in names:
            fails = sum(res[n].get("failed", [])) + \
                sum(res[n].get("big_failed", []))
            if fails:
                print(f"{n}: {fails:g} hubload run(s) failed (nan above)")
        print("ratio > 1 means ipckit hub is better")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
