"""Private by default: `streamlit run app.py` with the shipped config listens on 127.0.0.1 only.

The app can launch runs, read uploads and delete runs, so it must not be reachable from the
network unless a person asks for that (README, "Serving a room"). This starts the app exactly
as the README does, with no address flag, and reads the kernel's table of listening sockets.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as the kernel writes them) of the sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == LISTEN:
                found.append(addr)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc/net/tcp")
def test_shipped_config_listens_on_loopback_only(tmp_path):
    port = _free_port()
    env = {**os.environ, "DCVIZ_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 120
        while time.time() < end:
            assert proc.poll() is None, "streamlit exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        addrs = listening_addresses(port)
        assert addrs, "nothing listens on the port"
        # 0100007F is 127.0.0.1 in the kernel's little-endian hex; anything else (0.0.0.0, ::,
        # a network address) would expose the app.
        assert set(addrs) == {"0100007F"}, addrs
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
