"""The JobManager's web UI in a real browser: Debian's headless Chromium, driven by selenium,
against a running checkpointed WordCount on the real stack.

No browser is downloaded: the Debian packages ``chromium`` and ``chromium-driver`` are used as
installed, and ``SE_OFFLINE`` keeps Selenium Manager from fetching anything. A screenshot of
each page goes under the test's tmp_path; the job page's also to docs/images/job-page.png (the
README shows it).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from strom.client.jobs import JobClient
from strom.config import KafkaOptions
from strom.credentials import rest_token

from .conftest import TestCluster
from .test_wordcount import WORDCOUNT, produce, text_lines

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
README_SCREENSHOT = ROOT / "docs" / "images" / "job-page.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
                                reason="needs Debian's chromium and chromium-driver "
                                       "(apt-get install chromium chromium-driver)")


@pytest.fixture
def browser(monkeypatch, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


class Feeder:
    """Keeps producing text lines to the job's input while the browser looks, so its rates stay
    above zero (an unbounded job that caught up would show 0/s)."""

    def __init__(self, bootstrap: str, topic: str, lines: list[bytes]) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        self.topic, self.lines = topic, lines
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stopped.wait(0.1):
            for _ in range(50):  # ~500 lines/s: steady rates, no backlog to slow checkpoints down
                self.producer.produce(self.topic, self.lines[i % len(self.lines)])
                i += 1
            self.producer.poll(0)
        self.producer.flush(10)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)


def wait_until(what: str, check: Callable[[], Any], timeout_s: float, driver, shot: Path) -> Any:
    """Poll ``check`` (a falsy answer or an exception = not yet); on timeout save a screenshot of
    the page and fail with the last answer."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # a row replaced mid-read (stale element) is only "not yet"
            last = exc
        time.sleep(0.2)
    driver.save_screenshot(str(shot))
    pytest.fail(f"web UI: {what} not within {timeout_s} s (last: {last!r}); screenshot {shot}")


def click(driver, selector: str, shot: Path) -> None:
    """Click the element; retried, since the page re-renders rows while it refreshes."""
    from selenium.webdriver.common.by import By

    def attempt() -> bool:
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True
    wait_until(f"a click on {selector}", attempt, 10, driver, shot)


