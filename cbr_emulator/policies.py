"""Backup and replication policies: RRULE schedules that run on the emulator's clock.

Each policy keeps one timer for its next occurrence. At an occurrence every vault the policy is applied
to runs once: a backup policy creates an automatic checkpoint (``auto_trigger``, ``policy_id`` on the
backups and operation logs); a replication policy replicates the vault's backups that are not yet in
the destination region. When the clock jumps over several occurrences each one runs, in order, at its
own time, but at most the last ``Progression.catch_up_runs`` of them; older ones are dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.rrule import rruleset, rrulestr

from cbr_emulator import checkpoints, operation_logs, replication, retention
from cbr_emulator.clock import policy_stamp
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.state import Policy, ProjectState, Vault, VaultResource
from cbr_emulator.validation import WEEKDAYS, PolicyCreateReq, PolicyUpdateReq, TriggerProperties

MAX_POLICIES_PER_TYPE = 32
MIN_GAP = timedelta(hours=1)
CHECK_ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
CHECK_SPAN = timedelta(days=35)


# --- patterns ------------------------------------------------------------------------------------


def _numbers(text: str, low: int, high: int, what: str) -> None:
    items = text.split(",")
    if not all(item.isdigit() and low <= int(item) <= high for item in items) or len(set(items)) != len(
        items
    ):
        raise ValueError(f"{what} takes distinct numbers {low}-{high}")


def _check_rule(rule: str) -> None:
    parts: dict[str, str] = {}
    for item in rule.split(";"):
        key, sign, value = item.partition("=")
        if not sign or not value or key in parts:
            raise ValueError(f"malformed or repeated item {item!r}")
        parts[key] = value
    unknown = set(parts) - {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE"}
    if unknown:
        raise ValueError(
            f"only FREQ, INTERVAL, BYDAY, BYHOUR and BYMINUTE are accepted, not {sorted(unknown)}"
        )
    if parts.get("FREQ") not in ("DAILY", "WEEKLY"):
        raise ValueError("FREQ must be DAILY or WEEKLY")
    if "BYHOUR" not in parts or "BYMINUTE" not in parts:
        raise ValueError("BYHOUR and BYMINUTE are required")
    _numbers(parts.get("INTERVAL", "1"), 1, 30, "INTERVAL")
    _numbers(parts["BYHOUR"], 0, 23, "BYHOUR")
    _numbers(parts["BYMINUTE"], 0, 59, "BYMINUTE")
    days = parts.get("BYDAY", "MO").split(",")
    if any(day not in WEEKDAYS for day in days) or len(set(days)) != len(days):
        raise ValueError("BYDAY takes distinct days among MO, TU, WE, TH, FR, SA, SU")


def build_schedule(patterns: list[str], start: datetime) -> rruleset:
    schedule = rruleset()
    for pattern in patterns:
        schedule.rrule(rrulestr(pattern, dtstart=start))  # type: ignore[arg-type]
    return schedule


def check_patterns(patterns: list[str]) -> None:
    """Refuse (9900) a pattern outside the RRULE subset CBR accepts or runs closer than an hour."""
    for number, pattern in enumerate(patterns):
        try:
            _check_rule(pattern)
        except ValueError as error:
            raise CbrError.of("9900", f"trigger.properties.pattern[{number}]: {error}.") from None
    previous: datetime | None = None
    per_day: dict[object, int] = {}
    for moment in build_schedule(patterns, CHECK_ANCHOR):
        if moment > CHECK_ANCHOR + CHECK_SPAN:
            break
        if previous is not None and moment - previous < MIN_GAP:
            raise CbrError.of("9900", "trigger.properties.pattern: runs must be at least one hour apart.")
        per_day[moment.date()] = per_day.get(moment.date(), 0) + 1
        if per_day[moment.date()] > 24:
            raise CbrError.of("9900", "trigger.properties.pattern: at most 24 runs a day.")
        previous = moment


def _schedule_of(policy: Policy) -> rruleset:
    start = policy.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return build_schedule(policy.pattern, start)


# --- timers --------------------------------------------------------------------------------------


def arm(world: World, project: ProjectState, policy: Policy, after: datetime) -> None:
    """(Re)start the policy's timer at its first occurrence after ``after``."""
    policy.generation += 1
    if not policy.enabled:
        return
    following = _schedule_of(policy).after(after)
    if following is not None:
        _set_timer(world, project, policy, following)


