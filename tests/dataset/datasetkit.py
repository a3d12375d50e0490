"""Helpers of the dataset tests: a real corpus run (collect -> filter -> dedup -> fetch over the example sites on
a local server) and a tiny-model annotation stage (real hf-backend calls on tiny random models)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from mella.pipeline.stage import Stage, StageOptions
from mella.records import ANNOTATIONS, extend

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Model names in the annotation columns say loudly that the text is meaningless.
TINY_CAPTIONER = "mella-tiny/qwen2-vl (random weights, output not meaningful)"
TINY_TRANSLATOR = "mella-tiny/nllb (random weights, output not meaningful)"

PIPELINE = """\
name: dataset-tests
executor: local
workers: 1
stages:
  - stage: collect
    inputs: [{seeds}]
    allow_hosts: ["{host}"]
    per_host_delay: 0.0
    max_depth: 2
  - stage: filter
    langs: [ar, ko, ru, sr]
    min_words: 2
  - stage: dedup
  - stage: fetch
    allow_hosts: ["{host}"]
    image_size: 128
    min_side: 32
"""


def run_corpus(run_dir: Path) -> Path:
    """collect -> filter -> dedup -> fetch over the bundled example sites, served locally; returns run_dir."""
    from mella.cli import main
    from mella.demo.siteserver import SiteServer, load_sites

    sites = load_sites(EXAMPLES / "sites")
    with SiteServer(sites) as server:
        # The four sites these tests were written for (the demo serves more languages; see examples/sites).
        seeds = ", ".join(f'"{server.base_url}/{s.name}/"' for s in sites if s.lang in ("ar", "ko", "ru", "sr"))
        config = run_dir.parent / "pipeline.yaml"
        config.write_text(PIPELINE.format(seeds=seeds, host=server.host_port))
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return run_dir


class TinyAnnotateOptions(StageOptions):
    fetch_dir: str
    captioner: str
    translator: str



class TinyAnnotate(Stage):
    """Caption every image in English with a tiny VLM and translate the caption into the row's language."""

    name = "tiny-annotate"
    Options = TinyAnnotateOptions
    _unpicklable = ("captioner", "translator", "images")

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema, *[f for f in ANNOTATIONS if f.name != "key"])

    def setup(self) -> None:
        from mella.fetch.wds import ImageStore
        from mella.models import load_backend

        self.captioner = load_backend("hf", {"model": self.options.captioner})
        self.translator = load_backend("hf", {"model": self.options.translator})
        self.images = ImageStore(self.options.fetch_dir)

    def process(self, rows: list[dict[str, Any]], out) -> None:
        from mella.models.base import GenOptions, GenRequest

        short = GenOptions(max_new_tokens=10)
        requests = [GenRequest("Describe this image in one English sentence.", self.images.open(r["key"]))
                    for r in rows]
        captions = self.captioner.generate(requests, short)
        by_lang: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            by_lang[row["lang"]].append(i)
        translations: dict[int, str] = {}
        for lang, idx in by_lang.items():
            texts = self.translator.translate([captions[i] for i in idx], "en", lang, short)
            translations.update(zip(idx, texts, strict=True))
        for i, row in enumerate(rows):
            out.keep({**row, "caption": captions[i] or "(empty tiny caption)", "caption_lang": "en",
                      "caption_mode": "plain", "caption_model": TINY_CAPTIONER,
                      "translation": translations[i] or "(empty tiny translation)", "translation_lang": row["lang"],
                      "translation_model": TINY_TRANSLATOR})
