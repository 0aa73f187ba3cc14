from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.api.triggers import TriggerError, command_id_of, load_triggers
from orchestrator.messages import command_from_json

PROJECT = "0" * 32
FILE = f"""
[[trigger]]
name = "deploy-backup"
verifier = "github"
secrets_env = ["HOOK_SECRET"]
when = "headers.\\"x-github-event\\" == 'deployment' && body.deployment.environment == 'production'"
command = {{ kind = "backup", project_id = "{PROJECT}", region = "eu-de", vault = {{ name = "prod" }} }}
set = {{ resources = "body.deployment.payload.servers[].{{id: @, type: 'OS::Nova::Server'}}" }}
"""
DEPLOY = {"deployment": {"environment": "production", "payload": {"servers": ["s-1", "s-2"]}}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "triggers.toml"
    path.write_text(text)
    return path


def test_a_matching_delivery_becomes_a_valid_command(tmp_path: Path) -> None:
    [trigger] = load_triggers(write(tmp_path, FILE), {"HOOK_SECRET": "s"}).values()
    command = trigger.command_for("d-1", {"X-GitHub-Event": "deployment"}, DEPLOY)
    assert command is not None
    parsed = command_from_json(command)
    assert parsed.command_id == command_id_of("deploy-backup", "d-1")
    assert [r.id for r in parsed.resources] == ["s-1", "s-2"]  # type: ignore[union-attr]
    assert trigger.secrets == ("s",)


def test_the_same_delivery_names_the_same_command_and_another_another(tmp_path: Path) -> None:
    [trigger] = load_triggers(write(tmp_path, FILE), {"HOOK_SECRET": "s"}).values()
    first = trigger.command_for("d-1", {"x-github-event": "deployment"}, DEPLOY)
    again = trigger.command_for("d-1", {"x-github-event": "deployment"}, DEPLOY)
    other = trigger.command_for("d-2", {"x-github-event": "deployment"}, DEPLOY)
    assert first is not None and again is not None and other is not None
    assert first["command_id"] == again["command_id"] != other["command_id"]


def test_the_filter_ignores_other_events(tmp_path: Path) -> None:
    [trigger] = load_triggers(write(tmp_path, FILE), {"HOOK_SECRET": "s"}).values()
    assert trigger.command_for("d-1", {"x-github-event": "push"}, DEPLOY) is None
    staging = {"deployment": {"environment": "staging", "payload": {"servers": ["s-1"]}}}
    assert trigger.command_for("d-1", {"x-github-event": "deployment"}, staging) is None


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        (FILE, {}, "HOOK_SECRET"),
        (FILE.replace('verifier = "github"', 'verifier = "plain"'), {"HOOK_SECRET": "s"}, "verifier"),
        (FILE.replace("when = ", "when = '&&' #"), {"HOOK_SECRET": "s"}, "bad expression"),
        (FILE + FILE, {"HOOK_SECRET": "s"}, "defined twice"),
        (FILE.replace('name = "deploy-backup"', 'name = "Deploy Backup"'), {"HOOK_SECRET": "s"}, "name"),
        ("[[trigger]\n", {}, "triggers.toml"),
    ],
)
def test_a_bad_file_names_what_is_wrong(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(TriggerError, match=message):
        load_triggers(write(tmp_path, text), environ)
