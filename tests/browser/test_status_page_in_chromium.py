"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) on the status page while a small
fleet runs on the emulator: the page, refreshed live over the event stream, shows the fleet reach 100 %.
The screenshot is kept in ``test-artifacts/status-page.png``."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from engine_helpers import PROJECT, REGION, EndToEnd
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from orchestrator.api.app import build_app
from orchestrator.api.context import ApiContext
from orchestrator.api.keys import new_key
from orchestrator.messages import FleetBackupCommand
from orchestrator.store.api_keys import NewApiKey

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "status-page.png"
SERVERS = 6
# read in one go: the live refresh replaces the elements at any time
SHOWN = "return [...document.querySelectorAll('#fleets .percent')].map(e => e.textContent.trim());"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Backups that take a few seconds, each its own time, so that the page sees the fleet run."""
    progression = Progression(base_seconds=1.0, gb_per_second=60.0, waiting_seconds=0.2)
    return EmulatorConfig(inventory=Inventory(servers=SERVERS, disks=0), progression=progression)


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=420,900"):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def watch_the_fleet_finish(base_url: str, key: str, started: asyncio.Event | None = None) -> list[str]:
    """Sign in, keep the page open, return the fleet's percentages seen until 100 %; screenshot at the end."""
    driver = chromium()
    try:
        driver.get(f"{base_url}/status/login")
        driver.find_element(By.ID, "key").send_keys(key)
        driver.find_element(By.ID, "sign-in").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "fleets"))
        driver.execute_script("window.notReloaded = true;")  # gone if the page were loaded again
        seen: list[str] = []
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and "100 %" not in seen:
            shown = driver.execute_script(SHOWN)
            if shown and shown[0] not in seen:
                seen.append(shown[0])
            time.sleep(0.1)
        assert driver.execute_script("return window.notReloaded === true;"), "the page was reloaded"
        SCREENSHOT.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
        return seen
    finally:
        driver.quit()


async def test_the_status_page_shows_a_running_fleet_reach_100_percent(e2e: EndToEnd) -> None:
    key = new_key()
    await e2e.store.api_keys.create(NewApiKey(key.key_id, "browser", key.secret_hash, (PROJECT,), ("read",)))
    server = TestServer(build_app(ApiContext(e2e.settings, e2e.store)), host="127.0.0.1")
    await server.start_server()
    try:
        base_url = str(server.make_url("")).rstrip("/")
        watching = asyncio.create_task(asyncio.to_thread(watch_the_fleet_finish, base_url, key.presented))
        await asyncio.sleep(2)  # signed in, the page open and listening before the fleet starts
        command = FleetBackupCommand.model_validate(
            {
                "command_id": "fleet-on-the-page",
                "project_id": PROJECT,
                "region": REGION,
                "select": {"protectables": {"types": ["server"]}},
            }
        )
        await e2e.publish(command)
        await e2e.drain(seconds=25)
        seen = await asyncio.wait_for(watching, 30)
    finally:
        await server.close()
    print(f"\nstatus page screenshot: {SCREENSHOT} (percentages seen: {seen})")
    assert seen[-1] == "100 %" and len(seen) > 1, seen  # seen running, then done, without a reload
    assert (await e2e.workflow("fleet-on-the-page")).status == "succeeded"
    assert SCREENSHOT.stat().st_size > 1000
