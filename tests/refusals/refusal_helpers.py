"""Commands for the emulator's tenant, as the JSON a user submits."""

from __future__ import annotations

import json
from typing import Any

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.inventory import build_inventory

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region
UNKNOWN_PROJECT = "f" * 32
EMULATOR_CONFIG = EmulatorConfig(progression=Progression.instantly())


def server() -> str:
    return next(iter(build_inventory(EMULATOR_CONFIG.inventory, REGION, PROJECT).servers))


def backup_json(command_id: str, **over: Any) -> str:
    body = {
        "kind": "backup",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "vault-refusals", "create": {"size_gb": 1000}},
        "resources": [{"id": server()}],
    }
    return json.dumps({**body, **over})
