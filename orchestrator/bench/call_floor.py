"""The CBR calls that any tool must make to back up T resources of one project: the floor of calls.

- listing them, when the fleet is selected by protectables: ``ceil(T/50)`` ``list_protectable`` pages;
- vaults: ``ceil(T/256)`` ``create_vault`` (a vault holds at most 256 resources, a checkpoint covers one
  vault), each binding up to 255 resources in the same call; the rest with ``add_vault_resource``;
- one ``create_checkpoint`` per vault;
- reading the results: ``ceil(T/1000)`` ``list_backups`` pages.

For 10,000 servers selected by protectables: 200 + 40 + 0 + 40 + 10 = 290 calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.cbr.limits import (
    CREATE_VAULT_MAX_RESOURCES,
    LIST_MAX_PAGE,
    PROTECTABLE_MAX_PAGE,
    VAULT_MAX_RESOURCES,
)


@dataclass(frozen=True)
class CallFloor:
    resources: int
    listed: bool  # selected by protectables (listed), or given as an explicit list

    @property
    def list_pages(self) -> int:
        return math.ceil(self.resources / PROTECTABLE_MAX_PAGE) if self.listed else 0

    @property
    def vaults(self) -> int:
        return math.ceil(self.resources / VAULT_MAX_RESOURCES)

    @property
    def resource_additions(self) -> int:
        return max(0, self.resources - CREATE_VAULT_MAX_RESOURCES * self.vaults)

    @property
    def checkpoints(self) -> int:
        return self.vaults

    @property
    def backup_pages(self) -> int:
        return math.ceil(self.resources / LIST_MAX_PAGE)

    @property
    def total(self) -> int:
        return self.list_pages + self.vaults + self.resource_additions + self.checkpoints + self.backup_pages

    def describe(self) -> str:
        return (
            f"{self.list_pages} list pages + {self.vaults} vaults + {self.resource_additions} additions + "
            f"{self.checkpoints} checkpoints + {self.backup_pages} backup pages = {self.total}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "list_pages": self.list_pages,
            "vaults": self.vaults,
            "resource_additions": self.resource_additions,
            "checkpoints": self.checkpoints,
            "backup_pages": self.backup_pages,
            "total": self.total,
        }
