"""A small synthetic run folder for the rate core tests: ``fetch`` (a real WebDataset tar of real images from
examples/sites, written with the fetch stage's writer), ``build`` (BUILT rows: know, ling and a two-turn sample)
and two predictions folders whose part markers name the build part they were made from, as predict writes them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mella.fetch.wds import TarWriter
from mella.records import BUILT, PREDICTIONS

SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
IMAGES = [
    SITES / "th__raspberrypilearning__lost-in-space/th-TH/images/sprite-spaceship.png",
    SITES / "ko__raspberrypilearning__lost-in-space/ko-KR/images/sprite-monkey.png",
    SITES / "ko__raspberrypilearning__lost-in-space/ko-KR/images/sprite-star.png",
    SITES / "hu__SalsaBoy990__SalsaBoy990.github.io/assets/sagagis/shell.jpg",
]
KEYS = [f"{i:020x}" for i in range(1, len(IMAGES) + 1)]
# Two system names nothing else in the fixture contains, so a leak is easy to see.
SYSTEMS = ("predict_zebra", "predict_quokka")


def jpeg(path: Path, side: int = 96) -> bytes:
    """A real image, made small, as the JPEG bytes fetch would store."""
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _part(folder: Path, rows: list[dict[str, Any]], schema: pa.Schema | None = None,
          marker: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / "part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), part)
    (folder / "part-00000._SUCCESS").write_text(json.dumps({"part": "part-00000", "rows": len(rows),
                                                            **(marker or {})}), encoding="utf-8")
    (folder / "_SUCCESS").write_text("{}", encoding="utf-8")
    return part


def built(sid: str, key: str, lang: str, source: str, response: str, caption: str | None = None,
          instruction: str = "Опишите изображение.", **extra: Any) -> dict[str, Any]:
    row = dict.fromkeys(BUILT.names)
    row.update(id=sid, key=key, lang=lang, source=source, instruction=instruction, response=response,
               split="test", variant="alt" if source == "know" else "translation", recipe="mella",
               turns=[{"source": source, "instruction": instruction, "response": response}], caption=caption)
    row.update(extra)
    return row


def build_rows() -> list[dict[str, Any]]:
    return [
        built("know-ru-1", KEYS[0], "ru", "know", "Космический корабль над Москвой", culture_score=0.9),
        built("know-ru-2", KEYS[1], "ru", "know", "Обезьяна в скафандре", culture_score=0.2),
        built("know-ru-3", KEYS[2], "ru", "know", "Звезда", culture_score=0.4),
        built("know-ru-1b", KEYS[0], "ru", "know", "Космический корабль над Москвой"),  # same image and text
        built("ling-ru-1", KEYS[0], "ru", "ling", "Мультяшный космический корабль", "A cartoon spaceship."),
        built("ling-ru-2", KEYS[1], "ru", "ling", "Обезьяна в космосе", "A monkey in space."),
        built("ling-ru-2-cs", KEYS[1], "ru", "ling", "Monkey в космосе", "A monkey in space.",
              variant="code_switch"),
        built("know-ko-1", KEYS[3], "ko", "know", "서울의 풍경"),
        built("know-sr-Cyrl-1", KEYS[3], "sr-Cyrl", "know", "Поглед на Београд"),
        built("know-sr-Latn-1", KEYS[2], "sr-Latn", "know", "Pogled na Novi Sad"),
    ]


def prediction(sid: str, text: str | None, model: str) -> dict[str, Any]:
    return {"id": sid, "lang": "ru", "source": "know" if sid.startswith("know") else "ling", "prediction": text,
            "references": ["ref"], "keywords": None, "keyword_kinds": None, "model": model}


def make_run(root: Path) -> Path:
    """The run folder (see the module docstring); predictions: A has know-ru-1/2/3 and ling-ru-1 (and a null
    answer for ling-ru-2), B has know-ru-2/3, ling-ru-1/2."""
    run = root / "run"
    (run / "fetch").mkdir(parents=True)
    rows = []
    with TarWriter(run / "fetch" / "part-00000.tar") as tar:
        for key, path in zip(KEYS, IMAGES, strict=True):
            offset, size = tar.add(key, "jpg", jpeg(path), {"key": key})
            rows.append({"key": key, "status": "ok", "tar_offset": offset, "tar_size": size})
    _part(run / "fetch", rows)
    build_part = _part(run / "build", build_rows(), BUILT)
    marker = {"source": f"../build/{build_part.name}"}
    a = [prediction(s, f"ответ A {s}", "model-a") for s in ("know-ru-1", "know-ru-2", "know-ru-3", "ling-ru-1")]
    a.append(prediction("ling-ru-2", None, "model-a"))
    b = [prediction(s, f"ответ B {s}", "model-b") for s in ("know-ru-2", "know-ru-3", "ling-ru-1", "ling-ru-2")]
    _part(run / SYSTEMS[0], a, PREDICTIONS, marker)
    _part(run / SYSTEMS[1], b, PREDICTIONS, marker)
    return run


def write_items_parquet(folder: Path, predictions: str, scores: dict[str, dict[str, float]]) -> Path:
    """An evaluate step's output: items.parquet (id, lang, source, metrics) and a _SUCCESS naming its input."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": sid, "lang": "ru", "source": "know", **s} for sid, s in scores.items()]
    pq.write_table(pa.Table.from_pylist(rows), folder / "items.parquet")
    (folder / "_SUCCESS").write_text(json.dumps({"inputs": [f"../{predictions}"], "stage": "evaluate"}),
                                     encoding="utf-8")
    return folder / "items.parquet"
