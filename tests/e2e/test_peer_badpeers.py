#!/usr/bin/env python3
"""End-to-end: our client against bad peers (small Python fakes logged in
to a real hub: uhub or ours, the first argument): a corrupt block, a
truncated transfer, a peer that lies about the size, path-traversal and
unshared requests, connections without (or with a wrong) token, and a
source that is busy while another waits.  Good blocks must survive every
fault."""
import bz2
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import (BatchPeer, fields, hub_class, tth,  # noqa: E402
                       wait_until)
from fakepeer import FakeClient, Lines, b32, named, tth_leaves  # noqa: E402

# The hub to run against: `uhub` (Debian's, the reference) or `ipckit`
# (ours), the first argument; meson runs each file once per hub.
HUB = hub_class()

BLOCK = 64 * 1024


class Scene:
    def __init__(self):
        self.tmp = harness.TempDir()
        self.hub = HUB()
        self.closers = []

    def peer(self, nick, **kw):
        p = BatchPeer(self.hub.url, nick, **kw)
        self.closers.append(p.stop)
        return p

    def fake(self, nick):
        f = FakeClient(self.hub.port, nick)
        self.closers.append(f.close)
        return f

    def close(self):
        for c in reversed(self.closers):
            c()
        self.hub.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def answer_search(fake, data_size, root, name):
    """Wait for our client's search and answer it through the hub."""
    sch = fake.next("BSCH ")
    src = sch.split(" ")[1]
    token = named(sch, "TO")
    fake.send(f"DRES {fake.sid} {src} FN/fake/{name} SI{data_size} SL1 "
              f"TR{b32(root)} TO{token}")


def cc_connect(fake, port, token, with_token=True, cid=None, rcvbuf=None):
    """Connect to our client as the fake and do the C-C handshake."""
    s = socket.socket()
    if rcvbuf:  # a small window: a reader that stops really stalls us
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    c = Lines(s)
    c.send("CSUP ADBASE ADTIGR ADBZIP")
    assert c.line().startswith("CSUP")
    inf = f"CINF ID{cid or fake.cid}"
    if with_token:
        inf += f" TO{token}"
    c.send(inf)
    return c


def wait_ctm(fake):
    ctm = fake.next("DCTM ")
    parts = ctm.split(" ")
    return int(parts[4]), parts[5]


def serve_upload(c, data, leaves, plan, slow=None, gets=None):
    """Answer GETs: plan(off, length) -> (announced length, bytes, close
    after) or None to answer honestly; slow=(chunk, pause) trickles the
    honest answers.  Returns the list of GETs seen."""
    gets = [] if gets is None else gets
    while True:
        try:
            line = c.line(timeout=30)
        except (EOFError, OSError, socket.timeout):
            return gets
        parts = line.split(" ")
        if parts[0] != "CGET":
            continue
        kind, ident, off, length = parts[1], parts[2], int(parts[3]), \
            int(parts[4])
        gets.append((kind, off, length))
        if kind == "tthl":
            blob = b"".join(leaves)
            c.send(f"CSND tthl {ident} 0 {len(blob)}")
            c.sock.sendall(blob)
            continue
        if length < 0:
            length = len(data) - off
        out = plan(off, length)
        if out is None:
            c.send(f"CSND file {ident} {off} {length}")
            chunk, pause = slow or (length or 1, 0)
            for p in range(off, off + length, chunk):
                c.sock.sendall(data[p:min(p + chunk, off + length)])
                time.sleep(pause)
            continue
        snd_len, payload, close = out
        c.send(f"CSND file {ident} {off} {snd_len}")
        c.sock.sendall(payload)
        if close:
            c.sock.close()
            return gets


def fake_download(us, fake, name, size, root, result=1):
    """Our client searches, the fake answers, we /get it, the fake takes
    our CTM and connects: the C-C connection after our CINF."""
    us.send(f"/search {name.split('.')[0]}")
    answer_search(fake, size, root, name)
    us.expect(f"result {result} ", pred=lambda l: name in l)
    us.send(f"/get {result}")
    port, token = wait_ctm(fake)
    c = cc_connect(fake, port, token)
    assert c.line().startswith("CINF ")
    return c


