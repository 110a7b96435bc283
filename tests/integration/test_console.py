"""The management console (/console/) in a real browser, following the product description's steps:
sign in, create a source (its write key shown once with the tag), Integrations > Add Integration > Meta
Conversions API > a variant > pixel_id and access_token > consent categories > Save, then the test event
code, a test event, the event debugger, match quality, the dead-letter queue and its redrive, and the
connection check — each page checked by axe-core and photographed, and the sign-in to the add form done
with the keyboard alone.

The tests are one journey over one `relay local serve` (its Graph emulator plays Meta) and one browser:
they run in file order and each step uses what the previous ones made (`Journey`). Every assertion about
stored data is made through the admin API from Python, not through the page.

Offline like test_browser.py: Debian's chromium and chromedriver (Selenium Manager offline), axe-core from
tests/js/node_modules (`make test` runs npm ci). Screenshots go to build/screenshots/console/ and, when
RELAY_SCREENSHOTS_DIR is set (`make screenshots`), there too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from relay.local.serve import LocalServer
from tests import browser
from tests.support import ROOT

pytestmark = pytest.mark.browser

WINDOW = [
    "--window-size=1280,900",  # WIDTH; screenshots are of the whole page at this width
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--lang=en-US",
]
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "build" / "screenshots" / "console"
WIDTH = 1280
MAX_SHOT_HEIGHT = 4000
SCREENSHOTS = (
    "signin",
    "sources",
    "source-created",
    "integrations",
    "add-integration",
    "integration",
    "test-event",
    "debugger",
    "match-quality",
    "dlq",
)
# Every page (and integration section) axe-core must find free of serious and critical violations.
AXE_PAGES = (
    "signin",
    "signin-error",
    "sources",
    "source-created",
    "integrations",
    "add-integration",
    "add-integration-errors",
    "integration-settings",
    "integration-test",
    "integration-debugger",
    "integration-quality",
    "dlq",
)
ADMIN_TOKEN = "console-suite-admin-token"
PIXEL = "1234567890"
ACCESS_TOKEN = "your_access_token"
REVOKED_TOKEN = "revoked_access_token"  # the built-in emulator refuses it with code 190
TEST_CODE = "TEST12345"
EMAIL = "Jane.Doe@Example.com"
WAIT_S = 10.0
# Chromium logs each 4xx answer a fetch got; the journey provokes these on purpose (a wrong token, a
# refused field, a test event without a code, a source still in use, a stale version). Anything else
# in the console (a script error, a CSP violation) fails the step.
EXPECTED_LOG = re.compile(
    r"Failed to load resource: the server responded with a status of (400|401|409|412|422)\b"
)
TEST_CODE_WARNING = (
    "Remove the test event code before going to production. Events sent with a test code are not used "
    "for ad optimisation or reporting."
)
HEX64 = re.compile(r"[0-9a-f]{64}")

T = TypeVar("T")


@dataclass
class Journey:
    """What the steps made, for the steps after them."""

    source_id: str = ""
    write_key: str = ""
    integration_id: str = ""
    axe_checked: set[str] = field(default_factory=set)
    screenshots: set[str] = field(default_factory=set)

    def need(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            pytest.fail(f"an earlier step did not run ({', '.join(missing)} unset): run the whole module")


# ---- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(port=0, admin_token=ADMIN_TOKEN, demo=False, worker_idle_s=0.1) as served:
        yield served


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `npm ci --prefix tests/js` (make test does)", pytrace=False)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    profile = tmp_path_factory.mktemp("chromium") / "profile"
    chromium = browser.chromium(profile, WINDOW, {"goog:loggingPrefs": {"browser": "ALL"}})
    try:
        yield chromium
    finally:
        chromium.quit()


@pytest.fixture(scope="module")
def journey() -> Journey:
    return Journey()


@pytest.fixture
def console(driver: WebDriver, server: LocalServer, journey: Journey, axe_source: str) -> Iterator[Console]:
    page = Console(driver, server, journey, axe_source)
    page.logs()  # what earlier steps left
    yield page
    page.assert_clean_log()


# ---- the page --------------------------------------------------------------------------------------


class Console:
    """The console as a user sees it: found by label, button text and heading (never by generated id)."""

    def __init__(self, driver: WebDriver, server: LocalServer, journey: Journey, axe_source: str) -> None:
        self.driver = driver
        self.server = server
        self.journey = journey
        self.axe_source = axe_source
        self.unexpected: list[str] = []

    @property
    def url(self) -> str:
        return f"{self.server.url}/console/"

    # waiting

    def until(self, condition: Callable[[], T | bool | None], what: str, timeout: float = WAIT_S) -> T:
        def probe(_: WebDriver) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        try:
            found: T = WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(probe)
        except TimeoutException:
            raise AssertionError(f"{what} within {timeout:g} s; the page says:\n{self.main_text()}") from None
        return found

    def main_text(self) -> str:
        try:
            return str(self.driver.find_element(By.TAG_NAME, "main").text)[:3000]
        except Exception:
            return "(no main)"

    def heading(self, text: str) -> WebElement:
        """Wait for the view's h1 to read `text` (and hold the focus, as navigation moves it there)."""

        def h1() -> WebElement | None:
            found = self.driver.find_elements(By.CSS_SELECTOR, "#view h1")
            return found[0] if found and found[0].text == text else None

        return self.until(h1, f"the heading {text!r}")

    # finding

    def labelled(self, label: str, scope: WebElement | None = None) -> WebElement:
        """The control a visible <label> names (exact text, ignoring an "(optional)" suffix)."""
        root: WebDriver | WebElement = scope or self.driver
        xpath = ".//label[normalize-space(.)=$l or normalize-space(.)=concat($l, ' (optional)')]".replace(
            "$l", _xpath_literal(label)
        )

        def find() -> WebElement | None:
            labels = [el for el in root.find_elements(By.XPATH, xpath) if el.is_displayed()]
            if not labels:
                return None
            return self.driver.find_element(By.ID, labels[0].get_attribute("for") or "")

        return self.until(find, f"a control labelled {label!r}")

    def button(self, text: str, scope: WebElement | None = None) -> WebElement:
        root: WebDriver | WebElement = scope or self.driver
        literal = _xpath_literal(text)
        xpath = f".//button[normalize-space(.)={literal} or @aria-label={literal}]"  # text or name

        def find() -> WebElement | None:
            shown = [el for el in root.find_elements(By.XPATH, xpath) if el.is_displayed()]
            return shown[0] if shown else None

        return self.until(find, f"a button {text!r}")

    def link(self, text: str) -> WebElement:
        """The displayed link reading `text`, once its place on the page holds still (a list fills its
        cells as their data arrives: a click while rows grow can land beside a wrapped link)."""
        xpath = f"//a[normalize-space(.)={_xpath_literal(text)}][not(ancestor::*[@aria-busy='true'])]"
        last: list[Any] = [None]

        def settled() -> WebElement | None:
            found = next((a for a in self.driver.find_elements(By.XPATH, xpath) if a.is_displayed()), None)
            if found is None:
                return None
            rect = found.rect
            if rect != last[0]:
                last[0] = rect
                return None
            return found

        return self.until(settled, f"a link {text!r} in place")

    def shown(self, css: str, scope: WebElement | None = None) -> WebElement:
        root: WebDriver | WebElement = scope or self.driver
        return self.until(
            lambda: next((e for e in root.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()), None),
            f"{css} shown",
        )

    def text_in(self, css: str, text: str, timeout: float = WAIT_S) -> WebElement:
        """Wait until the (displayed) element `css` contains `text`."""
        return self.until(
            lambda: next(
                (e for e in self.driver.find_elements(By.CSS_SELECTOR, css) if text in e.text), None
            ),
            f"{text!r} in {css}",
            timeout,
        )

    def tab(self, name: str) -> WebElement:
        tab = self.driver.find_element(
            By.XPATH, f"//*[@role='tab'][normalize-space(.)={_xpath_literal(name)}]"
        )
        tab.click()
        panel_id = tab.get_attribute("aria-controls") or ""
        return self.until(lambda: self._displayed(panel_id), f"the {name} panel")

    def _displayed(self, element_id: str) -> WebElement | None:
        found = self.driver.find_elements(By.ID, element_id)
        return found[0] if found and found[0].is_displayed() else None

    def fill(self, control: WebElement, text: str) -> None:
        control.clear()
        control.send_keys(text)

    def error_of(self, control: WebElement) -> str:
        """The field error tied to `control` (aria-describedby → an element with class field-error)."""
        ids = (control.get_attribute("aria-describedby") or "").split()
        for element_id in ids:
            found = self.driver.find_elements(By.ID, element_id)
            if found and "field-error" in (found[0].get_attribute("class") or ""):
                return str(found[0].text)
        return ""

    def field_error(self, control: WebElement, text: str) -> str:
        """Wait for `text` in the error beside `control`; also checks aria-invalid and its placement."""
        message = self.until(
            lambda: (m := self.error_of(control)) and text in m and m, f"{text!r} beside the field"
        )
        assert control.get_attribute("aria-invalid") == "true"
        holder = control.find_element(By.XPATH, "./ancestor::*[contains(@class,'field')][1]")
        assert text in holder.text, "the error is not beside its field"
        return str(message)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def go(self, route: str) -> None:
        self.driver.get(self.url + route)

    # checks

    def axe(self, name: str) -> None:
        """axe-core on the page as it is now: no serious or critical violation (WCAG 2.x A / AA rules)."""
        if not self.js("return typeof window.axe === 'object'"):
            self.js(self.axe_source)
        result = self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then((r) => done(r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
              }))))
              .catch((e) => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));
            """
        )
        for v in result:  # shown with the output of a failing test (or -s); only these two fail it
            print(f"axe {name}: {v['impact']} {v['id']} at {v['targets']}")
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe on {name}: " + "; ".join(
            f"{v['id']} ({v['impact']}: {v['help']}) at {v['targets']}" for v in bad
        )
        self.journey.axe_checked.add(name)

    def screenshot(self, name: str) -> None:
        """The whole page at 1280 px wide, without caret, focus ring or hover; also written to
        RELAY_SCREENSHOTS_DIR when set."""
        assert name in SCREENSHOTS, name
        self.js("document.documentElement.classList.add('no-caret');")
        self.js("if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0);")
        ActionChains(self.driver).move_to_element(self.driver.find_element(By.CLASS_NAME, "brand")).perform()
        height = min(int(self.js("return document.documentElement.scrollHeight")), MAX_SHOT_HEIGHT)
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
            },
        )
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG"), name
        assert len(png) > 10_000, f"screenshot {name} is empty"
        targets = [SHOTS]
        if extra := os.environ.get("RELAY_SCREENSHOTS_DIR"):
            targets.append(Path(extra))
        for folder in targets:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.png").write_bytes(png)
        self.journey.screenshots.add(name)

    def logs(self) -> list[str]:
        entries = self.driver.get_log("browser")
        return [str(e["message"]) for e in entries if e["level"] in ("SEVERE", "WARNING")]

    def assert_clean_log(self) -> None:
        bad = [m for m in self.logs() if not EXPECTED_LOG.search(m)]
        assert not bad, f"the browser console reported: {bad}"

    # the admin API and the collector, from Python

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        return admin(self.server, method, path, body, **headers)


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


def admin(server: LocalServer, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """One admin API call with the admin token; the parsed body (None for 204)."""
    request = urllib.request.Request(
        f"{server.url}/v1/admin{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None
    return json.loads(raw) if raw else None


def track(server: LocalServer, write_key: str, order_id: str) -> None:
    """The product description's Purchase, as a site's server sends it to the collector (Basic auth)."""
    event = {
        "type": "track",
        "event": "Order Completed",
        "anonymousId": "visitor-" + order_id,
        "messageId": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "order_id": order_id,
            "total": 129.99,
            "currency": "USD",
            "products": [
                {"product_id": "SKU-A", "name": "Widget", "price": 49.99, "quantity": 2},
                {"product_id": "SKU-B", "name": "Gadget", "price": 30.01, "quantity": 1},
            ],
        },
        "context": {
            "page": {"url": "https://shop.example/checkout/confirmation"},
            "ip": "203.0.113.50",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) console-suite",
            "traits": {"email": EMAIL},
        },
    }
    credentials = base64.b64encode(f"{write_key}:".encode()).decode()
    request = urllib.request.Request(
        f"{server.url}/v1/track",
        method="POST",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200, answer.status


def eventually(condition: Callable[[], T | bool | None], what: str, timeout: float = WAIT_S) -> T:
    """Poll `condition` (API reads) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s")
        time.sleep(0.1)


