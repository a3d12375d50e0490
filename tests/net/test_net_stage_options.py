"""The client options collect and fetch share are declared once (mella.net.NetStageOptions) and treated alike."""

from __future__ import annotations

import json

import pytest

from mella.collect.collect import CollectOptions, CollectStage
from mella.errors import MellaError
from mella.fetch.fetch import FetchOptions, FetchStage
from mella.net import NetOptions, NetStageOptions
from mella.options import is_runtime

SHARED = list(NetStageOptions.model_fields)
STAGES = {"collect": (CollectOptions, CollectStage), "fetch": (FetchOptions, FetchStage)}
#: The defaults a stage deliberately starts elsewhere; everything else about a shared field is the group's.
OWN_DEFAULTS = {("collect", "per_host_delay"): 1.0}


def _without_default(info) -> str:
    return repr(info).replace(f"default={info.default!r}", "default=?")


def test_the_shared_options_are_client_options():
    assert SHARED == ["allow_hosts", "respect_robots", "user_agent", "per_host_delay"]
    assert set(SHARED) <= set(NetOptions.model_fields)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_declares_no_shared_option_itself_but_a_default(stage):
    options, _ = STAGES[stage]
    assert issubclass(options, NetStageOptions)
    redeclared = set(options.__annotations__) & set(SHARED)
    assert redeclared == {name for (s, name) in OWN_DEFAULTS if s == stage}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", SHARED)
def test_each_stage_gets_the_group_field_as_declared(stage, name):
    options, _ = STAGES[stage]
    group, got = NetStageOptions.model_fields[name], options.model_fields[name]
    assert _without_default(got) == _without_default(group)
    assert got.get_default(call_default_factory=True) == OWN_DEFAULTS.get(
        (stage, name), group.get_default(call_default_factory=True))


@pytest.mark.parametrize("name", SHARED)
def test_both_fingerprints_treat_a_shared_option_alike(name):
    changed = {"allow_hosts": ["127.0.0.1:8000"], "respect_robots": False, "user_agent": "mybot/1.0",
               "per_host_delay": 7.5}[name]
    kept = {stage: cls(**{name: changed}).fingerprint() == cls().fingerprint()
            for stage, (_, cls) in STAGES.items()}
    assert kept["collect"] == kept["fetch"] == is_runtime(NetStageOptions.model_fields[name])


def test_allow_hosts_is_in_the_fingerprint_and_per_host_delay_is_not():
    # allow_hosts decides which hosts can be reached, so which rows succeed: a resume with another must stop.
    assert not is_runtime(NetStageOptions.model_fields["allow_hosts"])
    assert is_runtime(NetStageOptions.model_fields["per_host_delay"])
    for _, stage in STAGES.values():
        assert stage(allow_hosts=["127.0.0.1:8000"]).fingerprint() != stage().fingerprint()


def test_collect_parts_of_an_earlier_version_are_refused_not_mixed(tmp_path):
    # Collect's rows gained the structure columns and its fingerprint allow_hosts: a part an earlier version
    # committed (fingerprinted without allow_hosts) lacks those columns, so a rerun refuses to mix it in.
    from mella.collect.collect import CollectStage
    from mella.pipeline.local import LocalExecutor

    page = tmp_path / "p.html"
    page.write_text('<html lang="cs"><body><img src="a.jpg" alt="Karlův most v Praze za úsvitu"></body></html>',
                    encoding="utf-8")
    out = tmp_path / "out"
    stage = CollectStage(allow_hosts=["127.0.0.1"])
    LocalExecutor(workers=1, progress=False).run(stage, [_shard(page)], out)
    marker = out / "part-00000._SUCCESS"
    info = json.loads(marker.read_text())
    old = stage._fingerprint(leave_out=("allow_hosts",))
    assert info["fingerprint"] == stage.fingerprint() != old
    report = LocalExecutor(workers=1, progress=False).run(CollectStage(allow_hosts=["127.0.0.1"]), [_shard(page)], out)
    assert (report.parts_run, report.parts_skipped) == (0, 1)  # same version, same options: resumed
    info["fingerprint"] = old  # as the version before this one wrote it
    marker.write_text(json.dumps(info))
    with pytest.raises(MellaError, match="other options of this stage .or by a version of mella"):
        LocalExecutor(workers=1, progress=False).run(CollectStage(allow_hosts=["127.0.0.1"]), [_shard(page)], out)


def _shard(path):
    from mella.pipeline.shards import Shard

    return Shard(str(path))


def test_output_version_joins_the_fingerprint(monkeypatch):
    # Collect (alt_is_link_text) and filter (the headline rule) write other rows than the version before for
    # the same options: their output_version changes the fingerprint, so such folders are refused on resume
    # (test above) rather than mixed. An entry at version 0 keeps the fingerprint it always had.
    from mella.collect.collect import CollectStage
    from mella.filter.filter import FilterStage
    from mella.pipeline.entry import Entry

    assert Entry.output_version == 0
    for cls in (CollectStage, FilterStage):
        assert cls.output_version >= 1
        now = cls().fingerprint()
        monkeypatch.setattr(cls, "output_version", 0)
        assert cls().fingerprint() != now
        monkeypatch.undo()
        assert cls().fingerprint() == now
