"""What the report says about the run's state: finished, in progress (and which stages are pending), interrupted.

``run.json`` says ``running`` from the start of ``mella run`` until it ends, so a report written as a step of
the run reads ``running`` about its own run. The run folder's lock tells the cases apart: held by this process,
the report is a step of the run; held by another, the run goes on elsewhere; held by none, the run stopped
without finishing (killed) and a rerun resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mella.locks import held_elsewhere, is_held_here


def run_state(manifest: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """``{status, label, done, current, pending}`` for the report's header."""
    planned = [s.get("id") or s.get("stage") for s in (manifest.get("config") or {}).get("stages") or []]
    done = [s for s in (manifest.get("stages") or {}) if s in planned] or list(manifest.get("stages") or {})
    left = [s for s in planned if s not in done]
    status = manifest.get("status") or "unknown"
    state = {"status": status, "label": status, "done": done, "current": None, "pending": left}
    if status != "running":
        return state
    run_dir = Path(run_dir)
    count = f"{len(done)} of {len(planned)} stages done"
    if is_held_here(run_dir):  # this report is a step of the run that is writing it
        current = left[0] if left else None
        state.update(current=current, pending=left[1:],
                     label=f"in progress (this report is its step {current}; {count})")
    elif held_elsewhere(run_dir):
        state.update(current=left[0] if left else None, pending=left[1:],
                     label=f"in progress in another process ({count})")
    else:
        state.update(status="interrupted", label=f"interrupted ({count}; rerun mella run to resume)")
    return state
