"""Soak: the app under 4 runs and 3 browsers for some minutes. Does its memory level off, and does
any page ever show an error?

    python bench/soak.py                 # 10 minutes
    python bench/soak.py --minutes 2 --sessions 3 --runs 4

It starts ``streamlit run app.py`` on a free port on 127.0.0.1 with a fresh, empty
DCVIZ_RUNS_DIR, as the README starts it (the repository's .streamlit/config.toml applies). One
headless Chromium launches the runs the way a person does, from the Train page's sidebar: digits,
one method after another (DEKM, DEC, IDEC, AE + k-means), the paper preset, Launch. The app's own
run manager takes them: it trains 2 at a time (its limit) and queues the rest, so its threads,
queue and status writes are what is soaked. So that 4 runs train at once, 2 more (DCN, DCRL, paper
presets) are started by the CLI into the same runs folder (``python -m dcviz train``, as separate
processes: their memory is not the server's); the pages show them like the others. The paper
presets are long enough on digits that the runs are still training for most of a 10-minute soak.
The pretrained-autoencoder store (DCVIZ_CACHE_DIR) is fresh too, so every run pretrains.

Then 3 headless Chromium processes (separate browsers, so separate Streamlit sessions) poll the
pages in a loop, each starting at a different page: Home, Train, Explore of a live run, Compare of
the runs, Checkpoints. Every page load is a fresh session (a full navigation), and the page is
left open a few seconds so its live fragments rerun.

Every minute it prints the resident memory of the Streamlit server (VmRSS from /proc of the
server process and all its descendants) and the running count of page errors. A page error is
any of:

- an element ``[data-testid='stException']`` or the word "Traceback" in the page text;
- a console message of type error, or an uncaught page error, or a crashed page; except the two
  404s that Streamlit's front end itself causes on every direct load of a page other than Home
  (streamlit/streamlit#7074, see BASE_PATH_PROBE), which are counted and printed apart.

A page that does not render its title within the timeout is counted apart (as slow, not as an
error), since on a shared CPU that says more about the load than about the app.

At the end: RSS per minute, the growth over the first and the last half of the soak, whether it
levelled off (the last half grew by at most a third of the first half's growth, or by under 3%
of its RSS), the errors with their first texts, and the runs' final states. Nothing is asserted;
timings are printed, never judged. All traffic goes to 127.0.0.1. The loops are bounded by the
deadline; the server, its children and the browsers are stopped at the end, whatever happens.

Measured 2026-11-30 on the shared 2-core machine (load average 12 to 24 from other work), 10
minutes: server RSS by minute 703, 710, 763, 777, 748, 752, 791, 798, 817, 799, 810 MiB; growth
+80.5 MiB over minutes 1-6, +19.1 MiB over minutes 6-10 (levelled off by the rule above); 157
page loads, 0 page errors, 0 slow, 0 tracebacks in the server log, 252 of Streamlit's probe 404s.
The load held the runs back: in 11 minutes they wrote 3 to 5 snapshots each, still pretraining,
and the 2 queued runs never started; a soak on an idle machine exercises the snapshot path more.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: (method id, its title in the Train page's list, preset): long enough on digits to outlast most
#: of a soak.
RUNS = [("dekm", "DEKM", "paper"), ("dec", "DEC", "paper"), ("idec", "IDEC", "paper"),
        ("ae-kmeans", "AE + k-means", "paper")]
#: Methods trained by the CLI beside the app's runs.
CLI_RUNS = ["dcn", "dcrl"]
PAGES = ["home", "train", "explore", "compare", "checkpoints"]


# ============================================================================ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soak_env(runs: Path) -> dict:
    return {**os.environ, "DCVIZ_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1",
            "DCVIZ_CACHE_DIR": str(runs.parent / "pretrained")}


def start_server(runs: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = soak_env(runs)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)  # its own process group: stopped as one at the end
    url = f"http://127.0.0.1:{port}"
    end = time.time() + 300
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    stop_group(proc)
    raise TimeoutError("streamlit did not come up in 300 s")


def start_cli_runs(runs: Path, n: int) -> list[subprocess.Popen]:
    """``python -m dcviz train`` into the app's runs folder, each in its own process group."""
    procs = []
    for method in CLI_RUNS[:n]:
        log = open(runs.parent / f"cli-{method}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dcviz", "train", "--method", method, "--data", "digits",
             "--preset", "paper", "--runs-dir", str(runs), "--quiet", "--name", f"soak {method}"],
            cwd=ROOT, env=soak_env(runs), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        print(f"  started {method} (paper) on digits by the CLI, pid {procs[-1].pid}", flush=True)
    return procs


def stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from the parent links in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name, in (), may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mib(pid: int) -> tuple[float, float]:
    """VmRSS of the server process alone, and of it with all its descendants, in MiB."""
    own = total = 0.0
    for p in descendants(pid):
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        kib = int(m.group(1)) if m else 0
        total += kib / 1024
        if p == pid:
            own = kib / 1024
    return own, total


# ============================================================================ the runs
def run_states(runs: Path) -> dict[str, str]:
    """run id -> state, read from the run folders' status.json (what the app wrote)."""
    out = {}
    for d in sorted(runs.iterdir()) if runs.is_dir() else []:
        try:
            out[d.name] = json.loads((d / "status.json").read_text()).get("state", "?")
        except (OSError, ValueError, AttributeError):
            out[d.name] = "unreadable"
    return out


async def launch_runs(page, url: str, runs: Path, wanted: list[tuple[str, str]], timeout_ms: int):
    """From the Train page's sidebar: digits, each method with its preset, Launch."""
    await page.goto(url + "/train")
    side = page.locator("[data-testid='stSidebar']")
    await side.get_by_role("button", name="Launch").wait_for(timeout=timeout_ms)
    await pick(page, side, "Data set", re.compile(r"^Digits"), timeout_ms)
    for method, title, preset in wanted:
        before = set(run_states(runs))
        await pick(page, side, "Method", re.compile(rf"^{re.escape(title)}$"), timeout_ms)
        await side.locator(f".st-key-train_preset_{method} button",
                           has_text=re.compile(rf"^\s*{preset}\s*$")).click(timeout=timeout_ms)
        await page.wait_for_timeout(1500)
        await side.get_by_role("button", name="Launch").click(timeout=timeout_ms)
        end = time.time() + timeout_ms / 1000
        while set(run_states(runs)) == before and time.time() < end:
            await page.wait_for_timeout(500)
        new = set(run_states(runs)) - before
        print(f"  launched {title} ({preset}) on digits: {', '.join(sorted(new)) or 'NOT SEEN'}",
              flush=True)


async def pick(page, side, label: str, option: re.Pattern, timeout_ms: int) -> None:
    """Choose ``option`` in the sidebar's selectbox ``label``. A click that lands while the page
    reruns may not open the list: then close whatever is open and click again."""
    box = side.locator("[data-testid='stSelectbox']", has_text=label).first
    end = time.time() + timeout_ms / 1000
    while True:
        await box.click(timeout=timeout_ms)
        choice = page.locator("[role='option']").filter(has_text=option).first
        try:
            await choice.click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - the list did not open; retried until the timeout
            if time.time() > end:
                raise
            await page.keyboard.press("Escape")
            await page.wait_for_timeout(1000)
    await page.wait_for_timeout(1500)  # the rerun that the choice starts


# ============================================================================ the pollers
#: Streamlit's own probe on a direct load of a page other than the first: its front end asks for
#: <page>/_stcore/health and <page>/_stcore/host-config (404) before the server root's (200), an
#: open, confirmed Streamlit bug (github.com/streamlit/streamlit/issues/7074). Counted apart.
BASE_PATH_PROBE = re.compile(r"/[^/?]+/_stcore/(health|host-config)$")


