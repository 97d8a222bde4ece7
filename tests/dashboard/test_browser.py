"""A real browser: Debian's headless Chromium loads the served dashboard on
localhost from the sample state, finds the top symbol in the ranking table, opens
the drill-down of another symbol and counts the points of its charts against the
history, with no errors in the browser console; screenshots under
``test-artifacts/``.

Chromium and ChromeDriver come from the Debian packages ``chromium`` and
``chromium-driver``, installed here when absent (never a browser download). Where
they cannot be installed the test is skipped, unless ``REQUIRE_BROWSER=1`` (set by
``.ci/run``), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import ROOT

# One test process runs every browser test (parallel runs would race on apt-get).
pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts"


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"real-browser test required but {reason}")
    pytest.skip(reason)


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists() and Path(DRIVER).exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        _unavailable("chromium/chromium-driver are absent and cannot be installed here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=False, timeout=900
        )
        if done.returncode != 0:
            _unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(sample_state):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--", "--state-dir", str(sample_state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"streamlit did not start: {proc.communicate()[0][-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def browser() -> webdriver.Chrome:
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2200"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def test_top_symbol_is_in_the_served_ranking_table(served, sample_state):
    top = json.loads((sample_state / "symbol_scores_v6.json").read_text())["top"][0]
    driver = browser()
    try:
        driver.get(f"{served}/?page=intelligence")

        def first_row(d):
            # the ranking is a data grid: its cells are in an accessible table
            cells = d.find_elements(By.CSS_SELECTOR, "table [role=gridcell]")
            return [c.get_attribute("textContent") for c in cells[:9]] if cells else False

        cells = WebDriverWait(driver, 60).until(first_row)
        assert cells[:2] == ["1", top]
        ARTIFACTS.mkdir(exist_ok=True)
        time.sleep(1.0)  # let the chart finish drawing for the screenshot
        shot = ARTIFACTS / "dashboard_intelligence.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        driver.quit()


def chart_points(driver: webdriver.Chrome, title: str) -> int | bool:
    """The points drawn in the chart titled ``title`` (False until it is drawn)."""
    for chart in driver.find_elements(By.CSS_SELECTOR, ".vega-embed svg"):
        titles = [t.get_attribute("textContent") for t in chart.find_elements(
            By.CSS_SELECTOR, ".mark-text.role-title-text text, .role-title-text text")]  # fmt: skip
        if title in titles:
            return len(chart.find_elements(By.CSS_SELECTOR, ".mark-symbol path"))
    return False


def test_drill_down_draws_a_point_per_snapshot(served, sample_state):
    scores = json.loads((sample_state / "symbol_scores_v6.json").read_text())
    symbol = scores["symbols"][-1]["symbol"]  # not the default (the top one)
    db = sqlite3.connect(sample_state / "history_v6.sqlite")
    sql = "SELECT window, count(*) FROM symbols WHERE symbol = ? GROUP BY window"
    counts = dict(db.execute(sql, (symbol,)))
    db.close()
    assert counts.get("all", 0) > 100
    driver = browser()
    try:
        driver.get(f"{served}/?page=intelligence")
        wait = WebDriverWait(driver, 60)
        boxes = wait.until(lambda d: [
            b for b in d.find_elements(By.CSS_SELECTOR, "[data-testid=stSelectbox]")
            if b.text.startswith("Symbol")])  # fmt: skip
        field = boxes[0].find_element(By.CSS_SELECTOR, "input")
        field.click()
        field.send_keys(symbol)
        field.send_keys(Keys.ENTER)
        caption = f"{symbol}: {counts['all']} snapshots under all, {counts['50t']} under 50t"
        wait.until(lambda d: caption in d.find_element(By.TAG_NAME, "body").text)
        assert wait.until(lambda d: chart_points(d, f"{symbol}: cumulative R")) == counts["all"]
        assert wait.until(lambda d: chart_points(d, "avg R (50t)")) == counts["50t"]
        assert wait.until(lambda d: chart_points(d, "rank (50t)")) == counts["50t"]
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        ARTIFACTS.mkdir(exist_ok=True)
        time.sleep(1.0)
        shot = ARTIFACTS / "dashboard_drilldown.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        driver.quit()
