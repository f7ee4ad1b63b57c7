"""`i2i serve` in a real browser: the distribution's headless Chromium, driven by Playwright
(pointed at that executable: nothing is downloaded). The server runs as a user starts it,
`python -m i2i serve`, and is stopped as a user stops it (a signal), which must remove its
temporary folder. The page's screenshot goes to the test's temporary folder; to refresh the
README's picture: I2I_SERVE_SCREENSHOT=examples/serve_page.png make test-slow (a test run leaves
the working tree as it found it)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="i2i serve needs the ui extra: pip install 'i2i[ui]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (the test extra)")
pytestmark = pytest.mark.slow  # a server and Chromium started, five jobs through the page: ~1 min

SCREENSHOT = os.environ.get("I2I_SERVE_SCREENSHOT")  # else the test's tmp_path
WAIT_MS = 120_000  # a job on two loaded cores


def chromium() -> str | None:
    """The distribution's Chromium ($I2I_CHROMIUM names another)."""
    named = os.environ.get("I2I_CHROMIUM")
    return named or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, stderr lines so far) of `i2i serve` on a free port; stopped with SIGTERM afterwards,
    which must exit 143 and remove the server's temporary folder."""
    if not chromium():
        pytest.skip("no Chromium found (apt-get install chromium, or set I2I_CHROMIUM to a Chromium executable)")
    temp = tmp_path_factory.mktemp("serve-tmp")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "i2i", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 90
    while not any("i2i serve: http" in line for line in seen):
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            proc.kill()
            pytest.fail(f"i2i serve did not start in 90 s: {''.join(seen)}")
    yield f"http://127.0.0.1:{port}/"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    assert list(temp.iterdir()) == [], "the server's temporary folder was left behind"


@pytest.fixture(scope="module")
def browser(server):
    with sync_api.sync_playwright() as p:
        # --no-sandbox: Chromium's sandbox refuses to run as root (containers, CI).
        b = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.goto(server)
    yield tab
    context.close()


def photo(data, i=0) -> Path:
    return sorted((data / "monet2photo" / "testB").glob("*.jpg"))[i]


def open_tab(page, task: str) -> None:
    page.get_by_role("tab", name=task.capitalize()).click()


def choose(page, selector: str, value: str) -> None:
    """Pick a value of a Gradio dropdown."""
    page.click(f"{selector} input")
    page.get_by_role("option", name=value, exact=True).click()


def run_job(page, task: str, files: list[Path], backend: str = "torch") -> None:
    open_tab(page, task)
    page.set_input_files(f"#{task}-files input[type=file]", [str(f) for f in files])
    for f in files:  # uploaded: listed with a download link of its own
        page.locator(f'#{task}-files a[download="{f.name}"]').wait_for(timeout=WAIT_MS)
    page.locator(f"#{task}-engine").get_by_text("Engine").click()  # open the accordion
    choose(page, f"#{task}-backend", backend)
    page.click(f"#{task}-run")


def wait_done(page, task: str) -> str:
    """The job's status line, once it says how it went."""
    status = page.locator(f"#{task}-status")
    status.get_by_text("result(s)").wait_for(timeout=WAIT_MS)
    return status.inner_text()


def download(page, task: str, source: Path, folder: Path) -> Path:
    link = page.locator(f'#{task}-downloads a[download="{source.stem}_{task}{source.suffix}"]')
    with page.expect_download() as d:
        link.click()
    target = folder / d.value.suggested_filename
    d.value.save_as(target)
    return target


def cli_output(cli, command: str, source: Path, folder: Path, *args) -> Path:
    out = folder / f"cli-{command}"
    run = cli(command, source, "-o", out, "--backend", "torch", *args)
    assert run.returncode == 0, run.stderr.decode()
    return out / source.name


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def test_upscale_and_stylize_download_what_the_cli_writes(page, data, cli, tmp_path):
    source = photo(data)
    run_job(page, "upscale", [source])
    assert "1 result(s)" in wait_done(page, "upscale")
    page.locator("#upscale-slider img").first.wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "serve_page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    with Image.open(screenshot) as shot:
        assert shot.width >= 800 and shot.height >= 600, shot.size  # the page, not a blank strip
    got = download(page, "upscale", source, tmp_path)
    assert got.suffix == ".jpg"
    expected = cli_output(cli, "upscale", source, tmp_path)
    assert pixels(got).shape == pixels(expected).shape == (1024, 1024, 3)
    assert np.abs(pixels(got) - pixels(expected)).max() <= 1  # within 1/255

    run_job(page, "stylize", [source])
    assert "1 result(s)" in wait_done(page, "stylize")
    got = download(page, "stylize", source, tmp_path)
    expected = cli_output(cli, "stylize", source, tmp_path)
    assert np.abs(pixels(got) - pixels(expected)).max() <= 1


def test_a_text_file_named_jpg_shows_the_cli_error(page, data, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture\n")
    run_job(page, "upscale", [fake, photo(data, 1)])
    assert "1 result(s), 1 failed" in wait_done(page, "upscale")
    errors = page.locator("#upscale-errors textarea").input_value()
    assert errors == "notes.jpg: not an image (format not recognised)"


def test_four_jobs_at_once_give_four_results(browser, server, data):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tabs = [context.new_page() for _ in range(4)]
    try:
        for tab in tabs:
            tab.goto(server)
        for i, tab in enumerate(tabs):
            run_job(tab, "stylize", [photo(data, i)])
        for i, tab in enumerate(tabs):
            assert "1 result(s)" in wait_done(tab, "stylize")
            name = f"{photo(data, i).stem}_stylize.jpg"
            assert tab.locator(f'#stylize-downloads a[download="{name}"]').count() == 1
    finally:
        context.close()