def _set_timer(world: World, project: ProjectState, policy: Policy, when: datetime) -> None:
    generation, policy_id = policy.generation, policy.id
    world.scheduler.at(when, lambda at: _occur(world, project, policy_id, generation, at))


def _occur(world: World, project: ProjectState, policy_id: str, generation: int, at: datetime) -> None:
    policy = project.policies.get(policy_id)
    if policy is None or policy.generation != generation or not policy.enabled:
        return
    schedule = _schedule_of(policy)
    behind = schedule.between(at, world.clock.now(), inc=True)
    keep = world.progression.catch_up_runs
    if len(behind) > keep:
        _set_timer(world, project, policy, behind[-keep])
        return
    run(world, project, policy, at)
    following = schedule.after(at)
    if following is not None:
        _set_timer(world, project, policy, following)


def applied_vaults(project: ProjectState, policy: Policy) -> list[Vault]:
    if policy.operation_type == "backup":
        return [v for v in project.vaults.values() if v.backup_policy_id == policy.id]
    return [v for v in project.vaults.values() if v.replication_policy_id == policy.id]


def run(world: World, project: ProjectState, policy: Policy, at: datetime) -> None:
    """One occurrence of ``policy`` over every vault it is applied to."""
    for vault in applied_vaults(project, policy):
        if policy.operation_type == "backup":
            _run_backup(world, project, policy, vault, at)
        else:
            _run_replication(world, project, policy, vault, at)


def _run_backup(world: World, project: ProjectState, policy: Policy, vault: Vault, at: datetime) -> None:
    followed = [r.id for r in vault.resources.values() if r.auto_protect]
    if not followed:
        return
    request = checkpoints.RunRequest(
        resource_ids=followed, auto_trigger=True, policy_id=policy.id, retention_days=policy.retention_days
    )
    try:
        checkpoint = checkpoints.start_run(world, project, vault, request, at)
    except CbrError as error:
        for resource in (vault.resources[resource_id] for resource_id in followed):
            _skipped(world, project, policy, vault, resource, at, error.code, error.message)
        return
    for skipped in checkpoint.skipped:
        resource = vault.resources[skipped.id]
        _skipped(world, project, policy, vault, resource, at, skipped.code, skipped.reason)


def _skipped(
    world: World,
    project: ProjectState,
    policy: Policy,
    vault: Vault,
    resource: VaultResource,
    at: datetime,
    code: str,
    message: str,
) -> None:
    """A scheduled backup that did not happen: an operation log in ``skipped``."""
    log = operation_logs.open_log(
        world,
        project,
        "backup",
        at,
        resource={"id": resource.id, "type": resource.type, "name": resource.name},
        vault=vault,
        provider_id=vault.provider_id,
        details={},
        policy_id=policy.id,
    )
    operation_logs.skip(project, log, at, code, message)


def _run_replication(world: World, project: ProjectState, policy: Policy, vault: Vault, at: datetime) -> None:
    definition = policy.operation_definition
    try:
        destination = replication.find_destination(
            world,
            project,
            str(definition.get("destination_region")),
            str(definition.get("destination_project_id")),
            vault.replication_destination_vault_id or "",
        )
        copy = replication.Copy(auto_trigger=True, policy_id=policy.id)
        replication.replicate_vault(world, project, vault, destination, copy, at)
    except CbrError:
        return  # nothing to replicate, or the destination went away: the run does nothing


# --- rendering and handlers ----------------------------------------------------------------------


