"""Settings over many vaults or many bound resources: ``batch_update_vault`` and ``set_vault_resource``.

``batch_update_vault`` sets ``smn_notify`` and/or ``threshold`` on every vault of the project (in its
region) and answers their ids; a body that sets neither is refused (9900). ``set_vault_resource``
suspends or resumes the automatic (policy) backups of resources bound to a vault: a suspended
resource shows ``auto_protect: false`` and is left out of its vault's scheduled backups; manual
backups still take it. Resources not in the vault: 400 ``BackupService.6135``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.validation import Body, Id
from cbr_emulator.vaults import find_vault


class VaultBatchUpdate(Body):
    smn_notify: bool | None = None
    threshold: Annotated[int, Field(ge=1, le=100)] | None = None

    @model_validator(mode="after")
    def _something(self) -> VaultBatchUpdate:
        if self.smn_notify is None and self.threshold is None:
            raise ValueError("give smn_notify, threshold or both")
        return self


class BatchUpdateVaultRequestBody(Body):
    vault: VaultBatchUpdate


class VaultSetResourceReq(Body):
    resource_ids: Annotated[list[Id], Field(min_length=1, max_length=256)]
    action: Literal["suspend", "unsuspend"]


def batch_update_vault(call: Call) -> dict[str, Any]:
    change = call.body(BatchUpdateVaultRequestBody).vault
    vaults = sorted(call.project.vaults.values(), key=lambda v: v.created_at)
    for vault in vaults:
        if change.smn_notify is not None:
            vault.smn_notify = change.smn_notify
        if change.threshold is not None:
            vault.threshold = change.threshold
    return {"updated_vaults_id": [v.id for v in vaults]}


def set_vault_resource(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    request = call.body(VaultSetResourceReq)
    ids = list(dict.fromkeys(request.resource_ids))
    missing = [rid for rid in ids if rid not in vault.resources]
    if missing:
        raise CbrError.of("6135", f"Resources {', '.join(missing)} are not in vault {vault.id}.")
    for rid in ids:
        vault.resources[rid].auto_protect = request.action == "unsuspend"
    return {"set_resource_ids": ids}
