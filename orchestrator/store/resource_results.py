"""A single workflow's resources as ``status`` shows them, read from its stored row: from its result once it
is final, from its state while it runs (a backup's finished resources, the others waiting or running).

Stored states and results are read as they are, field by field: a row written by an older version, or by
hand, shows what it holds rather than failing ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.store.models import JsonDict, Workflow


@dataclass(frozen=True)
class ResourceOutcome:
    """One resource of a backup (a restore's target, a replication's source backup) and where it stands."""

    resource_id: str
    resource_type: str | None
    status: str  # succeeded, failed, skipped; waiting or running while the workflow runs
    backup_id: str | None = None  # a restore: the backup restored; a replication: the destination backup
    checkpoint_id: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None
    size_gb: int | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Where:
    """Where a backup's resources went: its checkpoint and vault, the same for all of them."""

    checkpoint_id: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None


NOWHERE = Where()


def resource_outcomes(wf: Workflow) -> list[ResourceOutcome]:
    """The workflow's resources in its command's order (none for a fleet: its resources are paged)."""
    if wf.kind == "fleet_backup":
        return []
    if wf.kind == "backup":
        return _backup(wf)
    return [_outcome(r) for r in _results(wf.result)]


def vault_of(wf: Workflow) -> tuple[str | None, str | None]:
    """A backup's vault as (id, name), each when known: the id once the backup has resolved its vault."""
    named = _dict(wf.input.get("vault"))
    vault_id = _text(wf.state.get("vault_id")) or _text(named.get("id"))
    return vault_id, _text(named.get("name"))


def checkpoint_of(wf: Workflow) -> str | None:
    return _text((wf.result or {}).get("checkpoint_id")) or _text(wf.state.get("checkpoint_id"))


def _backup(wf: Workflow) -> list[ResourceOutcome]:
    vault_id, vault_name = vault_of(wf)
    where = Where(checkpoint_of(wf), vault_id, vault_name)
    reported = {r.get("resource_id"): r for r in _results(wf.result)}
    reported.update({k: v for k, v in _dict(wf.state.get("results")).items() if k not in reported})
    waiting = "running" if wf.state.get("admitted") else "waiting"
    outcomes = []
    for ref in _list(wf.input.get("resources")):
        ref = _dict(ref)
        rid, rtype = _text(ref.get("id")) or "", _text(ref.get("type"))
        found = reported.get(rid)
        unfinished = {"resource_id": rid, "status": waiting}
        outcomes.append(_outcome(_dict(found) if found is not None else unfinished, where, rtype))
    return outcomes


def _outcome(result: JsonDict, where: Where = NOWHERE, type_given: str | None = None) -> ResourceOutcome:
    """A resource as reported (a ``ResourceResult`` as stored), in the backup's checkpoint and vault."""
    size = result.get("size_gb")
    return ResourceOutcome(
        resource_id=_text(result.get("resource_id")) or "",
        resource_type=_text(result.get("resource_type")) or type_given,
        status=_text(result.get("status")) or "failed",
        backup_id=_text(result.get("backup_id")),
        size_gb=size if isinstance(size, int) else None,
        error_code=_text(result.get("error_code")),
        error_message=_text(result.get("error_message")),
        checkpoint_id=where.checkpoint_id,
        vault_id=where.vault_id,
        vault_name=where.vault_name,
    )


def _results(result: JsonDict | None) -> list[JsonDict]:
    return [_dict(r) for r in _list((result or {}).get("resources"))]


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None
