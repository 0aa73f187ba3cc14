"""API keys: what a caller presents, what is stored of it, and what it may do.

A key reads ``cbro_<key id>_<secret>``. Only the key id and a SHA-256 of the secret are stored: the
secret is 256 random bits, so a fast hash is as strong as a slow one, and the key is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

Scope = Literal["backup", "restore", "replicate", "read", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
KEY_PREFIX = "cbro"
_KEY = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")
# the scope a command of each kind needs; a fleet backs up, so it needs what a backup needs
SCOPE_OF_KIND: dict[str, Scope] = {
    "backup": "backup",
    "fleet_backup": "backup",
    "restore": "restore",
    "replicate": "replicate",
    "restore_drill": "restore",  # a drill restores (to scratch servers only)
}


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: bytes
    presented: str  # the whole key, shown once to whoever created it


@dataclass(frozen=True)
class Presented:
    key_id: str
    secret: str


def new_key() -> NewKey:
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{KEY_PREFIX}_{key_id}_{secret}")


def parse_key(presented: str) -> Presented | None:
    match = _KEY.match(presented)
    return Presented(match[1], match[2]) if match else None


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass(frozen=True)
class Grant:
    """What one key may touch: projects (empty: every project) and scopes."""

    key_id: str
    name: str
    projects: frozenset[str]
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def sees(self, project_id: str) -> bool:
        return not self.projects or project_id in self.projects
