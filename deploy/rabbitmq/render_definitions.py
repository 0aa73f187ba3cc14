"""Write RabbitMQ's definitions with each user's password hash filled in from a secret file.

    python render_definitions.py TEMPLATE SECRETS_DIR OUTPUT

TEMPLATE is ``definitions.json`` of this folder: its users carry no password. For each user NAME the
password is read from ``SECRETS_DIR/rabbitmq_NAME_password`` (a compose secret) and stored the way
RabbitMQ's ``rabbit_password_hashing_sha256`` checks it: base64(salt + sha256(salt + password)), with a
random 4-byte salt. The passwords themselves are written nowhere and never printed.

Standard library only: it runs in the plain Python image before RabbitMQ starts (deploy/compose.yaml).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

HASHING = "rabbit_password_hashing_sha256"
PLACEHOLDER = "change-me"  # the value of every password in .env.example


def password_hash(password: str, salt: bytes | None = None) -> str:
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def read_password(secrets_dir: Path, user: str) -> str:
    path = secrets_dir / f"rabbitmq_{user}_password"
    try:
        password = path.read_text("utf-8").strip()
    except OSError as exc:
        raise SystemExit(f"RabbitMQ user {user!r}: cannot read {path} ({exc.strerror})") from None
    if not password:
        raise SystemExit(f"RabbitMQ user {user!r}: {path} is empty")
    if password.startswith(PLACEHOLDER):
        raise SystemExit(f"RabbitMQ user {user!r}: still the placeholder password; set it in deploy/.env")
    return password


def render(template: dict[str, Any], secrets_dir: Path) -> dict[str, Any]:
    rendered = json.loads(json.dumps(template))
    for user in rendered["users"]:
        user["password_hash"] = password_hash(read_password(secrets_dir, user["name"]))
        user["hashing_algorithm"] = HASHING
    return rendered


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    template, secrets_dir, output = (Path(arg) for arg in argv)
    rendered = render(json.loads(template.read_text("utf-8")), secrets_dir)
    output.write_text(json.dumps(rendered, indent=2) + "\n", "utf-8")
    output.chmod(0o644)  # RabbitMQ reads it as its own user; it holds salted hashes, never a password
    print(f"wrote {output}: {len(rendered['users'])} users")


if __name__ == "__main__":
    main(sys.argv[1:])
