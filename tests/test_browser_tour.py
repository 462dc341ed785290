"""A real-browser tour of the whole app: Playwright drives Debian's headless chromium against
`streamlit run app.py` on a free local port, with an empty run store in a temporary folder.

The tour:
1. Home: press the default-run button (Launch) and time it until the first latent plot is drawn
   on the Train page (printed, never asserted: the CPU is shared);
2. Train: watch at least two more snapshots arrive with no reload; pause the run (the snapshot
   count stops), resume it (it moves again);
3. Explore: click a point of the latent scatter and see that point's image; press Play and see
   the slider move by itself;
4. Compare: the live run and a second, tiny run on the same data (trained with
   ``dcviz.runs.execute`` into the same store, in the test process, while the tour goes on),
   side by side, with the scores table and the contingency table;
5. Checkpoints: the tiny run's model, with an uploaded file of new points (digits with noise)
   pushed through it: cluster sizes, the examples grid and the placement plot.

Every page is checked for Streamlit's exception box and for "Traceback". Screenshots go to
test-artifacts/tour-*.png (git-ignored). Skipped when /usr/bin/chromium is missing, unless
DCVIZ_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from test_browser import (ARTIFACTS, CHROMIUM, POINT_NEAR_JS, chromium,
                          launch_and_time_first_plot, no_exception_text, snapshot_count,
                          streamlit_app, wait_for_home)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def tour_server(tmp_path, monkeypatch):
    if not Path(CHROMIUM).exists():
        if os.environ.get("DCVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DCVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))  # uploads stay in the test
    with streamlit_app(runs, tmp_path, "tour") as url:
        yield url, runs, tmp_path


def train_tiny_run(root: Path, out: dict) -> None:
    """A second run on digits, trained in this process while the browser tours (tiny config)."""
    try:
        import torch

        from dcviz import data as D
        from dcviz.runs import RunStore, create_run, execute, prepare
        torch.set_num_threads(1)
        ds = D.load("digits")
        cls, cfg = prepare("ae-kmeans", ds, {"pretrain_epochs": 2, "snapshot_every": 1,
                                             "subsample": 600}, "quick")
        rd = create_run(RunStore(root), cls, cfg, ds, "quick", name="tiny baseline")
        out["run_id"] = rd.run_id
        out["status"] = execute(rd, cls, cfg, ds)["state"]
    except Exception as e:  # noqa: BLE001 - reported by the test
        out["error"] = repr(e)


def noisy_digits_npz(path: Path) -> Path:
    """New data for the checkpoint: sklearn's digits with pixel noise, as an upload would be."""
    from dcviz import data as D
    ds = D.load("digits")
    rng = np.random.default_rng(1)
    idx = rng.choice(ds.n, 400, replace=False)
    x = np.clip(ds.x[idx] + rng.normal(0, 0.08, (400, ds.dim)), 0, 1).astype(np.float32)
    np.savez(path, x=x.reshape(-1, 8, 8), y=ds.y[idx])
    return path


