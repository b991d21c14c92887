"""The explorers in a real browser: JupyterLab 4 in headless Chromium, driven by Playwright.

Notebooks 02, 03 and 05 (copies in a temporary folder) are opened in one JupyterLab and run
top to bottom side by side. Then, as a learner would, one control per explorer is changed and
the test waits for the new picture; the time from the change to the new picture is each
explorer's response time. At 1024, 1366 and 1920 px wide it checks what a learner must see:
no control overflows, no label is cut, the figure is not stretched past the size it was drawn
for (so it is crisp at 2× pixel density), and the whole explorer fits in the window.

Screenshots and the measured response times go to ``artifacts/browser/`` (not committed).
Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``) and the
``playwright`` Python package; without them the test is skipped. Skip it on purpose with
``pytest -m "not browser"``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# notebook -> how a learner changes its explorer: ("select", label, option) picks a dropdown
# entry, ("click", text) presses a button, ("drag", label, pixels) drags a slider handle.
NOTEBOOKS = {
    "02_lr_curves": ("select", "warmup shape", "exponential"),
    "03_loss_comparison": ("click", "Train"),
    "05_imbalanced_fraud": ("drag", "threshold", -60),
}
WIDTHS = (1024, 1366, 1920)
HEIGHT = 900
RUN_ALL_TIMEOUT_S = (
    600  # generous: the cost is measured (artifacts/browser/timings.json), not timed out
)
# Console messages that name one of these come from the project or the widgets.
OURS = re.compile(r"widget|warmup|explorer|jupyter-widgets|ipywidgets", re.IGNORECASE)


def _skip_unless_available() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"the browser test needs Debian's Chromium at {CHROMIUM}: "
            "apt-get install -y chromium chromium-driver (as .ci/run does)"
        )
    pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs playwright: pip install -e '.[test]'"
    )
    pytest.importorskip(
        "jupyterlab", reason="the browser test needs jupyterlab: pip install -e '.[test]'"
    )


TIMINGS: dict[str, object] = {}


def _record(name: str, value: object) -> None:
    """Keep a measurement in artifacts/browser/timings.json."""
    TIMINGS[name] = value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving copies of the notebooks; its url and token."""
    _skip_unless_available()
    home = tmp_path_factory.mktemp("lab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", notebooks)
    # Everything JupyterLab and the kernels write goes under the temporary folder.
    settings = home / "settings"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    # The test suite draws off-screen (conftest sets MPLBACKEND=Agg); a learner's kernel draws inline.
    env.pop("MPLBACKEND", None)
    # No news pop-up over the screenshots; every cell rendered, as the checks look at all of them.
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # CI
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *as_root,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        deadline = started + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()}")
                time.sleep(0.3)
        _record("jupyterlab_start_s", round(time.monotonic() - started, 1))
        yield {"url": url, "token": token, "log": str(home / "lab.log")}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# --------------------------------------------------------------------------------------------
# The browser, and the notebooks run in it.
# --------------------------------------------------------------------------------------------

_OPEN_AND_RUN_ALL = """async (names) => {
  const app = window.jupyterapp;
  await app.restored;
  window.__panels = {};
  window.__ran = {};
  // Open all first, so the three kernels start side by side.
  for (const name of names) {
    const panel = await app.commands.execute('docmanager:open', {path: name + '.ipynb'});
    await panel.context.ready;
    window.__panels[name] = panel;
  }
  for (const name of names) {
    const panel = window.__panels[name];
    await panel.sessionContext.ready;
    app.shell.activateById(panel.id);
    const started = performance.now();
    app.commands.execute('notebook:run-all-cells', {widgetId: panel.id, activate: false}).then(
      ok => { window.__ran[name] = {ok, seconds: (performance.now() - started) / 1000}; },
      error => { window.__ran[name] = {ok: false, error: String(error)}; });
  }
  return Object.fromEntries(names.map(name => [name, window.__panels[name].id]));
}"""

_ERROR_OUTPUTS = """(name) => {
  const cells = window.__panels[name].content.model.cells;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (const output of cell.outputs.toJSON()) {
      if (output.output_type === 'error') errors.push(`cell ${i}: ${output.ename}: ${output.evalue}`);
    }
  }
  return errors;
}"""


