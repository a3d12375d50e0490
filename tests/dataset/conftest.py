"""Session fixtures: one real corpus run with tiny-model annotations, and the builds the tests share."""

from __future__ import annotations

import pytest
from datasetkit import TinyAnnotate, run_corpus

from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage

pytest.importorskip("transformers", reason="the models extra is not installed")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A run folder with collect, filter, dedup, fetch (real example sites) and tiny-model annotations."""
    from mella.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("dataset")
    run_dir = run_corpus(root / "run")
    captioner = make_tiny("qwen2-vl", root / "tiny-qwen2-vl")
    translator = make_tiny("nllb", root / "tiny-nllb")
    stage = TinyAnnotate(fetch_dir=str(run_dir / "fetch"), captioner=str(captioner), translator=str(translator))
    run_stage(stage, [str(run_dir / "fetch")], run_dir / "annotate", LocalExecutor(workers=1, progress=False))
    return run_dir


@pytest.fixture(scope="session")
def build(corpus):
    """``build(name, **options)``: the build stage run once per name over the annotated corpus."""
    from mella.dataset.build import BuildStage

    done = {}

    def get(name: str = "mella", **options):
        if name not in done:
            out = corpus / name
            run_stage(BuildStage(**options), [str(corpus / "annotate")], out, LocalExecutor(workers=1, progress=False))
            done[name] = out
        return done[name]

    return get
