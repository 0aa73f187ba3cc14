"""The emulator's own count of backups per resource, read from its ledger, never from our database.

A resource of the fleet without an available backup is *lost*; one with more than one backup (of any
status: each is a backup task CBR ran) is *duplicated*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.bench.event_lag import last_task_end


@dataclass(frozen=True)
class BackupAudit:
    resources: int
    backups: int
    lost: int
    duplicated: int
    last_task_end: datetime | None

    @classmethod
    def of(cls, ledger: dict[str, Any], resource_ids: Collection[str]) -> BackupAudit:
        wanted = set(resource_ids)
        backups = [b for p in ledger["projects"] for b in p.get("backups", []) if b["resource_id"] in wanted]
        made = Counter(b["resource_id"] for b in backups)
        available = {b["resource_id"] for b in backups if b["status"] == "available"}
        return cls(
            resources=len(wanted),
            backups=len(backups),
            lost=len(wanted - available),
            duplicated=sum(1 for n in made.values() if n > 1),
            last_task_end=last_task_end(backups),
        )

    def to_json(self) -> dict[str, Any]:
        end = self.last_task_end
        return {
            "resources": self.resources,
            "backups": self.backups,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "last_task_end": None if end is None else end.isoformat(),
        }
