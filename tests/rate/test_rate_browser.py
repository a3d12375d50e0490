"""`mella rate` in headless Chromium (Debian's chromium, driven by Playwright), as raters use it: two raters rate
the same 10 Thai items through the real page, with clicks and with the keyboard; the server is killed with SIGKILL
mid-way and restarted; nothing is lost, and mella's agreement equals Krippendorff's alpha worked out by hand.
Screenshots of a Thai and an Arabic (right-to-left) item go to build/test-artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the rate extra is not installed")
pytest.importorskip("uvicorn", reason="the rate extra is not installed")

from ratekit import ARABIC, THAI, make_run  # noqa: E402

from mella.rate.analysis import analyse  # noqa: E402
from mella.rate.store import RatingStore, default_path  # noqa: E402
from mella.rate.tasks import item_id  # noqa: E402

ARTIFACTS = Path(os.environ.get("MELLA_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]

# What the two raters enter for Thai sample i (item "th-0i-know"): (relevance, correctness).
# Krippendorff's alpha by hand, ordinal, 2 raters x 10 items, no missing values, so every item adds 1 to the
# coincidence o[c][k] and 1 to o[k][c] for its pair (c, k) of values, and n = 20 pairable values.
#
# relevance: pairs (4,4) x5 (items 0-3, 9), (2,2) x3 (items 4-6), (2,4) x2 (items 7, 8)
#   o44 = 10, o22 = 6, o24 = o42 = 2; n4 = 12, n2 = 8. With only two values used, the ordinal distance
#   d2(2,4) = (n2 + n3 + n4 - (n2 + n4) / 2)^2 = (20 - 10)^2 = 100 (n3 = 0) is the only non-zero one:
#   D_o = (o24 + o42) * 100 / n = 4 * 100 / 20 = 20
#   D_e = (n2 * n4 + n4 * n2) * 100 / (n (n - 1)) = 192 * 100 / 380 = 50.526...
#   alpha = 1 - 20 / 50.526 = 1 - 380 / 960 = 29 / 48 = 0.604166...
# correctness: pairs (5,5) x3 (items 0, 1, 6), (3,3) x2 (items 2, 7), (1,1) x2 (items 4, 8),
#   (3,5) x2 (items 3, 9), (1,3) x1 (item 5)
#   o55 = 6, o33 = 4, o11 = 4, o35 = o53 = 2, o13 = o31 = 1; n5 = 8, n3 = 7, n1 = 5 (sum 20).
#   Ordinal distances (n2 = n4 = 0): d2(1,3) = (n1 + n2 + n3 - (n1 + n3) / 2)^2 = (12 - 6)^2 = 36,
#   d2(3,5) = (n3 + n4 + n5 - (n3 + n5) / 2)^2 = (15 - 7.5)^2 = 56.25, d2(1,5) = (20 - 6.5)^2 = 182.25.
#   D_o = (2 * 1 * 36 + 2 * 2 * 56.25) / 20 = (72 + 225) / 20 = 14.85
#   D_e = (2 * 5 * 7 * 36 + 2 * 7 * 8 * 56.25 + 2 * 5 * 8 * 182.25) / 380 = (2520 + 6300 + 14580) / 380 = 23400 / 380
#   alpha = 1 - 14.85 * 380 / 23400 = 1 - 5643 / 23400 = 17757 / 23400 = 1973 / 2600 = 0.758846...
PLAN = {
    "alice": {"relevance": [4, 4, 4, 4, 2, 2, 2, 2, 4, 4], "correctness": [5, 5, 3, 3, 1, 1, 5, 3, 1, 5]},
    "bob": {"relevance": [4, 4, 4, 4, 2, 2, 2, 4, 2, 4], "correctness": [5, 5, 3, 5, 1, 3, 5, 3, 1, 3]},
}
ALPHA = {"relevance": 29 / 48, "correctness": 1973 / 2600}
QUESTIONS = ("relevance", "correctness")


def start(run: Path, lang: str, port: int, log: Path) -> tuple[subprocess.Popen, str, str]:
    """`mella rate` as a subprocess; (process, URL, what it printed before serving)."""
    code = "import sys; from mella.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "rate", str(run), "--lang", lang, "--know", "10", "--ling", "0",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=log.open("ab"), text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    printed = []
    for line in proc.stdout:
        printed.append(line)
        if "serving http://" in line:
            url = line.split("serving ", 1)[1].split()[0]
            return proc, url, "".join(printed)
    proc.wait(10)
    raise AssertionError(f"mella rate did not start: {''.join(printed)} {log.read_text(errors='replace')}")


def page_data(page) -> dict:
    return json.loads(page.text_content("#page-data"))


class Rater:
    """One rater's browser context and what they entered."""

    def __init__(self, browser, name: str, messages: list[str]):
        self.name = name
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.on("console", lambda m: messages.append(f"{name} {m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: messages.append(f"{name} pageerror: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and messages.append(f"{name} HTTP {r.status} {r.url}"))
        self.page.on("dialog", lambda d: (messages.append(f"{name} dialog: {d.message}"), d.dismiss()))

    def sign_in(self, url: str) -> None:
        self.page.goto(url)
        assert self.page.url.endswith("/login")
        self.page.fill('input[name="name"]', self.name)
        with self.page.expect_navigation():
            self.page.click('button[type="submit"]')
        with self.page.expect_navigation():
            self.page.click('li[data-kind="know"] a')

    def rate(self, samples: dict[str, int], by: str, questions=QUESTIONS, go_on: bool = True) -> int:
        """Answer the item on screen as PLAN says, by mouse or keyboard; then Save and next. Its sample index."""
        page = self.page
        data = page_data(page)
        i = samples[data["item_id"]]
        for q in questions:
            value = str(PLAN[self.name][q][i])
            if by == "click":
                page.click(f'fieldset[data-question="{q}"] label:has(input[value="{value}"])')
            else:
                page.keyboard.press(value)  # goes to the first unanswered question
            page.wait_for_selector(f'fieldset[data-question="{q}"][data-state="saved"]')
            assert page.is_checked(f'fieldset[data-question="{q}"] input[value="{value}"]')
        if go_on:
            with page.expect_navigation():
                if by == "click":
                    page.click("#next")
                else:
                    page.keyboard.press("Enter")
        return i


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make install installs it as root)")
@pytest.mark.timeout(300)
def test_two_raters_a_killed_server_and_the_agreement(tmp_path):
    from playwright.sync_api import sync_playwright

    run = make_run(tmp_path, {"th": THAI, "ar": ARABIC})
    samples = {item_id("know", "th", f"th-{i:02d}-know"): i for i in range(10)}
    log = tmp_path / "server.log"
    proc, url, printed = start(run, "th", 0, log)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert "10 know" in printed and "(20 new)" in printed  # 10 pairwise + 10 know + 0 ling, built once
    messages: list[str] = []
    entered: dict[str, list[int]] = {"alice": [], "bob": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        alice, bob = Rater(browser, "alice", messages), Rater(browser, "bob", messages)
        for rater in (alice, bob):
            rater.sign_in(url)
        # First half: alice alternates mouse and keyboard; bob the other way round; they interleave.
        for step in range(5):
            entered["alice"].append(alice.rate(samples, "click" if step % 2 else "key"))
            if step < 4:
                entered["bob"].append(bob.rate(samples, "key" if step % 2 else "click"))
        # The image zooms, and Escape closes it.
        alice.page.click("#zoom-open")
        assert alice.page.is_visible("#zoom")
        alice.page.keyboard.press("Escape")
        assert alice.page.is_hidden("#zoom")
        # Alice answers one question of her sixth item (saved at once), then the server dies.
        half = alice.rate(samples, "key", questions=("relevance",), go_on=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        alice.page.screenshot(path=str(ARTIFACTS / "rate-th.png"), full_page=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with RatingStore(default_path(run)) as store:
            assert len(store.judgements("th")) == 5 * 2 + 4 * 2 + 1

        proc, url2, printed = start(run, "th", port, log)
        assert url2 == url and "(0 new)" in printed
        # Alice reloads: the same item, with the answer she gave before the kill; she gives the other one.
        alice.page.reload()
        assert samples[page_data(alice.page)["item_id"]] == half
        assert alice.page.is_checked(f'fieldset[data-question="relevance"] '
                                     f'input[value="{PLAN["alice"]["relevance"][half]}"]')
        entered["alice"].append(alice.rate(samples, "click", questions=("correctness",)))
        # Bob comes back through the task list and resumes at his first unanswered item; Backspace shows the
        # one before with his answers, Enter brings him back.
        bob.page.goto(url)
        with bob.page.expect_navigation():
            bob.page.click('li[data-kind="know"] a')
        resumed = page_data(bob.page)
        assert resumed["done"] == 4 and samples[resumed["item_id"]] not in entered["bob"]
        with bob.page.expect_navigation():
            bob.page.keyboard.press("Backspace")
        before = page_data(bob.page)
        assert samples[before["item_id"]] == entered["bob"][-1] and len(before["answers"]) == 2
        with bob.page.expect_navigation():
            bob.page.keyboard.press("Enter")
        assert page_data(bob.page)["item_id"] == resumed["item_id"]
        while len(entered["bob"]) < 10 or len(entered["alice"]) < 10:
            for rater in (alice, bob):
                if len(entered[rater.name]) < 10:
                    by = "key" if len(entered[rater.name]) % 2 else "click"
                    entered[rater.name].append(rater.rate(samples, by))
        for rater in (alice, bob):
            assert "finished=know" in rater.page.url
            assert rater.page.is_visible("p.note")
            assert "10" in rater.page.text_content('li[data-kind="know"] .count')
        browser.close()

    # Arabic: the page is right-to-left, answer A sits on the right, and the arrows point at the sides.
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    proc, url, _ = start(run, "ar", 0, log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            rater = Rater(browser, "layla", messages)
            page = rater.page
            page.goto(url)
            page.fill('input[name="name"]', "layla")
            with page.expect_navigation():
                page.click('button[type="submit"]')
            with page.expect_navigation():
                page.click('li[data-kind="pairwise"] a')
            assert page.evaluate("document.documentElement.dir") == "rtl"
            assert page.evaluate("document.documentElement.lang") == "ar"
            box_a = page.locator('.output[data-side="A"]').bounding_box()
            box_b = page.locator('.output[data-side="B"]').bounding_box()
            assert box_a["x"] > box_b["x"]  # A first, on the right
            page.keyboard.press("ArrowRight")  # the right-hand answer: A
            page.wait_for_selector('fieldset[data-question="preference"][data-state="saved"]')
            assert page.is_checked('input[name="preference"][value="A"]')
            page.keyboard.press("t")
            page.wait_for_function("document.querySelector('input[value=tie]').checked")
            page.wait_for_selector('fieldset[data-question="preference"][data-state="saved"]')
            page.screenshot(path=str(ARTIFACTS / "rate-ar.png"), full_page=True)
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)

    assert [m for m in messages if "error" in m.lower() or "dialog" in m or "HTTP" in m] == [], messages
    with RatingStore(default_path(run)) as store:
        stored = store.judgements("th")
        arabic = store.judgements("ar")
    got = {(j["rater_name"], j["sample_id"], j["question"]): j["value"] for j in stored}
    want = {(name, f"th-{i:02d}-know", q): str(values[q][i]) for name, values in PLAN.items() for q in QUESTIONS
            for i in range(10)}
    assert len(stored) == 2 * 10 * 2 and got == want  # every value entered, once, none lost to the kill
    assert [(j["rater_name"], j["value"]) for j in arabic] == [("layla", "tie")]
    (know,) = [r for r in analyse(stored, n_boot=200) if r["kind"] == "know"]
    for q in QUESTIONS:
        assert know["alpha"][q]["level"] == "ordinal"
        assert know["alpha"][q]["value"] == pytest.approx(ALPHA[q], abs=1e-12)
    for name in ("rate-th.png", "rate-ar.png"):
        assert (ARTIFACTS / name).stat().st_size > 20_000
