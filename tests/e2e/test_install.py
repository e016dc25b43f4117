#!/usr/bin/env python3
"""`meson install` puts the library, its header, ipckit.pc, the program,
its helper programs (libexecdir/ipckit) and the man page in place; a
program outside the tree builds against them with pkg-config and runs;
and the installed ipckit runs `hub` and `peer` through the installed
helpers, with the build tree out of the way: the hub starts, keeps an
account in its database and answers a client.  A missing or unusable
helper is one line naming where ipckit looked, exit 1."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile

import harness


class Install:
    """One `meson install --destdir` that the tests share; paths are those
    `meson introspect --installed` names, under the destdir."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ipk-install-")
        self.dest = self.tmp.name
        subprocess.run(["meson", "install", "-C", harness.BUILD_ROOT,
                        "--no-rebuild", "--quiet", "--destdir", self.dest],
                       check=True, capture_output=True, timeout=120)
        installed = json.loads(subprocess.run(
            ["meson", "introspect", "--installed", harness.BUILD_ROOT],
            check=True, capture_output=True, text=True).stdout)
        # basename -> (configured path, path under the destdir)
        self.files = {os.path.basename(p): (p, self.dest + p)
                      for p in installed.values()}
        self.libdir = os.path.dirname(self.path("libipckit.so.0"))
        self.work = os.path.join(self.dest, "work")
        os.mkdir(self.work)

    def path(self, name):
        return self.files[name][1]

    def env(self):
        """The installed library, no build tree on any path."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("IPCKIT")}
        env.update(LD_LIBRARY_PATH=self.libdir, PATH="/usr/bin:/bin")
        return env

    def ipckit(self, *args, input=None):
        return subprocess.run([self.path("ipckit")] + list(args),
                              input=input, capture_output=True, text=True,
                              env=self.env(), cwd=self.work, timeout=30)

    def cleanup(self):
        self.tmp.cleanup()


INSTALL = None


def installed():
    global INSTALL
    if INSTALL is None:
        INSTALL = Install()
    return INSTALL


def test_install_and_build_with_pkg_config():
    inst = installed()
    found = {}
    for root, _, files in os.walk(inst.dest):
        for f in files:
            found[f] = os.path.join(root, f)
    for want in ("ipckit.h", "ipckit.pc", "ipckit", "ipckit.1",
                 "ipckit-hub", "ipckit-peer"):
        assert want in found, f"{want} not installed: {sorted(found)}"
    assert any(f.startswith("libipckit.so") for f in found)
    for helper in ("ipckit-hub", "ipckit-peer"):
        configured = inst.files[helper][0]
        assert configured.endswith("/libexec/ipckit/" + helper), configured
    with open(found["ipckit.1"], encoding="utf-8") as f:
        man = f.read()
    files = man.split(".SH FILES\n", 1)
    assert len(files) == 2, "the man page has no FILES section"
    for helper in ("ipckit-hub", "ipckit-peer"):
        roff = ".I " + helper.replace("-", "\\-") + "\n"
        assert roff in files[1].split(".SH ", 1)[0], \
            f"FILES does not name {helper}"
    dest = inst.dest
    pcdir = os.path.dirname(found["ipckit.pc"])
    prefix = subprocess.run(
        ["pkg-config", "--variable=prefix", "ipckit"],
        env=dict(os.environ, PKG_CONFIG_PATH=pcdir), check=True,
        capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    flags = subprocess.run(
        ["pkg-config", "--define-variable=prefix=" + dest + prefix,
         "--cflags", "--libs", "ipckit"], env=env, check=True,
        capture_output=True, text=True).stdout.split()
    # A sanitizer build installs an instrumented library: the program
    # must link the same runtimes.
    opts = json.loads(subprocess.run(
        ["meson", "introspect", "--buildoptions", harness.BUILD_ROOT],
        check=True, capture_output=True, text=True).stdout)
    san = next(o["value"] for o in opts if o["name"] == "b_sanitize")
    if san != "none":
        flags.append("-fsanitize=" + san)
    exe = os.path.join(dest, "example")
    src = os.path.join(harness.SOURCE_ROOT, "tests", "e2e",
                       "install_example.c")
    subprocess.run(["cc", "-Wall", "-Werror", src, "-o", exe] + flags,
                   check=True, capture_output=True, timeout=60)
    out = subprocess.run([exe], env=dict(os.environ,
                                         LD_LIBRARY_PATH=inst.libdir),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    assert out.stdout == "echo: hello\n"


def test_installed_helpers_print_the_table():
    """`ipckit hub --help` runs the installed helper, which prints the
    same table entry as ipckit's own `help hub`."""
    inst = installed()
    for cmd in ("hub", "peer"):
        via_helper = inst.ipckit(cmd, "--help")
        assert via_helper.returncode == 0, via_helper
        assert via_helper.stdout.startswith(f"usage: ipckit {cmd} "), \
            via_helper.stdout
        table = inst.ipckit("help", cmd)
        assert table.returncode == 0, table
        assert via_helper.stdout == table.stdout
        bad = inst.ipckit(cmd, "--no-such-option")
        assert bad.returncode == 2, bad
        assert f"ipckit {cmd}: unknown option --no-such-option" in \
            bad.stderr, bad.stderr