@pytest.fixture(scope="module")
def browser_page(lab: dict[str, str]) -> Iterator[tuple[object, list[str], dict[str, str]]]:
    """A Chromium page with the three notebooks run top to bottom; its console log; panel ids."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": HEIGHT})
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        started = time.monotonic()
        page.goto(f"{lab['url']}/lab?token={lab['token']}")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        panels = page.evaluate(_OPEN_AND_RUN_ALL, list(NOTEBOOKS))
        _record("page_load_and_kernels_start_s", round(time.monotonic() - started, 1))
        started = time.monotonic()
        page.wait_for_function(
            f"() => Object.keys(window.__ran).length === {len(NOTEBOOKS)}",
            timeout=RUN_ALL_TIMEOUT_S * 1000,
        )
        _record("run_all_side_by_side_s", round(time.monotonic() - started, 1))
        yield page, console, panels
        browser.close()


def _explorer(page, panels: dict[str, str], name: str):
    page.evaluate("(id) => window.jupyterapp.shell.activateById(id)", panels[name])
    explorer = page.locator(f"#{panels[name]} .warmup-explorer")
    explorer.wait_for(state="visible", timeout=30_000)
    return explorer


@pytest.mark.browser
def test_the_notebooks_run_in_jupyterlab_without_errors(browser_page):
    page, _, _ = browser_page
    ran = page.evaluate("() => window.__ran")
    for name in NOTEBOOKS:
        errors = page.evaluate(_ERROR_OUTPUTS, name)
        assert ran[name]["ok"] and not errors, f"{name}: {ran[name]} {errors}"
    assert page.get_by_text("Error displaying widget").count() == 0
    _record("run_all_per_notebook_s", {name: round(r["seconds"], 1) for name, r in ran.items()})


# --------------------------------------------------------------------------------------------
# A learner changes a control.
# --------------------------------------------------------------------------------------------

# Times the change a learner makes (the last click, pointer release or select change inside the
# explorer) to the new picture's load; also counts "working…" notes, one per training.
_WATCH = """(explorer) => {
  const img = explorer.querySelector('img');
  const watch = {before: img.src, start: null, end: null, trainings: 0};
  for (const type of ['click', 'pointerup', 'change']) {
    explorer.addEventListener(type, () => { if (watch.end === null) watch.start = performance.now(); }, true);
  }
  img.addEventListener('load', () => {
    if (img.src !== watch.before && watch.end === null) watch.end = performance.now();
  });
  const summary = explorer.querySelector('.warmup-explorer-summary');
  let working = false;
  new MutationObserver(() => {
    const now = summary.textContent.includes('working');
    if (now && !working) watch.trainings += 1;
    working = now;
  }).observe(summary, {childList: true, subtree: true, characterData: true});
  window.__watch = watch;
}"""


def _change(page, explorer, action: tuple) -> None:
    kind, label, *rest = action
    if kind == "select":
        explorer.locator(".widget-dropdown", has_text=label).locator("select").select_option(
            rest[0]
        )
    elif kind == "click":
        explorer.get_by_role("button", name=label).click()
    else:  # drag a slider's handle by rest[0] pixels
        handle = explorer.locator(".widget-slider", has_text=label).locator(".noUi-handle")
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + rest[0], y, steps=8)
        page.mouse.up()


@pytest.fixture(scope="module")
def response_times(browser_page) -> dict[str, float]:
    """Each explorer's response to one control change, in seconds (the picture must change)."""
    page, _, panels = browser_page
    times = {}
    started = time.monotonic()
    for name, action in NOTEBOOKS.items():
        explorer = _explorer(page, panels, name)
        explorer.scroll_into_view_if_needed()
        explorer.evaluate(_WATCH)
        _change(page, explorer, action)
        page.wait_for_function("() => window.__watch.end !== null", timeout=60_000)
        watch = page.evaluate("() => window.__watch")
        times[name] = round((watch["end"] - watch["start"]) / 1000, 3)
    _record("response_s", times)
    _record("control_changes_s", round(time.monotonic() - started, 1))
    return times


@pytest.mark.browser
def test_each_explorer_draws_a_new_picture_when_a_control_changes(response_times):
    assert set(response_times) == set(NOTEBOOKS)
    assert all(seconds > 0 for seconds in response_times.values()), response_times


