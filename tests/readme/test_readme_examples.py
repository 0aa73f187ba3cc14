"""The README's examples hold: its JSON parses as the commands and events the code takes, no deadline is
past, one emulator port, and every ``cbr-orchestrator`` command and option it mentions exists."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter
from readme_text import DOCS, FIRST_RUN_HEADING, README, blocks, invocations, ports, section
from typer.main import get_command
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.config import ProjectCredentials
from orchestrator.messages import AnyCommand, WorkflowEvent, parse_command

EMULATOR_PORT = 8790
API_PORT = 8080
SERVICE_PORTS = {5432, 5672}  # PostgreSQL, RabbitMQ
METRICS_PORTS = {9464, 9465}  # a worker's metrics endpoint; the API server's beside it on one machine
_DEADLINE = re.compile(r'"(deadline|start_by)"\s*:\s*"([^"]+)"')


def readme() -> str:
    return README.read_text("utf-8")


def json_examples() -> list[Any]:
    return [json.loads(block.text) for block in blocks(readme(), "json")]


def _kind_of(example: Any) -> str:
    if isinstance(example, dict) and "kind" in example:
        return "command"
    if isinstance(example, dict) and "specversion" in example:
        return "event"
    if isinstance(example, dict) and set(example) == {"credentials"}:
        return "credentials"
    return "unknown"


def test_every_json_example_is_a_command_an_event_or_credentials_the_code_accepts() -> None:
    examples = json_examples()
    kinds = [_kind_of(e) for e in examples]
    assert "unknown" not in kinds, [e for e, k in zip(examples, kinds, strict=True) if k == "unknown"]
    assert {"command", "event", "credentials"} <= set(kinds)
    for example, kind in zip(examples, kinds, strict=True):
        if kind == "command":
            parse_command(json.dumps(example).encode())  # raises InvalidCommand with its reason
        elif kind == "event":
            WorkflowEvent.model_validate(example)
        else:
            TypeAdapter(list[ProjectCredentials]).validate_python(example["credentials"])


def test_the_examples_show_every_kind_of_command() -> None:
    commands: list[AnyCommand] = [
        parse_command(json.dumps(e).encode()) for e in json_examples() if _kind_of(e) == "command"
    ]
    assert {c.kind for c in commands} == {"backup", "restore", "replicate", "fleet_backup"}


def test_no_deadline_is_in_the_past() -> None:
    """Anywhere in the README: JSON examples, shell blocks and prose."""
    now = datetime.now(UTC)
    for field, value in _DEADLINE.findall(readme()):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert moment > now, f"{field} {value} is in the past"
    for example in json_examples():
        if _kind_of(example) == "command":
            command = parse_command(json.dumps(example).encode())
            assert getattr(command, "deadline", None) is None or command.deadline > now


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_port_is_the_emulators_or_a_services(path: Any) -> None:
    found = ports(path.read_text("utf-8"))
    assert set(found) <= {EMULATOR_PORT, API_PORT, *METRICS_PORTS, *SERVICE_PORTS}, found


def test_the_readme_names_the_emulator_port_where_it_points_at_the_emulator() -> None:
    text = readme()
    assert ports(text).count(EMULATOR_PORT) >= 4  # the endpoints example, the SDK, the client, first run
    first_run = set(ports(section(text, FIRST_RUN_HEADING)))
    assert first_run == {EMULATOR_PORT, API_PORT, *METRICS_PORTS, *SERVICE_PORTS}


def _options_in_help(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _command_words(invocation: Any) -> list[str]:
    """The subcommand, and the command of its group when it is one (``api-key create``)."""
    group = get_command(app).commands[invocation.subcommand]  # type: ignore[attr-defined]
    words = invocation.text.split()
    following = words[words.index(invocation.subcommand) + 1 :] if invocation.subcommand in words else []
    inner = getattr(group, "commands", {})
    if following and following[0] in inner:
        return [invocation.subcommand, following[0]]
    return [invocation.subcommand]


def test_every_cbr_orchestrator_command_and_option_the_readme_mentions_exists() -> None:
    mentioned = [i for path in (README, *DOCS) for i in invocations(path.read_text("utf-8"))]
    subcommands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {"migrate", "emulator", "emulator-inventory", "submit", "status"} <= {
        i.subcommand for i in mentioned
    }
    for invocation in mentioned:
        if invocation.subcommand is None:
            help_text = _options_in_help()
        else:
            assert invocation.subcommand in subcommands, invocation.text
            help_text = _options_in_help(*_command_words(invocation))
        for option in invocation.options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), (
                f"{option} is not an option of: {invocation.text}"
            )


def test_every_trigger_example_loads_and_its_command_is_one_the_code_accepts(tmp_path: Any) -> None:
    from orchestrator.api.triggers import load_triggers
    from orchestrator.messages import command_from_json

    examples = [block.text for block in blocks(readme(), "toml")]
    assert examples
    for n, text in enumerate(examples):
        path = tmp_path / f"triggers-{n}.toml"
        path.write_text(text)
        variables = set(re.findall(r'secrets_env = \[([^\]]*)\]', text)[0].replace('"', "").split(", "))
        for trigger in load_triggers(path, dict.fromkeys(variables, "a-secret")).values():
            if not trigger.spec.set:  # a command filled in from the delivery is checked by the First real run
                command_from_json({**trigger.spec.command, "command_id": "from-the-readme"})