def maps_paths(pid):
    """The files mapped into process pid."""
    with open(f"/proc/{pid}/maps", encoding="utf-8") as f:
        return {line.split(None, 5)[5].strip() for line in f
                if len(line.split(None, 5)) == 6}


def test_installed_hub_runs():
    """An account added through the installed ipckit; the hub started the
    same way (its pid is ipckit's: exec, no child) runs the installed
    ipckit-hub on the installed library and greets a client."""
    inst = installed()
    db = os.path.join(inst.work, "hub.db")
    add = inst.ipckit("hub", "user", "add", "alice", "--role", "op",
                      "--db", db, input="alice-password\n")
    assert add.returncode == 0, add
    listed = inst.ipckit("hub", "user", "list", "--db", db)
    assert listed.returncode == 0, listed
    assert re.search(r"^alice\s+op\s", listed.stdout, re.M), listed.stdout
    hub = harness.Proc([inst.path("ipckit"), "hub", "--listen",
                        "127.0.0.1:0", "--db", db, "--ready-fd", "3"],
                       ready=True, env=inst.env(), cwd=inst.work)
    try:
        m = re.fullmatch(r"ready adc://127\.0\.0\.1:(\d+)", hub.ready)
        assert m, hub.ready
        assert os.readlink(f"/proc/{hub.pid}/exe") == \
            inst.path("ipckit-hub")
        libs = [p for p in maps_paths(hub.pid) if "libipckit" in p]
        assert libs and all(p.startswith(inst.dest) for p in libs), libs
        assert not any(p.startswith(harness.BUILD_ROOT)
                       for p in maps_paths(hub.pid))
        with socket.create_connection(("127.0.0.1", int(m.group(1))),
                                      timeout=10) as s:
            s.sendall(b"HSUP ADBASE ADTIGR\n")
            got = b""
            d = harness.Deadline(10)
            while b"\nISID " not in got and not d.expired():
                s.settimeout(max(d.left(), 0.01))
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            assert got.startswith(b"ISUP ") and b"\nISID " in got, got
        hub.signal(signal.SIGTERM)
        assert hub.wait(timeout=20) == 0, hub.stderr_text()
    finally:
        hub.kill()


def test_missing_helper_is_named():
    """Without its helper, `ipckit peer` says where it looked; a helper
    that cannot run is named with the reason."""
    inst = installed()
    helper = inst.path("ipckit-peer")
    configured = inst.files["ipckit-peer"][0]
    os.chmod(helper, 0o644)
    try:
        out = inst.ipckit("peer", "--help")
        assert out.returncode == 1, out
        assert out.stderr == (f"ipckit peer: cannot run {helper}: "
                              "Permission denied\n"), out.stderr
    finally:
        os.chmod(helper, 0o755)
    hidden = helper + ".away"
    os.rename(helper, hidden)
    try:
        out = inst.ipckit("peer", "--help")
        if os.access(configured, os.X_OK):
            # This machine has ipckit installed at the configured prefix:
            # that helper is the one found.
            assert out.returncode == 0, out
        else:
            assert out.returncode == 1, out
            assert out.stdout == "", out.stdout
            lines = out.stderr.splitlines()
            assert len(lines) == 1, out.stderr
            assert lines[0].startswith("ipckit peer: ipckit-peer not found "
                                       "in "), lines[0]
            for d in (os.path.dirname(inst.path("ipckit")),
                      os.path.dirname(helper), os.path.dirname(configured)):
                assert d in lines[0], (d, lines[0])
        # The other helper is still found.
        assert inst.ipckit("hub", "--help").returncode == 0
    finally:
        os.rename(hidden, helper)


def main():
    try:
        harness.run([test_install_and_build_with_pkg_config,
                     test_installed_helpers_print_the_table,
                     test_installed_hub_runs,
                     test_missing_helper_is_named])
    finally:
        if INSTALL is not None:
            INSTALL.cleanup()


if __name__ == "__main__":
    main()
