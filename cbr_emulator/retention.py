"""Retention: expired backups and backups beyond a policy's ``max_backups`` are deleted.

``retention_duration_days`` gives a backup its ``expired_at`` when it is created (manual backups get it
from ``parameters.retention_duration_days``); the sweep deletes it once that time has passed, even
after the policy was removed, as CBR does. ``max_backups`` counts the automatic backups of each resource
in the vault while the policy stays applied. ``day/week/month/year_backups`` keep the newest automatic
backup of that many recent days/weeks/months/years (in the policy's ``timezone``) out of both rules.
Manual backups never count towards ``max_backups``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta, timezone

from cbr_emulator import deletion
from cbr_emulator.context import World
from cbr_emulator.state import Backup, Policy, ProjectState

PeriodKey = Callable[[datetime], Hashable]
PERIODS: dict[str, PeriodKey] = {
    "day_backups": lambda moment: moment.date(),
    "week_backups": lambda moment: moment.isocalendar()[:2],
    "month_backups": lambda moment: (moment.year, moment.month),
    "year_backups": lambda moment: moment.year,
}


def watch_expiry(world: World, project: ProjectState, backup: Backup) -> None:
    """Have the vault swept when ``backup`` expires."""
    if backup.expired_at is not None:
        vault_id = backup.vault_id
        world.scheduler.at(backup.expired_at, lambda at: sweep(world, project, vault_id, at))


def sweep(world: World, project: ProjectState, vault_id: str, at: datetime) -> None:
    """Delete the vault's backups that retention no longer keeps."""
    vault = project.vaults.get(vault_id)
    if vault is None:
        return
    policy = project.policies.get(vault.backup_policy_id or "")
    ready = [b for b in project.vault_backups(vault_id) if b.status == "available"]
    automatic = _by_resource([b for b in ready if b.auto_trigger])
    kept = _long_term(automatic, policy) if policy else set()
    doomed = [b for b in ready if b.expired_at is not None and b.expired_at <= at and b.id not in kept]
    if policy and policy.max_backups > 0:
        for backups in automatic.values():
            counted = [b for b in backups if b.id not in kept]
            doomed.extend(counted[policy.max_backups :])
    for backup in {b.id: b for b in doomed}.values():
        deletion.delete_backup(world, project, backup, at, policy.id if policy else None)


def _by_resource(backups: list[Backup]) -> dict[str, list[Backup]]:
    """Backups per resource, newest first."""
    grouped: dict[str, list[Backup]] = defaultdict(list)
    for backup in sorted(backups, key=lambda b: b.created_at, reverse=True):
        grouped[backup.resource_id].append(backup)
    return grouped


def _long_term(automatic: dict[str, list[Backup]], policy: Policy) -> set[str]:
    zone = _zone(policy.operation_definition.get("timezone"))
    kept: set[str] = set()
    for field_name, period_of in PERIODS.items():
        count = policy.operation_definition.get(field_name)
        if not isinstance(count, int) or count <= 0:
            continue
        for backups in automatic.values():
            newest_per_period: dict[Hashable, Backup] = {}
            for backup in backups:
                newest_per_period.setdefault(period_of(backup.created_at.astimezone(zone)), backup)
            kept.update(b.id for b in list(newest_per_period.values())[:count])
    return kept


def _zone(text: object) -> timezone:
    match = re.fullmatch(r"UTC([+-])(\d{2}):(\d{2})", text if isinstance(text, str) else "")
    if not match:
        return UTC
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