def read_exact(c, n):
    while len(c.buf) < n:
        chunk = c.sock.recv(65536)
        if not chunk:
            raise EOFError("closed")
        c.buf += chunk
    out, c.buf = c.buf[:n], c.buf[n:]
    return out


def test_corrupt_block_keeps_good_blocks():
    with Scene() as s:
        data = os.urandom(16 * BLOCK)
        root, leaves = tth_leaves(data, BLOCK)
        us = s.peer("us", listen="127.0.0.1:0")
        fake = s.fake("liar")
        c = fake_download(us, fake, "thing.bin", len(data), root)
        bad = bytearray(data)
        bad[5 * BLOCK + 100] ^= 0xFF  # one flipped byte in block 5

        def plan(off, length):
            return (length, bytes(bad[off:off + length]), False)
        threading.Thread(target=serve_upload, args=(c, data, leaves, plan),
                         daemon=True).start()
        line = us.expect("download-error 1 liar ")
        assert "corrupt block" in line, line
        us.expect("download-failed 1 ")
        # An honest source with the same file: only what is missing moves.
        share = s.tmp.join("honest")
        os.makedirs(share)
        with open(os.path.join(share, "thing.bin"), "wb") as f:
            f.write(data)
        honest = s.peer("honest", shares=[share], listen="127.0.0.1:0")
        honest.expect("share-ready 1 ")
        us.send("/search thing")
        us.expect("result ", pred=lambda l: " honest " in l)
        n = next(line.split()[1] for line in us.seen("result ")
                 if " honest " in line)
        us.send(f"/get {n}")
        done = us.expect("download-done ")
        path = fields(done, 5)[2]
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).digest() == \
                hashlib.sha256(data).digest()
        up = honest.expect("upload-done us ")
        # Blocks 0-4 (and any good block after 5 that arrived before the
        # verdict) were kept: at most 11 blocks are fetched again.
        n = int(up.split()[-1])
        assert n % BLOCK == 0 and BLOCK <= n <= 11 * BLOCK, up


def test_truncated_transfer_resumes():
    with Scene() as s:
        data = os.urandom(10 * BLOCK + 1234)
        root, leaves = tth_leaves(data, BLOCK)
        us = s.peer("us", listen="127.0.0.1:0")
        fake = s.fake("flaky")
        c = fake_download(us, fake, "part.bin", len(data), root)
        cut = 4 * BLOCK + 5000
        gets = serve_upload(c, data, leaves,
                            lambda off, ln: (ln, data[off:cut], True))
        assert ("file", 0, len(data)) in gets, gets
        line = us.expect("download-error 1 flaky ")
        assert "truncated" in line, line
        # The retry asks only for what was not verified.
        port, token = wait_ctm(fake)
        c = cc_connect(fake, port, token)
        c.line()
        got = []
        t = threading.Thread(target=lambda: got.extend(
            serve_upload(c, data, leaves, lambda off, ln: None)),
            daemon=True)
        t.start()
        done = us.expect("download-done 1 ")
        with open(fields(done, 5)[2], "rb") as f:
            assert f.read() == data
        t.join(timeout=30)
        files = [g for g in got if g[0] == "file"]
        assert files and files[0][1] == 4 * BLOCK, got


