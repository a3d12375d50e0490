"""`mella report` on a real run folder, opened in headless Chromium (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mella.cli import main

ARTIFACTS = Path(os.environ.get("MELLA_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "test-artifacts"))
HOSTILE = '<script>alert("alt")</script><img src=x onerror=alert(2)>'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def run_dir(demo_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "demo"
    shutil.copytree(demo_run, run)
    # Alt-texts are untrusted web content: plant a hostile one in the rows the gallery shows.
    part = sorted((run / "score").glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    alts = table["alt"].to_pylist()
    alts[0] = HOSTILE
    pq.write_table(table.set_column(table.schema.get_field_index("alt"), "alt", [alts]), part)
    # Two evaluations to compare: hand-made predictions, as users make them from other tools.
    rows = [{"id": "1", "lang": "ru", "source": "know", "prediction": "Спрайт Космический корабль и Земля",
             "references": ["Спрайты Космический корабль и Земля"]},
            {"id": "2", "lang": "ko", "source": "ling", "prediction": "우주선과 지구",
             "references": ["우주선과 지구 스프라이트"]}]
    for name, preds in (("base", [{**r, "prediction": "image"} for r in rows]), ("tuned", rows)):
        path = run / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in preds), encoding="utf-8")
        assert main(["evaluate", str(path), "--out", str(run / "eval" / name)]) == 0
    return run


def test_report_content_is_escaped_and_complete(run_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    assert main(["report", str(run_dir), "--compare", str(other)]) == 0
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;alt&#34;)&lt;/script&gt;" in html and HOSTILE not in html
    assert "script-src" not in html and "default-src 'none'" in html  # no script may run at all
    for section in ('id="funnel"', 'id="drops"', 'id="distributions"', 'id="culture"', 'id="gallery"',
                    'id="metrics"', 'id="comparison"'):
        assert section in html
    assert "<svg" in html and "data:image/jpeg;base64," in html
    assert "eval/tuned" in html and "keyword_accuracy" in html
    assert "eval/tuned: entity accuracy" in html and '<table id="culture-categories">' in html
    assert "From build: entity keywords" in html  # D_know samples, not the test split's predictions


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make install installs it as root)")
def test_report_in_headless_chromium(run_dir):
    from playwright.sync_api import sync_playwright

    out = run_dir / "report.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    messages, dialogs, failed = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(out.as_uri(), wait_until="load")
        images = page.eval_on_selector_all(".gallery img", "els => els.map(e => [e.complete, e.naturalWidth])")
        charts = page.eval_on_selector_all(".chart svg", "els => els.map(e => e.getBoundingClientRect().width)")
        text = page.inner_text("body")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert messages == [] and failed == []
    assert dialogs == []  # the hostile alt-text stayed inert
    assert HOSTILE in text  # ... and is shown as text
    assert len(images) >= 8 and all(done and width > 0 for done, width in images)
    assert len(charts) >= 4 and all(width > 100 for width in charts)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