def render(project: ProjectState, policy: Policy) -> dict[str, Any]:
    vaults = applied_vaults(project, policy)
    associated = [
        {
            "vault_id": v.id,
            "destination_vault_id": v.replication_destination_vault_id
            if policy.operation_type == "replication"
            else None,
        }
        for v in vaults
    ]
    return {
        "id": policy.id,
        "name": policy.name,
        "enabled": policy.enabled,
        "operation_type": policy.operation_type,
        "operation_definition": dict(policy.operation_definition),
        "trigger": {
            "id": policy.trigger_id,
            "name": "default",
            "type": "time",
            "properties": {
                "pattern": list(policy.pattern),
                "start_time": policy_stamp(policy.created_at),
                "start_window_minutes": policy.start_window_minutes,
            },
        },
        "associated_vaults": associated or None,
        "policy_type": policy.policy_type,
    }


def find_policy(project: ProjectState, policy_id: str) -> Policy:
    policy = project.policies.get(policy_id)
    if policy is None:
        raise CbrError.of("6000")
    return policy


def create_policy(call: Call) -> dict[str, Any]:
    request = call.body(PolicyCreateReq).policy
    properties = request.trigger.properties
    check_patterns(properties.pattern)
    same_type = [p for p in call.project.policies.values() if p.operation_type == request.operation_type]
    if len(same_type) >= MAX_POLICIES_PER_TYPE:
        raise CbrError.of("6001")
    policy = Policy(
        id=call.world.ids.new(),
        name=request.name,
        operation_type=request.operation_type,
        enabled=request.enabled is not False,
        operation_definition=request.operation_definition.model_dump(exclude_none=True),
        pattern=list(properties.pattern),
        created_at=call.now,
        trigger_id=call.world.ids.new(),
        start_window_minutes=properties.start_window_minutes,
    )
    call.project.policies[policy.id] = policy
    arm(call.world, call.project, policy, call.now)
    return {"policy": render(call.project, policy)}


def show_policy(call: Call) -> dict[str, Any]:
    return {"policy": render(call.project, find_policy(call.project, call.path("policy_id")))}


def list_policies(call: Call) -> dict[str, Any]:
    operation_type = call.query.choice("operation_type", ("backup", "replication"))
    vault_id = call.query.text("vault_id")
    vault = None
    if vault_id:
        vault = call.project.vaults.get(vault_id)
        if vault is None:
            raise CbrError.of("6105")
    found = [
        p
        for p in call.project.policies.values()
        if (operation_type is None or p.operation_type == operation_type)
        and (vault is None or p.id in (vault.backup_policy_id, vault.replication_policy_id))
    ]
    return {"policies": [render(call.project, p) for p in found], "count": len(found)}


def update_policy(call: Call) -> dict[str, Any]:
    policy = find_policy(call.project, call.path("policy_id"))
    change = call.body(PolicyUpdateReq).policy
    trigger: TriggerProperties | None = change.trigger.properties if change.trigger else None
    if trigger is not None:
        check_patterns(trigger.pattern)
    definition = dict(policy.operation_definition)
    if change.operation_definition is not None:
        definition.update(change.operation_definition.model_dump(exclude_none=True))
        moved = definition.get("destination_region") != policy.operation_definition.get("destination_region")
        if policy.operation_type == "replication" and moved and applied_vaults(call.project, policy):
            raise CbrError.of("6003")
    policy.operation_definition = definition
    policy.name = change.name or policy.name
    policy.enabled = policy.enabled if change.enabled is None else change.enabled
    if trigger is not None:
        policy.pattern = list(trigger.pattern)
        if "start_window_minutes" in trigger.model_fields_set:
            policy.start_window_minutes = trigger.start_window_minutes
    arm(call.world, call.project, policy, call.now)
    for vault in applied_vaults(call.project, policy):
        retention.sweep(call.world, call.project, vault.id, call.now)
    return {"policy": render(call.project, policy)}


def delete_policy(call: Call) -> None:
    policy = find_policy(call.project, call.path("policy_id"))
    for vault in applied_vaults(call.project, policy):
        detach(vault, policy)
    policy.generation += 1
    del call.project.policies[policy.id]


def detach(vault: Vault, policy: Policy) -> None:
    if vault.backup_policy_id == policy.id:
        vault.backup_policy_id = None
    if vault.replication_policy_id == policy.id:
        vault.replication_policy_id = None
        vault.replication_destination_vault_id = None