def shot(page, name: str, path: Path | None = None) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside its main area, not the window,
    so the window is made as tall as that area for the picture, then put back."""
    page.wait_for_timeout(400)
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    tall = min(max(size["height"], int(height) + 40), 6000)
    if tall > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": tall})
        page.wait_for_timeout(700)
    page.screenshot(path=str(path or ARTIFACTS / f"tour-{name}.png"), full_page=True)
    if tall > size["height"]:
        page.set_viewport_size(size)


def wait_quiet(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit is not running the script (its status widget gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def press(locator, tries: int = 4) -> None:
    """Click a button that a live fragment redraws every second: a normal click first (it may be
    intercepted while the fragment swaps its elements), then a click event sent to the button."""
    for _ in range(tries):
        try:
            locator.click(timeout=4000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: try again
            pass
    locator.dispatch_event("click", timeout=60_000)


def test_tour(tour_server):
    url, runs, tmp = tour_server
    ARTIFACTS.mkdir(exist_ok=True)
    tiny: dict = {}
    t_tour = time.perf_counter()
    with chromium() as page:
        try:
            tour(page, url, runs, tmp, tiny, t_tour)
        except Exception:
            shot(page, "failure")  # what the page showed when the tour stopped
            raise
    print(f"tour took {time.perf_counter() - t_tour:.0f} s")


def tour(page, url: str, runs: Path, tmp: Path, tiny: dict, t_tour: float) -> None:
    # ------------------------------------------------------------ 1. Home -> Launch
    page.goto(url)
    button = wait_for_home(page)
    no_exception_text(page)
    shot(page, "1-home")  # (also the moment a person takes to read the page before clicking)
    t0 = time.perf_counter()
    launch_and_time_first_plot(page, button)
    live_ids = [d.name for d in runs.iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(live_ids) == 1
    live_id = live_ids[0]
    shot(page, "2-train-first-plot")

    # ------------------------------------------------------------ 2. snapshots, pause, resume
    # The first plot was the first snapshot arriving by itself; at least one more must follow.
    n0 = snapshot_count(page)
    end = time.time() + 240
    while snapshot_count(page) < max(2, n0 + 1) and time.time() < end:
        page.wait_for_timeout(300)
    n1 = snapshot_count(page)
    assert n1 >= max(2, n0 + 1), f"no second snapshot arrived by itself ({n0} -> {n1})"
    no_exception_text(page)
    shot(page, "3-train-live")
    print(f"{n1} snapshots on the page {time.perf_counter() - t0:.0f} s after Launch")

    press(page.get_by_role("button", name="Pause", exact=True))
    page.get_by_role("button", name="Resume", exact=True).wait_for()
    page.wait_for_timeout(2500)  # a batch in flight may still finish its snapshot
    paused_at = snapshot_count(page)
    page.wait_for_timeout(4000)
    assert snapshot_count(page) == paused_at, "snapshots kept arriving while paused"
    assert "paused" in page.inner_text("body")
    shot(page, "4-train-paused")
    press(page.get_by_role("button", name="Resume", exact=True))
    end = time.time() + 240
    while snapshot_count(page) <= paused_at and time.time() < end:
        page.wait_for_timeout(300)
    assert snapshot_count(page) > paused_at, "no snapshot after Resume"
    no_exception_text(page)

    # The second run trains beside the live one from now on (same store, same data).
    worker = threading.Thread(target=train_tiny_run, args=(runs, tiny), daemon=True)
    worker.start()

    # ------------------------------------------------------------ 3. Explore: click, image, play
    page.goto(f"{url}/explore?run={live_id}")
    chart = ".st-key-explore_latent .js-plotly-plot"
    page.locator(chart).first.wait_for(state="visible")
    follow = page.locator(".st-key-explore_follow input[type=checkbox]")
    if follow.count() and follow.first.is_checked() and follow.first.is_enabled():
        press(page.locator(".st-key-explore_follow label").first)  # hold still
    wait_quiet(page)
    page.wait_for_timeout(1000)
    for attempt in range(3):  # the live view redraws every second or two: a click may miss
        x, y, near = page.evaluate(POINT_NEAR_JS)
        page.mouse.click(x, y)
        try:
            page.get_by_text("Nearest neighbours in the latent space", exact=True).wait_for(timeout=60_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            if attempt == 2:
                raise
            wait_quiet(page)
    heading = page.get_by_text(re.compile(r"^Sample \d+ · cluster")).first
    heading.wait_for()
    shown = int(re.match(r"Sample (\d+)", heading.inner_text()).group(1))
    assert shown in near, (shown, near)
    img = page.locator("[data-testid='stImage'] img").first
    img.wait_for(state="visible")
    assert img.evaluate("i => i.naturalWidth") > 0, "the point's image did not load"
    no_exception_text(page)
    shot(page, "5-explore-point")
    print(f"Explore point shown at {time.perf_counter() - t_tour:.0f} s")

    label = page.get_by_text(re.compile(r"^snapshot \d+ of \d+")).first
    before = label.inner_text()
    press(page.locator(".st-key-explore_play button").first)
    seen = {before}
    end = time.time() + 60
    while len(seen) < 3 and time.time() < end:
        page.wait_for_timeout(400)
        try:
            seen.add(page.get_by_text(re.compile(r"^snapshot \d+ of \d+")).first.inner_text(timeout=2000))
        except Exception:  # noqa: BLE001 - the label is redrawn while playing
            pass
    assert len(seen) >= 3, f"the slider did not move by itself while playing: {seen}"
    shot(page, "6-explore-playing")
    pause_btn = page.locator(".st-key-explore_play button").filter(has_text="Pause")
    if pause_btn.count():
        try:
            pause_btn.first.click(timeout=5000)
        except Exception:  # noqa: BLE001 - playing ended by itself in the meantime
            pass
    no_exception_text(page)

    # ------------------------------------------------------------ 4. Compare
    worker.join(timeout=240)
    assert "error" not in tiny, tiny.get("error")
    assert tiny.get("status") == "done", tiny
    page.goto(f"{url}/compare?runs={live_id},{tiny['run_id']}")
    page.locator(".st-key-compare_latent_1 .js-plotly-plot").first.wait_for(state="visible")
    page.locator(".st-key-compare_contingency .js-plotly-plot").first.wait_for(state="visible")
    page.get_by_text(re.compile(r"of the \d+ points fall in matched clusters")).first.wait_for()
    wait_quiet(page)
    no_exception_text(page)
    body = page.inner_text("body")
    assert "Scores" in body and "Which clusters map to which" in body
    # plotly's own PNG export: the modebar's camera button, with a file name of ours
    page.locator(".st-key-compare_latent_0 .js-plotly-plot").first.hover()
    camera = page.locator(".st-key-compare_latent_0 .modebar-btn[data-title^='Download plot' i]").first
    camera.wait_for(state="visible")
    with page.expect_download(timeout=60_000) as download:
        camera.click()
    name = download.value.suggested_filename
    assert name == f"dcviz-compare-latent-{live_id}.png", name
    png = tmp / name
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shot(page, "7-compare")
    print(f"Compare shown at {time.perf_counter() - t_tour:.0f} s")

    # ------------------------------------------------------------ 5. Checkpoints + new data
    page.goto(f"{url}/checkpoints?run={tiny['run_id']}")
    page.get_by_text("New data").first.wait_for()
    press(page.locator(".st-key-checkpoints_source").get_by_text("Upload a file", exact=True))
    upload = page.locator(".st-key-checkpoints_upload input[type=file]")
    upload.wait_for(state="attached")
    upload.set_input_files(str(noisy_digits_npz(tmp / "noisy-digits.npz")))
    page.locator(".st-key-checkpoints_placement .js-plotly-plot").first.wait_for(state="visible")
    page.get_by_text(re.compile(r"400 points · \d+ of 10 clusters used")).first.wait_for()
    page.locator("[data-testid='stImage'] img").first.wait_for(state="visible")
    wait_quiet(page)
    no_exception_text(page)
    shot(page, "8-checkpoints")


# ---------------------------------------------------------------- take-aways and the presenter
DCRL_TINY = {"hidden": "32,32", "pretrain_epochs": 3, "snapshot_every": 1, "subsample": 300,
             "batch_size": 64, "epochs": 16, "warmup_epochs": 1, "init": "kmeans"}

# The HTML export's plot: the first trace's x values and its first points' SVG positions.
MOVIE_POINTS_JS = """() => { const gd = document.getElementById('dcviz-movie');
  const pts = [...gd.querySelectorAll('.scatterlayer .trace')][0].querySelectorAll('.point');
  return [Array.from(gd.data[0].x.slice(0, 20)),
          [...pts].slice(0, 20).map(p => p.getAttribute('transform'))]; }"""


def finished_dcrl_run(runs: Path, config: dict):
    """A finished tiny DCRL run on manifolds in the store at ``runs`` (the browser is checked
    first: without it the run would be trained for nothing)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("DCVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DCVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    import torch

    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, execute, prepare
    torch.set_num_threads(1)
    ds = D.load("manifolds")
    cls, cfg = prepare("dcrl", ds, config, "quick")
    rd = create_run(RunStore(runs), cls, cfg, ds, "quick")
    assert execute(rd, cls, cfg, ds)["state"] == "done"
    return rd


@pytest.fixture
def lecture_server(tmp_path):
    """A finished (tiny) DCRL run on manifolds in the store before the app starts."""
    runs = tmp_path / "runs"
    rd = finished_dcrl_run(runs, DCRL_TINY)
    with streamlit_app(runs, tmp_path, "lecture") as url:
        yield url, rd, tmp_path


def test_tour_takeaways_and_presenter(lecture_server):
    import io
    import zipfile

    from PIL import Image

    url, rd, tmp = lecture_server
    run_id, count = rd.run_id, rd.count()
    stages = list(dict.fromkeys(r["stage"] for r in rd.metrics_rows()))
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as page:
        try:
            # ------------------------------------------------ Explore: the three downloads
            page.goto(f"{url}/explore?run={run_id}")
            page.locator(".st-key-explore_latent .js-plotly-plot").first.wait_for(state="visible")
            wait_quiet(page)
            press(page.get_by_text("Take it with you", exact=False).first)
            files = {}
            for fmt, label in (("gif", "Animation (.gif)"), ("html", "Interactive page (.html)"),
                               ("png", "Stage pictures (.zip)")):
                button = page.get_by_role("button", name=label)
                button.wait_for(state="visible")
                with page.expect_download(timeout=180_000) as download:
                    button.click()
                files[fmt] = tmp / download.value.suggested_filename
                download.value.save_as(files[fmt])
            shot(page, "9-explore-takeaways")
            gif = Image.open(files["gif"])
            assert gif.n_frames == count, (gif.n_frames, count)  # pretraining to the end
            with zipfile.ZipFile(files["png"]) as zf:
                names = zf.namelist()
                assert len(names) == len(stages), (names, stages)  # one PNG per stage
                for n in names:
                    assert Image.open(io.BytesIO(zf.read(n))).format == "PNG"
            sizes = {k: p.stat().st_size for k, p in files.items()}
            print(f"take-aways of a {count}-snapshot run: {sizes}")

            # ------------------------------------------------ the HTML from disk, no server
            movie = page.context.browser.new_page(viewport={"width": 1200, "height": 900})
            movie.goto(files["html"].resolve().as_uri())
            movie.locator("#dcviz-movie .scatterlayer .point").first.wait_for(state="attached")
            before = movie.evaluate(MOVIE_POINTS_JS)
            movie.evaluate(f"() => {{ window.__before = JSON.stringify(({MOVIE_POINTS_JS})()); }}")
            rail = movie.locator(".slider-rail-rect").first
            box = rail.bounding_box()
            movie.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
            # Plotly swaps the frame's data first and moves the drawn points after, in an
            # animated transition: wait for both, not for the first of the two.
            movie.wait_for_function(
                f"""() => {{ const now = ({MOVIE_POINTS_JS})(), was = JSON.parse(window.__before);
                    return JSON.stringify(now[0]) !== JSON.stringify(was[0])
                        && JSON.stringify(now[1]) !== JSON.stringify(was[1]); }}""",
                timeout=30_000)
            after = movie.evaluate(MOVIE_POINTS_JS)
            assert after[0] != before[0] and after[1] != before[1], "the slider did not move the points"
            movie.screenshot(path=str(ARTIFACTS / "tour-10-html-export.png"))
            movie.close()

            # ------------------------------------------------ the presenter view, by URL
            page.goto(f"{url}/?run={run_id}&present=1")
            page.locator(".st-key-present_latent .js-plotly-plot").first.wait_for(state="visible")
            assert "/present" in page.url and run_id in page.url
            assert "size=S" in page.url  # a link with no size opens at S, which fits 720p
            slider = page.locator(".st-key-present_index input[type=range]").first
            seen = set()
            end = time.time() + 90
            while len(seen) < 3 and time.time() < end:
                try:
                    seen.add(slider.evaluate("e => e.value", timeout=2000))
                except Exception:  # noqa: BLE001 - redrawn while playing
                    pass
                page.wait_for_timeout(300)
            assert len(seen) >= 3, f"the presenter view did not play by itself: {seen}"
            stage = page.locator(".dcviz-present-stage").first
            assert stage.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 30
            assert stage.inner_text().split(" epoch ")[0] in stages
            assert not page.locator("[data-testid='stSidebar']").first.is_visible()
            assert not page.locator("[data-testid='stSidebarNav']").first.is_visible()
            no_exception_text(page)
            page.screenshot(path=str(ARTIFACTS / "tour-11-present.png"))
            # a 720p projector: the small size shows the whole scatter, and Play keeps its word
            page.set_viewport_size({"width": 1280, "height": 720})
            page.goto(f"{url}/?run={run_id}&present=1&size=s")
            chart = page.locator(".st-key-present_latent .js-plotly-plot").first
            chart.wait_for(state="visible")
            box = None
            for _ in range(30):  # None while the playing presenter redraws the chart
                page.wait_for_timeout(500)
                if box := chart.bounding_box():
                    break
            assert box and box["y"] + box["height"] <= 720, box
            assert page.evaluate(PAGE_BELOW_FOLD_JS) <= 0, "S does not fit 1280 x 720"
            play = page.locator(".st-key-present_play button").first
            assert play.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "Play/Pause is cut"
            assert "size=S" in page.url
            page.screenshot(path=str(ARTIFACTS / "tour-12-present-720p.png"))
            # a clicker's Next and Back (Page Down, Page Up) step one snapshot, and pause
            def position() -> int:
                page.wait_for_timeout(2500)
                return int(slider.evaluate("e => e.value", timeout=5000))
            page.mouse.click(640, 700)  # focus the page, on no control
            page.keyboard.press("PageDown")
            first = position()
            assert position() == first, "Next did not pause the presenter"
            page.keyboard.press("PageDown")
            assert position() == first + 1
            page.keyboard.press("PageUp")
            assert position() == first
            page.keyboard.press("PageUp")
            assert position() == first - 1
            # an XGA projector (1024 x 768): every control of the top row whole and on screen
            page.set_viewport_size({"width": 1024, "height": 768})
            page.wait_for_timeout(1500)
            for sel in (".st-key-present_play button", ".st-key-present_back button",
                        ".st-key-present_next button", ".st-key-present_speed button",
                        ".st-key-present_size button"):
                page.locator(sel).first.wait_for(state="visible")
                for b in page.locator(f"{sel}:visible").all():
                    box = None
                    for _ in range(20):  # None while the playing presenter redraws the row
                        if box := b.bounding_box():
                            break
                        page.wait_for_timeout(250)
                    assert box and box["x"] + box["width"] <= 1024, (sel, box)
                    assert b.evaluate(WHOLE), f"{sel} is cut: {b.inner_text()!r}"
            page.screenshot(path=str(ARTIFACTS / "tour-13-present-xga.png"))
            # a mouse click on Next leaves the pointer there: Back, just above, stays in sight
            # (Next's tooltip lay over it until the pointer moved)
            nxt = page.locator(".st-key-present_next button").first.bounding_box()
            page.mouse.click(nxt["x"] + nxt["width"] / 2, nxt["y"] + nxt["height"] / 2)
            page.wait_for_timeout(2000)
            back = page.locator(".st-key-present_back button").first
            b = back.bounding_box()
            on_top = page.evaluate(
                "([x, y]) => !!document.elementFromPoint(x, y)"
                "?.closest('.st-key-present_back')", [b["x"] + b["width"] / 2,
                                                      b["y"] + b["height"] / 2])
            assert on_top, "after a click on Next, something lies over Back"
            # a 1080p projector: M, the whole page on screen
            page.set_viewport_size({"width": 1920, "height": 1080})
            press(page.locator(".st-key-present_size button").filter(has_text="M").first)
            page.wait_for_function("() => { const p = document.querySelector("
                                   "'.st-key-present_latent .js-plotly-plot');"
                                   " return p && p.clientHeight === 800; }", timeout=60_000)
            assert page.evaluate(PAGE_BELOW_FOLD_JS) <= 0, "M does not fit 1920 x 1080"
        except Exception:
            shot(page, "lecture-failure")
            raise


# How many pixels of the page lie below the window (Streamlit scrolls its main area)
PAGE_BELOW_FOLD_JS = """() => { const m = document.querySelector('[data-testid="stMain"]');
    return m.scrollHeight - m.clientHeight; }"""

# A control is whole when no part of its text is cut short (an ellipsis is an element whose
# content is wider than it) and it lies inside its column (which clips what sticks out).
WHOLE = """e => {
    const col = e.closest('[data-testid="stColumn"]').getBoundingClientRect();
    const r = e.getBoundingClientRect();
    const cut = [e, ...e.querySelectorAll('*')].some(d => d.scrollWidth > d.clientWidth + 1);
    return !cut && r.left >= col.left - 1 && r.right <= col.right + 1;
}"""


# ---------------------------------------------------------------- the dark theme

def is_dark(css_colour: str) -> bool:
    """An "rgb(r, g, b)" that is a dark background (Streamlit's #0e1117 or 1.67's #171614)."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return max(r, g, b) < 48


@pytest.fixture
def dark_server(tmp_path, monkeypatch):
    """The app in Streamlit's dark theme (``theme.base`` from the environment), with a finished
    tiny DCRL run on manifolds in its store, and an imported copy of it for Compare (which
    does not compare a run with itself)."""
    from dcviz.runs import RunStore
    from dcviz.runs.archive import import_run_folder
    runs = tmp_path / "runs"
    rd = finished_dcrl_run(runs, {**DCRL_TINY, "epochs": 6})
    copy_id = import_run_folder(RunStore(runs), rd.path)
    monkeypatch.setenv("STREAMLIT_THEME_BASE", "dark")
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    with streamlit_app(runs, tmp_path, "dark") as url:
        yield url, rd, copy_id


def test_tour_dark_theme(dark_server):
    """Every page once in the dark theme, with a screenshot each (test-artifacts/dark-*.png):
    the page is dark, and no page shows an exception. Whether each figure's marks stand out
    from the dark background is test_views.py's test_every_figure_reads_in_both_themes; these
    pictures are for a person to look at."""
    url, rd, copy_id = dark_server
    run_id = rd.run_id
    ARTIFACTS.mkdir(exist_ok=True)
    chart = ".js-plotly-plot .main-svg"
    with chromium() as page:
        try:
            for name, path, ready in (
                    ("1-home", "", ".st-key-home_preview " + chart),
                    ("2-train", "/train", None),
                    ("3-explore-latent", f"/explore?run={run_id}", ".st-key-explore_latent " + chart),
                    ("6-compare", f"/compare?runs={run_id},{copy_id}", ".st-key-compare_latent_1 " + chart),
                    ("7-checkpoints", f"/checkpoints?run={run_id}", None),
                    ("8-sweeps", "/sweeps", None),
                    ("9-present", f"/present?run={run_id}", ".st-key-present_latent " + chart)):
                page.goto(url + path)
                if ready:
                    page.locator(ready).first.wait_for(state="visible")
                wait_quiet(page)
                page.wait_for_timeout(800)
                bg = page.evaluate("() => getComputedStyle(document.querySelector("
                                   "'[data-testid=\"stApp\"]')).backgroundColor")
                assert is_dark(bg), (name, bg)
                no_exception_text(page)
                shot(page, name, ARTIFACTS / f"dark-{name}.png")
                if name == "3-explore-latent":  # the lens and the curves: most of the figures
                    for tab, shot_name in (("Lens", "4-explore-lens"), ("Metrics", "5-explore-metrics")):
                        press(page.get_by_role("tab", name=tab))
                        page.locator(f"[role=tabpanel]:not([hidden]) {chart}").first.wait_for(
                            state="visible")
                        wait_quiet(page)
                        page.wait_for_timeout(800)
                        no_exception_text(page)
                        shot(page, shot_name, ARTIFACTS / f"dark-{shot_name}.png")
        except Exception:
            shot(page, "dark-failure")
            raise
