"""Protection posture on the emulator: each change of state told once (also by two recorders at once and
after a restart), stale → act's one backup per resource and episode under its cap and rate, and the
recovered event once the backup landed, published through the outbox and the relay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from engine_helpers import PROJECT, REGION, EndToEnd, collect
from ledger_scene import Scene, build_scene, client, emulator_now
from prometheus_client import REGISTRY
from test_coverage_ledger import IN_TWO_DAYS, rpos

from orchestrator.config import Settings
from orchestrator.engine.posture import record_posture
from orchestrator.engine.posture_act import act_on_posture, command_id_of
from orchestrator.engine.posture_refresh import refresh_and_record
from orchestrator.store import Store, WorkflowStatus


def posture_settings(e2e: EndToEnd, scene: Scene, **coverage: object) -> Settings:
    return e2e.settings.model_copy(update={"coverage": rpos(scene, **coverage)})


async def outbox(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """The posture events written so far: (routing key, data)."""
    rows = await store._pool.fetch(
        "SELECT routing_key, body FROM outbox WHERE routing_key LIKE 'posture.%' ORDER BY id"
    )
    return [(r["routing_key"], r["body"]["data"]) for r in rows]


def told(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str | None, str]]:
    return sorted((key, data["resource_id"], data["previous"], data["state"]) for key, data in events)


def counted(event: str) -> float:
    labels = {"project": PROJECT, "event": event}
    return REGISTRY.get_sample_value("cbr_orch_posture_events_total", labels) or 0.0


async def test_each_change_is_told_once_by_two_recorders_and_after_a_restart(e2e: EndToEnd) -> None:
    stale_before = counted("stale")
    scene = await build_scene(e2e)
    settings = posture_settings(e2e, scene)
    s = scene.servers
    async with client(e2e) as cbr:
        await refresh_and_record(cbr, e2e.store, settings, REGION, at=emulator_now(e2e, IN_TWO_DAYS))
    at = emulator_now(e2e, IN_TWO_DAYS)
    other = await Store.connect(settings.database_url, max_size=2)
    try:  # a second worker records the same refresh at the same moment
        await asyncio.gather(
            record_posture(e2e.store, settings.coverage, PROJECT, REGION, at),
            record_posture(other, settings.coverage, PROJECT, REGION, at),
        )
    finally:
        await other.close()
    expected = sorted(
        [
            ("posture.stale", s[4], None, "stale"),  # by hand two days ago, the project's RPO of a day
            ("posture.stale", s[5], None, "never"),  # in vault-hand, never backed up
        ]
    )  # the ok ones and the two in no vault are stored without an event
    assert told(await outbox(e2e.store)) == expected
    assert counted("stale") - stale_before == 2
    restarted = await Store.connect(settings.database_url, max_size=2)
    try:
        report = await record_posture(restarted, settings.coverage, PROJECT, REGION, at)
        assert (report.changes, report.events) == (0, {})
        known = await restarted.posture.states(PROJECT)
        assert {r: k.state for r, k in known.items()} == {
            s[0]: "ok", s[1]: "ok", s[2]: "ok", s[3]: "ok", s[4]: "stale", s[5]: "never",
            s[6]: "unprotected", s[7]: "unprotected",
        }  # fmt: skip
    finally:
        await restarted.close()
    assert told(await outbox(e2e.store)) == expected
    later = await record_posture(e2e.store, settings.coverage, PROJECT, REGION, at + timedelta(days=2))
    assert later.events == {"stale": 4}  # ours and the policy's, held to 3 days, now 4 days old
    data = dict((await outbox(e2e.store))[-1][1])
    assert data["state"] == "stale" and data["previous"] == "ok" and data["episode"] == 1
    assert data["rpo_seconds"] == 3 * 86_400.0 and data["age_seconds"] > data["rpo_seconds"]


async def test_stale_to_act_submits_one_backup_per_resource_and_episode(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = posture_settings(e2e, scene, act=True)
    s = scene.servers
    at = emulator_now(e2e, IN_TWO_DAYS)
    async with client(e2e) as cbr:
        first = await refresh_and_record(cbr, e2e.store, settings, REGION, at=at)
        again = await refresh_and_record(cbr, e2e.store, settings, REGION, at=at)
    assert first.act is not None and again.act is not None
    assert first.act.results == {"submitted": 2} and again.act.results == {}
    assert first.act.command_ids == [
        command_id_of(PROJECT, s[5], 1),
        command_id_of(PROJECT, s[4], 1),
    ]  # never first
    for command_id in first.act.command_ids:
        workflow = await e2e.workflow(command_id)
        assert workflow.input["vault"]["id"] == scene.hand_vault_id  # the vault it is bound to
    await e2e.drain()
    for command_id in first.act.command_ids:
        done = await e2e.workflow(command_id)
        assert done.status is WorkflowStatus.SUCCEEDED, (done.error_code, done.error_message, done.result)
    soon = datetime.now(UTC) + timedelta(hours=2)
    async with client(e2e) as cbr:
        landed = await refresh_and_record(cbr, e2e.store, settings, REGION, at=soon)
    assert landed.posture.events == {"recovered": 2}
    assert landed.act is not None and landed.act.results == {}
    await e2e.drain()  # the relay publishes the recovered events
    published = [
        e for e in await collect(e2e.events_queue) if e["type"].startswith("io.cbr-orchestrator.posture")
    ]
    assert sorted((e["type"], e["data"]["resource_id"]) for e in published) == sorted(
        [
            ("io.cbr-orchestrator.posture.stale", s[4]),
            ("io.cbr-orchestrator.posture.stale", s[5]),
            ("io.cbr-orchestrator.posture.recovered", s[4]),
            ("io.cbr-orchestrator.posture.recovered", s[5]),
        ]
    )
    async with client(e2e) as cbr:  # stale again, days later: a new episode, a new command
        anew = await refresh_and_record(cbr, e2e.store, settings, REGION, at=soon + timedelta(days=2))
    assert anew.act is not None
    assert command_id_of(PROJECT, s[4], 2) in anew.act.command_ids


async def test_act_keeps_to_its_cap_and_rate_and_two_workers_never_double(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = posture_settings(e2e, scene, act=True, act_max_per_run=3, act_rate=4.0)
    at = emulator_now(e2e, IN_TWO_DAYS + timedelta(days=2))  # all six in vaults are out of their RPO
    async with client(e2e) as cbr:
        await refresh_project_only(cbr, e2e, settings)
    await record_posture(e2e.store, settings.coverage, PROJECT, REGION, at)
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    other = await Store.connect(settings.database_url, max_size=2)
    try:  # two workers act at once: the cap is each one's, the commands are the episodes'
        one, two = await asyncio.gather(
            act_on_posture(e2e.store, settings, PROJECT, REGION, sleep=pause),
            act_on_posture(other, settings, PROJECT, REGION, sleep=pause),
        )
        rest = await act_on_posture(other, settings, PROJECT, REGION, sleep=pause)
    finally:
        await other.close()
    assert len(one.command_ids) == len(two.command_ids) == 3
    assert pauses.count(0.25) == len(pauses) >= 4  # 1 / act_rate between two commands of a run
    commands = await e2e.store._pool.fetchval(
        "SELECT count(*) FROM workflows WHERE command_id LIKE 'posture:%'"
    )
    submitted = sum(r.results.get("submitted", 0) for r in (one, two, rest))
    assert commands == submitted == 6  # one per resource out of its RPO, however the runs overlapped
    assert await e2e.store.posture.to_act(PROJECT, 10) == []


async def refresh_project_only(cbr: Any, e2e: EndToEnd, settings: Settings) -> None:
    from orchestrator.engine.coverage import refresh_project

    await refresh_project(cbr, e2e.store.coverage, settings.coverage)
