"""The gauges read from PostgreSQL: the age of each project's last good backups against the RPO, per
resource only when asked, and the outbox's lag (through its partial index)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from scrape import now, registry
from store_rows import create_one, raw_sql

from orchestrator.broker.gauges import OutboxGauge
from orchestrator.config import CoverageSettings, MetricsSettings
from orchestrator.engine.backup_ages import BackupAgeGauges
from orchestrator.engine.coverage_states import STATES
from orchestrator.store import Finish, NewWorkflow, OutboxEvent, Store, WorkflowStatus
from orchestrator.store.coverage import Cursor, GoodBackup, Protectable

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER = "f" * 32
REGION = "eu-west-101"
HOUR = 3600.0
RPO = 6 * HOUR


async def backed_up(store: Store, project: str, results: list[dict[str, Any]], hours_ago: float = 0) -> None:
    """A backup workflow created, claimed and finished succeeded as the engine finishes one (with its
    event); then dated ``hours_ago`` back, as if it had ended then."""
    command_id = f"backup-{uuid.uuid4().hex[:8]}"
    resources = [{"id": r["resource_id"]} for r in results]
    new = NewWorkflow(uuid.uuid4(), command_id, "backup", project, REGION, {"resources": resources})
    await create_one(store, new)
    [wf] = await store.claim_due("test-worker", 30, 1)
    event = OutboxEvent(f"{command_id}-final", "workflow.succeeded", {"status": "succeeded"})
    finish = Finish(WorkflowStatus.SUCCEEDED, {"resources": results})
    await store.finish_with_event(wf.claim, {"phase": "done"}, finish, event, [])
    await raw_sql(store).execute(
        "UPDATE workflows SET finished_at = now() - make_interval(secs => $2) WHERE id = $1",
        wf.id,
        hours_ago * HOUR,
    )


def good(resource_id: str) -> dict[str, Any]:
    return {"resource_id": resource_id, "status": "succeeded", "backup_id": f"b-{resource_id}"}


async def test_one_fresh_and_one_old_backup_give_one_ok_and_one_stale(store: Store) -> None:
    await backed_up(store, PROJECT, [good("fresh")], hours_ago=1)
    await backed_up(store, PROJECT, [good("old")], hours_ago=30)
    await backed_up(store, PROJECT, [good("old")], hours_ago=40)  # an older backup of it: the last counts
    failed = {"resource_id": "never", "status": "failed", "error_code": "x"}
    await backed_up(store, PROJECT, [failed])  # no good backup: not counted
    await backed_up(store, OTHER, [good("elsewhere")], hours_ago=2)

    await BackupAgeGauges(store, MetricsSettings(rpo_seconds=RPO)).sample()

    assert now("cbr_orch_protected_resources", project=PROJECT, state="ok") == 1
    assert now("cbr_orch_protected_resources", project=PROJECT, state="stale") == 1
    assert 30 * HOUR <= now("cbr_orch_backup_age_seconds", project=PROJECT) < 30 * HOUR + 60
    assert now("cbr_orch_protected_resources", project=OTHER, state="ok") == 1
    assert now("cbr_orch_protected_resources", project=OTHER, state="stale") == 0
    assert not [k for k in registry() if k[0] == "cbr_orch_resource_backup_age_seconds"]


async def test_per_resource_ages_only_when_asked_and_gone_with_their_rows(store: Store) -> None:
    await backed_up(store, PROJECT, [good("fresh"), good("second")], hours_ago=1)
    await backed_up(store, PROJECT, [good("old")], hours_ago=30)

    await BackupAgeGauges(store, MetricsSettings(rpo_seconds=RPO, per_resource=True)).sample()
    ages = {
        dict(labels)["resource_id"]: v
        for (name, labels), v in registry().items()
        if name == "cbr_orch_resource_backup_age_seconds"
    }
    assert set(ages) == {"fresh", "second", "old"}
    assert HOUR <= ages["fresh"] < HOUR + 60 and 30 * HOUR <= ages["old"] < 30 * HOUR + 60

    await raw_sql(store).execute("DELETE FROM workflows")
    await BackupAgeGauges(store, MetricsSettings(rpo_seconds=RPO, per_resource=True)).sample()
    gone = ("cbr_orch_resource_backup_age_seconds", "cbr_orch_backup_age_seconds")
    assert not [k for k in registry() if k[0] in gone]


async def test_the_outbox_lag_is_the_age_of_the_oldest_event_not_yet_published(store: Store) -> None:
    await OutboxGauge(store).sample()
    assert now("cbr_orch_outbox_lag_seconds") == 0  # nothing to publish

    await backed_up(store, PROJECT, [good("a")])
    await backed_up(store, PROJECT, [good("b")])
    await raw_sql(store).execute(
        "UPDATE outbox SET created_at = now() - interval '5 minutes' WHERE id = (SELECT min(id) FROM outbox)"
    )
    await OutboxGauge(store).sample()
    assert 300 <= now("cbr_orch_outbox_lag_seconds") < 360

    await raw_sql(store).execute("UPDATE outbox SET published_at = now()")
    await OutboxGauge(store).sample()
    assert now("cbr_orch_outbox_lag_seconds") == 0


async def test_the_outbox_lag_is_read_through_the_partial_index(store: Store) -> None:
    from orchestrator.store.named_sql import q

    async with raw_sql(store).acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {q('outbox_lag')}"))
    assert "outbox_pending" in plan, plan


async def test_once_the_coverage_ledger_has_rows_the_gauges_read_it_in_four_states(store: Store) -> None:
    """The ledger's backups (CBR's listings) and our workflows' results together, against the coverage
    RPOs: vault v1 is held to 6 hours, the rest of the project to one day."""
    await backed_up(store, PROJECT, [good("ours")], hours_ago=10)  # not in the ledger's backups: still counts
    at = datetime.now(UTC)
    protectables = [
        Protectable("ours", "server", None, "v2", "vault-2"),
        Protectable("by-policy", "server", None, "v1", "vault-1"),
        Protectable("never", "server", None, "v1", "vault-1"),
        Protectable("out", "server", None, None, None),
    ]
    backups = [GoodBackup("by-policy", "b-p", "v1", at - timedelta(hours=8))]
    await store.coverage.save(PROJECT, protectables, backups, Cursor(at, at), full=True)
    coverage = CoverageSettings(projects={PROJECT: 24 * HOUR}, vaults={"vault-1": RPO})

    await BackupAgeGauges(store, MetricsSettings(rpo_seconds=RPO), coverage).sample()

    counts = {s: now("cbr_orch_protected_resources", project=PROJECT, state=s) for s in STATES}
    assert counts == {"ok": 1, "stale": 1, "never": 1, "unprotected": 1}
    assert 10 * HOUR <= now("cbr_orch_backup_age_seconds", project=PROJECT) < 10 * HOUR + 60
    assert not [k for k in registry() if dict(k[1]).get("project") == OTHER]
