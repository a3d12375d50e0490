"""The Ray executor on a real local Ray instance (2 CPUs): same outputs as the local executor."""

from __future__ import annotations

import subprocess
import sys

import pytest

ray = pytest.importorskip("ray")

from raykit import RAY_ARGS, CountingStage, output, setups  # noqa: E402

from mella.errors import MellaError  # noqa: E402
from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.ray import RayExecutor, stage_resources  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402
from sample_stages import ExplodingStage, FirstSeenStage, LengthStage, LinesStage, make_inputs  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(address="local", num_cpus=2, **RAY_ARGS)
    yield
    ray.shutdown()


def both(stage_factory, inputs, tmp_path, name="out", **ray_kwargs):
    """Run the stage under both executors; returns (local folder, ray folder, ray report)."""
    local, remote = tmp_path / f"{name}-local", tmp_path / f"{name}-ray"
    run_stage(stage_factory(), inputs, local, LocalExecutor(2, progress=False))
    report = run_stage(stage_factory(), inputs, remote, RayExecutor(progress=False, **ray_kwargs))
    return local, remote, report


def test_rows_dropped_parts_and_stats_equal_local(tmp_path):
    inputs = [str(make_inputs(tmp_path / "in", n_files=4, lines=120))]
    local, remote, report = both(lambda: LinesStage(min_chars=2), inputs, tmp_path)
    assert report.parts_run == 4 and report.rows == 4 * 108 and report.dropped == 4 * 12
    assert output(remote) == output(local)
    assert output(remote)["temporaries"] == [] and output(remote)["complete"]
    stats = (remote / "stats.json").read_text()
    assert '"executor": "ray"' in stats and '"parts_per_node"' in stats


def test_chained_row_stage_equals_local(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3, lines=60)
    first = tmp_path / "lines"
    run_stage(LinesStage(), [str(inputs)], first, LocalExecutor(1, progress=False))
    local, remote, _ = both(lambda: LengthStage(max_chars=14), [str(first)], tmp_path)
    assert output(remote) == output(local)
    assert output(remote)["stats"]["counters"]["dropped.too_long"] > 0


def test_global_step_runs_in_driver_and_is_not_reused_across_runs(tmp_path):
    # Same stage and options twice, on different inputs: workers must not reuse the first run's prepare().
    for n in (3, 4):
        inputs = make_inputs(tmp_path / f"in{n}", n_files=n, lines=40 + n)
        lines = tmp_path / f"lines{n}"
        run_stage(LinesStage(min_chars=0), [str(inputs)], lines, LocalExecutor(1, progress=False))
        local, remote, _ = both(FirstSeenStage, [str(lines)], tmp_path, name=f"first{n}")
        assert output(remote) == output(local)
        assert output(remote)["stats"]["counters"]["dropped.seen_in_earlier_shard"] == (n - 1) * 5


@pytest.mark.parametrize("actors", [False, True], ids=["tasks", "actors"])
def test_stage_is_set_up_once_per_worker(tmp_path, actors):
    inputs = [str(make_inputs(tmp_path / "in", n_files=6, lines=30))]
    logs = tmp_path / "logs"
    logs.mkdir()
    report = run_stage(CountingStage(log_dir=str(logs)), inputs, tmp_path / "out",
                       RayExecutor(workers=2, progress=False, actors=actors))
    assert report.parts_run == 6 and report.rows == 6 * 30
    # 6 parts, 2 in flight: an actor sets up once; a task worker keeps its stage between parts.
    assert setups(logs) == 2 if actors else 1 <= setups(logs) <= 3


def test_actor_pool_output_equals_local(tmp_path):
    inputs = [str(make_inputs(tmp_path / "in", n_files=3, lines=80))]
    local, remote, _ = both(lambda: LinesStage(min_chars=2, upper=True), inputs, tmp_path, actors=True)
    assert output(remote) == output(local)