def deliveries(server: LocalServer, integration_id: str, status: str) -> list[dict[str, Any]]:
    page = admin(server, "GET", f"/integrations/{integration_id}/deliveries?status={status}&limit=50")
    return list(page["items"])


# ---- the journey -------------------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_token_and_keeps_the_right_one_in_session_storage_only(
    console: Console, server: LocalServer
) -> None:
    # GIVEN the console opened without a session
    console.go("")
    console.heading("Sign in")
    token = console.labelled("Admin token")
    assert token.get_attribute("type") == "password"
    console.axe("signin")
    console.screenshot("signin")

    # WHEN a wrong token is tried THEN the error is beside the field, and nothing is stored
    console.fill(token, "not-the-admin-token")
    console.button("Sign in").click()
    console.field_error(token, "That admin token is wrong")
    assert console.js("return sessionStorage.getItem('relay.adminToken')") is None
    console.axe("signin-error")

    # WHEN the right one is given THEN the console opens (Integrations), the token in sessionStorage only
    console.fill(token, ADMIN_TOKEN)
    token.send_keys(Keys.ENTER)
    console.heading("Integrations")
    assert console.js("return sessionStorage.getItem('relay.adminToken')") == ADMIN_TOKEN
    assert console.js("return localStorage.length") == 0
    assert console.js("return document.cookie") == ""
    assert console.driver.get_cookies() == []
    assert ADMIN_TOKEN not in console.driver.current_url

    # AND the page came with the strict policy, its assets under hashed names
    with urllib.request.urlopen(console.url, timeout=10) as answer:
        policy = answer.headers["Content-Security-Policy"]
        page = answer.read().decode()
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert re.search(r'src="/console/assets/console\.[0-9a-f]{20}\.js"', page)
    assert re.search(r'href="/console/assets/console\.[0-9a-f]{20}\.css"', page)

    # AND Sign out forgets the token
    console.button("Sign out").click()
    console.heading("Sign in")
    assert console.js("return sessionStorage.getItem('relay.adminToken')") is None

    # AND a token the API later refuses (401) ends the session with a message
    console.js("sessionStorage.setItem('relay.adminToken', 'a-stale-token');")
    console.go("#/sources")
    console.heading("Sign in")
    console.text_in("main", "The admin token was refused")
    assert console.js("return sessionStorage.getItem('relay.adminToken')") is None

    # AND signing in again returns to the page that was asked for
    console.fill(console.labelled("Admin token"), ADMIN_TOKEN)
    console.button("Sign in").click()
    console.heading("Sources")


