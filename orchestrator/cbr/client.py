"""The async CBR client: one typed method per operation, for one project in one region.

Every method takes an optional ``request_timeout`` (seconds) overriding the client's default, returns a
validated model (see :mod:`orchestrator.cbr.models`) and raises only
:class:`~orchestrator.cbr.errors.CbrApiError` — including for an answer that does not have the
documented shape (``code="invalid_response"``). Errors and observers name the SDK operation
(``copy_backup`` for :meth:`CbrClient.replicate_backup`, ``list_op_logs`` for
:meth:`CbrClient.list_operation_logs`, ...).

The per-call timeout bounds the HTTP exchange itself (an ``aiohttp.ClientTimeout``), so that running
out of time becomes a classified ``CbrApiError`` (``code="timeout"``, ``outcome_unknown`` for
non-idempotent calls) instead of a bare cancellation; it is named ``request_timeout`` because ruff's
ASYNC109 reserves ``timeout`` for ``asyncio.timeout``-style cancellation.

    async with CbrClient(region="eu-west-101", project_id=pid, auth=AkSkAuth(creds)) as cbr:
        async for backup in cbr.iter_backups(BackupFilter(vault_id=vault.id, status="available")):
            ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from orchestrator.cbr.auth import Authenticator
from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    CheckpointParameters,
    CheckpointReplicate,
    MemberStatus,
    PolicyCreate,
    PolicyUpdate,
    ResourceRef,
    TagAction,
    TagChange,
    VaultCreate,
    VaultUpdate,
    drop_none,
)
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.errors import DEFAULT_RETRY_AFTER_CAP, invalid_response
from orchestrator.cbr.limits import LIST_MAX_PAGE, PROTECTABLE_MAX_PAGE
from orchestrator.cbr.models import (
    AddedResources,
    Backup,
    BackupMetadata,
    BackupPage,
    BackupReplication,
    Checkpoint,
    CheckpointReplication,
    Member,
    MemberPage,
    OperationLog,
    OperationLogPage,
    Policy,
    PolicyList,
    ProjectTag,
    ProjectTagList,
    Protectable,
    ProtectableList,
    RemovedResources,
    ReplicationCapabilities,
    StorageUsagePage,
    Vault,
    VaultPage,
    VaultPolicyBinding,
    VaultTags,
)
from orchestrator.cbr.paging import Page, by_marker, by_offset
from orchestrator.cbr.query import (
    BackupFilter,
    MemberFilter,
    OperationLogFilter,
    ProtectableFilter,
    QueryPairs,
    VaultFilter,
    query_pairs,
)
from orchestrator.cbr.transport import DEFAULT_TIMEOUT, Reply, RequestObserver, Transport, operation_table

M = TypeVar("M", bound=BaseModel)


def _paging(limit: int | None, offset: int | None, marker: str | None = None) -> QueryPairs:
    return query_pairs({"limit": limit, "offset": offset, "marker": marker})


def _validation_summary(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "<body>"
    return f"{exc.error_count()} invalid field(s), first {where}: {first['msg']}"


def parse_reply(reply: Reply, model: type[M], key: str | None = None) -> M:
    """Validate the answer (or its ``key`` member) into ``model``; a mismatch is ``invalid_response``."""
    data = reply.data
    idempotent = operation_table()[reply.operation].idempotent
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            detail = f"the answer has no {key!r} member"
            raise invalid_response(
                reply.operation, reply.status, detail, reply.request_id, idempotent=idempotent
            )
        data = data[key]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        summary = _validation_summary(exc)
        raise invalid_response(
            reply.operation, reply.status, summary, reply.request_id, idempotent=idempotent
        ) from exc


class CbrClient:
    """CBR v3 for one project in one region, over one ``aiohttp.ClientSession``.

    Pass ``session`` to share a session (the caller closes it); otherwise the client opens one on
    first use and closes it in :meth:`close` / ``async with``. ``observer`` sees every HTTP attempt
    (see :class:`~orchestrator.cbr.transport.RequestObserver`).
    """

    def __init__(
        self,
        *,
        region: str,
        project_id: str,
        auth: Authenticator,
        endpoints: Endpoints | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        observer: RequestObserver | None = None,
        retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
    ) -> None:
        self._transport = Transport(
            region=region,
            project_id=project_id,
            auth=auth,
            endpoints=endpoints or Endpoints(),
            session=session,
            timeout=timeout,
            observer=observer,
            retry_after_cap=retry_after_cap,
        )

    def __repr__(self) -> str:
        return f"CbrClient({self._transport!r})"

    @property
    def region(self) -> str:
        return self._transport.region

    @property
    def project_id(self) -> str:
        return self._transport.project_id

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> CbrClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def _call(
        self,
        operation: str,
        *,
        path: dict[str, str] | None = None,
        query: QueryPairs | None = None,
        body: Any = None,
        request_timeout: float | None = None,
    ) -> Reply:
        return await self._transport.call(
            operation, path=path, query=query, body=body, request_timeout=request_timeout
        )

    async def list_page(
        self, operation: str, query: QueryPairs, model: type[M], *, request_timeout: float | None = None
    ) -> M:
        """One page of the list ``operation`` validated into ``model``: for a caller that reads a few
        fields of many items (status polling) and validates only those."""
        reply = await self._call(operation, query=query, request_timeout=request_timeout)
        return parse_reply(reply, model)

    # --- vaults -------------------------------------------------------------------------------

    async def create_vault(self, vault: VaultCreate, *, request_timeout: float | None = None) -> Vault:
        reply = await self._call(
            "create_vault", body={"vault": vault.to_json()}, request_timeout=request_timeout
        )
        return parse_reply(reply, Vault, "vault")

    async def show_vault(self, vault_id: str, *, request_timeout: float | None = None) -> Vault:
        reply = await self._call("show_vault", path={"vault_id": vault_id}, request_timeout=request_timeout)
        return parse_reply(reply, Vault, "vault")

    async def list_vaults(
        self,
        filters: VaultFilter | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
        request_timeout: float | None = None,
    ) -> VaultPage:
        query = (filters or VaultFilter()).to_query() + _paging(limit, offset)
        return parse_reply(
            await self._call("list_vault", query=query, request_timeout=request_timeout), VaultPage
        )

    async def iter_vaults(
        self,
        filters: VaultFilter | None = None,
        *,
        page_size: int = LIST_MAX_PAGE,
        request_timeout: float | None = None,
    ) -> AsyncIterator[Vault]:
        async def fetch(offset: int) -> Page[Vault]:
            page = await self.list_vaults(
                filters, limit=page_size, offset=offset, request_timeout=request_timeout
            )
            return Page(page.vaults, page.count)

        async for vault in by_offset(fetch, page_size):
            yield vault

    async def update_vault(
        self, vault_id: str, update: VaultUpdate, *, request_timeout: float | None = None
    ) -> Vault:
        body = {"vault": update.to_json()}
        reply = await self._call(
            "update_vault", path={"vault_id": vault_id}, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, Vault, "vault")

    async def delete_vault(self, vault_id: str, *, request_timeout: float | None = None) -> None:
        """Delete the vault and every backup in it (answered at once; clean-up runs on)."""
        await self._call("delete_vault", path={"vault_id": vault_id}, request_timeout=request_timeout)

    async def add_vault_resources(
        self, vault_id: str, resources: Sequence[ResourceRef], *, request_timeout: float | None = None
    ) -> list[str]:
        body = {"resources": [resource.to_json() for resource in resources]}
        path = {"vault_id": vault_id}
        reply = await self._call("add_vault_resource", path=path, body=body, request_timeout=request_timeout)
        return parse_reply(reply, AddedResources).add_resource_ids

    async def remove_vault_resources(
        self, vault_id: str, resource_ids: Sequence[str], *, request_timeout: float | None = None
    ) -> list[str]:
        body = {"resource_ids": list(resource_ids)}
        path = {"vault_id": vault_id}
        reply = await self._call(
            "remove_vault_resource", path=path, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, RemovedResources).remove_resource_ids

    async def associate_vault_policy(
        self,
        vault_id: str,
        policy_id: str,
        *,
        destination_vault_id: str | None = None,
        request_timeout: float | None = None,
    ) -> VaultPolicyBinding:
        """Bind a policy; a replication policy also needs the ``destination_vault_id``."""
        body = drop_none({"destination_vault_id": destination_vault_id, "policy_id": policy_id})
        path = {"vault_id": vault_id}
        reply = await self._call(
            "associate_vault_policy", path=path, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, VaultPolicyBinding, "associate_policy")

    async def dissociate_vault_policy(
        self, vault_id: str, policy_id: str, *, request_timeout: float | None = None
    ) -> VaultPolicyBinding:
        path, body = {"vault_id": vault_id}, {"policy_id": policy_id}
        reply = await self._call(
            "disassociate_vault_policy", path=path, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, VaultPolicyBinding, "dissociate_policy")

    # --- checkpoints --------------------------------------------------------------------------

    async def create_checkpoint(
        self,
        vault_id: str,
        parameters: CheckpointParameters | None = None,
        *,
        request_timeout: float | None = None,
    ) -> Checkpoint:
        """Start a backup run over the vault. Not idempotent: a timeout leaves the outcome unknown."""
        checkpoint: dict[str, Any] = {"vault_id": vault_id}
        if parameters is not None:
            checkpoint = {"parameters": parameters.to_json(), **checkpoint}
        reply = await self._call(
            "create_checkpoint", body={"checkpoint": checkpoint}, request_timeout=request_timeout
        )
        return parse_reply(reply, Checkpoint, "checkpoint")

    async def show_checkpoint(
        self, checkpoint_id: str, *, request_timeout: float | None = None
    ) -> Checkpoint:
        path = {"checkpoint_id": checkpoint_id}
        reply = await self._call("show_checkpoint", path=path, request_timeout=request_timeout)
        return parse_reply(reply, Checkpoint, "checkpoint")

    async def replicate_checkpoint(
        self, request: CheckpointReplicate, *, request_timeout: float | None = None
    ) -> CheckpointReplication:
        """Replicate the backups of a vault to another region (SDK ``copy_checkpoint``)."""
        reply = await self._call(
            "copy_checkpoint", body={"replicate": request.to_json()}, request_timeout=request_timeout
        )
        return parse_reply(reply, CheckpointReplication, "replication")

    # --- backups ------------------------------------------------------------------------------

    async def list_backups(
        self,
        filters: BackupFilter | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
        marker: str | None = None,
        request_timeout: float | None = None,
    ) -> BackupPage:
        """One page of backups; ``count`` in the answer is the number of all matches."""
        query = (filters or BackupFilter()).to_query() + _paging(limit, offset, marker)
        return parse_reply(
            await self._call("list_backups", query=query, request_timeout=request_timeout), BackupPage
        )

    async def iter_backups(
        self,
        filters: BackupFilter | None = None,
        *,
        page_size: int = 100,
        by_marker_paging: bool = True,
        request_timeout: float | None = None,
    ) -> AsyncIterator[Backup]:
        """Every matching backup, page by page (marker paging by default, offset paging otherwise)."""
        if by_marker_paging:

            async def fetch_after(marker: str | None) -> Page[Backup]:
                page = await self.list_backups(
                    filters, limit=page_size, marker=marker, request_timeout=request_timeout
                )
                return Page(page.backups, page.count)

            pages = by_marker(fetch_after, lambda backup: backup.id, page_size)
        else:

            async def fetch_at(offset: int) -> Page[Backup]:
                page = await self.list_backups(
                    filters, limit=page_size, offset=offset, request_timeout=request_timeout
                )
                return Page(page.backups, page.count)

            pages = by_offset(fetch_at, page_size)
        async for backup in pages:
            yield backup

    async def show_backup(self, backup_id: str, *, request_timeout: float | None = None) -> Backup:
        reply = await self._call(
            "show_backup", path={"backup_id": backup_id}, request_timeout=request_timeout
        )
        return parse_reply(reply, Backup, "backup")

    async def update_backup(
        self, backup_id: str, name: str, *, request_timeout: float | None = None
    ) -> Backup:
        """Rename a backup (the only change the API allows)."""
        body = {"backup": {"name": name}}
        reply = await self._call(
            "update_backup", path={"backup_id": backup_id}, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, Backup, "backup")

    async def delete_backup(self, backup_id: str, *, request_timeout: float | None = None) -> None:
        await self._call("delete_backup", path={"backup_id": backup_id}, request_timeout=request_timeout)

    async def restore_backup(
        self, backup_id: str, restore: BackupRestore, *, request_timeout: float | None = None
    ) -> None:
        """Start a restore (202, no body): track it by operation log and backup status."""
        body = {"restore": restore.to_json()}
        await self._call(
            "restore_backup", path={"backup_id": backup_id}, body=body, request_timeout=request_timeout
        )

    async def replicate_backup(
        self, backup_id: str, request: BackupReplicate, *, request_timeout: float | None = None
    ) -> BackupReplication:
        """Replicate one backup to another region (SDK ``copy_backup``)."""
        body = {"replicate": request.to_json()}
        reply = await self._call(
            "copy_backup", path={"backup_id": backup_id}, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, BackupReplication, "replication")

    async def show_backup_metadata(
        self, backup_id: str, *, request_timeout: float | None = None
    ) -> BackupMetadata:
        reply = await self._call(
            "show_metadata", path={"backup_id": backup_id}, request_timeout=request_timeout
        )
        return parse_reply(reply, BackupMetadata)

    # --- operation logs -----------------------------------------------------------------------

    async def list_operation_logs(
        self,
        filters: OperationLogFilter | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
        request_timeout: float | None = None,
    ) -> OperationLogPage:
        query = (filters or OperationLogFilter()).to_query() + _paging(limit, offset)
        reply = await self._call("list_op_logs", query=query, request_timeout=request_timeout)
        return parse_reply(reply, OperationLogPage)

    async def iter_operation_logs(
        self,
        filters: OperationLogFilter | None = None,
        *,
        page_size: int = LIST_MAX_PAGE,
        request_timeout: float | None = None,
    ) -> AsyncIterator[OperationLog]:
        async def fetch(offset: int) -> Page[OperationLog]:
            page = await self.list_operation_logs(
                filters, limit=page_size, offset=offset, request_timeout=request_timeout
            )
            return Page(page.operation_logs, page.count)

        async for log in by_offset(fetch, page_size):
            yield log

    async def show_operation_log(
        self, operation_log_id: str, *, request_timeout: float | None = None
    ) -> OperationLog:
        path = {"operation_log_id": operation_log_id}
        reply = await self._call("show_op_log", path=path, request_timeout=request_timeout)
        return parse_reply(reply, OperationLog, "operation_log")

    # --- policies -----------------------------------------------------------------------------

    async def create_policy(self, policy: PolicyCreate, *, request_timeout: float | None = None) -> Policy:
        reply = await self._call(
            "create_policy", body={"policy": policy.to_json()}, request_timeout=request_timeout
        )
        return parse_reply(reply, Policy, "policy")

    async def list_policies(
        self,
        *,
        operation_type: str | None = None,
        vault_id: str | None = None,
        request_timeout: float | None = None,
    ) -> PolicyList:
        query = query_pairs({"operation_type": operation_type, "vault_id": vault_id})
        return parse_reply(
            await self._call("list_policies", query=query, request_timeout=request_timeout), PolicyList
        )

    async def show_policy(self, policy_id: str, *, request_timeout: float | None = None) -> Policy:
        reply = await self._call(
            "show_policy", path={"policy_id": policy_id}, request_timeout=request_timeout
        )
        return parse_reply(reply, Policy, "policy")

    async def update_policy(
        self, policy_id: str, update: PolicyUpdate, *, request_timeout: float | None = None
    ) -> Policy:
        body = {"policy": update.to_json()}
        reply = await self._call(
            "update_policy", path={"policy_id": policy_id}, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, Policy, "policy")

    async def delete_policy(self, policy_id: str, *, request_timeout: float | None = None) -> None:
        await self._call("delete_policy", path={"policy_id": policy_id}, request_timeout=request_timeout)

    # --- vault tags ---------------------------------------------------------------------------

    async def create_vault_tag(
        self, vault_id: str, key: str, value: str, *, request_timeout: float | None = None
    ) -> None:
        """Set one tag (an existing key is overwritten)."""
        body = {"tag": {"key": key, "value": value}}
        await self._call(
            "create_vault_tags", path={"vault_id": vault_id}, body=body, request_timeout=request_timeout
        )

    async def batch_update_vault_tags(
        self,
        vault_id: str,
        action: TagAction,
        tags: Sequence[TagChange],
        *,
        request_timeout: float | None = None,
    ) -> None:
        """Create (``value`` required) or delete (absent keys are fine) up to 10 tags at once."""
        body = {"action": action, "tags": [tag.to_json() for tag in tags]}
        path = {"vault_id": vault_id}
        await self._call(
            "batch_create_and_delete_vault_tags", path=path, body=body, request_timeout=request_timeout
        )

    async def delete_vault_tag(
        self, vault_id: str, key: str, *, request_timeout: float | None = None
    ) -> None:
        await self._call(
            "delete_vault_tag", path={"vault_id": vault_id, "key": key}, request_timeout=request_timeout
        )

    async def show_vault_tags(self, vault_id: str, *, request_timeout: float | None = None) -> VaultTags:
        reply = await self._call(
            "show_vault_tag", path={"vault_id": vault_id}, request_timeout=request_timeout
        )
        return parse_reply(reply, VaultTags)

    async def show_project_tags(self, *, request_timeout: float | None = None) -> list[ProjectTag]:
        """Every tag key used on the project's vaults, with all its values."""
        reply = await self._call("show_vault_project_tag", request_timeout=request_timeout)
        return parse_reply(reply, ProjectTagList).tags

    # --- backup sharing -----------------------------------------------------------------------

    async def add_members(
        self,
        backup_id: str,
        project_ids: Sequence[str],
        *,
        domains: Sequence[str] | None = None,
        request_timeout: float | None = None,
    ) -> list[Member]:
        """Share a backup with other projects; each new member starts ``pending``."""
        body = drop_none({"members": list(project_ids), "domains": list(domains) if domains else None})
        reply = await self._call(
            "add_member", path={"backup_id": backup_id}, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, MemberPage).members

    async def list_members(
        self,
        backup_id: str,
        filters: MemberFilter | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
        marker: str | None = None,
        request_timeout: float | None = None,
    ) -> MemberPage:
        query = (filters or MemberFilter()).to_query() + _paging(limit, offset, marker)
        path = {"backup_id": backup_id}
        reply = await self._call(
            "show_members_detail", path=path, query=query, request_timeout=request_timeout
        )
        return parse_reply(reply, MemberPage)

    async def show_member(
        self, backup_id: str, member_id: str, *, request_timeout: float | None = None
    ) -> Member:
        path = {"backup_id": backup_id, "member_id": member_id}
        reply = await self._call("show_member_detail", path=path, request_timeout=request_timeout)
        return parse_reply(reply, Member, "member")

    async def update_member_status(
        self,
        backup_id: str,
        member_id: str,
        status: MemberStatus,
        *,
        vault_id: str | None = None,
        request_timeout: float | None = None,
    ) -> Member:
        """Accept (``vault_id`` required) or reject a share, as the receiving project."""
        path = {"backup_id": backup_id, "member_id": member_id}
        body = drop_none({"status": status, "vault_id": vault_id})
        reply = await self._call(
            "update_member_status", path=path, body=body, request_timeout=request_timeout
        )
        return parse_reply(reply, Member, "member")

    async def delete_member(
        self, backup_id: str, member_id: str, *, request_timeout: float | None = None
    ) -> None:
        path = {"backup_id": backup_id, "member_id": member_id}
        await self._call("delete_member", path=path, request_timeout=request_timeout)

    # --- protectables, capabilities, usage ----------------------------------------------------

    async def list_protectables(
        self,
        protectable_type: str = "server",
        filters: ProtectableFilter | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
        marker: str | None = None,
        request_timeout: float | None = None,
    ) -> list[Protectable]:
        """Resources of one type (``server``, ``disk``, ``turbo``, ...) and whether they can be bound."""
        query = (filters or ProtectableFilter()).to_query() + _paging(limit, offset, marker)
        path = {"protectable_type": protectable_type}
        reply = await self._call("list_protectable", path=path, query=query, request_timeout=request_timeout)
        return parse_reply(reply, ProtectableList).instances

    async def iter_protectables(
        self,
        protectable_type: str = "server",
        filters: ProtectableFilter | None = None,
        *,
        page_size: int = PROTECTABLE_MAX_PAGE,
        request_timeout: float | None = None,
    ) -> AsyncIterator[Protectable]:
        async def fetch(marker: str | None) -> Page[Protectable]:
            items = await self.list_protectables(
                protectable_type, filters, limit=page_size, marker=marker, request_timeout=request_timeout
            )
            return Page(items)

        async for item in by_marker(fetch, lambda instance: instance.id, page_size):
            yield item

    async def show_protectable(
        self, protectable_type: str, instance_id: str, *, request_timeout: float | None = None
    ) -> Protectable:
        path = {"protectable_type": protectable_type, "instance_id": instance_id}
        reply = await self._call("show_protectable", path=path, request_timeout=request_timeout)
        return parse_reply(reply, Protectable, "instance")

    async def show_replication_capabilities(
        self, *, request_timeout: float | None = None
    ) -> ReplicationCapabilities:
        reply = await self._call("show_replication_capabilities", request_timeout=request_timeout)
        return parse_reply(reply, ReplicationCapabilities)

    async def show_storage_usage(
        self,
        *,
        resource_id: str | None = None,
        resource_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        request_timeout: float | None = None,
    ) -> StorageUsagePage:
        query = query_pairs({"resource_id": resource_id, "resource_type": resource_type})
        query += _paging(limit, offset)
        reply = await self._call("show_storage_usage", query=query, request_timeout=request_timeout)
        return parse_reply(reply, StorageUsagePage)
