"""Adversarial property tests: hostile names never become paths outside their root, and ``--overwrite``
never deletes an input, another stage's folder, or a file mella did not write, whatever the layout.

Bounded for CI (a few dozen examples each); ``make fuzz`` raises the count with MELLA_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mella.errors import ConfigError, MellaError
from mella.overwrite import clear_output
from mella.paths import check_key, name_problem, under

EXAMPLES = int(os.environ.get("MELLA_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="MELLA_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text that looks like what attackers send: separators, dots, NUL, control and odd Unicode.
hostile = st.lists(st.sampled_from(list("./\\:~$*?[]-_ aZ09\x00\n\t") + ["..", "é", "\u202e", "ﾟ"]),
                   max_size=12).map("".join) | st.text(max_size=12)


@pytest.mark.fuzz
@FUZZ
@given(name=hostile)
def test_fuzz_safe_names_stay_one_level_under_their_root(tmp_path_factory, name):
    root = tmp_path_factory.getbasetemp() / "root"
    if name_problem("id", name) is None:
        target = under(root, name)
        assert target.parent == root.resolve() and not name.startswith(".") and "/" not in name
    try:
        key = check_key(name, "fuzz")
    except MellaError as exc:
        assert "not a safe key" in str(exc)
    else:
        assert under(root, f"{key}.jpg").parent == root.resolve() and "." not in key


@pytest.mark.fuzz
@FUZZ
@given(ids=st.lists(hostile, min_size=1, max_size=3), name=hostile)
def test_fuzz_pipeline_ids_and_names(tmp_path_factory, ids, name):
    from mella.config import parse_pipeline
    from mella.pipeline import registry as stage_mod

    stage_mod.STAGES.setdefault("lines", "sample_stages:LinesStage")
    folder = tmp_path_factory.getbasetemp() / "fuzz-in"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_text("x\n")
    doc = {"name": name, "stages": [{"stage": "lines", "id": sid, **({"inputs": [str(folder)]} if i == 0 else {})}
                                    for i, sid in enumerate(ids)]}
    try:
        config = parse_pipeline(doc)
    except ConfigError:
        return
    run = tmp_path_factory.getbasetemp() / "run"
    for sc in config.stages:
        assert under(run, sc.id).parent == run.resolve()
    assert name_problem("name", config.name) is None


# A small world of folders: an input folder, stage folders of a run, a run folder, plain folders.
NODES = ["run", "run/collect", "run/filter", "run/filter/sub", "in", "in/sub", "plain", "plain/deeper"]


def build_world(root: Path, marks: dict[str, str]) -> None:
    for node in NODES:
        (root / node).mkdir(parents=True, exist_ok=True)
        (root / node / "user-notes.txt").write_text(f"notes in {node}")
    (root / "run" / "run.json").write_text("{}")
    (root / "in" / "a.txt").write_text("input")
    for node, stage in marks.items():
        folder = root / node
        (folder / "part-00000.parquet").write_bytes(b"PAR1")
        (folder / "part-00000._SUCCESS").write_text(json.dumps({"fingerprint": "x"}))
        (folder / "stats.json").write_text(json.dumps({"stage": stage}))


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.fuzz
@FUZZ
@given(out=st.sampled_from(NODES + ["run/new", "plain/new"]),
       inputs=st.lists(st.sampled_from(["in", "in/a.txt", "in/*.txt", "run/collect", "run/filter"]),
                       min_size=1, max_size=2),
       stage=st.sampled_from(["filter", "dedup", "export"]),
       marks=st.dictionaries(st.sampled_from(["run/collect", "run/filter", "plain", "plain/deeper"]),
                             st.sampled_from(["collect", "filter", "dedup"]), max_size=3))
def test_fuzz_overwrite_deletes_only_its_own_files(tmp_path_factory, out, inputs, stage, marks):
    root = tmp_path_factory.mktemp("world")
    build_world(root, marks)
    before = files(root)
    target = root / out
    try:
        clear_output(target, [str(root / i) for i in inputs], stage)
    except MellaError as exc:
        assert "--overwrite would delete" in str(exc) or "is a file" in str(exc)
        assert files(root) == before
        return
    after = files(root)
    gone = set(before) - set(after)
    prefix = target.relative_to(root).as_posix() + "/"
    for path in gone:  # only mella's own files of the output folder itself
        assert path.startswith(prefix) and "/" not in path[len(prefix):], path
        assert path.rsplit("/", 1)[-1] in {"part-00000.parquet", "part-00000._SUCCESS", "stats.json"}, path
    for path, data in after.items():
        assert before[path] == data
    assert all(p in after for p in before if p.endswith("user-notes.txt") or p.startswith("in/"))
