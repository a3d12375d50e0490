"""Every export format written from a real build and read back by its consumer's rules, sample for sample."""

from __future__ import annotations

import json
import tarfile

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from mella.dataset.export import IMAGE_TAGS, content_messages, export, image_ext, messages
from mella.errors import MellaError
from mella.fetch.wds import ImageStore


@pytest.fixture(scope="module")
def built(build, corpus):
    """The two-turn build (single- and two-turn samples), its samples by id and the fetch images."""
    folder = build("two-turn", conversation="two_turn")
    rows = pq.read_table(sorted(folder.glob("part-*.parquet"))).to_pylist()
    return folder, {r["id"]: r for r in rows}, ImageStore(corpus / "fetch")


def _check_messages(msgs, sample, fmt):
    """Text messages: the consumer's image tag once, straight before the first instruction."""
    assert msgs == messages(sample, IMAGE_TAGS[fmt])
    assert msgs[0]["content"] == IMAGE_TAGS[fmt] + sample["turns"][0]["instruction"]
    assert sum("<image>" in m["content"] for m in msgs) == 1
    assert [m["role"] for m in msgs] == ["user", "assistant"] * len(sample["turns"])


def _check_blocks(msgs, sample):
    """Content-block messages (hf, wds): one image block opening the first user turn, no tag in any text."""
    msgs = [{**m, "content": [{k: v for k, v in b.items() if v is not None} for b in m["content"]]} for m in msgs]
    assert msgs == content_messages(sample)
    blocks = [b for m in msgs for b in m["content"]]
    assert blocks[0] == {"type": "image"} and sum(b["type"] == "image" for b in blocks) == 1
    assert not any("<image>" in b.get("text", "") for b in blocks)


def _card(out):
    text = (out / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_hf_parquet_and_save_to_disk_load_with_datasets(built, tmp_path):
    datasets = pytest.importorskip("datasets")
    folder, by_id, store = built
    out = tmp_path / "hf"
    result = export(folder, "hf", out)
    # the card's configs name the parquet files per split; a private cache: datasets' shared cache can
    # answer from an earlier export with the same file names
    hub = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    disk = datasets.load_from_disk(str(out / "disk"))
    for dsd in (hub, disk):
        assert isinstance(dsd["train"].features["images"].feature, datasets.Image)
        assert "image" not in dsd["train"].features  # one image column: TRL reads ``images``
        assert {s: len(d) for s, d in dsd.items()} == result["counts"]
        seen = 0
        for split, ds in dsd.items():
            for row in ds.cast_column("images", datasets.List(datasets.Image(decode=False))):
                sample = by_id[row["id"]]
                assert (row["split"], row["instruction"], row["response"]) == (split, sample["instruction"],
                                                                               sample["response"])
                assert row["turns"] == sample["turns"]
                assert [i["bytes"] for i in row["images"]] == [store[sample["key"]]]
                _check_blocks(row["messages"], sample)
                seen += 1
        assert seen == len(by_id)
    meta, body = _card(out)
    assert meta["language"] == ["ar", "ko", "ru", "sr"] and meta["size_categories"] == ["n<1K"]
    assert "image-to-text" in meta["task_categories"] and meta["license"] == "other"
    assert "| ru | know |" in body and "tiny random-weight test model" in body
    assert "| filter |" in body and "page_repeat" in body and "| annotate (tiny-annotate) |" in body
    assert "| two-turn (build) |" in body and "| mixed (build) |" not in body  # its own build, no sibling


def test_llava_json(built, tmp_path):
    folder, by_id, store = built
    out = tmp_path / "llava"
    export(folder, "llava", out)
    seen = 0
    for split in ("train", "validation", "test"):
        for rec in json.loads((out / f"{split}.json").read_text(encoding="utf-8")):
            sample = by_id[rec["id"]]
            assert rec["split"] == split and (out / rec["image"]).read_bytes() == store[sample["key"]]
            roles = [t["from"] for t in rec["conversations"]]
            assert roles == ["human", "gpt"] * len(sample["turns"])
            _check_messages([{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
                             for t in rec["conversations"]], sample, "llava")
            seen += 1
    assert seen == len(by_id)


def test_sharegpt_with_llamafactory_dataset_info(built, tmp_path):
    folder, by_id, store = built
    out = tmp_path / "sharegpt"
    export(folder, "sharegpt", out, name="mella_demo")
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"mella_demo_train", "mella_demo_validation", "mella_demo_test"}
    seen = 0
    for entry in info.values():
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"]["user_tag"] == "user" and entry["tags"]["assistant_tag"] == "assistant"
        for rec in json.loads((out / entry["file_name"]).read_text(encoding="utf-8")):
            sample = by_id[rec["id"]]
            _check_messages(rec["messages"], sample, "sharegpt")
            # LLaMA-Factory resolves images against dataset_dir (= OUT); one <image> per image path
            assert len(rec["images"]) == 1 and (out / rec["images"][0]).read_bytes() == store[sample["key"]]
            seen += 1
    assert seen == len(by_id)


def test_swift_jsonl(built, tmp_path):
    folder, by_id, store = built
    out = tmp_path / "swift"
    export(folder, "swift", out)
    seen = 0
    for split in ("train", "validation", "test"):
        for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            sample = by_id[rec["id"]]
            _check_messages(rec["messages"], sample, "swift")
            # relative to OUT (ms-swift: the working directory or $ROOT_IMAGE_DIR)
            assert len(rec["images"]) == 1 and (out / rec["images"][0]).read_bytes() == store[sample["key"]]
            seen += 1
    assert seen == len(by_id)
    _, body = _card(out)
    assert "ROOT_IMAGE_DIR" in body and "## Loading" in body


def test_webdataset_tars(built, tmp_path):
    folder, by_id, store = built
    out = tmp_path / "wds"
    export(folder, "wds", out)
    seen = 0
    for tar_path in sorted(out.glob("*.tar")):
        members: dict[str, dict[str, bytes]] = {}
        with tarfile.open(tar_path) as tar:
            for m in tar:
                key, _, ext = m.name.partition(".")  # WebDataset: the key ends at the first dot
                members.setdefault(key, {})[ext] = tar.extractfile(m).read()
        for key, parts in members.items():
            rec = json.loads(parts["json"])
            sample = by_id[key]
            image = store[sample["key"]]
            assert parts[image_ext(image)] == image and rec["split"] == tar_path.name.split("-")[0]
            assert rec["turns"] == sample["turns"] and rec["response"] == sample["response"]
            _check_blocks(rec["messages"], sample)
            seen += 1
    assert seen == len(by_id)


def test_cli_export_and_errors(built, tmp_path):
    from mella.cli.export import command

    folder, by_id, _ = built
    out = tmp_path / "cli"
    res = CliRunner().invoke(command, [str(folder), "--format", "llava", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "llava: train" in res.output and (out / "README.md").exists()
    with pytest.raises(MellaError, match="not empty"):
        export(folder, "llava", out)
    with pytest.raises(MellaError, match="unknown export format"):
        export(folder, "csv", tmp_path / "x")
    with pytest.raises(MellaError, match="--images"):
        export(folder, "llava", tmp_path / "y", images=str(tmp_path / "missing"))