class Tally:
    def __init__(self):
        self.loads = 0
        self.slow = 0
        self.probes = 0
        self.errors: list[str] = []


def page_url(url: str, name: str, runs: Path) -> str:
    states = run_states(runs)
    live = [r for r, s in states.items() if s == "running"] or list(states)
    if name == "home":
        return url + "/"
    if name == "explore" and live:
        return f"{url}/explore?run={live[0]}"
    if name == "compare" and len(states) >= 2:
        return f"{url}/compare?runs={','.join(list(states)[:3])}"
    return f"{url}/{name}"


async def poll(browser, sid: int, url: str, runs: Path, deadline: float, dwell_ms: int,
               timeout_ms: int, tally: Tally) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    where = {"url": ""}

    def error(kind: str, text: str) -> None:
        tally.errors.append(f"[s{sid}] {kind} at {where['url']}: {text[:300]}")

    def console(m) -> None:
        if m.type != "error":
            return
        if m.text.startswith("Failed to load resource") and BASE_PATH_PROBE.search(
                m.location.get("url", "")):
            tally.probes += 1
        else:
            error("console error", f"{m.text} ({m.location.get('url', '')})")

    page.on("console", console)
    page.on("pageerror", lambda e: error("page error", str(e)))
    page.on("crash", lambda _p: error("crash", "the page crashed"))
    i = sid  # each session starts at a different page
    while time.time() < deadline:
        name = PAGES[i % len(PAGES)]
        i += 1
        where["url"] = page_url(url, name, runs)
        try:
            await page.goto(where["url"], timeout=timeout_ms)
            # the title, or an exception box in its place (a script that failed draws no title)
            await page.locator("h1, [data-testid='stException']").first.wait_for(
                timeout=timeout_ms)
            await page.wait_for_timeout(dwell_ms)  # the live fragments rerun meanwhile
            tally.loads += 1
        except Exception as e:  # noqa: BLE001 - a timeout under load is counted, not fatal
            if "Timeout" in type(e).__name__:
                tally.slow += 1
            elif time.time() < deadline:
                error("driver", f"{type(e).__name__}: {e}")
            if page.is_closed():
                page = await context.new_page()
                continue
        try:
            box = page.locator("[data-testid='stException']")
            if await box.count():
                error("exception box", await box.first.inner_text(timeout=10_000))
            elif "Traceback" in await page.inner_text("body", timeout=10_000):
                error("Traceback", "in the page text")
        except Exception as e:  # noqa: BLE001 - the page went away while being read
            if time.time() < deadline and "Timeout" not in type(e).__name__:
                error("driver", f"{type(e).__name__}: {e}")
    await context.close()


# ============================================================================ the soak
async def soak(args, runs: Path, server: subprocess.Popen, url: str,
               cli: list[subprocess.Popen]) -> None:
    from playwright.async_api import async_playwright
    start = time.time()
    deadline = start + args.minutes * 60
    samples: list[tuple[float, float, float]] = []
    tallies = [Tally() for _ in range(args.sessions)]

    def sample(minute: float) -> None:
        own, total = rss_mib(server.pid)
        samples.append((minute, own, total))
        errors = sum(len(t.errors) for t in tallies)
        loads = sum(t.loads for t in tallies)
        states = run_states(runs)
        counts = {s: list(states.values()).count(s) for s in sorted(set(states.values()))}
        print(f"minute {minute:4.1f}: server RSS {own:7.1f} MiB (with children {total:7.1f}) · "
              f"page errors {errors} · page loads {loads} · slow {sum(t.slow for t in tallies)}"
              f" · runs {counts}", flush=True)

    async def monitor():
        sample(0.0)
        n = 1
        while time.time() < deadline:
            await asyncio.sleep(max(0.0, min(start + 60 * n, deadline) - time.time()))
            sample((time.time() - start) / 60)
            n += 1

    async with async_playwright() as p:
        browsers = [await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for _ in range(args.sessions)]
        try:
            launcher = await browsers[0].new_page(viewport={"width": 1400, "height": 900})
            print(f"launching {args.runs} runs from the Train page…", flush=True)
            await launch_runs(launcher, url, runs, RUNS[:args.runs], args.timeout * 1000)
            await launcher.close()
            cli.extend(start_cli_runs(runs, args.cli_runs))
            print(f"launched in {time.time() - start:.0f} s; polling {', '.join(PAGES)} with "
                  f"{args.sessions} browsers for {args.minutes:g} minutes", flush=True)
            start = time.time()  # the soak proper starts once the runs are in
            deadline = start + args.minutes * 60
            await asyncio.gather(monitor(), *[
                poll(b, i, url, runs, deadline, args.dwell * 1000, args.timeout * 1000, t)
                for i, (b, t) in enumerate(zip(browsers, tallies))])
        finally:
            for b in browsers:
                await b.close()
    summary(samples, tallies, runs)


