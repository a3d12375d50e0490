"""Helpers of the issue-16 export tests (items 13-15): one real two-turn build, made once per session.

The build is the one tests/dataset makes: collect -> filter -> dedup -> fetch over the example sites on a local
server, tiny-model annotations through the hf backend, then ``mella build --conversation two_turn``.
"""

from __future__ import annotations

from pathlib import Path

_BUILT: dict[str, Path] = {}


def two_turn_build(tmp_path_factory) -> Path:
    """The build folder (its ``_global/build/summary.json`` names the fetch folder the exports read)."""
    if "build" not in _BUILT:
        from dataset.datasetkit import TinyAnnotate, run_corpus
        from mella.dataset.build import BuildStage
        from mella.models.tiny import make_tiny
        from mella.pipeline.local import LocalExecutor
        from mella.pipeline.runner import run_stage

        root = tmp_path_factory.mktemp("f16-exports")
        run_dir = run_corpus(root / "run")
        stage = TinyAnnotate(fetch_dir=str(run_dir / "fetch"), captioner=str(make_tiny("qwen2-vl", root / "vl")),
                             translator=str(make_tiny("nllb", root / "nllb")))
        executor = LocalExecutor(workers=1, progress=False)
        run_stage(stage, [str(run_dir / "fetch")], run_dir / "annotate", executor)
        run_stage(BuildStage(conversation="two_turn"), [str(run_dir / "annotate")], run_dir / "build", executor)
        _BUILT["build"] = run_dir / "build"
    return _BUILT["build"]


def build_rows(build_dir: Path) -> dict[str, dict]:
    """The build's samples by id."""
    import pyarrow.parquet as pq

    return {r["id"]: r for r in pq.read_table(sorted(build_dir.glob("part-*.parquet"))).to_pylist()}
