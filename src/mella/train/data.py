"""Samples to chat examples with images, and collators whose labels cover the answer tokens only.

A training example is a SAMPLES row (``id, key, lang, source, instruction, response, split``). Its
prompt is built exactly as ``mella predict`` builds one (:func:`mella.models.base.chat_messages`), so the
model is trained on the token sequence it later sees. A two-turn sample (``source: both``, its ``turns``
column) is one chat with the image in the first user turn; every answer is trained, no instruction is.
Images are read by ``key`` from a fetch output (WebDataset tars), a folder of ``<key>.<ext>`` files, or
the ``image`` column of a ``datasets`` export. The SFT dataset holds keys, not pixels: each image is
decoded once when the dataset is built (its size, and a bad one left out), then again when its batch
is collated.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.models.base import GenRequest, chat_messages, fit_pixels

log = logging.getLogger("mella.train")
IGNORE = -100
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}
ImageOpener = Callable[[str], Any]   # key -> PIL image


# -- reading samples -----------------------------------------------------------------------------


def is_hf_dataset(path: str | Path) -> bool:
    """True for a ``datasets`` ``save_to_disk`` folder."""
    p = Path(path)
    return p.is_dir() and (p / "state.json").exists() and (p / "dataset_info.json").exists()


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    # Dropped rows and temporary parts are not samples.
    return sorted(f for f in path.rglob("*.parquet")
                  if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts))


def read_rows(path: str | Path, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """All rows of a parquet file, a folder of parquet parts, or a JSONL file (images not loaded).

    ``columns``: read only these (those a file lacks are left out of its rows).
    """
    p = Path(path)
    wanted = list(columns) if columns is not None else None
    if p.suffix == ".jsonl":
        import json

        rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows if wanted is None else [{k: r[k] for k in wanted if k in r} for r in rows]
    if is_hf_dataset(p):
        from datasets import load_from_disk

        ds = load_from_disk(str(p))
        drop = [c for c in ds.column_names if c in ("image", "images") or (wanted is not None and c not in wanted)]
        return ds.remove_columns(drop).to_list()
    import pyarrow.parquet as pq

    files = _parquet_files(p)
    if not files:
        raise MellaError(f"no parquet files under {p}")
    out = []
    for f in files:
        names = pq.read_schema(f).names
        cols = None if wanted is None else [c for c in wanted if c in names]
        out += pq.read_table(f, columns=cols).to_pylist()
    return out


def select(rows: Iterable[dict[str, Any]], split: str | None, sources: Iterable[str] | None = None,
           langs: Iterable[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of one split, sources and languages, in file order, at most ``limit``."""
    sources = set(sources) if sources else None
    langs = set(langs) if langs else None
    out = [r for r in rows
           if (split is None or r.get("split") == split)
           and (sources is None or r.get("source") in sources)
           and (langs is None or r.get("lang") in langs)]
    return out[:limit] if limit else out


# -- images --------------------------------------------------------------------------------------


def image_opener(images: str | Path | None, samples: str | Path | None = None) -> ImageOpener:
    """A ``key -> PIL image`` reader for a fetch output, an image folder, or a ``datasets`` export."""
    if samples is not None and is_hf_dataset(samples):
        return _hf_images(samples)
    if images is None:
        raise MellaError("data.images is needed: the fetch folder (or a folder of <key>.<ext> images)")
    p = Path(images)
    if any(p.glob("*.tar")) or any(p.glob("*/*.tar")):
        from mella.fetch.wds import ImageStore

        return ImageStore(p).open
    return _folder_images(p)


def _folder_images(folder: Path) -> ImageOpener:
    index = {f.stem: f for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES}
    if not index:
        raise MellaError(f"no images under {folder} (expected a fetch output or <key>.png/.jpg files)")

    def open_key(key: str):
        from mella.fetch.images import open_stored_image

        return open_stored_image(index[key].read_bytes())

    return open_key


def _hf_images(path: str | Path) -> ImageOpener:
    from datasets import load_from_disk

    ds = load_from_disk(str(path))
    column = "image" if "image" in ds.column_names else "images"
    rows = {key: i for i, key in enumerate(ds["key"])}

    def open_key(key: str):
        from mella.fetch.images import check_pixels, stored_image_errors

        index = rows[key]
        with stored_image_errors():
            value = ds[index][column]  # datasets decodes with Pillow here
        return check_pixels(value[0] if isinstance(value, list) else value)

    return open_key


