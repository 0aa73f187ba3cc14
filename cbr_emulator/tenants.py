"""The emulator's tenants: loading them from options or a file, and looking them up.

A tenant is one project in one region, reachable with an AK/SK pair and an IAM user
(:class:`~cbr_emulator.config.Tenant`). Several tenants may share an AK/SK or an IAM user, as
the projects of one real account do: the key (or the user) may then use every project of those
tenants. A project id belongs to exactly one tenant, hence one region.

Sources:

* ``--tenant AK:SK:PROJECT_ID:REGION`` (repeatable). The SK may itself contain ``:``.
* ``--tenants FILE``: JSON (``{"tenants": [{...}, ...]}`` or a bare list) or TOML (``[[tenants]]``
  tables), each entry with the fields of ``Tenant``: ``access_key``, ``secret_key``, ``project_id``,
  ``region`` and optionally ``project_name``, ``domain_name``, ``user_name``, ``password``.

Without either, the emulator uses :data:`~cbr_emulator.config.DEFAULT_TENANT`.
Error messages never repeat secret values.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cbr_emulator.config import Tenant


class TenantConfigError(ValueError):
    """Tenants that cannot be loaded or that contradict each other."""


def _describe(error: ValidationError, where: str) -> str:
    """Pydantic's complaints without the offending input, which could be a secret."""
    parts = [f"{'.'.join(str(p) for p in item['loc']) or 'tenant'}: {item['msg']}" for item in error.errors()]
    return f"{where}: " + "; ".join(parts)


def tenant_from_mapping(data: Any, where: str) -> Tenant:
    try:
        return Tenant.model_validate(data)
    except ValidationError as exc:
        raise TenantConfigError(_describe(exc, where)) from None


def parse_tenant_option(text: str) -> Tenant:
    """``AK:SK:PROJECT_ID:REGION`` → Tenant (the SK is everything between the first and the last two)."""
    parts = text.split(":")
    if len(parts) < 4:
        raise TenantConfigError("--tenant expects AK:SK:PROJECT_ID:REGION")
    access_key, *middle, project_id, region = parts
    secret_key = ":".join(middle)
    if not (access_key and secret_key and project_id and region):
        raise TenantConfigError("--tenant expects AK:SK:PROJECT_ID:REGION")
    data = {"access_key": access_key, "secret_key": secret_key, "project_id": project_id, "region": region}
    return tenant_from_mapping(data, f"--tenant {access_key}:***:{project_id}:{region}")


def _read_entries(path: Path) -> list[Any]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantConfigError(f"{path}: cannot read the tenants file ({type(exc).__name__})") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise TenantConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    entries = data.get("tenants") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise TenantConfigError(f"{path}: expected a non-empty list of tenants under 'tenants'")
    return entries


def load_tenants_file(path: Path) -> list[Tenant]:
    entries = _read_entries(path)
    return [tenant_from_mapping(entry, f"{path}: tenant {index}") for index, entry in enumerate(entries)]


def _check_unique(pairs: Iterable[tuple[str, str]], what: str) -> None:
    seen: dict[str, str] = {}
    for key, value in pairs:
        if seen.setdefault(key, value) != value:
            raise TenantConfigError(f"{what} {key} is configured with two different values")


def check_consistent(tenants: Sequence[Tenant]) -> None:
    """One tenant per project id; one SK per AK; one password per (domain, user)."""
    if not tenants:
        raise TenantConfigError("at least one tenant is needed")
    projects = [tenant.project_id for tenant in tenants]
    duplicates = sorted({pid for pid in projects if projects.count(pid) > 1})
    if duplicates:
        raise TenantConfigError(f"project ids configured more than once: {', '.join(duplicates)}")
    _check_unique(((t.access_key, t.secret_key) for t in tenants), "the secret key of access key")
    users = ((f"{t.domain_name}/{t.user_name}", t.password) for t in tenants)
    _check_unique(users, "the password of IAM user")


class TenantDirectory:
    """Look-ups over a consistent set of tenants."""

    def __init__(self, tenants: Sequence[Tenant]) -> None:
        check_consistent(tenants)
        self._tenants = list(tenants)
        self._by_project = {tenant.project_id: tenant for tenant in tenants}

    @property
    def tenants(self) -> list[Tenant]:
        return list(self._tenants)

    def tenant(self, project_id: str) -> Tenant | None:
        return self._by_project.get(project_id)

    def secret_for(self, access_key: str) -> str | None:
        return next((t.secret_key for t in self._tenants if t.access_key == access_key), None)

    def projects_of_key(self, access_key: str) -> frozenset[str]:
        return frozenset(t.project_id for t in self._tenants if t.access_key == access_key)

    def user_tenants(self, domain_name: str, user_name: str) -> list[Tenant]:
        return [t for t in self._tenants if t.domain_name == domain_name and t.user_name == user_name]

    def domain_tenants(self, domain_name: str) -> list[Tenant]:
        return [t for t in self._tenants if t.domain_name == domain_name]