def rate(text: str) -> float:
    """``"1.2 k/s"`` -> 1200.0; ``"–"`` -> 0."""
    match = re.fullmatch(r"([\d.]+)\s*([kMG]?)/s", text.strip())
    if not match:
        return 0.0
    return float(match.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[match.group(2)]


def test_web_ui_shows_a_running_job_its_rates_and_checkpoints(cluster: TestCluster, browser, tmp_path):
    from selenium.webdriver.common.by import By

    cluster.start_standard(task_managers=2, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    run = uuid.uuid4().hex[:8]
    source, sink, dlq = f"web-in-{run}", f"web-out-{run}", f"web-dlq-{run}"
    lines = [line for line in text_lines() if line.strip()]
    produce(bootstrap, source, lines[:500])  # the topic, and a little to start with
    result = cluster.strom("run", "-d", "-p", "2", WORDCOUNT, "--", "--input", source, "--output", sink,
                           "--dead-letter-topic", dlq, "--checkpoint-interval", "500", "--unbounded")
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = re.search(r"JobID (\w+)", result.stdout).group(1)
    feeder = Feeder(bootstrap, source, lines)
    client = JobClient(cluster.config)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)
    try:
        # Sign in: a wrong token is refused and asked for again, the right one kept for the tab.
        browser.get(client.address + "/")
        wait_until("the token form", lambda: browser.find_element(By.ID, "login").is_displayed(), 10,
                   browser, shots / "fail-login.png")
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.ID, "sign-in").click()
        wait_until("a refused token asked for again", lambda: browser.find_element(By.ID, "login-error").is_displayed(),
                   10, browser, shots / "fail-login.png")
        browser.find_element(By.ID, "token").send_keys(rest_token(cluster.config))
        browser.find_element(By.ID, "sign-in").click()

        # Overview: the cluster's TaskManagers and slots, the running job listed.
        wait_until("the running job on the overview", lambda: css(f'tr.job[data-jid="{job_id}"]'), 15,
                   browser, shots / "fail-overview.png")
        cards = browser.find_element(By.ID, "overview-cards").text
        assert "TASKMANAGERS\n2" in cards.upper() and "/ 4" in cards, cards
        browser.save_screenshot(str(shots / "overview.png"))

        # Job page: every vertex by name in the graph and the table, edges drawn, non-zero rates,
        # a backpressure colour on every vertex.
        click(browser, f'tr.job[data-jid="{job_id}"] a', shots / "fail-overview.png")
        details = client.details(job_id)
        names = [v["name"] for v in details["vertices"]]
        edges = sum(len(node.get("inputs", [])) for node in details["plan"]["nodes"])

        def graph_ready():
            graph_names = [e.get_attribute("title") for e in css("#job-graph .vertex")]
            table_names = [e.text for e in css("td.vertex-row-name")]
            rates = [rate(e.text) for e in css("#job-graph .vertex .rate-in, #job-graph .vertex .rate-out")]
            levels = [e.get_attribute("data-backpressure") for e in css("#job-graph .vertex")]
            return (sorted(graph_names) == sorted(names) and sorted(table_names) == sorted(names)
                    and len(css("#job-graph path.edge")) == edges and max(rates, default=0) > 0
                    and all(level in ("ok", "low", "high") for level in levels))
        wait_until("every vertex, its edges, non-zero rates and backpressure", graph_ready, 15,
                   browser, shots / "fail-job.png")
        # A click on a vertex opens its subtasks: where each runs, its backpressure and busy ratios.
        click(browser, "#job-graph .vertex", shots / "fail-job.png")
        wait_until("the subtasks of the clicked vertex", lambda: len(css("#subtasks tbody tr")) == 2, 10,
                   browser, shots / "fail-subtasks.png")
        browser.save_screenshot(str(shots / "job-graph.png"))

        # Checkpoints tab: completed checkpoints listed by id; one opened shows per-subtask acks.
        click(browser, '.tabs a[data-tab="checkpoints"]', shots / "fail-job.png")
        completed = wait_until("a COMPLETED checkpoint in the history",
                               lambda: [e.get_attribute("data-checkpoint-id")
                                        for e in css('tr.checkpoint[data-status="COMPLETED"]')], 20,
                               browser, shots / "fail-checkpoints.png")
        history = {str(cp["id"]): cp["status"] for cp in client.checkpoints(job_id)["history"]}
        assert all(history.get(cid) == "COMPLETED" for cid in completed), (completed, history)
        click(browser, f'tr.checkpoint[data-checkpoint-id="{completed[0]}"]', shots / "fail-checkpoints.png")
        wait_until("the subtask acks of a checkpoint", lambda: len(css("tr.checkpoint-subtask")) >= len(names), 10,
                   browser, shots / "fail-checkpoint-details.png")
        browser.save_screenshot(str(shots / "checkpoints.png"))

        # Exceptions and watermarks tabs render (no failure in this job).
        click(browser, '.tabs a[data-tab="exceptions"]', shots / "fail-checkpoints.png")
        wait_until("the exceptions tab", lambda: "Root exception" in browser.find_element(By.ID, "root-exception").text,
                   10, browser, shots / "fail-exceptions.png")
        browser.save_screenshot(str(shots / "exceptions.png"))
        click(browser, '.tabs a[data-tab="watermarks"]', shots / "fail-exceptions.png")
        wait_until("the watermarks tab", lambda: all(
            name in browser.find_element(By.ID, "watermarks").text for name in names), 10,
            browser, shots / "fail-watermarks.png")
        browser.save_screenshot(str(shots / "watermarks.png"))

        # TaskManagers: both, with their slots and the job's tasks in them.
        click(browser, 'a[data-nav="taskmanagers"]', shots / "fail-watermarks.png")
        wait_until("2 TaskManagers with 2 slots each", lambda: len(css("tr.taskmanager")) == 2
                   and len(css("tr.taskmanager .slot")) == 4 and "WordCount" in browser.find_element(
                       By.ID, "taskmanagers").text, 10, browser, shots / "fail-taskmanagers.png")
        browser.save_screenshot(str(shots / "taskmanagers.png"))

        # Back to the job page by its address (the token stays in the tab's session storage), for
        # the README's screenshot: by now every figure of the job has been sampled a few times.
        browser.get(f"{client.address}/#/jobs/{job_id}")
        wait_until("the job page again, with rates", graph_ready, 15, browser, shots / "fail-job-again.png")
        click(browser, "#job-graph .vertex", shots / "fail-job-again.png")
        wait_until("the subtasks again", lambda: len(css("#subtasks tbody tr")) == 2, 10,
                   browser, shots / "fail-job-again.png")
        browser.save_screenshot(str(shots / "job-page.png"))
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots / "job-page.png", README_SCREENSHOT)

        assert rest_token(cluster.config) not in browser.current_url
        errors = [entry["message"] for entry in browser.get_log("browser")
                  if "Uncaught" in entry["message"] or "TypeError" in entry["message"]]
        assert not errors, errors
    finally:
        feeder.stop()
        try:
            client.cancel(job_id)
            client.wait(job_id, timeout_s=30)
        finally:
            client.close()