def image_tokens(size: tuple[int, int], min_pixels: int | None, max_pixels: int | None, patch: int = 28) -> int:
    """About how many tokens an image of ``size`` costs after the pixel limits (one per 28x28 patch)."""
    n = size[0] * size[1]
    if max_pixels and n > max_pixels:
        n = max_pixels
    elif min_pixels and n < min_pixels:
        n = min_pixels
    return max(1, math.ceil(n / (patch * patch)))


# -- chat examples -------------------------------------------------------------------------------


def prompt_messages(instruction: str, image: Any, system: str | None = None) -> list[dict]:
    """The user turn (and system turn) exactly as the hf backend renders a generation request."""
    return chat_messages(GenRequest(prompt=instruction, image=image, system=system))


def answer_message(text: str) -> list[dict]:
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


def turns_of(row: dict[str, Any]) -> list[dict[str, str]]:
    """The ``{instruction, response}`` turns of a sample: its ``turns`` column, else the one turn it is."""
    turns = row.get("turns") or [{"instruction": row.get("instruction"), "response": row.get("response")}]
    return [{"instruction": t["instruction"], "response": t["response"]} for t in turns]


def later_turns(turns: list[dict[str, str]]) -> list[dict]:
    """The completion of a chat: the first answer, then each further instruction (text only) and answer."""
    out = answer_message(turns[0]["response"])
    for t in turns[1:]:
        out += [{"role": "user", "content": [{"type": "text", "text": t["instruction"]}]},
                *answer_message(t["response"])]
    return out


