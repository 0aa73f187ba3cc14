"""The fleet parent and the admission of its children as pure transitions (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.cbr.limits import PROTECTABLE_MAX_PAGE
from orchestrator.messages import (
    WINDOW_CLOSED,
    BackupCommand,
    FleetBackupCommand,
    FleetCounts,
    Outcome,
    ResourceResult,
)
from orchestrator.workflows import backup, fleet
from orchestrator.workflows import fleet_packing as packing
from orchestrator.workflows.base import (
    Admit,
    Admitted,
    BackupSeen,
    Call,
    Cap,
    CheckpointCreated,
    CheckpointStatus,
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
from orchestrator.workflows.fleet_report import report_of

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


def listed(ids: list[str], size: int = 10, bound: str | None = None) -> ProtectablesPage:
    return ProtectablesPage(tuple((i, "OS::Nova::Server", bound, size) for i in ids))


def test_explicit_resources_are_packed_into_children_carrying_caps_and_window() -> None:
    ids = [f"s{i:04d}" for i in range(300)]
    cmd = command(
        {"resources": [{"id": i} for i in ids]},
        project_tasks=256,
        vault_concurrency=2,
        window_seconds=1800,
    )
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    assert t.actions == (Call(ListProtectables(P, R, "server", None, PROTECTABLE_MAX_PAGE)),)  # their sizes
    st, t = step(st, listed(ids))
    children = spawned(t).children
    # 255 at most: a vault made for a child binds all of them in its create call
    assert [len(c.input["resources"]) for c in children] == [255, 45]
    first = BackupCommand.model_validate(children[0].input)  # a child is an ordinary backup command
    assert first.vault.create is not None and first.vault.name == f"fleet-{WID.hex[:8]}-server-001"
    assert first.vault.create.exclusive  # its vault's only child: created without a lookup
    assert first.admission is not None
    assert (first.admission.project_tasks, first.admission.vault_concurrency) == (256, 2)
    assert first.admission.start_by == T0 + timedelta(minutes=30)
    assert st.selected == [] and "resources" not in st.model_dump()["options"]  # selection not kept
    assert len({c.command_id for c in children}) == 2


def test_children_hold_at_most_project_tasks_resources_under_the_old_name_too() -> None:
    ids = [f"s{i:04d}" for i in range(300)]
    for cap in ({"project_tasks": 120}, {"project_concurrency": 120}):
        st, _ = step(
            fleet.initial_state(
                command({"resources": [{"id": i} for i in ids]}, vault_concurrency=2, **cap), WID
            ),
            Resume(T0),
        )
        _, t = step(st, listed(ids))
        children = spawned(t).children
        # vaults of 240 (two whole children) and 60
        assert [len(c.input["resources"]) for c in children] == [120, 120, 60]
        admissions = [BackupCommand.model_validate(c.input).admission for c in children]
        assert {a.project_tasks for a in admissions if a} == {120}
        # the children of the shared new vault run one at a time: the first creates it, the others find it
        assert [a.vault_concurrency for a in admissions if a] == [1, 1, 2]
        assert len({c.input["vault"]["name"] for c in children[:2]}) == 1
        # a vault shared by children is looked for (and its name locked) before it is created
        assert [c.input["vault"]["create"]["exclusive"] for c in children] == [False, False, True]


def test_a_fleet_saved_before_project_tasks_reads_its_old_cap() -> None:
    st = fleet.initial_state(command({"vaults": ["v1"]}), WID).model_dump(mode="json")
    st["options"]["project_concurrency"] = st["options"].pop("project_tasks")
    st["options"]["project_concurrency"] = 20
    assert fleet.FleetState.model_validate(st).options.project_tasks == 20


def test_resources_chosen_by_id_are_looked_up_page_by_page_until_each_is_seen() -> None:
    cmd = command({"resources": [{"id": "a"}, {"id": "b"}, {"id": "d1", "type": "OS::Cinder::Volume"}]})
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    assert t.actions == (Call(ListProtectables(P, R, "disk", None, PROTECTABLE_MAX_PAGE)),)
    page = [f"x{i:02d}" for i in range(PROTECTABLE_MAX_PAGE - 1)] + ["d1"]  # a full page: d1 is its last
    st, t = step(st, ProtectablesPage(tuple((i, "OS::Cinder::Volume", None, 5) for i in page)))
    # d1 seen: next type
    assert t.actions == (Call(ListProtectables(P, R, "server", None, PROTECTABLE_MAX_PAGE)),)
    others = [f"y{i:02d}" for i in range(PROTECTABLE_MAX_PAGE - 1)]
    st, t = step(st, ProtectablesPage((*listed(others).items, ("a", "OS::Nova::Server", "v-old", 40))))
    assert t.actions == (Call(ListProtectables(P, R, "server", "a", PROTECTABLE_MAX_PAGE)),)  # b not seen yet
    st, t = step(st, listed(["b"], size=9000))  # a short page: b seen, and nothing else is needed
    children = spawned(t).children
    assert [(c.input["vault"].get("id"), [r["id"] for r in c.input["resources"]]) for c in children] == [
        ("v-old", ["a"]),  # bound already: backed up in its vault
        (None, ["d1"]),
        (None, ["b"]),
    ]
    assert [c.input["vault"].get("create", {}).get("size_gb") for c in children] == [None, 10_240, 10_240]


def test_sizes_that_cannot_be_read_leave_resources_chosen_by_id_packed_by_count() -> None:
    cmd = command({"resources": [{"id": "a"}, {"id": "b"}]})
    st, _ = step(fleet.initial_state(cmd, WID), Resume(T0))
    _, t = step(st, Failed("retry_later", "APIG.0308", "throttled"))
    assert t.actions == (Sleep("busy", 1),)  # busy: looked up again later
    st, t = step(st, Failed("terminal", "BackupService.9900", "refused"))
    [child] = spawned(t).children
    assert [r["id"] for r in child.input["resources"]] == ["a", "b"]


def test_auto_vaults_are_sized_to_a_resource_larger_than_size_gb_and_too_large_ones_skipped() -> None:
    cmd = command(
        {"resources": [{"id": "big"}, {"id": "huge"}, {"id": "small"}]}, auto_vaults={"size_gb": 100}
    )
    st, _ = step(fleet.initial_state(cmd, WID), Resume(T0))
    page = ProtectablesPage(
        (
            ("big", "OS::Nova::Server", None, 300),
            ("huge", "OS::Nova::Server", None, 20_000_000),
            ("small", "OS::Nova::Server", None, 60),
        )
    )
    st, t = step(st, page)
    children = spawned(t).children
    assert [
        (c.input["vault"]["create"]["size_gb"], [r["id"] for r in c.input["resources"]]) for c in children
    ] == [
        (300, ["big"]),
        (100, ["small"]),
    ]
    [huge] = st.unplaced
    assert (huge.resource_id, huge.status, huge.error_code) == ("huge", "skipped", packing.TOO_LARGE)


def other_page(marker: str | None) -> tuple[Call]:
    return (Call(ListProtectables("f" * 32, "eu-west-0", "server", marker, PROTECTABLE_MAX_PAGE)),)


def test_protectables_are_listed_in_every_project_and_type_a_page_each_in_turn() -> None:
    other = {"project_id": "f" * 32, "region": "eu-west-0"}
    cmd = command(
        {"protectables": {"types": ["server"], "projects": [{"project_id": P, "region": R}, other]}}
    )
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    assert t.actions == (Call(ListProtectables(P, R, "server", None, PROTECTABLE_MAX_PAGE)),)
    full = tuple((f"s{i:03d}", "OS::Nova::Server", None, 10) for i in range(PROTECTABLE_MAX_PAGE))
    st, t = step(st, ProtectablesPage(full))  # the other project's first page before this one's second
    assert t.actions == other_page(None)
    others = tuple((f"o{i:03d}", "OS::Nova::Server", None, 10) for i in range(PROTECTABLE_MAX_PAGE))
    st, t = step(st, ProtectablesPage(others))
    assert t.actions == (Call(ListProtectables(P, R, "server", "s049", PROTECTABLE_MAX_PAGE)),)
    st, t = step(st, ProtectablesPage((("s999", "OS::Nova::Server", "v-bound", 10),)))
    [first_batch] = spawned(t).children  # an existing vault's first batch starts at its page's end
    assert (first_batch.input["vault"], len(first_batch.input["resources"])) == ({"id": "v-bound"}, 1)
    st, t = step(st, ChildrenSpawned(1))  # the first project is listed to its end: the other goes on
    assert t.actions == other_page("o049")
    st, t = step(st, ProtectablesPage((("o999", "OS::Nova::Server", None, 10),)))
    children = spawned(t).children
    assert [(c.project_id, c.input["vault"].get("id"), len(c.input["resources"])) for c in children] == [
        (P, None, PROTECTABLE_MAX_PAGE),
        ("f" * 32, None, PROTECTABLE_MAX_PAGE + 1),
    ]


def test_a_fleet_saved_before_listings_took_turns_goes_on_from_its_marker() -> None:
    other = {"project_id": "f" * 32, "region": "eu-west-0"}
    cmd = command(
        {"protectables": {"types": ["server"], "projects": [{"project_id": P, "region": R}, other]}}
    )
    st, _ = step(fleet.initial_state(cmd, WID), Resume(T0))
    older = st.model_dump(mode="json")
    older["marker"] = "s049"  # an older version kept the one marker in the state, none in its sources
    for source in older["sources"]:
        del source["marker"]
    st, t = step(fleet.FleetState.model_validate(older), Resume(T0))
    assert t.actions == (Call(ListProtectables(P, R, "server", "s049", PROTECTABLE_MAX_PAGE)),)


def test_given_vaults_are_shown_before_packing() -> None:
    cmd = command({"resources": [{"id": "a"}, {"id": "b"}]}, vaults=["v1"])
    st, t = step(fleet.initial_state(cmd, WID), Resume(T0))
    st, t = step(st, listed(["a", "b"]))
    assert t.actions == (Call(ShowVault("v1")),)
    st, t = step(st, VaultFound("v1", ("b",)))
    [child] = spawned(t).children
    assert child.input["vault"] == {"id": "v1"}


def test_given_vaults_take_what_fits_in_their_free_capacity_and_the_rest_is_reported() -> None:
    cmd = command({"resources": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}, vaults=["v1", "v2"])
    st, _ = step(fleet.initial_state(cmd, WID), Resume(T0))
    st, _ = step(
        st,
        ProtectablesPage(
            (
                ("a", "OS::Nova::Server", None, 70),
                ("b", "OS::Nova::Server", None, 50),
                ("c", "OS::Nova::Server", None, 40),
            )
        ),
    )
    st, _ = step(st, VaultFound("v1", (), size_gb=100, used_gb=20))  # 80 GB free
    st, t = step(st, VaultFound("v2", (), size_gb=100, used_gb=55))  # 45 GB free
    placed = {c.input["vault"]["id"]: [r["id"] for r in c.input["resources"]] for c in spawned(t).children}
    assert placed == {"v1": ["a"], "v2": ["c"]}  # b's 50 GB fit in neither after a
    [b] = st.unplaced
    assert (b.resource_id, b.error_code) == ("b", packing.NO_ROOM) and "50 GB" in (b.error_message or "")


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
    st, _ = step(st, listed(["a", "b"]))
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
    ok = ResourceResult(resource_id="a", status="succeeded", backup_id="b-a")
    bad = ResourceResult(
        resource_id="b", status="failed", error_code="BackupService.6114", error_message="full"
    )
    # a read that finds every child final brings the first problems: the summary follows at once
    st, t = step(st, FleetSeen(final, (ok, bad)))
    [done] = t.actions
    assert isinstance(done, Done) and done.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert done.resources == (bad,)  # the first failed and skipped; the rest are read from PostgreSQL
    assert done.fleet is not None and done.fleet.problems_total == 1
    assert "backups" not in done.fleet.model_dump()


def test_progress_goes_out_every_10_seconds_while_resources_end_between_5_percent_steps() -> None:
    st = watching()  # started at T0

    def seen(at: int, ended: int) -> Transition:
        nonlocal st
        st, _ = step(st, Resume(T0 + timedelta(seconds=at)))
        st, t = step(st, FleetSeen(counts(total=1000, succeeded=ended, running=1000 - ended, children=4)))
        return t

    assert seen(5, 10).actions == (Sleep("poll"),)  # 1 %, 5 s after the start
    progress, _ = seen(11, 20).actions  # 2 %, 11 s after the start
    assert isinstance(progress, Progress) and progress.percent == 2
    assert progress.fleet is not None and progress.fleet.counts.succeeded == 20
    assert seen(15, 30).actions == (Sleep("poll"),)  # 4 s after the last event
    progress, _ = seen(22, 30).actions  # 11 s after it
    assert isinstance(progress, Progress) and progress.percent == 3
    assert seen(40, 30).actions == (Sleep("poll"),)  # nothing ended since
    progress, _ = seen(41, 50).actions  # 5 %: at once
    assert isinstance(progress, Progress) and progress.percent == 5


def test_outcomes_all_ok_none_ok_and_window_closed() -> None:
    def summary(*results: ResourceResult) -> Done:
        ok = sum(r.status == "succeeded" for r in results)
        bad = sum(r.status == "failed" for r in results)
        closed = sum(r.error_code == WINDOW_CLOSED for r in results)
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
    late = ResourceResult(resource_id="c", status="skipped", error_code=WINDOW_CLOSED)
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
    st, t = step(child(project_tasks=3, vault_concurrency=1), Resume(T0))
    caps = (Cap(f"project:{R}/{P}", 3, per_resource=True), Cap(f"vault:{R}/{P}/v1", 1))
    assert t.actions == (Admit(("s1", "s2"), caps),)
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
    assert {(r.status, r.error_code) for r in done.resources} == {("skipped", WINDOW_CLOSED)}


def test_a_child_counts_the_tasks_no_longer_running_as_ended_until_its_checkpoint_ends() -> None:
    st, _ = step(child(project_tasks=3), Resume(T0))
    st, _ = step(st, Admitted(True))
    st, _ = step(st, VaultFound("v1", ("s1", "s2")))
    st, t = step(st, CheckpointCreated("cp1"))
    running = (BackupSeen("s1", "b1", "protecting"), BackupSeen("s2", "b2", "protecting"))
    st, t = step(st, CheckpointStatus("protecting", running, from_tasks=True))
    assert st.ended == [] and t.actions == (Sleep("poll"),)
    st, t = step(st, CheckpointStatus("protecting", running[1:], from_tasks=True))  # s1's task ended
    assert (st.ended, st.pending) == (["s1"], ["s2", "s1"]) and t.actions == (Progress(50), Sleep("poll"))
    st, _ = step(st, CheckpointStatus("protecting", running[1:]))  # a listing of backups: nothing more
    assert st.ended == ["s1"]
    done = (BackupSeen("s1", "b1", "available", 40), BackupSeen("s2", "b2", "available", 50))
    _, t = step(st, CheckpointStatus("available", done))
    [result] = t.actions
    assert isinstance(result, Done) and result.outcome is Outcome.SUCCEEDED


def test_a_stored_report_is_read_without_the_fields_of_older_or_newer_versions() -> None:
    counts = {"total": 2, "succeeded": 2, "children": 1, "children_final": 1}
    stored = {"counts": counts, "backups": [{"resource_id": "a"}], "added_later": {"x": 1}}
    report = report_of("fleet_backup", {}, {"fleet": stored}, T0)
    assert report is not None and (report.counts.succeeded, report.projects) == (2, [])
