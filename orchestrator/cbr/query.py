"""Query parameters: list filters as typed models, encoded as the SDK encodes them.

A query is a list of unencoded ``(name, value)`` pairs; the client sends ``canonical_query(pairs)``
(sorted, RFC 3986 encoded), which is also what the signature covers. Booleans become ``true`` /
``false``, datetimes ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, lists one pair per element, ``None`` nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

QueryPairs = list[tuple[str, str]]
QueryValue = str | int | bool | datetime | list[str] | None


def format_query_time(moment: datetime) -> str:
    """``2018-02-01T12:00:00Z``: the shape of ``start_time`` / ``end_time`` filters."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_query_time(value)
    return str(value)


def query_pairs(params: Mapping[str, object]) -> QueryPairs:
    """Pairs for the given parameters; ``None`` values are left out, lists repeat their name."""
    pairs: QueryPairs = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((name, _scalar(item)) for item in value)
        else:
            pairs.append((name, _scalar(value)))
    return pairs


class QueryFilter(BaseModel):
    """Base of the list filters: immutable, unknown names refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_query(self) -> QueryPairs:
        return query_pairs({name: getattr(self, name) for name in type(self).model_fields})


class VaultFilter(QueryFilter):
    name: str | None = None
    cloud_type: str | None = None
    protect_type: str | None = None
    object_type: str | None = None
    enterprise_project_id: str | None = None
    id: list[str] | None = None  # repeated pairs
    policy_id: str | None = None
    status: str | None = None
    resource_ids: list[str] | None = None  # sent as one comma-separated value

    def to_query(self) -> QueryPairs:
        pairs = [pair for pair in super().to_query() if pair[0] != "resource_ids"]
        if self.resource_ids:
            pairs.append(("resource_ids", ",".join(self.resource_ids)))
        return pairs


class BackupFilter(QueryFilter):
    checkpoint_id: str | None = None
    vault_id: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    resource_az: str | None = None
    name: str | None = None
    status: str | list[str] | None = None  # may repeat
    image_type: str | None = None
    parent_id: str | None = None
    start_time: datetime | str | None = None
    end_time: datetime | str | None = None
    enterprise_project_id: str | None = None
    own_type: str | None = None
    member_status: str | None = None
    used_percent: str | None = None
    incremental: bool | None = None
    show_replication: bool | None = None
    dec: bool | None = None
    sort: str | None = None  # "created_at:desc,name"


class OperationLogFilter(QueryFilter):
    operation_type: str | None = None
    status: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    provider_id: str | None = None
    start_time: datetime | str | None = None
    end_time: datetime | str | None = None
    enterprise_project_id: str | None = None


class ProtectableFilter(QueryFilter):
    name: str | None = None
    status: str | None = None
    id: str | None = None
    server_id: str | None = None  # the disks of one server


class MemberFilter(QueryFilter):
    dest_project_id: str | None = None
    image_id: str | None = None
    status: str | None = None
    vault_id: str | None = None
    sort: str | None = None
