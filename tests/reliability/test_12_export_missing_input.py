"""Issue 15 item 12: ``mella export`` on a path that does not exist failed after creating an empty ``--out``;
now it fails first, with one line, and creates nothing."""

from __future__ import annotations

from inputkit import make_outputs

from mella.cli import main


def test_12_export_missing_build_creates_no_out(tmp_path, capsys):
    fetch = make_outputs(tmp_path / "real")["fetch"]  # real images, so only the build path is wrong
    capsys.readouterr()  # the fixture's own log lines
    out = tmp_path / "export"
    code = main(["export", str(tmp_path / "no" / "such" / "build"), "--format", "llava", "--out", str(out),
                 "--images", str(fetch)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "internal error" not in err, err
    assert err == f"mella: error: input {tmp_path / 'no' / 'such' / 'build'} does not exist"
    assert not out.exists()


def test_12_export_step_missing_build_creates_no_out(tmp_path):
    from mella.dataset.export import ExportStep
    from mella.errors import MellaError

    out = tmp_path / "export"
    try:
        ExportStep(formats=["llava"]).execute([str(tmp_path / "nope")], out)
    except MellaError as exc:
        assert str(exc) == f"input {tmp_path / 'nope'} does not exist"
    else:
        raise AssertionError("export of a missing build succeeded")
    assert not out.exists()
