"""tools/measure_filter.py: the real path (collect -> filter -> dedup at defaults) over the labelled saved pages.

The floors here guard against regressions on the dev split; the figures themselves (both splits, the demo sites)
are in docs/filter.md. Holdout rows are measured, never listed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("measure_filter", ROOT / "tools" / "measure_filter.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure_filter"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def web(tool):
    args = argparse.Namespace(labels=tool.LABELS, web=tool.WEB)
    return tool.web_material(args)


def test_web_pages_dev_figures(web):
    fig, _ = web
    dev = fig["dev"]
    good, kept = sum(dev["good"].values()), sum(dev["kept"].values())
    found, wanted = sum(dev["found"].values()), sum(dev["wanted"].values())
    assert kept and wanted
    assert good / kept >= 0.8, (good, kept)
    assert found / wanted >= 0.6, (found, wanted)
    assert "holdout" in fig  # measured too


def test_holdout_rows_are_never_listed(tool, capsys):
    with pytest.raises(SystemExit, match="holdout rows are measured, never listed"):
        tool.main(["--show", "holdout", "--no-sites"])


def test_person_names_are_judged_by_their_page(tool):
    row = {"kind": "entity", "lang": "und", "alt": "Đông Nhi", "page_lang": "vi", "note": "person name"}
    assert tool.gold_language(row) == "vi"
    assert tool.gold_language({**row, "page_lang": "sr", "alt": "Лука Петровић"}) == "sr-Cyrl"
    assert tool.gold_language({**row, "note": "film title"}) == "und"
    assert tool.gold_language({**row, "kind": "name"}) == "und"
