"""A real browser against `streamlit run app.py`: the Home button's run reaches the page by itself.

Starts the app on a free local port with an empty run store, drives Debian's chromium through
Playwright, clicks Home's default-run button, and waits for the latent scatter to appear on the
Train page with no reload (the live fragment polls the run). Then it checks that new snapshots
keep arriving, opens the run in Explore, and looks for exception text on every page.

Screenshots go to test-artifacts/ (git-ignored). The time from the click to the first plot is
printed, never asserted (timings on a shared CPU say little).
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def needs_chromium():
    """Skip without Debian's chromium, except in CI (DCVIZ_REQUIRE_BROWSER=1): a failure there."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("DCVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DCVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("streamlit did not come up")


@contextlib.contextmanager
def streamlit_app(runs: Path, logdir: Path, name: str):
    """`streamlit run app.py` on a free port with DCVIZ_RUNS_DIR=runs; yields its URL.

    Started as the README starts it (the repository's .streamlit/config.toml applies, and torch
    picks its own thread count), so that what is timed here is what a person gets."""
    port = free_port()
    env = {**os.environ, "DCVIZ_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    log_path = logdir / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{name}-streamlit.log").write_text(log_path.read_text())


@pytest.fixture
def server(tmp_path):
    runs = tmp_path / "runs"
    with streamlit_app(runs, tmp_path, "browser-home") as url:
        yield url, runs


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(180_000)
            yield page
        finally:
            browser.close()


def no_exception_text(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, "an exception box is shown"
    body = page.inner_text("body")
    assert "Traceback" not in body


def snapshot_count(page) -> int:
    """The number of snapshots in the focused run's status line ("... · 3 snapshots · ...")."""
    text = page.inner_text("body")
    found = [int(n) for n in re.findall(r"(\d+) snapshots?\b", text)]
    return max(found) if found else 0


def wait_for_home(page):
    """Home with no runs, whole (its preview scatter of the digits drawn); the default button."""
    button = page.get_by_role("button", name=re.compile("Watch .* cluster handwritten digits"))
    button.wait_for()
    page.get_by_text("No runs yet").wait_for()
    page.locator(".st-key-home_preview .js-plotly-plot .xtitle").first.wait_for(state="visible")
    return button


#: Watches the page from before the click: the time (performance.now, ms) of the first frame
#: painted after the Train page's latent scatter, with its axis title, is in the DOM.
_WATCH_FIRST_PLOT_JS = """
() => { const t0 = performance.now(); window.__firstPlot = null;
  const sel = '.st-key-train_latent .js-plotly-plot .xtitle';
  const seen = () => [...document.querySelectorAll(sel)].some(e => e.textContent.includes('PC 1'));
  const obs = new MutationObserver(() => { if (window.__firstPlot === null && seen()) {
    obs.disconnect(); window.__firstPlot = -1;
    requestAnimationFrame(() => { window.__firstPlot = performance.now() - t0; }); } });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true}); }
"""


def launch_and_time_first_plot(page, button) -> tuple[float, float]:
    """Click Home's default button; seconds until the Train page's latent scatter is drawn,
    painted and as Playwright saw it.

    Timed inside the page, from just before the click to the first frame painted with the
    scatter (Playwright's own wait returns later, when its polling next looks: that time is
    printed beside it). A placeholder stands under the same key until the first snapshot; the
    real plot has axis titles."""
    page.evaluate(_WATCH_FIRST_PLOT_JS)
    t0 = time.perf_counter()
    button.click()
    page.locator(".st-key-train_latent .js-plotly-plot .xtitle",
                 has_text="PC 1").first.wait_for(state="visible")
    seen_by_playwright = time.perf_counter() - t0
    page.wait_for_function("window.__firstPlot > 0")
    painted = page.evaluate("window.__firstPlot") / 1000
    print(f"\nclick to first latent plot: {painted:.2f} s painted "
          f"(Playwright saw it at {seen_by_playwright:.2f} s)")
    return painted, seen_by_playwright


def test_home_button_shows_live_latent_plot(server):
    url, runs = server
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as page:
        page.goto(url)
        button = wait_for_home(page)
        page.wait_for_timeout(3000)  # a person reads the page a moment before clicking
        no_exception_text(page)
        # .streamlit/config.toml's viewer toolbar: no offer to publish a private app
        assert page.locator("[data-testid='stAppDeployButton']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser-1-home.png"), full_page=True)

        launch_and_time_first_plot(page, button)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "browser-2-train-first-plot.png"), full_page=True)
        assert page.get_by_role("heading", name="Train").count() == 1

        # New snapshots keep arriving without a reload.
        n0 = snapshot_count(page)
        end = time.time() + 120
        while snapshot_count(page) <= n0 and time.time() < end:
            page.wait_for_timeout(500)
        n1 = snapshot_count(page)
        assert n1 > n0, f"no new snapshot arrived within 120 s (stuck at {n0})"
        no_exception_text(page)
        page.screenshot(path=str(ARTIFACTS / "browser-3-train-live.png"), full_page=True)

        # Stop it: the run card's Stop button (not Streamlit's own "Stop" in the toolbar)
        # reaches the run thread.
        page.locator("[class*='st-key-stop_'] button").first.click()
        page.get_by_text(re.compile(r"^stopped ·")).first.wait_for()
        no_exception_text(page)


# Pixel position of a point of the latent scatter (WebGL or SVG alike) and its sample index:
# [x, y, sample] (tests/test_browser_tour.py uses it too).
POINT_JS = """() => {
  const gd = document.querySelector('.st-key-explore_latent .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const tr = gd._fullData[0]; const i = Math.floor(tr.x.length / 2);
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(tr.x[i]), r.top + ya._offset + ya.l2p(tr.y[i]),
          Number(tr.customdata[i][0])];
}"""

