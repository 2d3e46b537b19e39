"""A real browser against `ferx serve` on 127.0.0.1: upload a face photo, see the predicted emotion."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from ferx.inference.recognizer import EmotionRecognizer

from conftest import cannot_run
from scenes import background, detectable_faces, paste

CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    """Skipped where Chromium is missing, except where FERX_REQUIRE_BROWSER=1 (.ci/run): there it fails."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        cannot_run("Chromium not installed (Debian packages chromium and chromium-driver; .ci/run installs them)",
                   require="FERX_REQUIRE_BROWSER")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ferx.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            assert proc.poll() is None, "ferx serve exited"
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_upload_shows_the_predicted_emotion(server: str, fer_root: Path, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    img = background(360, 480)
    paste(img, detectable_faces(str(fer_root))[0], 150, 80, 160)
    photo = tmp_path / "face.png"
    Image.fromarray(img).save(photo)
    (expected,) = EmotionRecognizer().predict(photo)

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(server + "/")
        driver.find_element(By.ID, "file").send_keys(str(photo))
        shown = WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results .emotion")))
        assert shown.text == expected.emotion
        assert driver.find_element(By.ID, "status").text == "1 face(s)"
        driver.save_screenshot(str(tmp_path / "page.png"))
    finally:
        driver.quit()
    assert (tmp_path / "page.png").stat().st_size > 10_000