def test_peer_lies_about_size():
    with Scene() as s:
        data = os.urandom(8 * BLOCK)
        root, leaves = tth_leaves(data, BLOCK)
        us = s.peer("us", listen="127.0.0.1:0")
        fake = s.fake("bragger")
        # 1. A result whose size does not fit the hash tree.
        c = fake_download(us, fake, "big.bin", len(data) + 5000, root)
        threading.Thread(target=serve_upload,
                         args=(c, data, leaves, lambda o, n: None),
                         daemon=True).start()
        line = us.expect("download-error 1 bragger ")
        assert "size" in line, line
        us.expect("download-failed 1 ")
        # 2. An SND announcing more bytes than were asked for.
        data2 = os.urandom(3 * BLOCK)
        root2, leaves2 = tth_leaves(data2, BLOCK)
        c = fake_download(us, fake, "more.bin", len(data2), root2)
        threading.Thread(target=serve_upload, args=(
            c, data2, leaves2,
            lambda o, n: (n + 4096, data2[o:o + n] + b"x" * 4096, False)),
            daemon=True).start()
        line = us.expect("download-error 2 bragger ")
        assert "does not match the request" in line, line
        assert not us.seen("download-done")


def test_traversal_and_unshared_requests():
    with Scene() as s:
        share = s.tmp.join("pub")
        os.makedirs(share)
        with open(os.path.join(share, "ok.txt"), "wb") as f:
            f.write(b"shared bytes\n")
        secret = s.tmp.join("secret.txt")
        with open(secret, "wb") as f:
            f.write(b"not for you\n")
        os.symlink(secret, os.path.join(share, "escape.txt"))
        os.symlink(s.tmp.path, os.path.join(share, "linkdir"))
        us = s.peer("us", shares=[share], listen="127.0.0.1:0")
        us.expect("share-ready 1 ")  # the symlinks are not shared
        fake = s.fake("prowler")
        us_sid = fake.sid_of("us")
        fake.send(f"DRCM {fake.sid} {us_sid} ADC/1.0 TOKEN123")
        port, token = wait_ctm(fake)
        assert token == "TOKEN123"
        c = cc_connect(fake, port, token)
        assert c.line().startswith("CINF ")
        for ident in ("../../../../etc/passwd", "/etc/passwd",
                      "/pub/../secret.txt", "TTH/" + tth(secret),
                      "linkdir/secret.txt"):
            c.send("CGET file " + ident + " 0 -1")
            reply = c.line()
            assert reply.startswith("CSTA 151"), (ident, reply)
        c.send(f"CGET file TTH/{tth(os.path.join(share, 'ok.txt'))} 0 -1")
        assert c.line().startswith("CSND file TTH/")
        assert read_exact(c, 13) == b"shared bytes\n"
        c.send("CGET file files.xml.bz2 0 -1")
        snd = c.line().split(" ")
        xml = bz2.decompress(read_exact(c, int(snd[4]))).decode()
        assert "ok.txt" in xml and "escape" not in xml and \
            "linkdir" not in xml, xml
        us.expect("upload-refused prowler ")


def test_connections_without_token_are_refused():
    with Scene() as s:
        data = os.urandom(2 * BLOCK)
        root, leaves = tth_leaves(data, BLOCK)
        us = s.peer("us", listen="127.0.0.1:0")
        fake = s.fake("sneak")
        us.send("/search x.bin")
        answer_search(fake, len(data), root, "x.bin")
        us.expect("result 1 ")
        us.send("/get 1")
        port, token = wait_ctm(fake)
        # No token, a wrong token, the right token with another CID.
        for kw in ({"with_token": False}, {"token": "WRONG"},
                   {"cid": b32(os.urandom(24))}):
            args = {"fake": fake, "port": port, "token": token}
            args.update(kw)
            c = cc_connect(**args)
            reply = c.line()
            assert reply.startswith("CSTA 240"), reply
            try:
                assert c.sock.recv(100) == b""
            except ConnectionResetError:
                pass
            us.expect("refused ")
        # Nothing before the handshake: a GET first is refused, closed.
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        c = Lines(raw)
        c.send("CGET file files.xml.bz2 0 -1")
        assert c.line().startswith("CSTA 244"), c.buf
        try:
            assert raw.recv(100) == b""
        except ConnectionResetError:
            pass
        # The token was not used up: the real user still gets in.
        c = cc_connect(fake, port, token)
        assert c.line().startswith("CINF ")
        threading.Thread(target=serve_upload,
                         args=(c, data, leaves, lambda o, n: None),
                         daemon=True).start()
        done = us.expect("download-done 1 ")
        with open(fields(done, 5)[2], "rb") as f:
            assert f.read() == data


