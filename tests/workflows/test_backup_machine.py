"""Backup state machine: every phase, every CBR outcome, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.messages import BackupCommand, Outcome
from orchestrator.workflows.backup import BackupState, expire, initial_state, transition
from orchestrator.workflows.base import (
    AddResources,
    BackupSeen,
    Call,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    CreateCheckpoint,
    CreateVault,
    Done,
    Failed,
    FindCheckpoint,
    FindVault,
    Lock,
    Locked,
    PollCheckpoint,
    Progress,
    ResourcesAdded,
    Resume,
    ShowCheckpoint,
    ShowVault,
    Skipped,
    Sleep,
    Transition,
    Unlock,
    VaultFound,
    VaultMissing,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WID = uuid.UUID("11111111-2222-3333-4444-555555555555")
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SETTLE = 60.0
NOW = Resume(T0, SETTLE)


def at(seconds: float) -> Resume:
    """A run that starts ``seconds`` after the first."""
    return Resume(T0 + timedelta(seconds=seconds), SETTLE)


BUSY = Failed("retry_later", "BackupService.6125", "A backup task is in progress.", retry_after=3)
UNKNOWN = Failed("retry_later", "timeout", "no answer", outcome_unknown=True)
TERMINAL = Failed("terminal", "BackupService.6114", "vault capacity exceeded")


def command(vault: dict[str, object] | None = None, n: int = 2, **over: object) -> BackupCommand:
    return BackupCommand.model_validate(
        {
            "command_id": "c1",
            "project_id": PROJECT,
            "region": "r1",
            "vault": vault or {"id": "v1"},
            "resources": [{"id": f"s{i}"} for i in range(n)],
            **over,
        }
    )


def state(cmd: BackupCommand | None = None) -> BackupState:
    """Admitted already (admission has its own tests in tests/fleet)."""
    return initial_state(cmd or command(), WID).model_copy(update={"admitted": True})


def step(st: BackupState, obs: object) -> tuple[BackupState, Transition]:
    """One transition, with the state round-tripped through JSON as the store does."""
    result = transition(st, obs)  # type: ignore[arg-type]
    reloaded = BackupState.model_validate_json(result.state.model_dump_json())
    return reloaded, result


def only_call(t: Transition) -> object:
    [action] = t.actions
    assert isinstance(action, Call)
    return action.request


def done(t: Transition) -> Done:
    action = t.actions[-1]
    assert isinstance(action, Done)
    return action


def to_poll(st: BackupState) -> BackupState:
    st, _ = step(st, NOW)
    st, t = step(st, VaultFound("v1", ("s0", "s1")))
    assert isinstance(only_call(t), CreateCheckpoint)
    st, t = step(st, CheckpointCreated("cp1"))
    assert t.actions == (Sleep("poll"),)
    return st


def test_vault_by_id_all_bound_goes_straight_to_checkpoint_with_marker() -> None:
    st, t = step(state(command(description="nightly")), NOW)
    assert only_call(t) == ShowVault("v1")
    st, t = step(st, VaultFound("v1", ("s0", "s1", "other")))
    req = only_call(t)
    assert isinstance(req, CreateCheckpoint)
    assert req.resource_ids == ("s0", "s1")
    assert req.marker == f"cbro-{WID}"
    assert req.marker in req.description
    assert "nightly" in req.description
    assert st.checkpoint_intent is not None  # the intent is in the state the engine persists first
    assert st.checkpoint_intent.announced_at == NOW.now


def test_vault_by_name_created_when_missing_with_resources() -> None:
    st, t = step(state(command({"name": "vn", "create": {"size_gb": 50}})), NOW)
    assert only_call(t) == FindVault("vn")
    st, t = step(st, VaultMissing())
    assert t.actions == (Lock("vault-name:vn"),)  # double-checked: look again under the name lock
    st, t = step(st, Locked(True))
    assert only_call(t) == FindVault("vn")
    st, t = step(st, VaultMissing())
    req = only_call(t)
    assert isinstance(req, CreateVault)
    assert req.size_gb == 50
    assert req.resources[0] == ("s0", "OS::Nova::Server")
    st, t = step(st, VaultFound("v9", ("s0", "s1")))
    assert t.actions[0] == Unlock("vault-name:vn")
    assert isinstance(only_call(Transition(st, t.actions[1:])), CreateCheckpoint)
    assert st.vault_id == "v9"


def test_vault_by_name_missing_without_spec_fails() -> None:
    st, _ = step(state(command({"name": "vn"})), NOW)
    _, t = step(st, VaultMissing())
    result = done(t)
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "BackupService.6105"
    assert [r.status for r in result.resources] == ["failed", "failed"]


def creating_vault() -> BackupState:
    st, _ = step(state(command({"name": "vn", "create": {}})), NOW)
    st, _ = step(st, VaultMissing())
    st, _ = step(st, Locked(True))
    st, t = step(st, VaultMissing())
    assert isinstance(only_call(t), CreateVault)
    assert st.vault_intent is not None
    return st


EXCLUSIVE = {"name": "vn", "create": {"size_gb": 50, "exclusive": True}}


def test_an_exclusive_vault_is_created_at_once_without_a_lookup_or_the_name_lock() -> None:
    st, t = step(state(command(EXCLUSIVE)), NOW)
    req = only_call(t)
    assert isinstance(req, CreateVault) and req.name == "vn"
    assert st.vault_intent is not None  # announced before the call, as every create is
    st, t = step(st, VaultFound("v9", ("s0", "s1")))
    assert isinstance(only_call(t), CreateCheckpoint)  # no Unlock: no lock was taken


def test_an_exclusive_vault_throttled_is_created_again_without_a_lookup() -> None:
    st, _ = step(state(command(EXCLUSIVE)), NOW)
    st, t = step(st, BUSY)  # a definite refusal: the create did nothing
    assert st.vault_intent is None
    st, t = step(st, at(5))
    assert isinstance(only_call(t), CreateVault)


def test_an_exclusive_vaults_create_of_unknown_outcome_is_still_looked_for() -> None:
    st, _ = step(state(command(EXCLUSIVE)), NOW)
    st, t = step(st, UNKNOWN)
    assert t.actions == (Sleep("settle"),)
    _, t = step(st, at(1))
    assert only_call(t) == FindVault("vn")  # it may exist: looked for before any create again


def test_vault_create_unknown_outcome_is_looked_up_by_name_over_the_settle_window() -> None:
    st, t = step(creating_vault(), UNKNOWN)
    assert t.actions == (Sleep("settle"),)  # the first lookup runs in a later run
    st, t = step(st, at(1))
    assert only_call(t) == FindVault("vn")
    st, t = step(st, VaultMissing())
    assert t.actions == (Sleep("settle", 1),)  # one negative lookup settles nothing
    st, t = step(st, at(30))
    st, t = step(st, VaultMissing())
    assert t.actions == (Sleep("settle", 2),)
    found, t = step(st, VaultFound("v9", ("s0", "s1")))  # a late create shows up: adopted, not redone
    assert found.vault_id == "v9" and found.vault_intent is None
    st, t = step(st, at(61))
    st, t = step(st, VaultMissing())  # nothing for the whole window: the create did not happen
    assert isinstance(only_call(t), CreateVault)
    assert st.vault_intent is not None and st.vault_intent.announced_at == at(61).now


def test_vault_create_refused_for_a_resource_bound_elsewhere_creates_it_bare_then_binds_one_by_one() -> None:
    """Before: create → 6103 → find → missing → create → 6103 … about 15 calls a second, forever."""
    st, t = step(creating_vault(), Failed("already_done", "BackupService.6103", "bound"))
    req = only_call(t)
    assert isinstance(req, CreateVault) and req.resources == ()
    st, t = step(st, VaultFound("v9", ()))
    assert t.actions[0] == Unlock("vault-name:vn")
    assert only_call(Transition(st, t.actions[1:])) == AddResources(
        "v9", (("s0", "OS::Nova::Server"), ("s1", "OS::Nova::Server"))
    )
    st, t = step(st, ResourcesAdded((Skipped("s1", "BackupService.6103", "bound"),)))
    assert only_call(t) == ShowVault("v9")
    st, t = step(st, VaultFound("v9", ("s0",)))
    req = only_call(t)
    assert isinstance(req, CreateCheckpoint) and req.resource_ids == ("s0",)
    assert st.results["s1"].error_code == "BackupService.6103"


def test_a_resource_refused_for_another_reason_fails_alone_without_a_lookup() -> None:
    st, _ = step(state(), NOW)
    st, t = step(st, VaultFound("v1", ("s0",)))
    st, t = step(st, ResourcesAdded((Skipped("s1", "BackupService.6302", "no such resource"),)))
    req = only_call(t)
    assert isinstance(req, CreateCheckpoint) and req.resource_ids == ("s0",)
    assert st.results["s1"].error_code == "BackupService.6302"


def test_vault_create_crash_rechecks_by_name_on_resume() -> None:
    st, _ = step(state(command({"name": "vn", "create": {}})), NOW)
    st, _ = step(st, VaultMissing())
    st, _ = step(st, Locked(True))
    st, _ = step(st, VaultMissing())
    _, t = step(st, NOW)  # still holds the name lock: straight to the lookup
    assert only_call(t) == FindVault("vn")


def test_missing_resources_are_associated_then_checkpointed() -> None:
    st, _ = step(state(), NOW)
    st, t = step(st, VaultFound("v1", ("s0",)))
    assert only_call(t) == AddResources("v1", (("s1", "OS::Nova::Server"),))
    _, again = step(st, NOW)  # resumed after a crash: same call (adding is idempotent via 6103)
    assert only_call(again) == AddResources("v1", (("s1", "OS::Nova::Server"),))
    st, t = step(st, ResourcesAdded())
    assert isinstance(only_call(t), CreateCheckpoint)


def test_resource_bound_elsewhere_fails_alone() -> None:
    st, _ = step(state(), NOW)
    st, _ = step(st, VaultFound("v1", ("s0",)))
    st, t = step(st, Failed("already_done", "BackupService.6103", "bound"))
    assert only_call(t) == ShowVault("v1")
    st, t = step(st, VaultFound("v1", ("s0",)))
    req = only_call(t)
    assert isinstance(req, CreateCheckpoint)
    assert req.resource_ids == ("s0",)
    assert st.results["s1"].error_code == "BackupService.6103"


FIND = FindCheckpoint("v1", f"cbro-{WID}", T0)  # every resource of the vault, since the announcement


def creating_checkpoint() -> BackupState:
    st, _ = step(state(), NOW)
    st, t = step(st, VaultFound("v1", ("s0", "s1")))
    assert isinstance(only_call(t), CreateCheckpoint)
    return st


def test_checkpoint_busy_waits_and_recreates_without_lookup() -> None:
    st, t = step(creating_checkpoint(), BUSY)
    assert t.actions == (Sleep("busy", 1, 3),)
    assert st.checkpoint_intent is None  # CBR answered: the create did nothing
    st, t = step(st, at(5))
    assert isinstance(only_call(t), CreateCheckpoint)


def test_checkpoint_unknown_outcome_is_looked_up_over_the_settle_window_never_trusted_once() -> None:
    st, t = step(creating_checkpoint(), UNKNOWN)
    assert t.actions == (Sleep("settle"),)
    st, t = step(st, at(2))
    assert only_call(t) == FIND
    st, t = step(st, CheckpointLookup(None))  # a create executed late is not visible yet
    assert t.actions == (Sleep("settle", 1),)
    st, t = step(st, at(40))
    assert only_call(t) == FIND
    late, t = step(st, CheckpointLookup("cp-late", (Skipped("s1", "BackupService.6125", "busy"),)))
    assert t.actions == (Sleep("poll"),)
    assert (late.checkpoint_id, late.pending) == ("cp-late", ["s0"])
    assert late.results["s1"].status == "skipped"
    st, _ = step(st, CheckpointLookup(None))
    st, t = step(st, at(62))
    st, t = step(st, CheckpointLookup(None))  # nothing for the whole window: create again
    assert isinstance(only_call(t), CreateCheckpoint)


def test_crash_after_checkpoint_call_resumes_with_a_lookup() -> None:
    st = creating_checkpoint()  # intent persisted, then the worker dies
    _, t = step(st, at(30))
    assert only_call(t) == FIND


@pytest.mark.parametrize(
    "lookup_failure",
    [
        Failed("retry_later", "APIG.0308", "throttled", retry_after=2),
        Failed("retry_later", "BackupService.9999", "internal error"),
        Failed("retry_later", "timeout", "no answer"),
    ],
)
def test_a_throttled_or_failing_lookup_keeps_the_intent(lookup_failure: Failed) -> None:
    """The trail this used to give: CreateCheckpoint unknown (timeout) > FindCheckpoint retry_later
    (APIG.0308) > CreateCheckpoint again: a second checkpoint."""
    st, _ = step(creating_checkpoint(), UNKNOWN)
    st, _ = step(st, at(2))
    for n in range(1, 4):
        st, t = step(st, lookup_failure)
        assert t.actions[0] == Sleep("busy", n, lookup_failure.retry_after)
        assert st.checkpoint_intent is not None
        st, t = step(st, at(100 * n))  # however long the lookups keep failing
        assert only_call(t) == FIND


def test_a_lookup_that_cannot_be_made_ends_the_workflow_saying_the_checkpoint_may_exist() -> None:
    st, _ = step(creating_checkpoint(), UNKNOWN)
    st, _ = step(st, at(2))
    _, t = step(st, Failed("terminal", "APIGW.0302", "forbidden"))
    result = done(t)
    assert result.error_code == "orchestrator.outcome_unknown"
    assert "may exist" in (result.error_message or "")


def test_a_state_saved_before_intents_still_loads_and_looks_before_creating() -> None:
    old = creating_checkpoint().model_dump(mode="json")
    old.pop("checkpoint_intent")
    old["checkpoint_maybe_created"] = True
    st = BackupState.model_validate(old)
    assert st.checkpoint_intent is not None
    _, t = step(st, at(5))
    assert isinstance(only_call(t), FindCheckpoint)


def test_poll_until_all_final_with_progress_then_succeeded() -> None:
    st = to_poll(state())
    st, t = step(st, NOW)
    assert only_call(t) == PollCheckpoint("cp1", "v1", NOW.now)
    st, t = step(st, CheckpointStatus("protecting", (BackupSeen("s0", "b0", "protecting"),)))
    assert t.actions == (Sleep("poll"),)
    st, t = step(
        st,
        CheckpointStatus(
            "protecting", (BackupSeen("s0", "b0", "available", 40), BackupSeen("s1", "b1", "protecting"))
        ),
    )
    assert t.actions == (Progress(50), Sleep("poll"))
    st, t = step(st, CheckpointStatus("protecting", (BackupSeen("s1", "b1", "protecting"),)))
    assert t.actions == (Sleep("poll"),)  # no second event for the same quarter
    _, t = step(st, CheckpointStatus("available", (BackupSeen("s1", "b1", "available", 20),)))
    result = done(t)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.checkpoint_id == "cp1"
    assert [(r.resource_id, r.backup_id, r.size_gb) for r in result.resources] == [
        ("s0", "b0", 40),
        ("s1", "b1", 20),
    ]


def test_one_backup_in_error_is_partial() -> None:
    st = to_poll(state())
    _, t = step(
        st,
        CheckpointStatus(
            "available", (BackupSeen("s0", "b0", "available", 1), BackupSeen("s1", "b1", "error"))
        ),
    )
    result = done(t)
    assert result.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert result.resources[1].status == "failed"


def test_checkpoint_error_without_backups_fails() -> None:
    st = to_poll(state())
    _, t = step(st, CheckpointStatus("error", ()))
    result = done(t)
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "BackupService.no_backup"


NOTHING_LISTED = CheckpointStatus("protecting", ())


def test_checkpoint_listing_no_backup_is_shown_every_second_poll() -> None:
    st = to_poll(state())
    st, t = step(st, NOTHING_LISTED)
    assert t.actions == (Sleep("poll"),)  # the first poll may just be early
    st, t = step(st, NOTHING_LISTED)
    assert only_call(t) == ShowCheckpoint("cp1")
    st, t = step(st, CheckpointShown("protecting"))
    assert t.actions == (Sleep("poll"),)
    st, t = step(st, NOTHING_LISTED)
    assert t.actions == (Sleep("poll"),)
    _, t = step(st, NOTHING_LISTED)
    assert only_call(t) == ShowCheckpoint("cp1")


def test_checkpoint_shown_in_error_without_backups_fails_with_its_status() -> None:
    st = to_poll(state())
    st, _ = step(st, NOTHING_LISTED)
    st, _ = step(st, NOTHING_LISTED)
    st, t = step(st, CheckpointShown("error"))
    assert only_call(t) == PollCheckpoint("cp1", "v1", NOW.now)  # list once more, then decide
    _, t = step(st, NOTHING_LISTED)
    result = done(t)
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "BackupService.no_backup"
    assert result.error_message == "checkpoint ended error without a backup of it"
    assert [(r.status, r.error_code) for r in result.resources] == [("failed", "BackupService.no_backup")] * 2


def test_checkpoint_shown_ended_keeps_waiting_for_backups_still_listed_as_running() -> None:
    st = to_poll(state())
    one_listed = CheckpointStatus("protecting", (BackupSeen("s0", "b0", "protecting"),))
    st, _ = step(st, one_listed)
    st, t = step(st, one_listed)
    assert only_call(t) == ShowCheckpoint("cp1")
    st, _ = step(st, CheckpointShown("available"))
    st, t = step(st, one_listed)  # s1 has no backup: failed; s0's listing lags behind: poll on
    assert t.actions == (Progress(50), Sleep("poll"))
    assert st.pending == ["s0"]
    assert st.results["s1"].error_code == "BackupService.no_backup"
    _, t = step(st, CheckpointStatus("protecting", (BackupSeen("s0", "b0", "available", 7),)))
    result = done(t)
    assert result.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert [(r.resource_id, r.status) for r in result.resources] == [("s0", "succeeded"), ("s1", "failed")]


def test_show_checkpoint_failures_are_waited_out_or_end_the_workflow() -> None:
    st = to_poll(state())
    st, _ = step(st, NOTHING_LISTED)
    st, _ = step(st, NOTHING_LISTED)
    _, t = step(st, BUSY)
    assert t.actions == (Sleep("busy", 1, 3),)
    _, t = step(st, Failed("terminal", "BackupService.6217", "checkpoint not found"))
    assert done(t).error_code == "BackupService.6217"


def test_checkpoint_shown_outside_the_poll_phase_is_unexpected() -> None:
    _, t = step(state(), CheckpointShown("error"))
    assert done(t).error_code == "orchestrator.unexpected"


def test_skipped_resources_are_per_resource_outcomes() -> None:
    st, _ = step(state(), NOW)
    st, _ = step(st, VaultFound("v1", ("s0", "s1")))
    st, t = step(st, CheckpointCreated("cp1", (Skipped("s1", "BackupService.0002", "being backed up"),)))
    assert t.actions == (Sleep("poll"),)
    _, t = step(st, CheckpointStatus("available", (BackupSeen("s0", "b0", "available", 5),)))
    result = done(t)
    assert result.outcome is Outcome.PARTIALLY_SUCCEEDED
    assert result.resources[1].status == "skipped"
    assert result.resources[1].error_code == "BackupService.0002"


def test_all_skipped_fails_at_once() -> None:
    st, _ = step(state(command(n=1)), NOW)
    st, _ = step(st, VaultFound("v1", ("s0",)))
    _, t = step(st, CheckpointCreated("cp1", (Skipped("s0", "c", "r"),)))
    assert done(t).outcome is Outcome.FAILED


@pytest.mark.parametrize("phase_obs", [(), (VaultFound("v1", ("s0", "s1")),)])
def test_terminal_errors_end_with_the_cbr_code(phase_obs: tuple[object, ...]) -> None:
    st, _ = step(state(), NOW)
    for obs in phase_obs:
        st, _ = step(st, obs)
    _, t = step(st, TERMINAL)
    result = done(t)
    assert (result.outcome, result.error_code, result.error_message) == (
        Outcome.FAILED,
        "BackupService.6114",
        "vault capacity exceeded",
    )


def test_busy_while_polling_backs_off_and_resets_after_success() -> None:
    st = to_poll(state())
    st, t = step(st, BUSY)
    assert t.actions == (Sleep("busy", 1, 3),)
    st, _ = step(st, CheckpointStatus("protecting", ()))
    assert st.busy_retries == 0


def test_expire_reports_unfinished_resources() -> None:
    st = to_poll(state())
    st, _ = step(st, CheckpointStatus("protecting", (BackupSeen("s0", "b0", "available", 1),)))
    result = expire(st)
    assert result.outcome is Outcome.EXPIRED
    assert [r.status for r in result.resources] == ["succeeded", "failed"]


def test_unexpected_observation_fails_instead_of_looping() -> None:
    _, t = step(state(), CheckpointStatus("available", ()))
    assert done(t).error_code == "orchestrator.unexpected"


def test_find_or_create_vault_is_serialised_by_name_and_unlocked_after() -> None:
    st, _ = step(state(command({"name": "vn", "create": {}})), NOW)
    st, _ = step(st, VaultMissing())
    busy_st, t = step(st, Locked(False))
    assert t.actions == (Sleep("busy", 1),)
    st, _ = step(st, Locked(True))
    st, _ = step(st, VaultMissing())
    st, t = step(st, VaultFound("v9", ("s0", "s1")))
    assert t.actions[0] == Unlock("vault-name:vn")
    assert isinstance(t.actions[1], Call)
    assert not st.vault_lock_held
    _, t = step(busy_st, NOW)
    assert only_call(t) == FindVault("vn")  # after waiting: the other workflow has probably created it