def summary(samples, tallies, runs: Path) -> None:
    print("\n== summary")
    print("RSS per minute (MiB, server / with children): " + ", ".join(
        f"{m:.0f}: {own:.0f}/{total:.0f}" for m, own, total in samples))
    if len(samples) >= 3:
        # the first sample is taken as the soak starts, so growth is measured from minute 1 on
        body = samples[1:] if len(samples) >= 4 else samples
        mid = len(body) // 2
        first = body[mid][2] - body[0][2]
        last = body[-1][2] - body[mid][2]
        level = last <= max(first / 3, 0.03 * body[mid][2])
        print(f"growth with children, minute {body[0][0]:.0f} -> {body[mid][0]:.0f}: "
              f"{first:+.1f} MiB; minute {body[mid][0]:.0f} -> {body[-1][0]:.0f}: {last:+.1f} MiB; "
              f"levelled off: {'yes' if level else 'NO'}")
    errors = [e for t in tallies for e in t.errors]
    print(f"page loads: {sum(t.loads for t in tallies)}, slow (title not shown within the "
          f"timeout): {sum(t.slow for t in tallies)}, page errors: {len(errors)}; apart: "
          f"{sum(t.probes for t in tallies)} 404s of Streamlit's base-path probe on direct page "
          "loads (streamlit/streamlit#7074)")
    for e in errors[:20]:
        print("  " + e)
    log = (runs.parent / "streamlit.log").read_text(errors="replace")
    print(f"tracebacks in the server log: {log.count('Traceback')}")
    print("runs at the end: " + ", ".join(f"{r} {s}" for r, s in run_states(runs).items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10, help="How long the pages are polled.")
    ap.add_argument("--sessions", type=int, default=3, help="Headless Chromium processes.")
    ap.add_argument("--runs", type=int, default=4, choices=range(1, len(RUNS) + 1),
                    help="Runs launched from the Train page before polling starts.")
    ap.add_argument("--cli-runs", type=int, default=2, choices=range(0, len(CLI_RUNS) + 1),
                    help="Runs started by the CLI into the same folder, beside the app's.")
    ap.add_argument("--dwell", type=float, default=4, help="Seconds each page stays open.")
    ap.add_argument("--timeout", type=float, default=120,
                    help="Seconds a page may take to show its title before it counts as slow.")
    ap.add_argument("--keep", action="store_true", help="Keep the temporary runs folder and log.")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing")
    tmp = Path(tempfile.mkdtemp(prefix="dcviz-soak-"))
    runs = tmp / "runs"
    print(f"load average before: {os.getloadavg()[0]:.1f}; runs folder and server log in {tmp}",
          flush=True)
    server, url = start_server(runs, tmp / "streamlit.log")
    print(f"streamlit up at {url} (pid {server.pid})", flush=True)
    cli: list[subprocess.Popen] = []
    try:
        asyncio.run(soak(args, runs, server, url, cli))
    finally:
        for proc in [server, *cli]:
            stop_group(proc)
        print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
