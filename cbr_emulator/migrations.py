"""The migration of a domain's older backup data into CBR (``migrate_domain``, ``show_migrate_status``).

``migrate_domain`` starts one migration for the caller's domain: its projects in every region
(``all_regions: true``) or in the caller's region only. The emulator holds no older data to move, so
every project simply runs one task on the emulator's clock (``waiting_seconds``, then
``base_seconds``; at once with ``instant``), ``migrating`` with its progress, then ``success``.
``reservation`` (the share vaults are enlarged by) is validated and kept, nothing else.
The answer maps each region concerned to ``running``. Asked again while a migration runs, it starts
nothing new and answers that migration's regions; once it has ended, a new one replaces it.
``show_migrate_status`` before any migration: 404 ``BackupService.4001``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from cbr_emulator.context import Call
from cbr_emulator.domain_state import MigratingProject, Migration
from cbr_emulator.domains import caller_domain, domain_state, domain_tenants
from cbr_emulator.errors import CbrError
from cbr_emulator.progression import plan
from cbr_emulator.validation import Body


class DomainMigrate(Body):
    all_regions: bool
    reservation: Annotated[float, Field(ge=0, le=1)]


def _regions(migration: Migration) -> dict[str, str]:
    return {project.region: "running" for project in migration.projects}


def migrate_domain(call: Call) -> dict[str, str]:
    request = call.body(DomainMigrate)
    state = domain_state(call.world, caller_domain(call))
    running = state.migration
    if running is not None and running.timeline.progress(call.now) < 100:
        return _regions(running)
    projects = [
        MigratingProject(t.region, t.project_id, t.name)
        for t in domain_tenants(call.world, state.name)
        if request.all_regions or t.region == call.project.region
    ]
    state.migration = Migration(
        started_at=call.now,
        reservation=request.reservation,
        projects=projects,
        timeline=plan(call.world.progression, call.now, 0),
    )
    return _regions(state.migration)


def show_migrate_status(call: Call) -> dict[str, Any]:
    all_regions = call.query.boolean("all_regions", default=True)
    migration = domain_state(call.world, caller_domain(call)).migration
    if migration is None:
        raise CbrError.of("4001")
    progress = migration.timeline.progress(call.now)
    status = "success" if progress == 100 else "migrating"
    shown = [p for p in migration.projects if all_regions or p.region == call.project.region]
    return {
        "status": status,
        "project_status": [
            {
                "status": status,
                "project_id": project.project_id,
                "project_name": project.project_name,
                "region_id": project.region,
                "progress": progress,
            }
            for project in shown
        ],
    }
