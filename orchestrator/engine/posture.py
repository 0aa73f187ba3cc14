"""Protection posture: after a refresh of the coverage ledger, each resource's state is compared with the
one last recorded, and a change is stored with the event that tells it, in one transaction
(``store.posture``), so that it is told once whoever refreshes and whenever they restart.

- into ``stale`` or ``never`` (from ``ok``, ``unprotected``, each other, or a resource not seen before):
  ``posture.stale``, its ``data.state`` saying which; entering either from anything but the other begins
  a new staleness episode (what stale → act submits one backup command for);
- from ``stale`` or ``never`` back to ``ok``: ``posture.recovered``;
- from ``ok``, ``stale`` or ``never`` to ``unprotected`` (its vault let it go): ``posture.unprotected``;
- a resource first seen ``ok`` or ``unprotected``, and ``unprotected`` → ``ok``, are stored without an
  event: a project's servers in no vault are many and meant so, and are counted by the gauges instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from orchestrator.config import CoverageSettings
from orchestrator.engine.coverage_states import NEVER, OK, STALE, UNPROTECTED, CoverageEntry, classify
from orchestrator.messages import PostureEventData, PostureName, make_posture_event
from orchestrator.observability import metrics
from orchestrator.store import OutboxEvent, Store
from orchestrator.store.posture import Known, PosturePlan, StateChange

log = logging.getLogger(__name__)

OUT_OF_RPO = frozenset({STALE, NEVER})
NAME_MAX = 255


@dataclass(frozen=True)
class PostureReport:
    project_id: str
    changes: int
    events: dict[str, int]  # by event name


def event_name(previous: str | None, state: str) -> PostureName | None:
    """The event that tells a change from ``previous`` (None: not seen before) to ``state``, if any."""
    if state in OUT_OF_RPO:
        return "stale"
    if state == OK and previous in OUT_OF_RPO:
        return "recovered"
    if state == UNPROTECTED and previous in (OK, STALE, NEVER):
        return "unprotected"
    return None


def episode_after(known: Known | None, state: str) -> int:
    episode = 0 if known is None else known.episode
    began = state in OUT_OF_RPO and (known is None or known.state not in OUT_OF_RPO)
    return episode + 1 if began else episode


def plan(entries: Sequence[CoverageEntry], known: dict[str, Known], region: str, at: datetime) -> PosturePlan:
    """The changes of ``entries`` against ``known``, and the event of each that is told."""
    changes: list[StateChange] = []
    events: list[OutboxEvent] = []
    for entry in entries:
        before = known.get(entry.resource_id)
        previous = None if before is None else before.state
        if previous == entry.state:
            continue
        episode = episode_after(before, entry.state)
        changes.append(StateChange(entry.resource_id, entry.state, episode))
        name = event_name(previous, entry.state)
        if name is not None:
            events.append(_event(entry, previous, episode, region, name, at))
    return PosturePlan(changes, events)


def _event(
    entry: CoverageEntry, previous: str | None, episode: int, region: str, name: PostureName, at: datetime
) -> OutboxEvent:
    data = PostureEventData.model_validate(
        {
            "project_id": entry.project_id,
            "region": region,
            "resource_id": entry.resource_id,
            "resource_type": entry.resource_type,
            "name": None if entry.name is None else entry.name[:NAME_MAX],
            "vault_id": entry.vault_id,
            "vault_name": None if entry.vault_name is None else entry.vault_name[:NAME_MAX],
            "state": entry.state,
            "previous": previous,
            "episode": episode,
            "rpo_seconds": entry.rpo_seconds,
            "age_seconds": entry.age_seconds,
            "last_backup_at": entry.last_backup_at,
            "backup_id": entry.backup_id,
        }
    )
    event = make_posture_event(data, name, at)
    return OutboxEvent(event.id, event.routing_key, event.model_dump(mode="json"))


async def record_posture(
    store: Store,
    settings: CoverageSettings,
    project_id: str,
    region: str,
    at: datetime | None = None,
) -> PostureReport:
    """Classify the project's ledger at ``at`` (None: PostgreSQL's now) and record what changed."""
    entries = classify(await store.coverage.entries([project_id], at), settings)
    written_at = at or datetime.now(UTC)
    recorded = await store.posture.record(
        project_id,
        [e.resource_id for e in entries],
        written_at,
        lambda known: plan(entries, known, region, written_at),
    )
    told: dict[str, int] = {}
    for event in recorded.events:
        name = event.routing_key.removeprefix("posture.")
        told[name] = told.get(name, 0) + 1
        metrics.POSTURE_EVENTS.labels(project_id, name).inc()
    if recorded.changes:
        log.info("posture of project %s: %d changes, events %s", project_id, len(recorded.changes), told)
    return PostureReport(project_id, len(recorded.changes), told)
