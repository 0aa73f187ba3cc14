"""Vault tags: per-vault key/value pairs and tag-based vault queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.state import Vault
from cbr_emulator.validation import BulkTagsReq, ResourceInstancesReq, TagFilter, VaultTagsCreateReq
from cbr_emulator.vaults import find_vault, render

MAX_TAGS = 20


def _check_room(vault: Vault, keys: set[str]) -> None:
    if len(set(vault.tags) | keys) > MAX_TAGS:
        raise CbrError.of("6600", f"A vault carries at most {MAX_TAGS} tags.")


def create_vault_tags(call: Call) -> None:
    vault = find_vault(call.project, call.path("vault_id"))
    tag = call.body(VaultTagsCreateReq).tag
    _check_room(vault, {tag.key})
    vault.tags[tag.key] = tag.value


def batch_create_and_delete_vault_tags(call: Call) -> None:
    vault = find_vault(call.project, call.path("vault_id"))
    request = call.body(BulkTagsReq)
    if request.sys_tags:
        raise CbrError.of("9900", "sys_tags are reserved for privileged callers.")
    tags = request.tags or []
    keys = [t.key for t in tags]
    if request.action == "delete":
        for key in keys:
            vault.tags.pop(key, None)
        return
    if len(set(keys)) != len(keys):
        raise CbrError.of("9900", "A key may appear only once when creating tags.")
    if any(t.value is None for t in tags):
        raise CbrError.of("9900", "Each tag needs a value when creating tags.")
    _check_room(vault, set(keys))
    vault.tags.update((t.key, t.value or "") for t in tags)


def delete_vault_tag(call: Call) -> None:
    vault = find_vault(call.project, call.path("vault_id"))
    key = call.path("key").strip()
    if key not in vault.tags:
        raise CbrError.of("6601")
    del vault.tags[key]


def show_vault_tag(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    return {"tags": [{"key": k, "value": v} for k, v in vault.tags.items()], "sys_tags": []}


def show_vault_project_tag(call: Call) -> dict[str, Any]:
    values: dict[str, list[str]] = {}
    for vault in call.project.vaults.values():
        for key, value in vault.tags.items():
            known = values.setdefault(key, [])
            if value not in known:
                known.append(value)
    return {"tags": [{"key": k, "values": v} for k, v in values.items()]}


def _value_matches(wanted: list[str], value: str) -> bool:
    """An empty list matches any value; ``*abc`` matches values containing ``abc``."""
    if not wanted:
        return True
    return any(value == w or (w.startswith("*") and w[1:] in value) for w in wanted)


def _has(vault: Vault, item: TagFilter) -> bool:
    return item.key in vault.tags and _value_matches(item.values, vault.tags[item.key])


def _tag_test(request: ResourceInstancesReq) -> Callable[[Vault], bool]:
    if request.without_any_tag:
        return lambda vault: not vault.tags

    def test(vault: Vault) -> bool:
        return (
            all(_has(vault, t) for t in request.tags or [])
            and (not request.tags_any or any(_has(vault, t) for t in request.tags_any))
            and not any(_has(vault, t) for t in request.not_tags or [])
            and (not request.not_tags_any or not all(_has(vault, t) for t in request.not_tags_any))
        )

    return test


def _name_test(request: ResourceInstancesReq) -> Callable[[Vault], bool]:
    """``matches`` on ``resource_name`` is a fuzzy (substring) match; an empty value matches every vault."""
    text = request.matches[0].value if request.matches else ""
    return lambda vault: text in vault.name


def show_vault_resource_instances(call: Call) -> dict[str, Any]:
    request = call.body(ResourceInstancesReq)
    tag_test, name_test = _tag_test(request), _name_test(request)
    found = [
        v
        for v in call.project.vaults.values()
        if tag_test(v)
        and name_test(v)
        and request.cloud_type in (None, v.cloud_type)
        and request.object_type in (None, v.object_type)
    ]
    if request.action == "count":
        return {"total_count": len(found)}
    offset, limit = int(request.offset or "0"), int(request.limit or "1000")
    page = found[offset : offset + limit]
    resources = [
        {
            "resource_id": v.id,
            "resource_name": v.name,
            "resource_detail": {"vault": render(call.project, v)},
            "tags": [{"key": k, "value": value} for k, value in v.tags.items()],
            "sys_tags": [],
        }
        for v in page
    ]
    return {"resources": resources, "total_count": len(found)}
