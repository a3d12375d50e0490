"""Issue 16, item 3: D_ling relevance scores the translation the sample will contain (plain or thick)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.annotate.score import ScoreStage
from mella.dataset.build import BuildStage
from mella.errors import MellaError
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage

pytest.importorskip("transformers", reason="the models extra is not installed")


def _run(stage, inputs, out):
    return run_stage(stage, [str(inputs)], out, LocalExecutor(1, progress=False))


def _rows(folder, dropped=False):
    folder = folder / "_dropped" if dropped else folder
    return [r for f in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def _write(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    return folder


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    from annotate.annotatekit import fetch_example_images

    return fetch_example_images(tmp_path_factory.mktemp("fetched"))


def _translated(fetched, text_of):
    """Fetch rows of real images with a plain and a thick translation (different texts)."""
    rows = [r for r in _rows(fetched) if r["status"] == "ok"]
    for i, r in enumerate(rows):
        r.update(caption=f"A screenshot {i}.", caption_thick=f"A screenshot of a game about space {i}.",
                 caption_lang="en", caption_mode="both", **text_of(i, r))
    return rows


def test_score_writes_relevance_thick_for_the_thick_translation(fetched, tmp_path, tiny_model):
    siglip = tiny_model("siglip")
    texts = lambda i, r: {"translation": f"Снимок экрана {i}",  # noqa: E731
                          "translation_thick": f"{r['alt']} — снимок экрана игры о космосе"}
    _run(ScoreStage(model=siglip, images=str(fetched)), _write(tmp_path / "tr", _translated(fetched, texts)),
         tmp_path / "score")
    scored = _rows(tmp_path / "score")
    assert scored and all(r["relevance_thick"] is not None for r in scored)
    # The same model scoring the thick text as if it were the plain one gives the value of relevance_thick.
    swapped = [{**r, "translation": r["translation_thick"]} for r in _translated(fetched, texts)]
    _run(ScoreStage(model=siglip, images=str(fetched)), _write(tmp_path / "tr2", swapped), tmp_path / "score2")
    expected = {r["key"] + r["alt"]: r["relevance"] for r in _rows(tmp_path / "score2")}
    for r in scored:
        assert r["relevance_thick"] == pytest.approx(expected[r["key"] + r["alt"]], abs=1e-6)
    assert any(abs(r["relevance_thick"] - r["relevance"]) > 1e-6 for r in scored)  # two texts, two scores
    assert pq.read_schema(tmp_path / "score" / "part-00000.parquet").field("relevance_thick").type == pa.float64()


def _annotated(n=8):
    # Plain translations score high, thick ones low on even rows and high on odd rows.
    return [{"key": f"k{i}", "sha256": f"s{i}", "phash": f"{i * 0x1111111111:016x}", "domain": "d.ru",
             "lang": "ru", "alt": f"подпись {i}", "caption": f"plain {i}", "caption_thick": f"thick {i}",
             "translation": f"описание {i}", "translation_thick": f"подробное описание {i}",
             "relevance": 0.9, "relevance_thick": 0.1 if i % 2 == 0 else 0.8, "relevance_alt": 0.5}
            for i in range(n)]


def test_build_thresholds_thick_samples_on_relevance_thick_not_on_the_plain_score(tmp_path):
    src = _write(tmp_path / "annotate", _annotated())
    out = tmp_path / "build"
    _run(BuildStage(ling_field="translation_thick", min_relevance=0.5, test_size=0, validation_size=0), src, out)
    ling = [r for r in _rows(out) if r["source"] == "ling"]
    assert sorted(r["key"] for r in ling) == ["k1", "k3", "k5", "k7"]
    assert all(r["response"].startswith("подробное") for r in ling)
    assert all(r["caption"] == "thick " + r["key"][1:] for r in ling)  # the caption that was translated
    drops = [r for r in _rows(out, dropped=True) if r["source"] == "ling"]
    assert sorted(r["key"] for r in drops) == ["k0", "k2", "k4", "k6"]
    assert {r["drop_reason"] for r in drops} == {"ling_low_relevance"}


def test_build_plain_samples_keep_thresholding_on_relevance(tmp_path):
    src = _write(tmp_path / "annotate", _annotated())
    out = tmp_path / "build"
    _run(BuildStage(min_relevance=0.5, test_size=0, validation_size=0), src, out)
    ling = [r for r in _rows(out) if r["source"] == "ling"]
    assert len(ling) == 8 and all(r["caption"].startswith("plain") for r in ling)


def test_build_refuses_thick_threshold_without_relevance_thick(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "relevance_thick"} for r in _annotated()]
    src = _write(tmp_path / "annotate", rows)
    with pytest.raises(MellaError, match="relevance_thick"):
        _run(BuildStage(ling_field="translation_thick", min_relevance=0.5), src, tmp_path / "build")
