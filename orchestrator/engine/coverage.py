"""Refreshing the coverage ledger of one project from CBR's own listings, page by page.

Every call goes through the project's client, so through the shared rate limiter; none is made per
resource. A refresh lists the vaults (for their names), the protectables of each type (with the vault each
is bound to) and the backups created since the cursor; once every ``full_pass_seconds`` it lists every
backup instead, and the ledger's backups are replaced by what it found (a deleted one leaves).

The cursor is the newest ``created_at`` seen, or, when older, that of the oldest backup still being made:
a backup listed while ``protecting`` is listed again by the next refresh, when it may have become good.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.limits import PROTECTABLE_MAX_PAGE
from orchestrator.cbr.models import Backup, ProtectableResult
from orchestrator.cbr.paging import Page, by_marker, by_offset
from orchestrator.cbr.query import BackupFilter
from orchestrator.config import CoverageSettings, Settings
from orchestrator.ratelimit import RateLimiters
from orchestrator.store.coverage import CoverageLedger, Cursor, GoodBackup, Protectable

GOOD = frozenset({"available", "restoring", "waiting_restore"})
BEING_MADE = frozenset({"protecting", "waiting_protect"})


@dataclass(frozen=True)
class RefreshReport:
    project_id: str
    calls: int  # CBR list calls made (pages of vaults, protectables and backups)
    backup_calls: int
    backups_listed: int
    full: bool


class _Calls:
    def __init__(self) -> None:
        self.total = 0
        self.backups = 0


async def refresh_project(
    client: CbrClient,
    ledger: CoverageLedger,
    settings: CoverageSettings,
    *,
    full: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefreshReport:
    calls = _Calls()
    project = client.project_id
    cursor = await ledger.cursor(project) or Cursor(None, None)
    full = full or _full_pass_due(cursor, settings, now())
    names = await _vault_names(client, settings.page_size, calls)
    protectables = [p async for p in _protectables(client, settings, names, calls)]
    since = None if full else cursor.newest_backup_at
    good, listed, next_from = await _backups(client, since, settings.page_size, calls)
    newest = next_from or cursor.newest_backup_at
    saved = Cursor(newest, now() if full else cursor.full_pass_at)
    await ledger.save(project, protectables, list(good.values()), saved, full)
    return RefreshReport(project, calls.total, calls.backups, listed, full)


def _full_pass_due(cursor: Cursor, settings: CoverageSettings, now: datetime) -> bool:
    if cursor.full_pass_at is None or cursor.newest_backup_at is None:
        return True
    return (now - cursor.full_pass_at).total_seconds() >= settings.full_pass_seconds


async def _vault_names(client: CbrClient, page_size: int, calls: _Calls) -> dict[str, str | None]:
    async def page(offset: int) -> Page[tuple[str, str | None]]:
        calls.total += 1
        found = await client.list_vaults(limit=page_size, offset=offset)
        return Page([(v.id, v.name) for v in found.vaults], found.count)

    return {vault_id: name async for vault_id, name in by_offset(page, page_size)}


async def _protectables(
    client: CbrClient, settings: CoverageSettings, names: dict[str, str | None], calls: _Calls
) -> AsyncIterator[Protectable]:
    for kind in settings.protectable_types:

        async def page(marker: str | None, kind: str = kind) -> Page[Protectable]:
            calls.total += 1
            found = await client.list_protectables(kind, limit=PROTECTABLE_MAX_PAGE, marker=marker)
            return Page([_protectable(p.id, p.type or kind, p.name, p.protectable) for p in found])

        async for item in by_marker(page, lambda p: p.resource_id, PROTECTABLE_MAX_PAGE):
            yield item if item.vault_id is None else _named(item, names)


def _protectable(
    resource_id: str, kind: str, name: str | None, result: ProtectableResult | None
) -> Protectable:
    vault = result.vault if result is not None else None
    if vault is None:
        return Protectable(resource_id, kind, name, None, None)
    tags = {tag.key: tag.value or "" for tag in vault.tags}
    return Protectable(resource_id, kind, name, vault.id, vault.name, tags)


def _named(item: Protectable, names: dict[str, str | None]) -> Protectable:
    name = names.get(item.vault_id or "", item.vault_name)
    return replace(item, vault_name=name)


async def _backups(
    client: CbrClient, since: datetime | None, page_size: int, calls: _Calls
) -> tuple[dict[str, GoodBackup], int, datetime | None]:
    """The newest good backup of each resource created at or after ``since``, how many backups were
    listed, and where the next incremental listing starts."""
    filters = BackupFilter(
        image_type="backup", sort="created_at:asc", start_time=None if since is None else _stamp(since)
    )

    async def page(marker: str | None) -> Page[Backup]:
        calls.total += 1
        calls.backups += 1
        return Page((await client.list_backups(filters, limit=page_size, marker=marker)).backups)

    good: dict[str, GoodBackup] = {}
    listed = 0
    newest: datetime | None = None
    oldest_being_made: datetime | None = None
    async for backup in by_marker(page, lambda b: b.id, page_size):
        listed += 1
        created = _created_at(backup)
        if created is None or backup.resource_id is None:
            continue
        newest = created if newest is None else max(newest, created)
        if backup.status in BEING_MADE:
            oldest_being_made = created if oldest_being_made is None else min(oldest_being_made, created)
        elif backup.status in GOOD:
            _keep_newest(good, GoodBackup(backup.resource_id, backup.id, backup.vault_id, created))
    return good, listed, oldest_being_made if oldest_being_made is not None else newest


def _keep_newest(good: dict[str, GoodBackup], backup: GoodBackup) -> None:
    known = good.get(backup.resource_id)
    if known is None or backup.created_at > known.created_at:
        good[backup.resource_id] = backup


def _created_at(backup: Backup) -> datetime | None:
    if not backup.created_at:
        return None
    moment = datetime.fromisoformat(backup.created_at.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    """CBR's filter time has whole seconds: rounding down lists the second's backups again (harmless)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def refresh_projects(
    settings: Settings, ledger: CoverageLedger, projects: Sequence[str] = (), *, full: bool = False
) -> list[RefreshReport]:
    """Refresh the ledger of every project with credentials (only ``projects`` when given), one after
    the other, each through its shared rate limiter."""
    limiters = await RateLimiters.open(settings.database_url, settings.rate_limit)
    clients = CbrClients(settings, limiters=limiters)
    try:
        return [
            await refresh_project(clients.get(c.project_id, c.region), ledger, settings.coverage, full=full)
            for c in settings.credentials
            if not projects or c.project_id in projects
        ]
    finally:
        await clients.close()
        await limiters.close()
