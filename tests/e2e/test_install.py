#!/usr/bin/env python3
"""`meson install` puts the library, its header, ipckit.pc, the program and
the man page in place, and a program outside the tree builds against them
with pkg-config and runs."""
import json
import os
import subprocess
import tempfile

import harness


def test_install_and_build_with_pkg_config():
    with tempfile.TemporaryDirectory(prefix="ipk-install-") as dest:
        subprocess.run(["meson", "install", "-C", harness.BUILD_ROOT,
                        "--no-rebuild", "--quiet", "--destdir", dest],
                       check=True, capture_output=True, timeout=120)
        found = {}
        for root, _, files in os.walk(dest):
            for f in files:
                found[f] = os.path.join(root, f)
        for want in ("ipckit.h", "ipckit.pc", "ipckit", "ipckit.1"):
            assert want in found, f"{want} not installed: {sorted(found)}"
        assert any(f.startswith("libipckit.so") for f in found)
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
        libdir = os.path.dirname(next(p for f, p in found.items()
                                      if f.startswith("libipckit.so")))
        out = subprocess.run([exe], env=dict(os.environ,
                                             LD_LIBRARY_PATH=libdir),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out
        assert out.stdout == "echo: hello\n"


if __name__ == "__main__":
    harness.run([test_install_and_build_with_pkg_config])