def instruction_spans(processor, prompt: list[dict], completion: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The completion text as TRL renders it, and its character spans that are user turns, not answers.

    Each span runs from the end of an answer (its end-of-turn token included) to the start of the next
    answer (the generation prompt included), found by rendering the chat up to each turn.
    """
    from trl.data_utils import apply_chat_template

    full = apply_chat_template({"prompt": prompt, "completion": completion}, processor)
    head, text = full["prompt"], full["completion"]
    spans = []
    for j, message in enumerate(completion):
        if message["role"] != "user":
            continue
        start = len(apply_chat_template({"prompt": prompt, "completion": completion[:j]}, processor)["completion"])
        upto = apply_chat_template({"prompt": prompt + completion[:j + 1]}, processor)["prompt"]
        if not upto.startswith(head) or not text.startswith(upto[len(head):]) or len(upto) - len(head) < start:
            raise MellaError("the model's chat template does not render a multi-turn chat as its turns in order; "
                             "train without two-turn samples (data.sources: [know, ling])")
        spans.append((start, len(upto) - len(head)))
    return text, spans


class ImageLoader:
    """Opens images by key and fits them into the pixel limits (as predict does)."""

    def __init__(self, opener: ImageOpener, min_pixels: int | None = None, max_pixels: int | None = None):
        self.opener, self.min_pixels, self.max_pixels = opener, min_pixels, max_pixels

    def __call__(self, key: str):
        return fit_pixels(self.opener(key), self.min_pixels, self.max_pixels)


class SFTCollator:
    """Rows (``image`` = key, ``instruction``, ``response``) to model inputs with answer-only labels.

    The prompt (system, instruction, image placeholders expanded to the image tokens) is tokenized as at
    generation time and the answer (with the end-of-turn token) after it; labels are -100 everywhere but
    the answer. TRL's vision collator does the tokenizing, padding and image batching.
    """

    def __init__(self, processor, opener: ImageOpener, min_pixels=None, max_pixels=None,
                 system: str | None = None, max_length: int | None = None):
        from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

        self.load = ImageLoader(opener, min_pixels, max_pixels)
        self.system = system
        self.processor = processor
        self.inner = DataCollatorForVisionLanguageModeling(processor=processor, max_length=max_length,
                                                           completion_only_loss=True)

    def example(self, row: dict[str, Any]) -> dict[str, Any]:
        """One TRL prompt-completion example with its image loaded (the image in the first user turn)."""
        image = self.load(row["image"])
        turns = turns_of(row)
        return {"images": [image], "prompt": prompt_messages(turns[0]["instruction"], image, self.system),
                "completion": later_turns(turns)}

    def __call__(self, rows):
        examples = usable_examples(rows, self.example)
        # Rendered before TRL's collator, which fills the image placeholders in place.
        chats = [instruction_spans(self.processor, e["prompt"], e["completion"]) if len(e["completion"]) > 1
                 else None for e in examples]
        batch = self.inner(examples)
        for labels, chat in zip(batch["labels"], chats, strict=True):
            if chat:
                self._mask(labels, *chat)
        return batch

    def _mask(self, labels, text: str, spans: list[tuple[int, int]]) -> None:
        """Label -100 on the tokens of the user turns inside a multi-turn completion ``text``."""
        offsets = self.processor.tokenizer(text, add_special_tokens=False,
                                           return_offsets_mapping=True)["offset_mapping"]
        positions = (labels != IGNORE).nonzero().flatten().tolist()   # the completion's tokens, in order
        if len(positions) > len(offsets):
            raise MellaError("completion tokens do not match their rendering; cannot mask the user turns")
        for t, (a, b) in enumerate(offsets[:len(positions)]):
            if any(start <= a and b <= end for start, end in spans):
                labels[positions[t]] = IGNORE


class PreferenceCollator:
    """Pair rows (``image`` = key, ``prompt``, ``chosen``, ``rejected``) to TRL's DPO batch."""

    def __init__(self, processor, opener: ImageOpener, min_pixels=None, max_pixels=None,
                 system: str | None = None, max_length: int | None = None):
        from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

        self.load = ImageLoader(opener, min_pixels, max_pixels)
        self.system = system
        self.inner = DataCollatorForVisionPreference(processor=processor, max_length=max_length)

    def example(self, row: dict[str, Any]) -> dict[str, Any]:
        image = self.load(row["image"])
        return {"images": [image], "prompt": prompt_messages(row["prompt"], image, self.system),
                "chosen": answer_message(row["chosen"]), "rejected": answer_message(row["rejected"])}

    def __call__(self, rows):
        return self.inner(usable_examples(rows, self.example))


def usable_examples(rows, make: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """``make(row)`` for every row whose image can be used; the others are logged with their reason and skipped."""
    from mella.fetch.images import StoredImageError

    out = []
    for row in rows:
        try:
            out.append(make(row))
        except StoredImageError as exc:
            log.warning("sample with image %r skipped: %s", row.get("image"), exc)
    if not out:
        raise MellaError(f"no usable image in a batch of {len(rows)} samples (see the warnings above)")
    return out


# -- datasets for the trainers -------------------------------------------------------------------


def sft_dataset(rows: list[dict[str, Any]], opener: ImageOpener, tokenizer, min_pixels=None, max_pixels=None):
    """A ``datasets.Dataset`` of keys and texts with a ``length`` estimate for length-grouped batches."""
    from datasets import Dataset

    missing = [r["key"] for r in rows if not r.get("key")]
    if missing:
        raise MellaError(f"{len(missing)} samples have no image key")
    turns = {id(r): checked_turns(r) for r in rows}
    sizes = usable_images(rows, opener)
    rows = [r for r in rows if r["key"] in sizes]
    texts = ["".join(t["instruction"] + t["response"] for t in turns[id(r)]) for r in rows]
    text_lens = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    lengths = [t + image_tokens(sizes[r["key"]], min_pixels, max_pixels) for t, r in zip(text_lens, rows, strict=True)]
    return Dataset.from_dict({
        "id": [str(r.get("id") or r["key"]) for r in rows],
        "image": [r["key"] for r in rows],
        "instruction": [r["instruction"] for r in rows],
        "response": [r["response"] for r in rows],
        "turns": [turns[id(r)] for r in rows],
        "length": lengths,
    })


def checked_turns(row: dict[str, Any]) -> list[dict[str, str]]:
    """A sample's turns; a two-turn sample (``source: both``) without its ``turns`` is refused, never cut."""
    turns = turns_of(row)
    if row.get("source") == "both" and len(turns) < 2:
        raise MellaError(f"sample {row.get('id')!r} is two-turn (source both) but has no turns column with its "
                         "turns; train on the build output (or an export that keeps turns)")
    if any(not t["instruction"] or not t["response"] for t in turns):
        raise MellaError(f"sample {row.get('id')!r} has a turn without instruction or response")
    return turns


def usable_images(rows: list[dict[str, Any]], opener: ImageOpener) -> dict[str, tuple[int, int]]:
    """Size by key of the rows' images that open under the fetch stage's limits.

    The others are left out, logged with a count per reason; each image is decoded once here, so no
    training batch meets a bad one later.
    """
    from collections import Counter

    from mella.fetch.images import StoredImageError

    sizes: dict[str, tuple[int, int]] = {}
    skipped: Counter = Counter()
    for key in dict.fromkeys(r["key"] for r in rows):
        try:
            sizes[key] = opener(key).size
        except StoredImageError as exc:
            skipped[exc.reason] += 1
        except KeyError:
            raise MellaError(f"image {key!r} is not in the image folder (is data.images the fetch output?)") from None
    if skipped:
        log.warning("images skipped with their samples: %s",
                    ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())))
    if not sizes:
        raise MellaError(f"none of the {len(rows)} samples has a usable image")
    return sizes
