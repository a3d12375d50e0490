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
