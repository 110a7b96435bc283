"""Headless Debian chromium through the system chromedriver, offline (Selenium Manager never downloads a
browser or driver, chromium never reaches out): what the browser suites share. `make browser` installs both."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root on CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine has no outside network: chromium must not try
    "--disable-component-update",
    "--disable-sync",
)


def chromium(
    profile: Path, flags: Iterable[str] = (), capabilities: dict[str, Any] | None = None
) -> WebDriver:
    """A new headless chromium with a throwaway `profile` and FLAGS plus `flags`; fails the test (never
    skips it) when chromium or chromedriver is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: run `make browser` (installs Debian's chromium and "
            "chromium-driver)",
            pytrace=False,
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, *flags, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager never downloads a browser or driver
        return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
