"""Sweeps on a real Ray cluster, started once per test session on the loopback address only.

The cluster is `ray start --head --block` in its own process group, with every port it opens
chosen here and every host set to 127.0.0.1, a private --temp-dir, no dashboard and no usage
statistics. Ray resolves "127.0.0.1" to the machine's network address when a driver connects
(``resolve_ip_for_localhost``) unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is off, so it is off
for the cluster and for this process: no socket leaves the loopback address. At the end the
fixture stops that one process group (never `ray stop`, which stops every Ray on the machine).

Skipped only when Ray is not installed and this is not CI (DCVIZ_REQUIRE_RAY=1 or CI=true make
a missing Ray a failure).
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from dcviz.runs import RunStore
from dcviz.runs.sweep import Plan, Sweep, run_sweep

PLAN = Plan(methods=["ae-kmeans"], data=["blobs8:n_samples=400"], seeds=[0, 1],
            sets={"pretrain_epochs": "2"})


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _free_port_range(width: int, avoid: list[int]) -> int:
    """The first port of ``width + 1`` consecutive free ports, none of them in ``avoid``. Ray
    refuses to start when its worker ports overlap a port given to another component (a CI run
    once drew a dashboard port inside the worker range)."""
    for _ in range(200):
        lo = _free_ports(1)[0]
        ports = range(lo, lo + width + 1)
        if ports[-1] > 65535 or any(p in ports for p in avoid):
            continue
        socks = []
        try:
            for p in ports:
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return lo
    raise RuntimeError(f"no {width + 1} consecutive free ports on 127.0.0.1")


def _address(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/{tcp,udp}[6]: hex, in 32-bit words of host (little-endian) order."""
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    ip = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return ip.ipv4_mapped or ip


