"""The line ``submit --wait`` shows for a single workflow (how far it is: ``store.progress``)."""

from __future__ import annotations

from orchestrator.store import Workflow
from orchestrator.store.progress import percent_done

__all__ = ["percent_done", "progress_text"]


def progress_text(wf: Workflow) -> str:
    """``backup · running · 50%``: the line ``submit --wait`` shows for a single workflow."""
    percent = percent_done(wf)
    parts = [wf.kind, wf.status.value]
    if percent is not None:
        parts.append(f"{percent}%")
    return " · ".join(parts)
