"""HEVOL in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven
by Selenium) against the server started by the README's command.

Skips with the reason when Chromium, its driver or Selenium is missing, except under
``JAXLATENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a failure. With
``JAXLATENT_WRITE_SCREENSHOTS=1`` the screenshots also go to ``docs/images/hevol_*.png``.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _missing() -> str | None:
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("JAXLATENT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"JAXLATENT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1150", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


class Server:
    """``python run.py --config=configs/hevol.py:smoke --workdir=W`` as a child process."""

    def __init__(self, workdir):
        env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "--config=configs/hevol.py:smoke", f"--workdir={workdir}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        deadline = time.time() + 240
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            self.lines.append(line)
            match = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            if match:
                self.url = match.group(1)
                return
        self.proc.kill()
        raise RuntimeError("the server did not print its URL:\n" + "".join(self.lines))

    def stop(self, sig=signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        self.lines += self.proc.stdout.readlines()
        return rc


def _wait(driver, fn, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: fn(d))


def _text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def _cells(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#grid .cell")


def _screenshot(driver, tmp_path, name):
    driver.save_screenshot(str(tmp_path / name))
    if os.environ.get("JAXLATENT_WRITE_SCREENSHOTS") == "1":
        shutil.copy(tmp_path / name, os.path.join(ROOT, "docs", "images", name))


def _session(workdir):
    with open(os.path.join(workdir, "hevol", "session.json")) as f:
        return json.load(f)


def _round_shown(n):
    return lambda d: _text(d, "round") == f"round {n}" and len(_cells(d)) == 28


@pytest.mark.slow
def test_pick_submit_undo_reload_restart_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    workdir = str(tmp_path / "w")
    server = Server(workdir)
    try:
        browser.get(server.url)
        _wait(browser, _round_shown(0))
        assert _text(browser, "count") == "picks 0 / 5"
        assert not browser.find_element(By.ID, "submit").is_enabled()
        cells = _cells(browser)
        cells[3].click(), cells[3].click(), cells[7].click()  # the same image twice is allowed
        body = browser.find_element(By.TAG_NAME, "body")
        body.send_keys("q"), body.send_keys("1")  # keys: "q" is image 10, "1" image 0
        assert _text(browser, "count") == "picks 5 / 5"
        assert cells[3].get_attribute("data-count") == "2" and "×2" in cells[3].text
        _screenshot(browser, tmp_path, "hevol_picks.png")
        body.send_keys(Keys.ENTER)
        _wait(browser, _round_shown(1))
        assert _session(workdir)["rounds"][0]["picks"] == [3, 3, 7, 10, 0]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#history figure")) == 2
        for i in (2, 4, 6, 8, 8):
            _cells(browser)[i].click()
        browser.find_element(By.ID, "submit").click()
        _wait(browser, _round_shown(2))
        Select(browser.find_element(By.ID, "class")).select_by_visible_text("blue square")
        _wait(browser, lambda d: "class changed" in _text(d, "status"))
        assert _session(workdir)["class_index"] == 3
        _screenshot(browser, tmp_path, "hevol_round2.png")
        browser.find_element(By.TAG_NAME, "body").send_keys("z")  # undo round 1's picks
        _wait(browser, _round_shown(1))
        assert _session(workdir)["round"] == 1
        first = _cells(browser)[0].find_element(By.TAG_NAME, "img").get_attribute("src")
        _cells(browser)[5].click(), _cells(browser)[6].click()
        browser.refresh()  # a reload keeps the unsubmitted picks (localStorage)
        _wait(browser, _round_shown(1))
        assert _text(browser, "count") == "picks 2 / 5"

        assert server.stop(signal.SIGKILL) != 0  # killed between rounds: nothing may be lost
        server = Server(workdir)
        browser.get(server.url)
        _wait(browser, _round_shown(1))
        assert _cells(browser)[0].find_element(By.TAG_NAME, "img").get_attribute("src") == first
        assert len(browser.find_elements(By.CSS_SELECTOR, "#history figure")) == 2
        href = browser.find_element(By.ID, "dl-png").get_attribute("href")
        with urllib.request.urlopen(href, timeout=60) as resp:
            assert resp.read(8) == b"\x89PNG\r\n\x1a\n"

        button = browser.find_element(By.ID, "restart")
        button.click(), button.click()  # the second click confirms
        _wait(browser, _round_shown(0))
        assert _session(workdir)["restart"] == 1 and _session(workdir)["rounds"] == []
        assert server.stop(signal.SIGINT) == 0, "".join(server.lines)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    with open(os.path.join(workdir, "summary.json")) as f:
        assert json.load(f)["restarts"] == 1