# The same for a point of the topmost trace, with the sample indices of every point drawn
# within 8 px of it (a click there may pick any of them): [x, y, [samples]].
POINT_NEAR_JS = """() => {
  const gd = document.querySelector('.st-key-explore_latent .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.getBoundingClientRect();
  const px = (t, i) => [r.left + xa._offset + xa.l2p(t.x[i]), r.top + ya._offset + ya.l2p(t.y[i])];
  const top = gd._fullData[gd._fullData.length - 1];
  const [x, y] = px(top, Math.floor(top.x.length / 2));
  const near = [];
  for (const t of gd._fullData) for (let i = 0; i < t.x.length; i++) {
    const [a, b] = px(t, i);
    if (Math.hypot(a - x, b - y) < 8) near.push(Number(t.customdata[i][0]));
  }
  return [x, y, near];
}"""


def test_link_to_explore_on_a_fresh_server_and_click_a_point(tiny_run, tmp_path):
    """A link straight to Explore, before any page of this server has been opened, shows the
    app (not Streamlit's raw page list); clicking a point shows that sample's image."""
    with streamlit_app(tiny_run.root, tmp_path, "browser-explore") as url, chromium() as page:
        page.goto(f"{url}/explore?run={tiny_run.run_id}")
        page.locator(".st-key-explore_latent .js-plotly-plot .xtitle").first.wait_for()
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Home" in nav and "app" not in nav.split()
        x, y, near = page.evaluate(POINT_NEAR_JS)
        page.mouse.click(x, y)
        page.get_by_text("Nearest neighbours in the latent space", exact=True).wait_for()
        shown = re.search(r"Sample (\d+)", page.inner_text("body"))
        assert shown and int(shown.group(1)) in near, (shown and shown.group(0), near)
        page.wait_for_timeout(1500)
        assert page.locator("img[src*='/media/']").count() >= 2  # the point and its neighbours
        no_exception_text(page)
        page.screenshot(path=str(ARTIFACTS / "browser-4-explore-clicked.png"), full_page=True)


def test_crafted_links_and_names_render_as_plain_text(tiny_run, tmp_path):
    """Streamlit's own markdown renderer, not a model of it: a crafted ``?run=`` and a crafted
    run name show as typed, with no link and no picture in the page (issue 18, item 7)."""
    import shutil
    import urllib.parse

    from dcviz.runs import RunStore
    from dcviz.runs.manage import rename
    runs = tmp_path / "runs"
    shutil.copytree(tiny_run.root / tiny_run.run_id, runs / tiny_run.run_id)
    evil = "[x](http://evil.example)![i](http://evil.example/i.png) www.evil.example"
    rename(RunStore(runs), tiny_run.run_id, evil)
    with streamlit_app(runs, tmp_path, "browser-crafted") as url, chromium() as page:
        for path in ("/", f"/explore?run={urllib.parse.quote(evil)}"):
            page.goto(url + path)
            page.get_by_text("[x](http", exact=False).first.wait_for()
            page.wait_for_timeout(1500)
            no_exception_text(page)
            assert page.locator("a[href*='evil']").count() == 0, path
            assert page.locator("img[src*='evil']").count() == 0, path
        assert "No such run in" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "browser-5-crafted-link.png"), full_page=True)


# Pixel position of the first dot of a sweep's seed panel and the run ids of every dot drawn
# within 8 px of it (a click there may pick any of them): [x, y, [run ids]].
SWEEP_DOT_JS = """() => {
  const gd = document.querySelector('.st-key-sweep_dots .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.getBoundingClientRect();
  const t = gd._fullData[0];
  const px = i => [r.left + xa._offset + xa.d2p(t.x[i]), r.top + ya._offset + ya.d2p(t.y[i])];
  const [x, y] = px(0);
  const near = [];
  for (let i = 0; i < t.x.length; i++) {
    const [a, b] = px(i);
    if (Math.hypot(a - x, b - y) < 8) near.push(String(t.customdata[i]));
  }
  return [x, y, near];
}"""


def test_sweep_table_dot_opens_its_run_in_explore(tmp_path):
    """Issue 20: a sweep opens as the papers' table with a dot per seed; a click on a dot opens
    that run in Explore."""
    from dcviz.runs.sweep import Plan, Sweep, run_sweep

    runs = tmp_path / "runs"
    sweep = Sweep.create(runs, Plan(methods=["ae-kmeans"], data=["blobs8:n_samples=400"],
                                    seeds=[0, 1], sets={"pretrain_epochs": "2"}))
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 2}
    with streamlit_app(runs, tmp_path, "browser-sweep") as url, chromium() as page:
        page.goto(f"{url}/sweeps")
        page.locator(".st-key-sweep_dots .js-plotly-plot .xtitle, "
                     ".st-key-sweep_dots .js-plotly-plot .gtitle, "
                     ".st-key-sweep_dots .js-plotly-plot .point").first.wait_for()
        page.get_by_text("median [min, max]", exact=False).first.wait_for()
        no_exception_text(page)
        page.screenshot(path=str(ARTIFACTS / "browser-5-sweep-table.png"), full_page=True)
        x, y, near = page.evaluate(SWEEP_DOT_JS)
        assert near, "no dot under the first dot's position"
        page.mouse.click(x, y)
        page.wait_for_url(re.compile(r"/explore\?.*run="), timeout=120_000)
        opened = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["run"][0]
        assert opened in near, (opened, near)
        page.locator(".st-key-explore_latent .js-plotly-plot .xtitle").first.wait_for()
        no_exception_text(page)
        page.screenshot(path=str(ARTIFACTS / "browser-6-sweep-dot-opened.png"), full_page=True)
