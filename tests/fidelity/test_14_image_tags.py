"""Issue 16 item 14: each export marks the image the way its consumer does.

Before: sharegpt, swift and wds all opened the user turn with LLaVA's literal ``<image>\\n``; TRL adds its own
image block and kept that text, and LLaMA-Factory / ms-swift write the tag straight before the text.
Now: llava ``<image>\\n`` (LLaVA's data), sharegpt and swift ``<image>`` + text (LLaMA-Factory's mllm_demo,
ms-swift's custom-dataset docs), hf and wds content blocks with no tag in any text.
"""

from __future__ import annotations

import json
import tarfile

import pytest
from exportkit import build_rows, two_turn_build

from mella.dataset.export import export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    build = two_turn_build(tmp_path_factory)
    root = tmp_path_factory.mktemp("f16-14")

    def get(fmt):
        out = root / fmt
        if not out.exists():
            export(build, fmt, out)
        return out

    return build_rows(build), get


def _first_user(records):
    return [(rec["id"], rec["messages"][0]) for rec in records]


def _jsonl(out):
    return [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()]


def _wds(out):
    recs = []
    for path in sorted(out.glob("*.tar")):
        with tarfile.open(path) as tar:
            recs += [json.loads(tar.extractfile(m).read()) for m in tar if m.name.endswith(".json")]
    return recs


def test_14_swift_and_sharegpt_put_the_tag_straight_before_the_text(exported):
    rows, get = exported
    sharegpt = [r for f in sorted(get("sharegpt").glob("mella_*.json")) for r in json.loads(f.read_text("utf-8"))]
    for fmt, records in (("swift", _jsonl(get("swift"))), ("sharegpt", sharegpt)):
        assert len(records) == len(rows), fmt
        for sid, first in _first_user(records):
            assert first == {"role": "user", "content": "<image>" + rows[sid]["turns"][0]["instruction"]}, fmt


def test_14_llava_keeps_its_image_newline(exported):
    rows, get = exported
    records = [r for f in sorted(get("llava").glob("*.json")) for r in json.loads(f.read_text("utf-8"))]
    assert len(records) == len(rows)
    for rec in records:
        assert rec["conversations"][0]["value"] == "<image>\n" + rows[rec["id"]]["turns"][0]["instruction"]


def test_14_wds_messages_are_content_blocks_without_a_tag(exported):
    rows, get = exported
    records = _wds(get("wds"))
    assert len(records) == len(rows)
    for sid, first in _first_user(records):
        assert first["content"] == [{"type": "image"},
                                    {"type": "text", "text": rows[sid]["turns"][0]["instruction"]}]
    for rec in records:
        assert "<image>" not in json.dumps(rec["messages"], ensure_ascii=False)


def test_14_trl_sees_one_image_and_no_literal_tag_in_the_hf_export(exported):
    datasets = pytest.importorskip("datasets")
    from trl.data_utils import prepare_multimodal_messages

    rows, get = exported
    seen = 0
    for ds in datasets.load_from_disk(str(get("hf") / "disk")).values():
        for rec in ds.cast_column("images", datasets.List(datasets.Image(decode=False))):
            msgs = prepare_multimodal_messages(rec["messages"], images=rec["images"])  # TRL's own preparation
            blocks = [b for m in msgs for b in m["content"]]
            assert [b["type"] for b in blocks].count("image") == 1 and blocks[0]["type"] == "image"
            texts = [b["text"] for b in blocks if b["type"] == "text"]
            assert texts[0] == rows[rec["id"]]["turns"][0]["instruction"]
            assert not any("<image>" in t for t in texts)
            seen += 1
    assert seen == len(rows)
