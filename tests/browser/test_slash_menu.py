"""The sandbox page's `/` menu in a real browser, against the real bot (`python bot.py sandbox`): pick a command
from the menu, fill an option from the bot's autocomplete, see the private answer (and another person not see
it), and set a key through the bot's modal."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.process import SandboxProcess
from tests.browser.conftest import browser_missing
from tests.browser.test_page import ANSWER_TIMEOUT_MS, message, open_page

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")

if browser_missing() is None:
    from playwright.sync_api import expect
else:  # the module is skipped; keep the name defined for linters
    expect = None

KEY = "sk-page-SECRET-13572468"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path / "data")
    try:
        yield process.start()
    finally:
        process.stop(signal.SIGINT, strict=False)


def type_slowly(page: Any, text: str) -> None:
    page.locator("#input").press_sequentially(text)


@pytest.mark.slow  # the real bot in a subprocess, and a browser: about 20 s
def test_the_slash_menu_autocomplete_private_answers_and_the_key_form(page: Any, sandbox: SandboxProcess) -> None:
    open_page(page, f"http://127.0.0.1:{sandbox.port}")
    page.locator("#author-switcher .who[data-user='alice']").click()
    menu = page.locator("#slash-menu")

    type_slowly(page, "/tz ad")
    expect(menu.locator(".item[data-value='/tz add']")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    menu.locator(".item[data-value='/tz add']").click()
    expect(page.locator("#input")).to_have_value("/tz add ")
    expect(menu.locator(".item[data-value='name:']")).to_be_visible()
    type_slowly(page, "name:ember")
    page.locator("#input").press("Enter")
    added = message(page, "Tzurot", "Added")
    expect(added).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(added.locator(".only-you")).to_have_text("Only you can see this")

    type_slowly(page, "/tz info personality:em")
    choice = menu.locator(".item[data-value^='Ember']")
    expect(choice).to_be_visible(timeout=ANSWER_TIMEOUT_MS)  # the bot's autocomplete, from the catalogue
    choice.click()
    expect(page.locator("#input")).to_have_value("/tz info personality:ember ")
    page.locator("#input").press("Enter")
    expect(message(page, "Tzurot", "Owner")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)

    page.locator("#author-switcher .who[data-user='bob']").click()  # bob sees none of alice's private answers
    expect(message(page, "Tzurot", "Added")).to_have_count(0)

    page.locator("#author-switcher .who[data-user='alice']").click()
    type_slowly(page, "/tz auth action:key")
    page.locator("#input").press("Enter")
    form = page.locator("#modal")
    expect(form).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    form.locator("input").fill(KEY)
    form.locator("#modal-submit").click()
    expect(message(page, "Tzurot", "Your key is saved")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    assert KEY not in page.content()