def sockets_of(pids: list[int]) -> list[tuple[str, str, str]]:
    """(kind, local address, remote address) of every inet socket these processes hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:  # the process ended meanwhile
            continue
    out = []
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[9] in inodes:
                out.append((kind, f[1], f[2]))
    return out


def off_loopback(pids: list[int]) -> list[str]:
    """Sockets of these processes bound to, or talking to, anything but the loopback address."""
    bad = []
    for kind, local, remote in sockets_of(pids):
        (lip, _), (rip, rport) = local.split(":"), remote.split(":")
        la, ra = _address(lip), _address(rip)
        if not la.is_loopback or not (ra.is_loopback or (ra.is_unspecified and int(rport, 16) == 0)):
            bad.append(f"{kind} {la}:{int(local.split(':')[1], 16)} -> {ra}:{int(rport, 16)}")
    return bad


def session_pids(sid: int) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getsid(int(d)) == sid:
                    pids.append(int(d))
            except OSError:
                continue
    return pids


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def ray_cluster():
    try:
        import ray
    except ImportError:
        if os.environ.get("DCVIZ_REQUIRE_RAY") == "1" or os.environ.get("CI") == "true":
            pytest.fail("ray is not installed (pip install -r requirements-ray.txt)")
        pytest.skip("ray is not installed (pip install -r requirements-ray.txt)")
    import ray._private.ray_constants as ray_constants

    # short: Ray's unix socket paths live under it and must stay under 108 characters
    temp = tempfile.mkdtemp(prefix="dcviz-ray-", dir="/tmp")
    ports = _free_ports(8)
    gcs, node_manager, object_manager, agent_listen, agent_grpc, env_agent, metrics, dash = ports
    worker_lo = _free_port_range(40, avoid=ports)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
           "--num-cpus", "2", "--num-gpus", "0", "--node-ip-address", "127.0.0.1",
           "--port", str(gcs), "--node-manager-port", str(node_manager),
           "--object-manager-port", str(object_manager),
           "--dashboard-agent-listen-port", str(agent_listen),
           "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port", str(env_agent),
           "--metrics-export-port", str(metrics), "--include-dashboard", "false",
           "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash),
           "--min-worker-port", str(worker_lo), "--max-worker-port", str(worker_lo + 40),
           # the object store in the temp dir: a container's /dev/shm may be 64 MiB
           "--object-store-memory", str(100 << 20), "--plasma-directory", temp,
           "--temp-dir", temp, "--disable-usage-stats"]
    log = open(Path(temp) / "ray-start.log", "w+")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    saved = {k: os.environ.get(k) for k in ("RAY_ADDRESS", "RAY_USAGE_STATS_ENABLED",
                                           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    was_cluster = ray_constants.ENABLE_RAY_CLUSTER
    try:
        deadline = time.time() + 240
        while True:
            log.seek(0)
            text = log.read()
            if "Ray runtime started" in text and _port_open(gcs):
                break
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"the Ray head did not start:\n{text[-3000:]}")
            time.sleep(0.5)
        os.environ.update(RAY_ADDRESS=f"127.0.0.1:{gcs}", RAY_USAGE_STATS_ENABLED="0",
                          RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
        ray_constants.ENABLE_RAY_CLUSTER = False  # read when a driver resolves 127.0.0.1
        yield {"address": f"127.0.0.1:{gcs}", "sid": proc.pid}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        ray_constants.ENABLE_RAY_CLUSTER = was_cluster
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of that group still alive
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _labels(root: Path, sweep: Sweep) -> dict[int, np.ndarray]:
    store = RunStore(root)
    return {t["seed"]: store.open(t["run_id"]).load_snapshot(-1).assign for t in sweep.trials()}


def test_ray_sweep_shared_folder_and_archive_mode_match_the_local_sweep(ray_cluster, tmp_path):
    local = Sweep.create(tmp_path / "local", PLAN)
    assert run_sweep(local, jobs=1, threads=1) == {"done": 2}

    # shared runs folder: each task writes its run folder where the driver planned it
    shared = Sweep.create(tmp_path / "shared", PLAN)
    address = ray_cluster["address"]
    pids = session_pids(ray_cluster["sid"])
    assert len(pids) >= 3  # the head's processes: gcs_server, raylet, ...
    seen: list[str] = []

    def check_sockets(trial, result):
        # while the driver is connected: the cluster's and this process's sockets
        seen.extend(off_loopback(session_pids(ray_cluster["sid"]) + [os.getpid()]))

    assert run_sweep(shared, ray=address, cpus=1, on_result=check_sockets) == {"done": 2}
    assert seen == []
    for t in shared.trials():
        status = RunStore(tmp_path / "shared").open(t["run_id"]).read_status()
        assert status["state"] == "done" and not status.get("imported")

    # archive mode: each task trains into a private folder and returns its run as an archive
    archived = Sweep.create(tmp_path / "archive", PLAN)
    assert run_sweep(archived, ray=address, ray_archive=True, cpus=1,
                     on_result=check_sockets) == {"done": 2}
    assert seen == []
    store = RunStore(tmp_path / "archive")
    assert sorted(store.ids()) == sorted(t["run_id"] for t in archived.trials())
    for t in archived.trials():
        cfg = store.open(t["run_id"]).read_config()
        assert store.open(t["run_id"]).read_status().get("imported") is True
        assert cfg["imported_from"] not in store.ids()  # trained elsewhere, under another id
        assert cfg["sweep"] == {"id": archived.sweep_id, "trial": t["id"]}

    want = _labels(tmp_path / "local", local)
    for root, sweep in ((tmp_path / "shared", shared), (tmp_path / "archive", archived)):
        got = _labels(root, sweep)
        assert sorted(got) == [0, 1]
        for seed in want:
            np.testing.assert_array_equal(got[seed], want[seed])
    # and the two seeds are not the same run twice
    assert not np.array_equal(want[0], want[1]) or \
        RunStore(tmp_path / "local").open(local.trials()[0]["run_id"]).read_status()["metrics"] != \
        RunStore(tmp_path / "local").open(local.trials()[1]["run_id"]).read_status()["metrics"]


def test_ray_sweep_stays_on_loopback_without_the_tests_own_workaround(ray_cluster, tmp_path,
                                                                       monkeypatch):
    """The library keeps Ray on 127.0.0.1 by itself: with Ray's rewriting of 127.0.0.1 to the
    machine's network address switched back on (its default on Linux), a sweep on the local
    cluster still opens no socket off the loopback address."""
    import ray
    import ray._private.ray_constants as ray_constants

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    seen: list[str] = []

    def check_sockets(trial, result):
        seen.extend(off_loopback(session_pids(ray_cluster["sid"]) + [os.getpid()]))

    sweep = Sweep.create(tmp_path, Plan(methods=["ae-kmeans"], data=["blobs8:n_samples=400"],
                                        seeds=[0], sets={"pretrain_epochs": "2"}))
    assert run_sweep(sweep, ray=ray_cluster["address"], cpus=1, on_result=check_sockets) == {"done": 1}
    assert seen == []
    assert not ray.is_initialized() and ray_constants.ENABLE_RAY_CLUSTER is True