def test_a_new_source_shows_its_write_key_once_with_the_tag_snippet(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    # GIVEN the Sources page
    console.link("Sources").click()
    console.heading("Sources")
    console.axe("sources")
    console.screenshot("sources")

    # WHEN a source is created for https://shop.example
    console.fill(console.labelled("Name"), "Shop")
    console.fill(console.labelled("Allowed origins"), "https://shop.example")
    console.button("Create source").click()

    # THEN its write key is shown once, with Copy, and the df.js tag filled in
    panel = console.shown("#write-key-panel")
    key = console.labelled("Write key", panel).get_attribute("value") or ""
    assert re.fullmatch(r"[A-Za-z0-9_\-]{40,}", key), key
    snippet = console.shown("pre", panel).text
    assert f'<script src="{server.url}/v1/df.js" data-write-key="{key}"></script>' in snippet
    assert "_df.page();" in snippet
    copy = console.button("Copy", panel)
    assert copy.get_attribute("aria-label") == "Copy write key"
    copy.click()
    copied = console.text_in("#write-key-panel [role=status]", "op")  # "Copied…" or "…to copy it."
    assert "Copied" in copied.text or "Ctrl+C" in copied.text
    console.axe("source-created")
    console.screenshot("source-created")

    # AND the API has the source (its origin normalised) and never shows the key again
    sources = console.api("GET", "/sources")["items"]
    (shop,) = [s for s in sources if s["name"] == "Shop"]
    assert shop["allowed_origins"] == ["https://shop.example"]
    assert "write_key" not in shop
    journey.source_id, journey.write_key = shop["id"], key

    # AND the key is gone once the page is left (shown once)
    console.link("Integrations").click()
    console.heading("Integrations")
    console.link("Sources").click()
    console.heading("Sources")
    assert console.driver.find_elements(By.ID, "write-key-panel") == []
    assert key not in console.driver.page_source


def test_add_integration_follows_the_management_ui_steps_and_stores_what_was_entered(
    console: Console, journey: Journey
) -> None:
    journey.need("source_id")
    # GIVEN Integrations > Add Integration
    console.link("Integrations").click()
    console.heading("Integrations")
    console.link("Add integration").click()
    console.heading("Add integration")

    # WHEN Meta Conversions API is chosen THEN the four variants are radio cards listing their events
    console.labelled("Meta Conversions API").click()
    retail = console.labelled("Retail")
    assert retail.get_attribute("type") == "radio"
    cards = console.driver.find_elements(By.CSS_SELECTOR, ".variant-step .radio-card-title")
    assert [c.text for c in cards] == ["Retail", "Travel", "B2B / SaaS", "Default"]
    retail_card = retail.find_element(By.XPATH, "./ancestor::*[contains(@class,'radio-card')][1]")
    assert "Order Completed → Purchase" in retail_card.text
    assert "full e-commerce funnel" in retail_card.text
    vendors = console.api("GET", "/vendors")["items"]
    retail_events = next(v for v in vendors[0]["variants"] if v["name"] == "retail")["events"]
    for mapped in retail_events:  # the card lists what the server maps, all of it
        assert f"{mapped['event']} → {mapped['meta_event']}" in retail_card.text
    console.labelled("Retail").click()
    assert retail.is_selected()

    # WHEN the pixel id is not numeric THEN the error is beside the pixel field as typed, and on Save
    Select(console.labelled("Source")).select_by_value(journey.source_id)
    console.fill(console.labelled("Name"), "Meta CAPI Production")
    pixel = console.labelled("Pixel ID")
    assert pixel.get_attribute("inputmode") == "numeric"
    console.fill(pixel, "abc")
    console.field_error(pixel, "Pixel ID is numeric — find it in Meta Events Manager")
    console.fill(console.labelled("Access token"), ACCESS_TOKEN)
    console.button("Save").click()
    console.field_error(pixel, "Pixel ID is numeric — find it in Meta Events Manager")
    assert console.driver.switch_to.active_element == pixel  # the focus went to the problem
    console.axe("add-integration-errors")
    # AND the server's own 422 for config.pixel_id lands there too (33 digits: numeric, but too long)
    console.fill(pixel, "1" * 33)
    assert console.error_of(pixel) == ""  # digits only: the as-typed check is satisfied
    console.button("Save").click()
    console.field_error(pixel, "Pixel ID is numeric — find it in Meta Events Manager")
    assert console.api("GET", "/integrations")["items"] == []  # nothing was stored

    # WHEN the product description's values are entered, with the consent chip "advertising"
    console.fill(pixel, PIXEL)
    assert console.error_of(pixel) == ""
    token = console.labelled("Access token")
    assert token.get_attribute("type") == "password"
    assert token.get_attribute("autocomplete") == "off"
    console.fill(token, ACCESS_TOKEN)
    chip = console.button("advertising")
    assert chip.get_attribute("aria-pressed") == "false"
    chip.click()
    assert chip.get_attribute("aria-pressed") == "true"
    # AND, under Advanced, refunds dropped (never sent), a default country and Limited Data Use
    console.driver.find_element(By.XPATH, "//summary[normalize-space(.)='Advanced']").click()
    console.button("Add mapping").click()
    spec_event = console.driver.switch_to.active_element  # the new row's first field has the focus
    assert spec_event.get_attribute("aria-label") == "Spec event, mapping 1"
    spec_event.send_keys("Order Refunded")
    console.labelled("Drop").click()
    meta_event = console.driver.find_element(By.CSS_SELECTOR, "[aria-label='Meta event, mapping 1']")
    assert not meta_event.is_enabled()
    console.fill(console.labelled("Default country"), "gb")
    console.labelled("Limited Data Use (LDU)").click()
    console.axe("add-integration")
    console.screenshot("add-integration")
    console.button("Save").click()

    # THEN the integration's page opens, saying so
    console.heading("Meta CAPI Production")
    console.text_in("#flash", "saved")
    (stored,) = console.api("GET", "/integrations")["items"]
    assert console.driver.current_url.endswith(f"#/integrations/{stored['id']}")
    # AND it was stored as entered: retail, the pixel, consent advertising, the token's last four only
    assert stored["variant"] == "retail"
    assert stored["vendor"] == "meta_capi"
    assert stored["source_id"] == journey.source_id
    assert stored["config"]["pixel_id"] == PIXEL
    assert stored["consent_categories"] == ["advertising"]
    assert stored["token_last4"] == "oken"
    assert stored["enabled"] is True
    assert stored["config"]["event_mappings"] == {"Order Refunded": None}
    assert stored["config"]["default_country"] == "GB"
    assert stored["config"]["ldu"] == {"country": 0, "state": 0}
    assert "access_token" not in stored["config"]
    journey.integration_id = stored["id"]
    console.axe("integration-settings")
    console.screenshot("integration")


def test_a_source_is_edited_its_key_rotated_and_it_is_not_deleted_while_it_has_integrations(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    journey.need("source_id", "write_key", "integration_id")
    console.link("Sources").click()
    console.heading("Sources")

    # WHEN the source is edited in its dialog (a second origin) THEN the API has both
    console.button("Edit Shop").click()
    dialog = console.shown("dialog[open]")
    origins = console.labelled("Allowed origins", dialog)
    assert console.driver.switch_to.active_element == console.labelled("Name", dialog)
    origins.send_keys("\nhttps://www.shop.example")
    console.button("Save", dialog).click()
    console.until(
        lambda: not console.driver.find_elements(By.CSS_SELECTOR, "dialog[open]"), "the dialog closed"
    )
    console.text_in("main", "Source “Shop” saved.")
    stored = console.api("GET", f"/sources/{journey.source_id}")
    assert stored["allowed_origins"] == ["https://shop.example", "https://www.shop.example"]

    # WHEN it is deleted while it has an integration THEN the console says why not (409)
    console.button("Delete Shop").click()
    console.button("Delete source", console.shown("dialog[open]")).click()
    console.text_in("main", "This source still has integrations")
    assert console.api("GET", f"/sources/{journey.source_id}")["id"] == journey.source_id

    # WHEN its key is rotated (confirmed) THEN the new key is shown once and the old one stops
    console.button("Rotate key of Shop").click()
    console.button("Rotate key", console.shown("dialog[open]")).click()
    panel = console.text_in("#write-key-panel", "(new key)")
    key = console.labelled("Write key", panel).get_attribute("value") or ""
    assert key
    assert key != journey.write_key
    with pytest.raises(urllib.error.HTTPError) as refused:
        track(server, journey.write_key, "ORD-000")
    assert refused.value.code == 401
    journey.write_key = key


def test_a_test_event_code_warns_and_the_test_event_shows_metas_answer(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    journey.need("integration_id")
    # GIVEN the integration has no test event code: sending asks for one, beside its field
    console.link("Integrations").click()
    console.heading("Integrations")
    console.link("Meta CAPI Production").click()
    console.heading("Meta CAPI Production")
    panel = console.tab("Test & health")
    console.button("Send test event", panel).click()
    code = console.labelled("Test event code", panel)
    console.field_error(code, "no test event code")

    # WHEN the code is set in Settings (Step 1: Use Test Event Code) THEN the warning banner shows
    settings = console.tab("Settings")
    console.fill(console.labelled("Test event code", settings), TEST_CODE)
    console.button("Save changes", settings).click()
    banner = console.text_in("#test-code-banner", TEST_CODE_WARNING)
    assert TEST_CODE in banner.text
    stored = console.api("GET", f"/integrations/{journey.integration_id}")
    assert stored["config"]["test_event_code"] == TEST_CODE
    assert stored["token_last4"] == "oken"  # the empty token field kept the token
    assert stored["config"]["event_mappings"] == {"Order Refunded": None}  # unchanged rows not sent

    # WHEN Send test event THEN Meta's answer is shown plainly: ok, 1 event received, an fbtrace_id
    panel = console.tab("Test & health")
    console.button("Send test event", panel).click()
    result = console.text_in("#test-result", "Meta accepted the test event")
    assert console.shown("#test-result .events-received").text == "1"
    fbtrace = console.shown("#test-result .fbtrace").text
    assert re.fullmatch(r"[A-Za-z0-9_\-]{8,}", fbtrace), fbtrace
    assert TEST_CODE in result.text
    assert server.emulator is not None
    sent = [a for a in server.emulator.accepted if a.test_event_code == TEST_CODE]
    assert [a.pixel_id for a in sent] == [PIXEL]
    console.axe("integration-test")
    console.screenshot("test-event")


def test_the_event_debugger_shows_the_payload_as_sent_and_metas_answer(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    journey.need("integration_id", "write_key")
    # GIVEN capture is on for 10 minutes (successes are recorded too)
    panel = console.tab("Event debugger")
    console.fill(console.labelled("Capture successes for N minutes", panel), "10")
    console.button("Capture successes", panel).click()
    console.text_in("#capture-status", "Capturing successes until")
    stored = console.api("GET", f"/integrations/{journey.integration_id}")
    assert stored["debug_until"] is not None
    until = datetime.fromisoformat(stored["debug_until"])
    assert 9 * 60 < (until - datetime.now(UTC)).total_seconds() <= 10 * 60

    # WHEN the site sends a purchase through the collector, and it is delivered
    track(server, journey.write_key, "ORD-001")
    (delivered,) = eventually(
        lambda: deliveries(server, journey.integration_id, "delivered"), "a delivered record"
    )
    # AND, with the token revoked (Meta refuses it: code 190), a second one fails and is parked
    admin(
        server,
        "PATCH",
        f"/integrations/{journey.integration_id}",
        {"config": {"access_token": REVOKED_TOKEN}},
    )
    track(server, journey.write_key, "ORD-002")
    eventually(lambda: deliveries(server, journey.integration_id, "auth"), "a refused delivery recorded")

    # THEN the debugger lists both; a delivery expands to the payload as sent and Meta's answer
    console.button("Refresh", panel).click()
    rows = console.until(
        lambda: (r := panel.find_elements(By.CSS_SELECTOR, "tr.delivery-row")) and len(r) >= 2 and r,
        "two deliveries listed",
    )
    statuses = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
    assert "Delivered" in statuses, statuses
    assert "Token refused" in statuses, statuses
    row = rows[statuses.index("Delivered")]
    expand = row.find_element(By.CSS_SELECTOR, "button[aria-expanded]")
    assert expand.get_attribute("aria-expanded") == "false"
    expand.click()
    assert expand.get_attribute("aria-expanded") == "true"
    detail = console.driver.find_element(By.ID, expand.get_attribute("aria-controls") or "")
    assert detail.is_displayed()
    payload = json.loads(detail.find_element(By.CSS_SELECTOR, "pre").text)
    assert payload["event_name"] == "Purchase"
    assert HEX64.fullmatch(payload["user_data"]["em"])
    assert payload["user_data"]["em"] == hashlib.sha256(EMAIL.lower().encode()).hexdigest()
    assert payload["custom_data"]["value"] == 129.99
    fbtrace = detail.find_element(By.CSS_SELECTOR, ".fbtrace").text
    assert fbtrace
    assert fbtrace == delivered["fbtrace_id"]

    # AND the status filter narrows the list to the refusals
    Select(console.labelled("Status", panel)).select_by_value("auth")
    console.button("Apply filters", panel).click()
    console.until(
        lambda: (
            (r := panel.find_elements(By.CSS_SELECTOR, "tr.delivery-row"))
            and all(x.find_elements(By.TAG_NAME, "td")[1].text == "Token refused" for x in r)
        ),
        "only refused deliveries listed",
    )
    Select(console.labelled("Status", panel)).select_by_value("")
    console.button("Apply filters", panel).click()
    row = console.until(
        lambda: next(
            (
                r
                for r in panel.find_elements(By.CSS_SELECTOR, "tr.delivery-row")
                if r.find_elements(By.TAG_NAME, "td")[1].text == "Delivered"
            ),
            None,
        ),
        "the delivered row again",
    )
    row.find_element(By.CSS_SELECTOR, "button[aria-expanded]").click()
    console.axe("integration-debugger")
    console.screenshot("debugger")


def test_match_quality_shows_a_bar_per_match_key_with_its_share_as_text(
    console: Console, journey: Journey
) -> None:
    journey.need("integration_id")
    panel = console.tab("Match quality")
    chart = console.shown("table.match-keys", panel)
    keys = [r.get_attribute("data-key") for r in chart.find_elements(By.CSS_SELECTOR, "tbody tr")]
    expected = ["em", "ph", "fn", "ln", "external_id", "fbp", "fbc", "client_ip_address", "client_user_agent"]
    assert keys == expected
    email = chart.find_element(By.CSS_SELECTOR, "tr[data-key='em']")
    assert email.find_element(By.CSS_SELECTOR, ".pct").text == "100%"  # the one delivered purchase had em
    width = console.js(
        "return arguments[0].getBoundingClientRect().width", email.find_element(By.CSS_SELECTOR, ".bar-fill")
    )
    assert width > 0
    phone = chart.find_element(By.CSS_SELECTOR, "tr[data-key='ph']")
    assert phone.find_element(By.CSS_SELECTOR, ".pct").text == "0%"
    stats = console.api("GET", f"/integrations/{journey.integration_id}/stats?hours=24")
    ph = next(k for k in stats["match_keys"] if k["key"] == "ph")
    if ph["low"]:  # the server's advice is shown where it says the share is low
        assert ph["advice"] in phone.text
    console.axe("integration-quality")
    console.screenshot("match-quality")


def test_the_dead_letter_queue_counts_the_refusal_and_redrives_it_from_the_page(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    journey.need("integration_id")
    # GIVEN the integrations list: the refused token shows as the row's health and a DLQ count
    console.link("Integrations").click()
    console.heading("Integrations")
    row = console.until(
        lambda: next(
            (
                r
                for r in console.driver.find_elements(By.CSS_SELECTOR, "tbody tr")
                if journey.integration_id in r.text and "Token refused" in r.text
            ),
            None,
        ),
        "the row's health: Token refused",
    )
    cells = row.find_elements(By.TAG_NAME, "td")
    console.until(lambda: cells[5].text not in ("…", "") and cells[5].text, "the DLQ count")
    assert int(cells[5].text.rstrip("+")) >= 1
    # AND the row's Check asks Meta now: the token is refused
    console.button("Check Meta CAPI Production").click()
    console.until(
        lambda: "Token invalid or expired" in row.find_element(By.CSS_SELECTOR, ".check-result").text,
        "the row's check: Token invalid or expired",
    )
    console.axe("integrations")
    console.screenshot("integrations")

    # WHEN the dead-letter queue is opened THEN it counts the message under reason auth
    console.link("Dead-letter queue").click()
    console.heading("Dead-letter queue")
    auth = console.shown("table.by-reason [data-reason='auth']")
    assert int(auth.text) >= 1

    # WHEN a dry run is asked for this integration's auth messages THEN it reports without moving
    Select(console.labelled("Integration")).select_by_value(journey.integration_id)
    Select(console.labelled("Reason")).select_by_value("auth")
    console.fill(console.labelled("Max messages"), "1")  # the purchase, once (its token is still refused)
    console.button("Dry run").click()
    report = console.text_in("#redrive-report", "Dry run: nothing was moved")
    assert int(report.find_element(By.CSS_SELECTOR, "[data-field='eligible']").text) >= 1
    assert report.find_element(By.CSS_SELECTOR, "[data-field='moved']").text == "0"

    # WHEN Redrive is pressed THEN a dialog asks first (focus in it; Escape cancels, focus comes back)
    redrive = console.button("Redrive")
    redrive.click()
    dialog = console.shown("dialog[open]")
    assert dialog.find_element(By.TAG_NAME, "h2").text == "Redrive dead-lettered events?"
    active = console.driver.switch_to.active_element
    assert active.text == "Cancel"
    assert dialog.find_elements(By.XPATH, ".//button[normalize-space(.)='Cancel']") == [active]
    active.send_keys(Keys.ESCAPE)
    console.until(
        lambda: not console.driver.find_elements(By.CSS_SELECTOR, "dialog[open]"), "the dialog closed"
    )
    assert console.driver.switch_to.active_element == redrive
    assert "Dry run" in console.shown("#redrive-report").text  # nothing ran
    # AND confirming moves the message back to the events queue
    redrive.click()
    console.button("Redrive", console.shown("dialog[open]")).click()
    report = console.text_in("#redrive-report", "Redrive done")
    assert report.find_element(By.CSS_SELECTOR, "[data-field='moved']").text == "1"
    assert report.find_element(By.CSS_SELECTOR, "[data-field='failed']").text == "0"
    console.axe("dlq")
    console.screenshot("dlq")

    # AND the redriven purchase is refused again (the token is still revoked) and parked again; once
    # the token is fixed (a token change redrives its reason=auth messages) it reaches Meta
    emulator = server.emulator
    assert emulator is not None
    eventually(
        lambda: admin(server, "GET", "/dlq")["by_integration"].get(journey.integration_id),
        "the redriven purchase parked again",
    )
    fixed = admin(
        server, "PATCH", f"/integrations/{journey.integration_id}", {"config": {"access_token": ACCESS_TOKEN}}
    )
    assert fixed["redrive"]["moved"] >= 1
    eventually(
        lambda: any(a.event.get("custom_data", {}).get("order_id") == "ORD-002" for a in emulator.accepted),
        "ORD-002 delivered after the token fix",
    )


def test_check_connection_shows_the_status_and_what_to_do(
    console: Console, server: LocalServer, journey: Journey
) -> None:
    journey.need("integration_id")
    console.go(f"#/integrations/{journey.integration_id}/test")
    console.heading("Meta CAPI Production")
    panel = console.shown("#panel-test")
    console.button("Check connection", panel).click()
    result = console.text_in("#health-result", "Connected", timeout=15)
    assert "the token is valid for this pixel" in result.text
    assert PIXEL in result.text
    assert "Dead-letter queue" in result.text
    # AND with a refused token, the check says what to do: the server's advice for code 190
    admin(
        server,
        "PATCH",
        f"/integrations/{journey.integration_id}",
        {"config": {"access_token": REVOKED_TOKEN}},
    )
    console.button("Check connection", panel).click()
    result = console.text_in("#health-result", "Token invalid or expired", timeout=15)
    assert "generate a new system-user token" in result.text
    assert "190" in result.text
    admin(
        server, "PATCH", f"/integrations/{journey.integration_id}", {"config": {"access_token": ACCESS_TOKEN}}
    )

    # AND Disable / Enable switch the integration (conditional on its version: the API changed it
    # meanwhile, so the first try is refused and the page shows the current version)
    console.button("Disable").click()
    console.text_in("main", "It changed meanwhile")
    assert console.api("GET", f"/integrations/{journey.integration_id}")["enabled"] is True
    console.button("Disable").click()
    console.text_in("main", "Integration disabled")
    assert console.api("GET", f"/integrations/{journey.integration_id}")["enabled"] is False
    assert console.driver.switch_to.active_element.text == "Enable"  # the focus stays on the switch
    console.button("Enable").click()
    console.text_in("main", "Integration enabled")
    assert console.api("GET", f"/integrations/{journey.integration_id}")["enabled"] is True


def test_sign_in_and_the_add_integration_form_work_with_the_keyboard_alone(console: Console) -> None:
    # GIVEN a new session, nothing but keys pressed on the focused element from here on
    console.js("sessionStorage.clear();")
    console.go("#/integrations/new")
    console.heading("Sign in")
    keys = Keyboard(console)

    keys.tab_to(lambda el: el.get_attribute("type") == "password", "the token field")
    keys.type(ADMIN_TOKEN)
    keys.press(Keys.ENTER)
    console.heading("Add integration")  # back where the session was asked for

    # the navigation: to Sources and back to Integrations, then the Add integration link
    keys.tab_to(lambda el: el.text == "Sources" and el.tag_name == "a", "the Sources link", backwards=True)
    keys.press(Keys.ENTER)
    console.heading("Sources")
    keys.tab_to(
        lambda el: el.text == "Integrations" and el.tag_name == "a", "the Integrations link", backwards=True
    )
    keys.press(Keys.ENTER)
    console.heading("Integrations")
    keys.tab_to(lambda el: el.text == "Add integration", "the Add integration link")
    keys.press(Keys.ENTER)
    console.heading("Add integration")

    # the destination and the variant cards are radios: Space picks, arrows move, the focus is visible
    keys.tab_to(lambda el: el.get_attribute("value") == "meta_capi", "the Meta Conversions API card")
    keys.press(Keys.SPACE)
    assert keys.active().is_selected()
    keys.tab_to(lambda el: el.get_attribute("value") == "retail", "the Retail card")
    keys.press(Keys.SPACE)
    keys.press(Keys.ARROW_DOWN)
    assert keys.active().get_attribute("value") == "travel"
    assert keys.active().is_selected()
    keys.press(Keys.ARROW_UP)
    retail = keys.active()
    assert retail.get_attribute("value") == "retail"
    assert retail.is_selected()
    card = retail.find_element(By.XPATH, "./ancestor::*[contains(@class,'radio-card')][1]")
    assert console.js("return getComputedStyle(arguments[0]).outlineStyle", card) != "none"

    # the pixel field, and a consent chip toggled with Space
    keys.tab_to(lambda el: el.get_attribute("inputmode") == "numeric", "the Pixel ID field")
    keys.type("12x")
    assert "Pixel ID is numeric" in console.error_of(keys.active())
    keys.tab_to(lambda el: el.text == "marketing", "the marketing chip")
    keys.press(Keys.SPACE)
    assert keys.active().get_attribute("aria-pressed") == "true"


class Keyboard:
    """Keys sent to whatever has the focus (switch_to.active_element), like a keyboard user."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def active(self) -> WebElement:
        return self.console.driver.switch_to.active_element

    def press(self, key: str) -> None:
        self.active().send_keys(key)

    def type(self, text: str) -> None:
        self.active().send_keys(text)

    def tab_to(self, wanted: Callable[[WebElement], bool], what: str, *, backwards: bool = False) -> None:
        for _ in range(60):
            self.press(Keys.SHIFT + Keys.TAB if backwards else Keys.TAB)
            try:
                if wanted(self.active()):
                    return
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"{what} was not reached with the Tab key")


def test_every_page_was_checked_by_axe_and_photographed(journey: Journey) -> None:
    assert set(AXE_PAGES) <= journey.axe_checked, sorted(set(AXE_PAGES) - journey.axe_checked)
    assert set(SCREENSHOTS) == journey.screenshots, sorted(set(SCREENSHOTS) - journey.screenshots)
    for name in SCREENSHOTS:
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000, name
