"""One writer per export format; each returns ``{"files": [...], "counts": {split: n}}``.

Layouts (``OUT`` is ``--out``):

- ``hf``: ``data/<split>-00000-of-00001.parquet`` (Hub layout) and ``disk/`` (``DatasetDict.save_to_disk``);
  ``datasets.load_dataset("parquet", ...)``, ``load_dataset(OUT)`` and ``load_from_disk(OUT/disk)`` read them.
  TRL's conversational vision columns: ``messages`` (content blocks, ``{"type": "image"}`` then the text) and
  ``images`` (a list of one embedded ``Image``), next to ``instruction``, ``response`` and ``turns``.
- ``llava``: ``<split>.json`` (a list of ``{id, image, conversations: [{from: human|gpt, value}]}``, the human
  turn opening with ``<image>\n``) and ``images/``; LLaVA's ``--image_folder`` is ``OUT``.
- ``sharegpt``: ``mella_<split>.json`` (``{messages: [{role, content}], images: [path]}``, ``<image>`` opening
  the user turn), ``images/`` and
  ``dataset_info.json`` with one LLaMA-Factory entry per split; LLaMA-Factory's ``dataset_dir`` is ``OUT``.
- ``swift``: ``<split>.jsonl`` (``{messages, images}``, ``<image>`` opening the user turn) and ``images/``;
  image paths are relative to ``OUT``: ms-swift opens them from the working directory or ``$ROOT_IMAGE_DIR``.
- ``wds``: ``<split>-NNNNNN.tar`` shards of ``<id>.<ext>`` + ``<id>.json`` (the sample, ``messages`` as content
  blocks like ``hf``: no model's tag in the text), 1000 samples each.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from mella.dataset.builddir import iter_samples, splits_of
from mella.dataset.export import IMAGE_TAGS, Images, content_messages, image_ext, messages
from mella.errors import MissingExtraError
from mella.paths import check_key

META = ("id", "key", "lang", "source", "variant", "recipe", "split", "group", "image_sha256", "domain",
        "page_url", "image_url", "caption_model", "translation_model")
SHARD_SIZE = 1000


def _meta(sample: dict[str, Any]) -> dict[str, Any]:
    return {k: sample.get(k) for k in META}


def hf_features():
    """The ``datasets`` features of the hf export."""
    import datasets as hf

    turn = {"source": hf.Value("string"), "instruction": hf.Value("string"), "response": hf.Value("string")}
    block = {"type": hf.Value("string"), "text": hf.Value("string")}  # an image block has text None
    message = {"role": hf.Value("string"), "content": hf.List(block)}
    cols = {k: hf.Value("string") for k in META}
    # One image column only: TRL reads ``images`` (a lone ``image`` column would win over it), and a second
    # column would store every image twice.
    return hf.Features({**cols, "instruction": hf.Value("string"), "response": hf.Value("string"),
                        "turns": hf.List(turn), "messages": hf.List(message), "images": hf.List(hf.Image())})


def write_hf(build_dir: Path, out: Path, images: Images, name: str) -> dict[str, Any]:
    try:
        import datasets as hf
    except ImportError:
        raise MissingExtraError("datasets", "train", "the hf export") from None
    import tempfile

    dsets, files = {}, []
    # from_generator streams samples into arrow files in a private cache, so memory stays bounded.
    with tempfile.TemporaryDirectory(dir=out, prefix=".cache-") as cache:
        for split in splits_of(build_dir):
            ds = hf.Dataset.from_generator(_hf_rows, features=hf_features(), cache_dir=cache, split=split,
                                           gen_kwargs={"build_dir": str(build_dir), "split": split,
                                                       "fetch_dir": str(images.fetch_dir)})
            path = out / "data" / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(exist_ok=True)
            ds.to_parquet(str(path))
            files.append(str(path))
            dsets[split] = ds
        hf.DatasetDict(dsets).save_to_disk(str(out / "disk"))
        counts = {s: len(d) for s, d in dsets.items()}
    return {"files": files + [str(out / "disk")], "counts": counts}


def _hf_rows(build_dir: str, split: str, fetch_dir: str):
    images = Images(fetch_dir)
    for s in iter_samples(build_dir, split):
        data = images[s["key"]]
        yield {**_meta(s), "instruction": s["instruction"], "response": s["response"], "turns": s["turns"],
               "messages": content_messages(s), "images": [{"bytes": data, "path": f"{s['key']}.{image_ext(data)}"}]}


def write_llava(build_dir: Path, out: Path, images: Images, name: str) -> dict[str, Any]:
    def record(s, image):
        conv = [{"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
                for m in messages(s, IMAGE_TAGS["llava"])]
        return {**_meta(s), "image": image, "conversations": conv}

    return _json_splits(build_dir, out, images, record, lambda split: f"{split}.json")


def write_sharegpt(build_dir: Path, out: Path, images: Images, name: str) -> dict[str, Any]:
    result = _json_splits(build_dir, out, images, lambda s, image: {**_meta(s), "messages": messages(s, IMAGE_TAGS["sharegpt"]),
                                                                    "images": [image]},
                          lambda split: f"{name}_{split}.json")
    info = {f"{name}_{split}": {
        "file_name": f"{name}_{split}.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    } for split in result["counts"]}
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    result["files"].append(str(out / "dataset_info.json"))
    return result


def _json_splits(build_dir: Path, out: Path, images: Images, record, filename) -> dict[str, Any]:
    files, counts = [], {}
    for split in splits_of(build_dir):
        rows = [record(s, images.save(s["key"], out / "images", out)) for s in iter_samples(build_dir, split)]
        path = out / filename(split)
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        files.append(str(path))
        counts[split] = len(rows)
    return {"files": files, "counts": counts}


def write_swift(build_dir: Path, out: Path, images: Images, name: str) -> dict[str, Any]:
    files, counts = [], {}
    for split in splits_of(build_dir):
        path = out / f"{split}.jsonl"
        n = 0
        with open(path, "w", encoding="utf-8") as fh:
            for s in iter_samples(build_dir, split):
                image = images.save(s["key"], out / "images", out)  # relative: the folder can move
                fh.write(json.dumps({"messages": messages(s, IMAGE_TAGS["swift"]), "images": [image], **_meta(s)},
                                    ensure_ascii=False) + "\n")
                n += 1
        files.append(str(path))
        counts[split] = n
    return {"files": files, "counts": counts}


def write_wds(build_dir: Path, out: Path, images: Images, name: str) -> dict[str, Any]:
    files, counts = [], {}
    for split in splits_of(build_dir):
        counts[split] = 0
        tar = None
        for s in iter_samples(build_dir, split):
            if counts[split] % SHARD_SIZE == 0:
                if tar is not None:
                    tar.close()
                path = out / f"{split}-{counts[split] // SHARD_SIZE:06d}.tar"
                files.append(str(path))
                tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed above/below
            data = images[s["key"]]
            check_key(s["id"], f"{build_dir}: sample id")  # ids become tar member names
            sample = {**_meta(s), "instruction": s["instruction"], "response": s["response"], "turns": s["turns"],
                      "messages": content_messages(s)}
            # WebDataset keys end at the first dot: ids are dot-free (source-lang-hash).
            _add(tar, f"{s['id']}.{image_ext(data)}", data)
            _add(tar, f"{s['id']}.json", json.dumps(sample, ensure_ascii=False).encode())
            counts[split] += 1
        if tar is not None:
            tar.close()
    return {"files": files, "counts": counts}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))
