"""Everything the emulator holds (:class:`World`) and what one handler sees of it (:class:`Call`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from pydantic import BaseModel

from cbr_emulator.clock import Clock
from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.domain_state import DomainState
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import build_inventory
from cbr_emulator.operation import OperationRequest
from cbr_emulator.progression import Scheduler, TaskRunner
from cbr_emulator.state import IdSource, ProjectState
from cbr_emulator.validation import Query, parse_body

M = TypeVar("M", bound=BaseModel)


class World:
    """All projects of all regions, one clock, one timer queue, one seeded random source."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.ids = IdSource(config.inventory.seed)
        self.rng = random.Random(f"failures:{config.inventory.seed}")
        self.scheduler = Scheduler()
        self.runner = TaskRunner(
            self.scheduler, self.rng, lambda: self.config.progression, lambda: self.config.backup_capacity
        )
        self.projects: dict[tuple[str, str], ProjectState] = {}
        self.domains: dict[str, DomainState] = {}  # by domain name: organisation policies, migration

    @property
    def progression(self) -> Progression:
        return self.config.progression

    def backup_pool(self, project: ProjectState) -> tuple[str, str]:
        """The capacity pool a project's backup tasks count against: the project in its region."""
        return (project.region, project.project_id)

    def project(self, region: str, project_id: str) -> ProjectState:
        """The state of one project in one region, created (with its inventory) on first use."""
        key = (region, project_id)
        if key not in self.projects:
            inventory = build_inventory(self.config.inventory, region, project_id)
            self.projects[key] = ProjectState(region=region, project_id=project_id, inventory=inventory)
        return self.projects[key]

    def is_tenant(self, region: str, project_id: str) -> bool:
        return any(t.region == region and t.project_id == project_id for t in self.config.tenants)

    def lives_elsewhere(self, region: str, project_id: str) -> bool:
        """Whether ``project_id`` is a known tenant's project in a region other than ``region``."""
        return any(t.project_id == project_id and t.region != region for t in self.config.tenants)

    def regions(self) -> list[str]:
        return sorted({tenant.region for tenant in self.config.tenants})

    def same_region_projects(self, region: str) -> list[ProjectState]:
        return [state for (where, _), state in self.projects.items() if where == region]


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the world, the caller's project, the request and the time."""

    world: World
    project: ProjectState
    request: OperationRequest
    now: datetime

    @cached_property
    def query(self) -> Query:
        return Query(self.request.query)

    def path(self, name: str) -> str:
        value = self.request.path.get(name, "")
        if not isinstance(value, str) or not value.strip():
            raise CbrError.of("9900", f"Path parameter {name} is missing.")
        return value

    def body(self, model: type[M]) -> M:
        return parse_body(model, self.request.body)
