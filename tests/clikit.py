"""What the CLI tests share: running a command that must be refused as a bad option."""

from __future__ import annotations

from pathlib import Path

from mella.cli import main


def refused(capsys, argv: list[str], out: Path) -> list[str]:
    """Run ``mella ARGV``; assert exit 2, no traceback, nothing written; return the listed problems."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()
    return [line.strip()[2:] for line in err.splitlines() if line.strip().startswith("- ")]


def pairs_folder(tmp_path: Path) -> Path:
    """A real pairs folder (what collect writes) with one Russian alt-text: input for option tests."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.records import PAIRS

    row = dict.fromkeys(PAIRS.names)
    row.update(page_url="http://127.0.0.1/ru/index.html", image_url="http://127.0.0.1/ru/a.png",
               alt="Космический корабль летит среди звёзд", domain="127.0.0.1", source="test", source_offset=0)
    folder = tmp_path / "collect"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=PAIRS), folder / "part-00000.parquet")
    return folder