def test_stage_error_propagates_and_commits_nothing_half_done(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3, lines=20)
    (inputs / "in-01.txt").write_text("a\nboom\nb\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="boom"):
        run_stage(ExplodingStage(), [str(inputs)], out, RayExecutor(progress=False))
    assert not (out / "part-00001._SUCCESS").exists() and not (out / "_SUCCESS").exists()


def test_mella_error_is_one_line_naming_the_part(tmp_path):
    inputs = [str(make_inputs(tmp_path / "in", n_files=2, lines=20))]
    (tmp_path / "logs").mkdir()
    stage = CountingStage(log_dir=str(tmp_path / "logs"), fail_on="file 1 line 3 ")
    with pytest.raises(MellaError) as err:
        run_stage(stage, inputs, tmp_path / "out", RayExecutor(progress=False))
    assert str(err.value).startswith("stage counting on ") and "in-01.txt: cannot use line 4" in str(err.value)
    assert "\n" not in str(err.value)


def test_resume_from_local_run_skips_committed_parts(tmp_path):
    inputs = [str(make_inputs(tmp_path / "in", n_files=4, lines=50))]
    out = tmp_path / "out"
    run_stage(LinesStage(), inputs, out, LocalExecutor(1, progress=False))
    for i in (1, 3):  # as if the local run had stopped before these parts
        (out / f"part-{i:05d}._SUCCESS").unlink()
    kept = (out / "part-00000.parquet").stat().st_mtime_ns
    report = run_stage(LinesStage(), inputs, out, RayExecutor(progress=False))
    assert (report.parts_run, report.parts_skipped) == (2, 2)
    assert (out / "part-00000.parquet").stat().st_mtime_ns == kept
    assert output(out)["stats"]["rows"] == 200


def test_resources_are_validated():
    class GPUStage(LinesStage):
        resources = {"num_gpus": 1, "gpus": 2}

    with pytest.raises(MellaError, match="unknown resources gpus"):
        stage_resources(GPUStage())
    assert stage_resources(LinesStage()) == {"num_cpus": 1}


def test_importing_the_executor_does_not_import_ray():
    code = "import sys, mella.pipeline.ray, mella.pipeline.runner; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_pipeline_file_with_executor_ray_equals_local(tmp_path, gold_shards):
    # filter then dedup (a global step in the driver) through `executor: ray` in a pipeline file.
    from mella.config import parse_pipeline
    from mella.pipeline.runner import run_pipeline

    outputs = {}
    for executor in ("local", "ray"):
        doc = {"name": "p", "executor": executor, "workers": 2,
               "stages": [{"stage": "filter", "inputs": [str(gold_shards)]}, {"stage": "dedup"}]}
        summary = run_pipeline(parse_pipeline(doc), tmp_path / executor, progress=False)
        assert summary["dedup"]["parts_total"] == 3
        outputs[executor] = {s: output(tmp_path / executor / s) for s in ("filter", "dedup")}
    assert outputs["ray"] == outputs["local"]
    assert outputs["ray"]["filter"]["stats"]["rows"] > 100 and outputs["ray"]["filter"]["stats"]["dropped"] > 50
    assert outputs["ray"]["dedup"]["stats"]["rows"] < outputs["ray"]["filter"]["stats"]["rows"]


def test_targeted_common_crawl_harvest_equals_local(tmp_path):
    # The sampled WARC files are chosen in the driver (resolve) and must travel to the workers with the stage.
    import pyarrow.parquet as pq

    from cccrawl import build_crawl, corpus_pages
    from mella.collect.collect import CollectStage

    build_crawl(tmp_path / "crawl", corpus_pages(), warc_files=6, index_files=3, row_group_size=4)
    stage = lambda: CollectStage(langs=["sr", "th", "ru"], cc_base=str(tmp_path / "crawl"), cc_files=4)  # noqa: E731
    local, remote, report = both(stage, ["cc:CC-MAIN-2025-13"], tmp_path)
    assert report.parts_run == 3 and report.rows > 0
    assert output(remote) == output(local)
    rows = pq.read_table(sorted(remote.glob("part-*.parquet"))).to_pylist()
    sources = {r["source"].rsplit("/", 1)[-1] for r in rows}
    assert 0 < len(sources) <= 4  # only pages in the sampled WARC files