def hold_slot(s, up_nick, tth32):
    """A fake that takes up_nick's only upload slot and never reads."""
    hog = s.fake("hog")
    hog.send(f"DRCM {hog.sid} {hog.sid_of(up_nick)} ADC/1.0 HOG1")
    port, token = wait_ctm(hog)
    c = cc_connect(hog, port, token, rcvbuf=16384)
    c.line()
    c.send(f"CGET file TTH/{tth32} 0 -1")
    assert c.line().startswith("CSND")
    return c


def test_segments_from_two_sources():
    with Scene() as s:
        data = os.urandom(24 * 1024 * 1024 + 4321)
        share = s.tmp.join("seg")
        os.makedirs(share)
        with open(os.path.join(share, "movie.mkv"), "wb") as f:
            f.write(data)
        root, leaves = tth_leaves(data, 64 * BLOCK)
        assert b32(root) == tth(os.path.join(share, "movie.mkv"))
        fast = s.peer("fast", shares=[share], listen="127.0.0.1:0", slots=1)
        fast.expect("share-ready 1 ")
        # The fast source starts busy, so the slow one surely gets work.
        hog = hold_slot(s, "fast", b32(root))
        us = s.peer("us", listen="127.0.0.1:0")
        slow = s.fake("slow")
        us.send("/search movie")
        answer_search(slow, len(data), root, "movie.mkv")
        wait_until(lambda: len(us.seen("result ")) == 2, 20, "two results")
        us.send("/get 1")
        us.expect("download-added 1 ", pred=lambda l: l.endswith(" 2"))
        port, token = wait_ctm(slow)
        c = cc_connect(slow, port, token)
        c.line()
        gets = []
        t = threading.Thread(target=serve_upload, args=(
            c, data, leaves, lambda o, n: None, (128 * 1024, 0.2), gets),
            daemon=True)
        t.start()
        wait_until(lambda: any(g[0] == "file" for g in gets), 30,
                   "a segment asked of the slow source")
        us.expect("download-queued 1 fast ")
        hog.sock.close()  # the fast source frees up and joins in
        done = us.expect("download-done 1 ", timeout=120)
        with open(fields(done, 5)[2], "rb") as f:
            assert hashlib.sha256(f.read()).digest() == \
                hashlib.sha256(data).digest()
        fast.expect("upload-done us ")
        assert len([g for g in gets if g[0] == "file"]) >= 1, gets


def test_second_source_waits_for_the_leaves():
    """Two sources connect at once: the first is asked for the leaves, so
    the second has nothing to ask yet; it must stay connected (not be
    sent away with "no more work"), and when the first turns out to be
    busy (slots full), the second is asked for the leaves at once.  It
    used to wait for its 30 s retry, which stalled the two-source test
    on a hub fast enough to bring both connections in together."""
    with Scene() as s:
        data = os.urandom(8 * BLOCK + 17)
        root, leaves = tth_leaves(data, BLOCK)
        us = s.peer("us", listen="127.0.0.1:0")
        first, second = s.fake("first"), s.fake("second")
        us.send("/search twin")
        answer_search(first, len(data), root, "twin.bin")
        answer_search(second, len(data), root, "twin.bin")
        wait_until(lambda: len(us.seen("result ")) == 2, 20, "two results")
        us.send("/get 1")
        us.expect("download-added 1 ", pred=lambda l: l.endswith(" 2"))
        ca = cc_connect(first, *wait_ctm(first))
        assert ca.line().startswith("CINF ")
        assert ca.line().startswith("CGET tthl "), ca.buf
        cb = cc_connect(second, *wait_ctm(second))
        assert cb.line().startswith("CINF ")
        ca.send("CSTA 253 Slots\\sfull")
        us.expect("download-queued 1 first ")
        get = cb.line(timeout=10)
        assert get.startswith("CGET tthl "), get
        cb.buf = (get + "\n").encode() + cb.buf  # serve it from the top
        threading.Thread(target=serve_upload,
                         args=(cb, data, leaves, lambda o, n: None),
                         daemon=True).start()
        done = us.expect("download-done 1 ", timeout=60)
        with open(fields(done, 5)[2], "rb") as f:
            assert f.read() == data


