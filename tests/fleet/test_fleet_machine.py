"""The fleet parent and the admission of its children as pure transitions (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.messages import BackupCommand, FleetBackupCommand, FleetCounts, Outcome, ResourceResult
from orchestrator.workflows import backup, fleet
from orchestrator.workflows.base import (
    Admit,
    Admitted,
    Call,
    ChildrenSpawned,
    Done,
    Failed,
    FleetSeen,
    ListProtectables,
    Progress,
    ProtectablesPage,
    ReadFleet,
    Resume,
    ShowVault,
    Sleep,
    SpawnChildren,
    Transition,
    VaultFound,
)

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"
WID = uuid.UUID(int=7)
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def command(select: dict[str, Any], **over: Any) -> FleetBackupCommand:
    raw = {"kind": "fleet_backup", "command_id": "f1", "project_id": P, "region": R, "select": select}
    return FleetBackupCommand.model_validate({**raw, **over})


def step(st: Any, obs: object) -> tuple[Any, Transition]:
    """One transition, with the state round-tripped through JSON as the store does."""
    machine = fleet.transition if isinstance(st, fleet.FleetState) else backup.transition
    t = machine(st, obs)
    return type(st).model_validate_json(t.state.model_dump_json()), t


def spawned(t: Transition) -> SpawnChildren:
    [action] = t.actions
    assert isinstance(action, SpawnChildren)
    return action


def counts(**kw: int) -> FleetCounts:
    return FleetCounts(**kw)


def test_explicit_resources_are_packed_into_children_carrying_caps_and_window() -> None:
    cmd = command(
        {"resources": [{"id": f"s{i:04d}"} for i in range(300)]},
        project_concurrency=7,
        vault_concurrency=2,
        window_seconds=1800,
    )
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    children = spawned(t).children
    assert [len(c.input["resources"]) for c in children] == [256, 44]
    first = BackupCommand.model_validate(children[0].input)  # a child is an ordinary backup command
    assert first.vault.create is not None and first.vault.name == f"fleet-{WID.hex[:8]}-server-001"
    assert first.admission is not None
    assert (first.admission.project_concurrency, first.admission.vault_concurrency) == (7, 2)
    assert first.admission.start_by == T0 + timedelta(minutes=30)
    assert st.selected == [] and "resources" not in st.model_dump()["options"]  # selection not kept
    assert len({c.command_id for c in children}) == 2


def test_protectables_are_listed_page_by_page_in_every_project_and_type() -> None:
    other = {"project_id": "f" * 32, "region": "eu-west-0"}
    cmd = command(
        {"protectables": {"types": ["server"], "projects": [{"project_id": P, "region": R}, other]}}
    )
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    assert t.actions == (Call(ListProtectables(P, R, "server", None, fleet.PAGE)),)
    full = tuple((f"s{i:03d}", "OS::Nova::Server", None) for i in range(fleet.PAGE))
    st, t = step(st, ProtectablesPage(full))
    assert t.actions == (Call(ListProtectables(P, R, "server", "s049", fleet.PAGE)),)
    st, t = step(st, ProtectablesPage((("s999", "OS::Nova::Server", "v-bound"),)))
    assert t.actions == (Call(ListProtectables("f" * 32, "eu-west-0", "server", None, fleet.PAGE)),)
    st, t = step(st, ProtectablesPage((("o1", "OS::Nova::Server", None),)))
    children = spawned(t).children
    assert [(c.project_id, c.input["vault"].get("id"), len(c.input["resources"])) for c in children] == [
        (P, "v-bound", 1),
        (P, None, fleet.PAGE),
        ("f" * 32, None, 1),
    ]


def test_given_vaults_are_shown_before_packing() -> None:
    cmd = command({"resources": [{"id": "a"}, {"id": "b"}]}, vaults=["v1"])
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    assert t.actions == (Call(ShowVault("v1")),)
    st, t = step(st, VaultFound("v1", ("b",)))
    [child] = spawned(t).children
    assert child.input["vault"] == {"id": "v1"}


def test_vault_selector_backs_up_each_vaults_resources_in_it() -> None:
    st, t = step(fleet.initial_state(command({"vaults": ["v1", "v2"]}), WID), Resume(T0))
    st, t = step(st, VaultFound("v1", ("a", "b")))
    assert t.actions == (Call(ShowVault("v2")),)
    st, t = step(st, VaultFound("v2", ("c",)))
    assert [(c.input["vault"]["id"], len(c.input["resources"])) for c in spawned(t).children] == [
        ("v1", 2),
        ("v2", 1),
    ]


def watching() -> Any:
    st, _ = step(fleet.initial_state(command({"resources": [{"id": "a"}, {"id": "b"}]}), WID), Resume(T0))
    st, t = step(st, ChildrenSpawned(1))
    assert t.actions == (ReadFleet(),)
    return st


def test_watching_reports_progress_in_steps_then_summarises_when_all_children_are_final() -> None:
    st = watching()
    st, t = step(st, FleetSeen(counts(total=2, running=2, children=1)))
    assert t.actions == (Sleep("poll"),)
    st, _ = step(st, Resume(T0 + timedelta(minutes=1)))
    st, t = step(st, FleetSeen(counts(total=2, running=1, succeeded=1, children=2, children_final=1)))
    progress, sleep = t.actions
    assert isinstance(progress, Progress) and progress.percent == 50 and sleep == Sleep("poll")
    assert progress.fleet is not None and progress.fleet.rate_per_minute == 1.0
    assert progress.fleet.eta_seconds == 60.0
    final = counts(total=2, succeeded=1, failed=1, children=2, children_final=2)
    st, t = step(st, FleetSeen(final))
    assert t.actions == (ReadFleet(results=True),)
    ok = ResourceResult(resource_id="a", status="succeeded", backup_id="b-a")
    bad = ResourceResult(
        resource_id="b", status="failed", error_code="BackupService.6114", error_message="full"
    )
    st, t = step(st, FleetSeen(final, (ok, bad)))
    [done] = t.actions
    assert isinstance(done, Done) and done.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert done.resources == (bad,)  # the first failed and skipped; the rest are read from PostgreSQL
    assert done.fleet is not None and done.fleet.problems_total == 1
    assert "backups" not in done.fleet.model_dump()


def test_outcomes_all_ok_none_ok_and_window_closed() -> None:
    def summary(*results: ResourceResult) -> Done:
        ok = sum(r.status == "succeeded" for r in results)
        bad = sum(r.status == "failed" for r in results)
        closed = sum(r.error_code == backup.WINDOW_CLOSED for r in results)
        c = counts(
            total=len(results),
            succeeded=ok,
            failed=bad,
            skipped=len(results) - ok - bad,
            window_closed=closed,
        )
        st, _ = step(watching(), FleetSeen(c.model_copy(update={"children": 1, "children_final": 1})))
        _, t = step(st, FleetSeen(c, results))
        [done] = t.actions
        assert isinstance(done, Done)
        return done

    ok = ResourceResult(resource_id="a", status="succeeded", backup_id="x")
    failed = ResourceResult(resource_id="b", status="failed", error_code="E", error_message="m")
    late = ResourceResult(resource_id="c", status="skipped", error_code=backup.WINDOW_CLOSED)
    assert summary(ok).outcome is Outcome.SUCCEEDED
    assert (summary(failed).outcome, summary(failed).error_code) == (Outcome.FAILED, "E")
    assert summary(late).outcome is Outcome.EXPIRED
    assert summary(ok, late).outcome is Outcome.PARTIALLY_SUCCEEDED


def test_busy_selection_waits_and_terminal_selection_fails() -> None:
    st, _ = step(fleet.initial_state(command({"vaults": ["v1"]}), WID), Resume(T0))
    _, t = step(st, Failed("retry_later", "APIG.0308", "throttled", retry_after=2))
    assert t.actions == (Sleep("busy", 1, 2),)
    _, t = step(st, Failed("terminal", "BackupService.6105", "no vault"))
    [done] = t.actions
    assert isinstance(done, Done) and (done.outcome, done.error_code) == (
        Outcome.FAILED,
        "BackupService.6105",
    )


# ------------------------------------------------------------------ a child's admission


def child(**admission: Any) -> backup.BackupState:
    cmd = BackupCommand.model_validate(
        {
            "command_id": "c",
            "project_id": P,
            "region": R,
            "vault": {"id": "v1"},
            "resources": [{"id": "s2"}, {"id": "s1"}],
            "admission": admission or None,
        }
    )
    return backup.initial_state(cmd, WID)


def test_a_backup_is_admitted_before_any_call_with_its_locks_and_caps() -> None:
    st, t = step(child(project_concurrency=3, vault_concurrency=1), Resume(T0))
    scopes = ((f"project:{R}/{P}", 3), (f"vault:{R}/{P}/v1", 1))
    assert t.actions == (Admit(("s1", "s2"), scopes),)
    st, t = step(st, Admitted(False))
    assert t.actions == (Sleep("poll"),)
    st, t = step(st, Resume(T0))
    st, t = step(st, Admitted(True))
    assert t.actions == (Call(ShowVault("v1")),)
    _, t = step(st, Resume(T0))  # admitted once: a resumed backup does not ask again
    assert t.actions == (Call(ShowVault("v1")),)


def test_a_plain_backup_still_takes_its_resource_locks() -> None:
    _, t = step(child(), Resume(T0))
    assert t.actions == (Admit(("s1", "s2"), ()),)


def test_a_backup_not_started_by_its_window_expires_with_resources_skipped() -> None:
    _, t = step(child(start_by=T0), Resume(T0 + timedelta(seconds=1)))
    [done] = t.actions
    assert isinstance(done, Done) and done.outcome is Outcome.EXPIRED
    assert {(r.status, r.error_code) for r in done.resources} == {("skipped", backup.WINDOW_CLOSED)}