@pytest.mark.browser
def test_a_double_click_on_train_trains_once(browser_page, response_times):
    from playwright.sync_api import expect

    page, _, panels = browser_page
    explorer = _explorer(page, panels, "03_loss_comparison")
    button = explorer.get_by_role("button", name="Train")
    expect(button).to_be_enabled(timeout=60_000)
    explorer.evaluate(_WATCH)
    button.dblclick()
    page.wait_for_function("() => window.__watch.trainings >= 1", timeout=10_000)
    expect(button).to_be_enabled(timeout=60_000)
    page.wait_for_timeout(1500)  # a second training, had the second click got through, shows now
    assert page.evaluate("() => window.__watch.trainings") == 1


# --------------------------------------------------------------------------------------------
# What a learner sees at three window widths.
# --------------------------------------------------------------------------------------------

_MEASURE = """(explorer) => {
  const box = explorer.getBoundingClientRect();
  const shown = (e) => e.offsetParent !== null;
  const img = explorer.querySelector('img');
  const scroller = explorer.closest('.jp-WindowedPanel-outer') || explorer.closest('.jp-Notebook');
  const text = (e) => (e.textContent || '').trim() || e.className;
  return {
    width: box.width,
    height: box.height,
    visible_height: scroller.clientHeight,
    image: {natural: [img.naturalWidth, img.naturalHeight], shown: [img.clientWidth, img.clientHeight]},
    cut: [...explorer.querySelectorAll('.widget-label, .widget-label-basic, button, .widget-readout, .widget-html-content')]
      .filter(e => shown(e) && e.scrollWidth > e.clientWidth + 1).map(text),
    overflowing: [...explorer.querySelectorAll('.widget-inline-hbox, button, select, input, img')]
      .filter(e => shown(e) && e.getBoundingClientRect().right > box.right + 1).map(text),
    slider_px: [...explorer.querySelectorAll('.widget-slider')].filter(shown).map(
      e => [text(e.querySelector('.widget-label')), Math.round(e.querySelector('.noUi-target').getBoundingClientRect().width)]),
  };
}"""


@pytest.fixture(scope="module")
def layouts(browser_page, response_times) -> dict[str, dict[int, dict]]:
    """Measurements and screenshots of each explorer at each width (after the control change)."""
    page, _, panels = browser_page
    started = time.monotonic()
    measured: dict[str, dict[int, dict]] = {name: {} for name in NOTEBOOKS}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        for name in NOTEBOOKS:
            explorer = _explorer(page, panels, name)
            page.wait_for_timeout(300)  # JupyterLab lays out again after a resize
            explorer.evaluate("(e) => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(100)
            measured[name][width] = explorer.evaluate(_MEASURE)
            page.screenshot(path=str(ARTIFACTS / f"{name}_{width}.png"))
    (ARTIFACTS / "layout.json").write_text(json.dumps(measured, indent=1))
    _record("layouts_and_screenshots_s", round(time.monotonic() - started, 1))
    return measured


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_explorer_fits_the_window_and_stays_sharp(layouts, name, width):
    m = layouts[name][width]
    assert not m["cut"], f"labels cut: {m['cut']}"
    assert not m["overflowing"], f"controls overflow the explorer: {m['overflowing']}"
    (natural_w, _), (shown_w, _) = m["image"]["natural"], m["image"]["shown"]
    assert shown_w > 0, "no picture"
    assert natural_w >= 2 * shown_w - 2, (
        f"figure {natural_w} px shown {shown_w} px wide: blurry at 2x"
    )
    assert m["height"] <= m["visible_height"], (
        f"explorer {m['height']} px tall, window shows {m['visible_height']} px"
    )
    assert all(px >= 300 for _, px in m["slider_px"]), f"short sliders jump: {m['slider_px']}"


@pytest.mark.browser
def test_no_errors_from_the_project_or_widgets_in_the_console(browser_page, layouts):
    _, console, _ = browser_page
    (ARTIFACTS / "console.txt").write_text("\n".join(console))
    ours = [m for m in console if m.startswith(("error", "pageerror")) and OURS.search(m)]
    assert not ours, "\n".join(ours)


def test_the_browser_test_runs_by_default_and_ci_installs_chromium():
    """Not a browser test: CI must run the browser test, so it must not be deselected by default."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(marker.startswith("browser:") for marker in options["markers"])
    assert "browser" not in options["addopts"] and "-m" not in options["addopts"].split()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y chromium chromium-driver" in ci
    assert ci.index("apt-get install") < ci.index("-m pytest"), "install Chromium before the tests"
