"""The coverage ledger on the emulator: states, incremental refresh, the full pass, RPO precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine_helpers import PROJECT, EndToEnd
from ledger_scene import Scene, backup_by_hand, build_scene, client, emulator_now, settle

from cbr_emulator.config import Progression
from orchestrator.cbr.bodies import CheckpointParameters
from orchestrator.config import CoverageSettings
from orchestrator.engine.coverage import refresh_project
from orchestrator.engine.coverage_states import classify

DAY = 86_400.0
IN_TWO_DAYS = timedelta(days=2)


def rpos(scene: Scene, **over: object) -> CoverageSettings:
    """Vaults of ours and of the policy: 3 days; the project: 1 day (so vault-hand's); default 1 hour."""
    values: dict[str, object] = {
        "default_rpo_seconds": 3600.0,
        "projects": {PROJECT: DAY},
        "vaults": {"vault-e2e": 3 * DAY, scene.policy_vault_id: 3 * DAY},
        "page_size": 2,
        **over,
    }
    return CoverageSettings.model_validate(values)


async def states(e2e: EndToEnd, settings: CoverageSettings) -> dict[str, str]:
    rows = await e2e.store.coverage.entries([PROJECT], at=emulator_now(e2e, IN_TWO_DAYS))
    return {entry.resource_id: entry.state for entry in classify(rows, settings)}


async def test_each_resource_gets_exactly_its_state(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = rpos(scene)
    async with client(e2e) as cbr:
        report = await refresh_project(cbr, e2e.store.coverage, settings)
    s = scene.servers
    assert report.full
    assert await states(e2e, settings) == {
        s[0]: "ok", s[1]: "ok",  # our workflow, vault-e2e held to 3 days by name
        s[2]: "ok", s[3]: "ok",  # the policy's run, its vault held to 3 days by id
        s[4]: "stale",  # by hand, two days ago, the project's RPO of one day
        s[5]: "never",
        s[6]: "unprotected", s[7]: "unprotected",
    }  # fmt: skip


async def test_rpo_per_vault_overrides_per_project_overrides_default(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    async with client(e2e) as cbr:
        await refresh_project(cbr, e2e.store.coverage, rpos(scene))
    s = scene.servers
    by_default = await states(e2e, rpos(scene, projects={}, vaults={}, default_rpo_seconds=3 * DAY))
    assert [by_default[r] for r in s[:5]] == ["ok"] * 5
    by_project = await states(e2e, rpos(scene, projects={PROJECT: DAY}, vaults={}))
    assert [by_project[r] for r in s[:5]] == ["stale"] * 5
    by_vault = await states(e2e, rpos(scene, projects={PROJECT: DAY}, vaults={scene.hand_vault_id: 3 * DAY}))
    assert [by_vault[r] for r in s[:5]] == ["stale"] * 4 + ["ok"]


async def test_a_second_refresh_lists_only_the_new_backups(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = rpos(scene)
    counters = e2e.emulator.counters
    async with client(e2e) as cbr:
        before = counters.requests_of("list_backups")
        first = await refresh_project(cbr, e2e.store.coverage, settings)
        first_calls = counters.requests_of("list_backups") - before
        await backup_by_hand(e2e, cbr, scene.hand_vault_id, scene.servers[5])
        before = counters.requests_of("list_backups")
        second = await refresh_project(cbr, e2e.store.coverage, settings)
        second_calls = counters.requests_of("list_backups") - before
    assert (first.full, second.full) == (True, False)
    assert (first.backup_calls, second.backup_calls) == (first_calls, second_calls)
    assert second_calls < first_calls
    assert second.backups_listed < first.backups_listed
    assert (await states(e2e, settings))[scene.servers[5]] == "stale"  # the new backup was found


async def test_a_deleted_backup_leaves_the_ledger_at_the_full_pass(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = rpos(scene)
    hand = scene.servers[4]
    async with client(e2e) as cbr:
        await refresh_project(cbr, e2e.store.coverage, settings)
        await cbr.delete_backup(scene.hand_backup_id)
        settle(e2e)
        await refresh_project(cbr, e2e.store.coverage, settings)
        assert (await states(e2e, settings))[hand] == "stale"  # an incremental refresh cannot see it go
        await refresh_project(cbr, e2e.store.coverage, settings, full=True)
    assert (await states(e2e, settings))[hand] == "never"


async def test_a_backup_being_made_is_listed_again_until_it_is_good(e2e: EndToEnd) -> None:
    """The second refresh sees s5's first backup protecting (140 GB at 1 GB/s) and a newer good one of s4
    (incremental, smaller): the third still lists s5's (a cursor at the newest backup seen would skip it)."""
    scene = await build_scene(e2e)
    settings = rpos(scene)
    hand, never = scene.servers[4], scene.servers[5]
    async with client(e2e) as cbr:
        await refresh_project(cbr, e2e.store.coverage, settings)
        e2e.emulator.emulator.set_progression(Progression(base_seconds=0, gb_per_second=1, waiting_seconds=0))
        await cbr.create_checkpoint(scene.hand_vault_id, CheckpointParameters(resources=[never]))
        settle(e2e, 10)
        await cbr.create_checkpoint(scene.hand_vault_id, CheckpointParameters(resources=[hand]))
        settle(e2e, 100)
        second = await refresh_project(cbr, e2e.store.coverage, settings)
        assert (await backup_ids(e2e))[hand] != scene.hand_backup_id  # the newer one is good
        assert (await states(e2e, settings))[never] == "never"  # the older one is not yet
        settle(e2e, 100)
        third = await refresh_project(cbr, e2e.store.coverage, settings)
    assert (second.full, third.full) == (False, False)
    assert (await states(e2e, settings))[never] == "stale"


async def backup_ids(e2e: EndToEnd) -> dict[str, str | None]:
    return {row.resource_id: row.backup_id for row in await e2e.store.coverage.entries([PROJECT])}


async def test_a_full_pass_comes_by_itself_once_full_pass_seconds_have_gone_by(e2e: EndToEnd) -> None:
    scene = await build_scene(e2e)
    settings = rpos(scene, full_pass_seconds=DAY)
    started = datetime.now(UTC)
    async with client(e2e) as cbr:
        reports = [
            await refresh_project(cbr, e2e.store.coverage, settings, now=lambda at=at: at)
            for at in (started, started + timedelta(hours=23), started + timedelta(hours=25))
        ]
    assert [r.full for r in reports] == [True, False, True]
