"""The Ray executor on a two-node cluster simulated on one machine: parts spread, outputs equal local."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")

from raykit import RAY_ARGS, output  # noqa: E402

from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.ray import RayExecutor  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402
from sample_stages import FirstSeenStage, LinesStage, make_inputs  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": RAY_ARGS["object_store_memory"]}
    cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False, **node})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_two_nodes_are_used_and_rows_equal_local(tmp_path, cluster):
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    inputs = [str(make_inputs(tmp_path / "in", n_files=6, lines=200))]
    run_stage(LinesStage(min_chars=2, delay=0.05), inputs, tmp_path / "local", LocalExecutor(2, progress=False))
    report = run_stage(LinesStage(min_chars=2, delay=0.05), inputs, tmp_path / "ray", RayExecutor(progress=False))
    assert report.parts_run == 6
    assert output(tmp_path / "ray") == output(tmp_path / "local")
    stats = json.loads((tmp_path / "ray" / "stats.json").read_text())
    assert stats["workers"] == 2  # one CPU per node, one part per CPU
    per_node = stats["ray"]["parts_per_node"]
    assert len(per_node) == 2 and sum(per_node.values()) == 6


def test_global_step_on_the_cluster_equals_local(tmp_path, cluster):
    inputs = make_inputs(tmp_path / "in", n_files=4, lines=50)
    lines = tmp_path / "lines"
    run_stage(LinesStage(min_chars=0), [str(inputs)], lines, RayExecutor(progress=False))
    run_stage(FirstSeenStage(), [str(lines)], tmp_path / "local", LocalExecutor(1, progress=False))
    run_stage(FirstSeenStage(), [str(lines)], tmp_path / "ray", RayExecutor(progress=False))
    assert output(tmp_path / "ray") == output(tmp_path / "local")


def test_real_filter_stage_on_the_cluster_equals_local(tmp_path, cluster, gold_shards):
    from mella.filter.filter import FilterStage

    run_stage(FilterStage(), [str(gold_shards)], tmp_path / "local", LocalExecutor(1, progress=False))
    report = run_stage(FilterStage(), [str(gold_shards)], tmp_path / "ray", RayExecutor(progress=False))
    assert report.rows > 100
    assert output(tmp_path / "ray") == output(tmp_path / "local")
