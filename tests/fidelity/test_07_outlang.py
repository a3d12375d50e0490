"""Item 7: the output-language rate must not count noise, Russian or Macedonian as Serbian.

Before the fix, a Serbian target checked only the script: any Cyrillic or Latin text passed. Driven through the
real CLI (``mella evaluate``) on a predictions file; the per-item scores in items.parquet are read back.
"""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest

from mella.cli import main

REFERENCE = "Мачка седи на прозору."

SERBIAN = {
    "sr_cyrl_cat": "Мачка седи на прозору и гледа птице у дворишту.",
    "sr_cyrl_boy": "Дечак чита књигу у библиотеци.",
    "sr_cyrl_view": "Поглед на планине и језеро при заласку сунца.",
    "sr_latn_kids": "Deca se igraju u parku pored reke, a sunce sija.",
    "sr_latn_man": "Slika prikazuje čoveka koji drži psa na povocu.",
    "sr_short": "Пас трчи по пољу.",  # under the minimum length: the script rule judges it
}


def _random_cyrillic(seed: int) -> str:
    """Six 'words' of random letters of the basic Cyrillic alphabet."""
    rng = random.Random(seed)
    abc = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
    return " ".join("".join(rng.choice(abc) for _ in range(rng.randint(3, 8))) for _ in range(6))


NOT_SERBIAN = {
    "russian": "Кошка сидит на окне и смотрит на птиц во дворе.",
    "macedonian": "Мачката седи на прозорецот и гледа птици во дворот.",
    "cyrillic_lookalike_caps": "ВАСНОЕ СОРЕ КНРТ ОМА ТЕХО МАРЕ",
    "repeated_letters": "ааа ббб ввв ггг ддд еее жжж ззз иии",
    **{f"random_cyrillic_{seed}": _random_cyrillic(seed) for seed in range(4)},
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Run ``mella evaluate`` once on every prediction; return ({id: counted}, signature)."""
    tmp = tmp_path_factory.mktemp("outlang")
    preds = tmp / "predictions.jsonl"
    rows = [{"id": i, "lang": "sr", "source": "know", "prediction": text, "references": [REFERENCE]}
            for i, text in {**SERBIAN, **NOT_SERBIAN}.items()]
    preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert main(["evaluate", str(preds), "--out", str(tmp / "out"), "--metrics", "output_lang_rate"]) == 0
    items = pq.read_table(tmp / "out" / "items.parquet").to_pylist()
    scores = json.loads((tmp / "out" / "scores.json").read_text(encoding="utf-8"))
    scores = scores["scores"] if isinstance(scores, dict) else scores
    return {r["id"]: r["output_lang_rate"] for r in items}, scores[0]["signature"]


@pytest.mark.parametrize("name", sorted(SERBIAN))
def test_07_real_serbian_in_either_script_counts(judged, name):
    assert judged[0][name] == 1.0


@pytest.mark.parametrize("name", sorted(NOT_SERBIAN))
def test_07_russian_macedonian_and_cyrillic_noise_do_not_count_as_serbian(judged, name):
    assert judged[0][name] == 0.0, NOT_SERBIAN[name]


def test_07_signature_names_the_cascade_the_length_and_the_short_rule(judged):
    assert "|lid:cascade|min_letters:20|short:script|" in judged[1]
