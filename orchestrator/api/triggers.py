"""Named triggers: a webhook delivery that passes its trigger's verifier and filter becomes a command.

A trigger file (TOML) holds ``[[trigger]]`` tables::

    [[trigger]]
    name = "deploy-backup"
    verifier = "github"                      # standard-webhooks | github | gitlab
    secrets_env = ["HOOK_DEPLOY_SECRET"]     # variables holding the secrets (two while rotating)
    when = "headers.\\"x-github-event\\" == 'deployment' && body.deployment.environment == 'production'"
    command = { kind = "backup", project_id = "…", region = "eu-de", vault = { name = "prod" } }
    set = { resources = "body.deployment.payload.servers[].{id: @, type: 'OS::Nova::Server'}" }

``when`` and the values of ``set`` are JMESPath expressions over ``{"headers": …, "body": …}`` (header
names in lower case); ``set`` writes each result at its dotted path in the command. The command id is
derived from the trigger's name and the delivery id, so a redelivery names the same workflow.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath
import jmespath.exceptions
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.api.verifiers import VerifierKind

log = logging.getLogger(__name__)
TRIGGER_NAME = r"^[a-z0-9][a-z0-9-]{0,47}$"


class TriggerError(Exception):
    """A trigger file that cannot be used: the message names the trigger and what is wrong with it."""


class TriggerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=TRIGGER_NAME)
    verifier: VerifierKind
    secrets_env: list[str] = Field(min_length=1, max_length=4)
    when: str | None = None
    command: dict[str, Any]
    set: dict[str, str] = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=256)


@dataclass(frozen=True)
class Trigger:
    spec: TriggerSpec
    secrets: tuple[str, ...]
    when: ParsedResult | None
    set: tuple[tuple[tuple[str, ...], ParsedResult], ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def command_for(self, delivery_id: str, headers: Mapping[str, str], body: Any) -> dict[str, Any] | None:
        """The command this delivery asks for, or None when the filter ignores it."""
        document = {"headers": {k.lower(): v for k, v in headers.items()}, "body": body}
        if self.when is not None and not self.when.search(document):
            return None
        command = copy.deepcopy(self.spec.command)
        for path, expression in self.set:
            _put(command, path, expression.search(document))
        command["command_id"] = command_id_of(self.name, delivery_id)
        return command


def command_id_of(trigger: str, delivery_id: str) -> str:
    return f"hook:{trigger}:{hashlib.sha256(delivery_id.encode()).hexdigest()[:32]}"


def load_triggers(path: Path, environ: Mapping[str, str] = os.environ) -> dict[str, Trigger]:
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TriggerError(f"{path}: {exc}") from None
    found: dict[str, Trigger] = {}
    for raw in document.get("trigger", []):
        trigger = _trigger(raw, environ)
        if trigger.name in found:
            raise TriggerError(f"trigger {trigger.name!r} is defined twice in {path}")
        found[trigger.name] = trigger
    return found


class TriggerBook:
    """The triggers the server answers for: loaded at startup, reloaded on SIGHUP. A file that cannot be
    used on reload leaves the triggers loaded before in place."""

    def __init__(self, path: Path | None, environ: Mapping[str, str] = os.environ) -> None:
        self._path = path
        self._environ = environ
        self._triggers = load_triggers(path, environ) if path is not None else {}

    def get(self, name: str) -> Trigger | None:
        return self._triggers.get(name)

    def names(self) -> list[str]:
        return sorted(self._triggers)

    def reload(self) -> bool:
        """Read the file again; False (and the reason logged) when the old triggers are kept."""
        if self._path is None:
            return True
        try:
            self._triggers = load_triggers(self._path, self._environ)
        except TriggerError as exc:
            log.error("triggers not reloaded, keeping the %d loaded before: %s", len(self._triggers), exc)
            return False
        log.info("triggers reloaded from %s: %s", self._path, ", ".join(self.names()) or "none")
        return True


def _trigger(raw: Any, environ: Mapping[str, str]) -> Trigger:
    name = raw.get("name", "?") if isinstance(raw, dict) else "?"
    try:
        spec = TriggerSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TriggerError(f"trigger {name!r}: {problems}") from None
    missing = [variable for variable in spec.secrets_env if not environ.get(variable)]
    if missing:
        raise TriggerError(f"trigger {spec.name!r}: the variable {missing[0]} holding its secret is not set")
    return Trigger(
        spec=spec,
        secrets=tuple(environ[variable] for variable in spec.secrets_env),
        when=_compiled(spec.name, spec.when) if spec.when else None,
        set=tuple((tuple(path.split(".")), _compiled(spec.name, e)) for path, e in spec.set.items()),
    )


def _compiled(trigger: str, expression: str) -> ParsedResult:
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise TriggerError(f"trigger {trigger!r}: bad expression {expression!r}: {exc}") from None


def _put(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document.setdefault(part, {})
    document[path[-1]] = value
