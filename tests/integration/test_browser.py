"""The demo shop in a real browser: Debian's headless chromium loads df.js from `relay local serve`, a
visitor arrives from a Meta ad (an fbclid), consents, signs in and orders, and the Purchase that reaches
the Graph emulator carries the browser's own cookies, its hashed email and phone, its user agent and IP.

Offline by construction: Selenium gets the system chromedriver and chromium (Selenium Manager offline,
nothing downloaded) and chromium runs with background networking off. `make browser` installs both.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from relay.local.graph import AcceptedEvent
from relay.local.serve import DEMO_PIXEL, LocalServer
from tests import browser
from tests.support import ROOT

pytestmark = pytest.mark.browser

# The whole demo page in the screenshot.
WINDOW = "--window-size=1024,1400"
SCREENSHOT = ROOT / "build" / "screenshots" / "demo.png"
FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"  # mixed case: kept as sent
EMAIL, PHONE = "Jane.Doe@Example.com", "+44 7700 900123"
COOKIE_MAX_AGE_S = 90 * 24 * 3600
WAIT_S = 10.0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fnv1a(text: str) -> str:
    """The demo page's `hash` (FNV-1a 32-bit over UTF-16 code units; ASCII here), for its userId."""
    h = 0x811C9DC5
    for char in text:
        h = ((h ^ ord(char)) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(port=0, demo=True, worker_idle_s=0.1) as served:
        yield served


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    driver = browser.chromium(tmp_path / "profile", [WINDOW])
    try:
        yield driver
    finally:
        driver.quit()


def status_becomes(driver: WebDriver, text: str) -> None:
    """Wait until the demo page's <output id="status"> reads `text` (set once the request has settled)."""
    status = driver.find_element(By.ID, "status")
    try:
        WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(lambda _: status.text == text)
    except Exception:
        raise AssertionError(f"status {status.text!r}, expected {text!r} within {WAIT_S:g} s") from None


def accepted_event(server: LocalServer, name: str) -> AcceptedEvent:
    """The first event named `name` the emulator accepted, waiting up to WAIT_S for the worker."""
    assert server.emulator is not None
    deadline = time.monotonic() + WAIT_S
    while True:
        found = [a for a in server.emulator.accepted if a.event.get("event_name") == name]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            names = [a.event.get("event_name") for a in server.emulator.accepted]
            raise AssertionError(f"no {name} reached the emulator within {WAIT_S:g} s (got {names})")
        time.sleep(0.05)


def test_a_visitor_from_a_meta_ad_signs_in_and_orders_and_meta_gets_the_purchase_with_its_cookies(
    server: LocalServer, chromium: WebDriver
) -> None:
    # GIVEN the demo shop opened from a Meta ad (an fbclid in the URL)
    started_ms = int(time.time() * 1000)
    chromium.get(f"{server.url}/demo/?fbclid={FBCLID}")
    status_becomes(chromium, "sent: page")

    # WHEN the visitor consents, signs in with an email and a phone, and places an order
    chromium.find_element(By.ID, "consent-yes").click()
    status_becomes(chromium, "consent: advertising and analytics granted")
    chromium.find_element(By.ID, "email").send_keys(EMAIL)
    chromium.find_element(By.ID, "phone").send_keys(PHONE)
    chromium.find_element(By.ID, "identify").click()
    status_becomes(chromium, "sent: identify")
    chromium.find_element(By.ID, "order").click()
    status_becomes(chromium, "sent: Order Completed")
    answered_ms = int(time.time() * 1000)
    cookies = {c["name"]: c for c in chromium.get_cookies()}
    user_agent = chromium.execute_script("return navigator.userAgent")
    console_errors = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert chromium.save_screenshot(str(SCREENSHOT)), f"no screenshot written to {SCREENSHOT}"

    # THEN the collector's first-party cookies: fbp and fbc from the first request, the fbclid's case
    # kept; each 90 days from the last answer, on the host, Path=/, SameSite=Lax, readable by scripts
    fbp, fbc, aid = (cookies[n]["value"] for n in ("_fbp", "_fbc", "_df_aid"))
    fbp_match = re.fullmatch(r"fb\.1\.(\d{13})\.\d+", fbp)
    fbc_match = re.fullmatch(r"fb\.1\.(\d{13})\.(.+)", fbc)
    assert fbp_match is not None, fbp
    assert fbc_match is not None, fbc
    assert fbc_match[2] == FBCLID
    assert started_ms <= int(fbp_match[1]) <= answered_ms
    assert fbc_match[1] == fbp_match[1]  # both made by the page view, the first request
    assert str(uuid.UUID(aid)) == aid
    assert uuid.UUID(aid).version == 4
    now_s = time.time()
    for name in ("_fbp", "_fbc", "_df_aid"):
        cookie = cookies[name]
        assert abs(cookie["expiry"] - (now_s + COOKIE_MAX_AGE_S)) < 60, (name, cookie["expiry"], now_s)
        attributes = (
            cookie["domain"],
            cookie["path"],
            cookie["sameSite"],
            cookie["httpOnly"],
            cookie["secure"],
        )
        assert attributes == ("127.0.0.1", "/", "Lax", False, False), name
    assert user_agent.startswith("Mozilla/5.0 ")
    assert "HeadlessChrome/" in user_agent
    assert console_errors == []

    # THEN Meta gets the Purchase with the browser's fbp / fbc, the identify's hashed email and phone
    # (from the visitor's profile), the browser's user agent and IP, and both ids as external_id
    purchase = accepted_event(server, "Purchase")
    page_view = accepted_event(server, "PageView")
    user_id = "user-" + fnv1a(EMAIL.lower())
    assert (purchase.pixel_id, purchase.test_event_code) == (DEMO_PIXEL, None)
    assert purchase.event["user_data"] == {
        "client_ip_address": "127.0.0.1",
        "client_user_agent": user_agent,
        "fbp": fbp,
        "fbc": fbc,
        "external_id": [sha256(aid), sha256(user_id)],
        "em": sha256("jane.doe@example.com"),
        "ph": sha256("447700900123"),
    }
    assert purchase.event["event_source_url"] == f"{server.url}/demo/?fbclid={FBCLID}"
    assert purchase.event["action_source"] == "website"
    assert (purchase.event["custom_data"]["value"], purchase.event["custom_data"]["currency"]) == (
        49.99,
        "USD",
    )
    # AND the page view before it, from the same browser, before the visitor signed in
    assert page_view.pixel_id == DEMO_PIXEL
    assert page_view.event["user_data"] == {
        "client_ip_address": "127.0.0.1",
        "client_user_agent": user_agent,
        "fbp": fbp,
        "fbc": fbc,
        "external_id": sha256(aid),
    }
    assert server.worker_errors == 0
    assert SCREENSHOT.stat().st_size > 0