def test_resume_after_restart():
    with Scene() as s:
        data = os.urandom(12 * BLOCK + 99)
        root, leaves = tth_leaves(data, BLOCK)
        state = s.tmp.join("state")
        us = s.peer("us", listen="127.0.0.1:0", state_dir=state)
        fake = s.fake("src")
        c = fake_download(us, fake, "resume.bin", len(data), root)
        cut = 7 * BLOCK + 10
        serve_upload(c, data, leaves, lambda o, n: (n, data[o:cut], True))
        us.expect("download-error 1 src ")
        assert us.quit() == 0
        # A new run with the same state folder restores the queue and
        # looks for sources by TTH on its own.
        us2 = s.peer("us", listen="127.0.0.1:0", state_dir=state)
        us2.expect("download-added 1 /fake/resume.bin ")
        sch = fake.next("BSCH ")
        assert named(sch, "TR") == b32(root), sch
        fake.send(f"DRES {fake.sid} {sch.split(' ')[1]} FN/fake/resume.bin "
                  f"SI{len(data)} SL1 TR{b32(root)} TO{named(sch, 'TO')}")
        port, token = wait_ctm(fake)
        c = cc_connect(fake, port, token)
        c.line()
        got = []
        t = threading.Thread(target=lambda: got.extend(
            serve_upload(c, data, leaves, lambda o, n: None)), daemon=True)
        t.start()
        done = us2.expect("download-done 1 ")
        with open(fields(done, 5)[2], "rb") as f:
            assert f.read() == data
        t.join(timeout=30)
        # The leaves were kept and seven verified blocks were not asked for.
        assert [g for g in got if g[0] == "tthl"] == [], got
        assert [g[1] for g in got if g[0] == "file"] == [7 * BLOCK], got


def test_slots_full_then_queued():
    with Scene() as s:
        share = s.tmp.join("slots")
        os.makedirs(share)
        # Larger than loopback's socket buffers: a reader that never
        # reads keeps the upload (and the slot) busy.
        data = os.urandom(32 * 1024 * 1024)
        with open(os.path.join(share, "a.bin"), "wb") as f:
            f.write(data)
        up = s.peer("up", shares=[share], listen="127.0.0.1:0", slots=1)
        up.expect("share-ready 1 ")
        c = hold_slot(s, "up", tth(os.path.join(share, "a.bin")))
        up.send("/uploads")
        line = up.expect("upload hog /slots/a.bin ")
        f = fields(line, 9)
        assert len(f[3]) == 20 and set(f[3]) <= {"#", "."} and \
            0 <= int(f[4]) < 100 and f[6] == "32.0 MiB", line
        us = s.peer("us", listen="127.0.0.1:0")
        us.send("/search a.bin")
        us.expect("result 1 ")
        us.send("/get 1")
        line = us.expect("download-queued 1 up ")
        assert "Slots full" in line, line
        c.sock.close()  # the slot frees; the retry gets it
        done = us.expect("download-done 1 ", timeout=60)
        with open(fields(done, 5)[2], "rb") as f:
            assert f.read() == data


if __name__ == "__main__":
    harness.run([
        test_corrupt_block_keeps_good_blocks,
        test_truncated_transfer_resumes,
        test_peer_lies_about_size,
        test_traversal_and_unshared_requests,
        test_connections_without_token_are_refused,
        test_segments_from_two_sources,
        test_second_source_waits_for_the_leaves,
        test_resume_after_restart,
        test_slots_full_then_queued,
    ])
