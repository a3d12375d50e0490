"""Item 8 (limits): a hostile member in a fetch tar is a counted skip everywhere stored images are opened.

A real fetch output (real example-site images fetched from the real loopback server) gets two hostile tar
members, appended with the fetch stage's own writer and pointed at by their rows, as an attacker who can
write the tars would: a PNG whose header declares 100000x100000 pixels (10^10; a few hundred bytes on
disk) and bytes that are no image. `mella report`, the caption stage (a tiny random model), predict and
the training data loader skip both with their reasons instead of crashing.
"""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.demo.siteserver import SiteServer, load_sites
from mella.fetch.fetch import FetchStage
from mella.fetch.wds import TarWriter
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import PAIRS, SAMPLES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sites"
SITE = "sr__raspberrypilearning__poetry-generator"
GOOD = 3


def png_header_bomb(side: int = 100_000) -> bytes:
    """A PNG declaring side x side RGB pixels whose IDAT is a few bytes: Pillow learns the size from IHDR."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)  # truncated: the rest of the 30 GB never exists
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _pair(url: str, alt: str) -> dict:
    row = dict.fromkeys(PAIRS.names)
    row.update(page_url=url.rsplit("/", 1)[0] + "/index.html", image_url=url, alt=alt, domain="127.0.0.1",
               source="test", source_offset=-1, lang="sr", lang_confidence=0.99)
    return row


def _plant(fetch: Path, key: str, data: bytes) -> None:
    """Point every row of ``key`` at a new tar member holding ``data`` (the old member stays, unreferenced)."""
    part = fetch / "part-00000.parquet"
    table = pq.read_table(part)
    with TarWriter(part.with_suffix(".tar")) as tar:
        offset, size = tar.add(key, "jpg", data, {"key": key})
    rows = table.to_pylist()
    for row in rows:
        if row["key"] == key:
            row.update(tar_offset=offset, tar_size=size)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), part)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A run folder whose fetch stage holds GOOD good images, a 10^10-pixel PNG and a non-image."""
    run = tmp_path_factory.mktemp("r08") / "run"
    images = sorted((EXAMPLES / SITE).rglob("*.png"), key=lambda p: -p.stat().st_size)[:GOOD + 2]
    with SiteServer(load_sites(EXAMPLES)) as server:
        urls = [f"{server.base_url}/{SITE}/{p.relative_to(EXAMPLES / SITE).as_posix()}" for p in images]
        (run / "in").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([_pair(u, f"слика {i}") for i, u in enumerate(urls)], schema=PAIRS),
                       run / "in" / "pairs.parquet")
        run_stage(FetchStage(allow_hosts=[server.host_port], near_duplicate_distance=-1), [str(run / "in")],
                  run / "fetch", LocalExecutor(1, progress=False))
    keys = [r["key"] for r in pq.read_table(run / "fetch" / "part-00000.parquet").to_pylist()]
    assert len(keys) == GOOD + 2
    bad = {keys[0]: "image_too_large", keys[1]: "image_unreadable"}
    _plant(run / "fetch", keys[0], png_header_bomb())
    _plant(run / "fetch", keys[1], b"<html><body>not an image</body></html>")
    return run, bad


def test_08_report_skips_a_10_gigapixel_png_in_a_fetch_tar(hostile_run, tmp_path):
    run, _ = hostile_run
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(out)]) == 0  # was: DecompressionBombError
    html = out.read_text(encoding="utf-8")
    assert 'id="skipped-images"' in html
    assert "image_too_large 1" in html and "image_unreadable 1" in html
    assert html.count("data:image/jpeg;base64,") == GOOD  # the good images are all shown


@pytest.fixture(scope="module")
def vlm(tiny_model):
    return tiny_model("qwen2-vl")


def test_08_caption_drops_a_10_gigapixel_png_with_its_reason(hostile_run, vlm, tmp_path):
    from mella.annotate.caption import CaptionStage

    run, bad = hostile_run
    stage = CaptionStage(model=vlm, mode="plain", max_new_tokens=4, cache=False)
    report = run_stage(stage, [str(run / "fetch")], tmp_path / "caption", LocalExecutor(1, progress=False))
    dropped = pq.read_table(tmp_path / "caption" / "_dropped" / "part-00000.parquet").to_pylist()
    assert {r["key"]: r["drop_reason"] for r in dropped} == bad
    assert report.rows == GOOD
    assert report.counters["dropped.image_too_large"] == report.counters["dropped.image_unreadable"] == 1


def test_08_predict_drops_a_10_gigapixel_png_with_its_reason(hostile_run, vlm, tmp_path):
    from mella.evaluate.predict import PredictStage

    run, bad = hostile_run
    rows = []
    for i, r in enumerate(pq.read_table(run / "fetch" / "part-00000.parquet").to_pylist()):
        row = dict.fromkeys(SAMPLES.names)
        row.update(id=str(i), key=r["key"], lang="sr", source="alt", instruction="Опиши слику.",
                   response=r["alt"], split="test")
        rows.append(row)
    (tmp_path / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=SAMPLES), tmp_path / "samples" / "part-00000.parquet")
    stage = PredictStage(model=vlm, max_new_tokens=4, cache=False, images=str(run / "fetch"))
    report = run_stage(stage, [str(tmp_path / "samples")], tmp_path / "predict", LocalExecutor(1, progress=False))
    assert report.rows == GOOD
    reasons = sorted(r["drop_reason"] for r in
                     pq.read_table(tmp_path / "predict" / "_dropped" / "part-00000.parquet").to_pylist())
    assert reasons == sorted(bad.values())


def test_08_training_images_skip_a_10_gigapixel_png_with_a_count(hostile_run, caplog):
    from mella.fetch.images import StoredImageError
    from mella.train import data as D

    run, bad = hostile_run
    opener = D.image_opener(run / "fetch")
    rows = pq.read_table(run / "fetch" / "part-00000.parquet").to_pylist()
    with caplog.at_level(logging.WARNING, logger="mella.train"):
        sizes = D.usable_images(rows, opener)
    assert set(sizes) == {r["key"] for r in rows} - set(bad)
    assert "image_too_large 1" in caplog.text and "image_unreadable 1" in caplog.text
    for key, reason in bad.items():
        with pytest.raises(StoredImageError) as err:
            opener(key)
        assert err.value.reason == reason
