"""The whole path on real samples: data -> collator -> labels -> training -> generation -> keyword accuracy.

A tiny Qwen2-VL is trained on 32 native alt-texts of the example sites until it reproduces them; greedy
predictions through the hf backend are then scored with mella's evaluation. Keyword accuracy must go from
near 0 (random weights) to >= 0.9. Full fine-tuning of the language model (vision tower frozen): a rank-r
adapter on a 32-wide, 2-layer model with frozen random embeddings cannot memorise 32 sentences.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import trainkit as kit

from mella.train.ablate import evaluate_model
from mella.train.config import parse_config
from mella.train.sft import run_sft

PIXELS = 112 * 112   # 16 image tokens: enough for a random vision tower to tell 32 images apart


def write_fetch_pngs(pairs, folder):
    """A fetch output holding exactly the training images (same pixels), for `mella predict`."""
    import io

    import pyarrow as pa

    from mella.fetch.wds import TarWriter

    folder.mkdir(parents=True)
    rows = []
    with TarWriter(folder / "part-00000.tar") as tar:
        for p in pairs:
            buf = io.BytesIO()
            kit.small_image(p["path"], PIXELS).save(buf, "PNG")
            offset, size = tar.add(p["key"], "png", buf.getvalue(), {"key": p["key"]})
            rows.append({"key": p["key"], "status": "ok", "tar_offset": offset, "tar_size": size})
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    (folder / "part-00000._SUCCESS").write_text(json.dumps({"rows": len(rows)}))
    return folder


def keyword_accuracy(scores) -> float:
    rows = [s for s in scores if s["metric"] == "keyword_accuracy"]
    return sum(s["score"] * s["n"] for s in rows) / sum(s["n"] for s in rows)


@pytest.mark.slow
def test_overfit_32_real_samples_then_predict_and_evaluate(tmp_path, tiny_vlm, pairs, capsys):
    from mella import cli

    rows = kit.sample_rows(pairs, lambda i: "test")   # train on the same items that are scored
    samples = kit.write_samples(rows, tmp_path / "samples")
    images = kit.write_image_folder(pairs, tmp_path / "images", PIXELS)
    doc = kit.config(tiny_vlm, samples, images, tmp_path / "out", method="full",
                     data={"train_split": "test", "max_pixels": PIXELS},
                     optim={"lr": 5e-3}, train={"max_steps": 400, "batch_size": 8, "logging_steps": 25},
                     ablation={"max_new_tokens": 96, "batch_size": 32})
    cfg = parse_config(doc)
    assert len(rows) == 32 and {r["lang"] for r in rows} == {"ar", "ko", "ru", "sr"}

    before = keyword_accuracy(evaluate_model(cfg, str(tiny_vlm), rows, tmp_path / "before"))
    result = run_sft(cfg)
    after = keyword_accuracy(evaluate_model(cfg, result["outputs"]["model"], rows, tmp_path / "after"))
    with capsys.disabled():
        print(f"keyword accuracy before {before:.3f} after {after:.3f}; "
              f"loss {result['losses']['train'][0]:.3f} -> {result['losses']['train'][-1]:.3f}")
    assert before <= 0.05 and after >= 0.9

    # The predictions file is what `mella evaluate` reads.
    preds = tmp_path / "after" / "predictions.parquet"
    assert pq.read_table(preds).num_rows == 32
    assert cli.main(["evaluate", str(preds), "--out", str(tmp_path / "cli"), "--metrics", "keyword_accuracy"]) == 0
    assert "keyword_accuracy" in capsys.readouterr().out

    # And through the commands users run: `mella predict` on the test split, then `mella evaluate`.
    fetch = write_fetch_pngs(pairs, tmp_path / "fetch")
    assert cli.main(["predict", str(samples), "--out", str(tmp_path / "predict"), "--model",
                     result["outputs"]["model"], "--images", str(fetch), "--split", "test", "--max-new-tokens", "96",
                     "--model-options", json.dumps({"max_pixels": PIXELS}), "--workers", "1"]) == 0
    assert cli.main(["evaluate", str(tmp_path / "predict"), "--out", str(tmp_path / "eval")]) == 0
    scores = json.loads((tmp_path / "eval" / "scores.json").read_text())
    assert keyword_accuracy(scores) >= 0.9
