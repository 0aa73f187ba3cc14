"""Command parsing and event envelopes: bad input gives a reason, never a crash."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from orchestrator.messages import (
    BackupCommand,
    InvalidCommand,
    Outcome,
    ReplicateCommand,
    RestoreCommand,
    Timings,
    WorkflowEventData,
    json_schemas,
    make_event,
    parse_command,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def backup(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "backup",
        "version": 1,
        "command_id": "cmd-1",
        "project_id": PROJECT,
        "region": "eu-west-101",
        "vault": {"name": "v1", "create": {"size_gb": 100}},
        "resources": [{"id": "srv-1", "type": "OS::Nova::Server"}],
    }
    base.update(over)
    return base


def encode(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_backup_parses() -> None:
    cmd = parse_command(encode(backup()))
    assert isinstance(cmd, BackupCommand)
    assert cmd.vault.create is not None
    assert cmd.incremental is True


def test_restore_and_replicate_parse() -> None:
    restore = parse_command(
        encode(
            {
                "kind": "restore",
                "command_id": "r1",
                "project_id": PROJECT,
                "region": "eu-west-101",
                "backup_id": "b1",
                "server_id": "s1",
                "mappings": [{"backup_id": "c1", "volume_id": "d1"}],
            }
        )
    )
    assert isinstance(restore, RestoreCommand)
    assert restore.target_id == "s1"
    rep = parse_command(
        encode(
            {
                "kind": "replicate",
                "command_id": "p1",
                "project_id": PROJECT,
                "region": "eu-west-101",
                "backup_id": "b1",
                "destination_region": "eu-west-0",
                "destination_project_id": PROJECT,
                "destination_vault_id": "v2",
            }
        )
    )
    assert isinstance(rep, ReplicateCommand)


@pytest.mark.parametrize(
    ("body", "reason_start"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1,2]", "malformed"),
        (encode(backup(version=2)), "unsupported version"),
        (encode(backup(surprise=True)), "invalid"),
        (encode(backup(kind="delete")), "invalid"),
        (encode(backup(resources=[])), "invalid"),
        (encode(backup(vault={"id": "a", "name": "b"})), "invalid"),
        (encode(backup(vault={"id": "a", "create": {}})), "invalid"),
        (encode(backup(project_id="nope")), "invalid"),
        (encode(backup(deadline="2030-01-01T00:00:00")), "invalid"),
        (encode(backup(resources=[{"id": "a"}, {"id": "a"}])), "invalid"),
    ],
)
def test_bad_commands_give_reasons(body: bytes, reason_start: str) -> None:
    with pytest.raises(InvalidCommand) as info:
        parse_command(body)
    assert info.value.reason.startswith(reason_start)


def test_reason_never_echoes_input() -> None:
    with pytest.raises(InvalidCommand) as info:
        parse_command(encode(backup(secret_key="CANARY-SECRET-123")))
    assert "CANARY" not in info.value.reason


def test_restore_needs_one_target() -> None:
    with pytest.raises(InvalidCommand):
        parse_command(
            encode(
                {
                    "kind": "restore",
                    "command_id": "r1",
                    "project_id": PROJECT,
                    "region": "eu-west-101",
                    "backup_id": "b1",
                }
            )
        )


def test_event_id_is_stable_and_routing_key_follows_outcome() -> None:
    wid = uuid.uuid4()
    data = WorkflowEventData(
        workflow_id=wid,
        command_id="c",
        kind="backup",
        outcome=Outcome.SUCCEEDED,
        project_id=PROJECT,
        region="r",
        timings=Timings(created_at=datetime.now(UTC)),
    )
    first, second = make_event(data, "final"), make_event(data, "final")
    assert first.id == second.id
    assert make_event(data, "progress-1").id != first.id
    assert first.routing_key == "workflow.backup.succeeded"
    assert first.type.endswith(".succeeded")
    dumped = json.loads(first.model_dump_json())
    assert dumped["specversion"] == "1.0"
    assert dumped["data"]["workflow_id"] == str(wid)


def test_json_schemas_cover_commands_and_event() -> None:
    schemas = json_schemas()
    assert set(schemas) == {
        "backup",
        "restore",
        "replicate",
        "fleet_backup",
        "command",
        "event",
        "posture_event",
    }
    assert schemas["backup"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"deadline": "2030-01-01T00:00:00"}, "deadline"),
        ({"admission": {"start_by": "2030-01-01T00:00:00"}}, "admission.start_by"),
        ({"admission": {"start_by": "2030-01-01 00:00"}}, "admission.start_by"),
    ],
)
def test_a_datetime_without_a_time_zone_is_refused(over: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidCommand) as info:
        parse_command(encode(backup(**over)))
    assert info.value.reason.startswith(f"invalid: backup.{field}: Input should have timezone info")


def test_datetimes_with_a_time_zone_are_accepted() -> None:
    cmd = parse_command(
        encode(backup(deadline="2030-01-01T00:00:00+02:00", admission={"start_by": "2030-01-01T00:00:00Z"}))
    )
    assert isinstance(cmd, BackupCommand) and cmd.admission is not None
    assert cmd.deadline is not None and cmd.deadline.utcoffset() is not None
    assert cmd.admission.start_by is not None and cmd.admission.start_by.utcoffset() is not None


@pytest.mark.parametrize("field", ["reply_to", "correlation_id"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("é" * 200, "at most 255 UTF-8 bytes"),  # 200 characters, 400 bytes
        ("q" * 256, "at most 255 characters"),
        ("queue\nname", "no control characters"),
        ("queue\x00", "no control characters"),
        ("queue\x85", "no control characters"),
    ],
)
def test_reply_to_and_correlation_id_are_amqp_short_strings(field: str, value: str, problem: str) -> None:
    with pytest.raises(InvalidCommand) as info:
        parse_command(encode(backup(**{field: value})))
    assert info.value.reason.startswith(f"invalid: backup.{field}:")
    assert problem in info.value.reason


def test_a_short_string_of_255_bytes_is_accepted() -> None:
    cmd = parse_command(encode(backup(reply_to="é" * 127 + "q", correlation_id="q" * 255)))
    assert cmd.reply_to is not None and len(cmd.reply_to.encode()) == 255
    with pytest.raises(InvalidCommand, match="reply_to"):
        parse_command(encode(backup(reply_to="")))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https:///nohost",
        "https://user:pw@hooks.example.com/x",
        "https://hooks.example.com/a b",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com/" + "x" * 2048,
    ],
)
def test_a_callback_url_is_an_http_url_naming_a_host_without_credentials(url: str) -> None:
    with pytest.raises(InvalidCommand, match="callback_url"):
        parse_command(json.dumps(backup(callback_url=url)).encode())


def test_a_callback_url_is_kept_as_given() -> None:
    url = "https://ci.hooks.example.com:8443/done?job=7"
    command = parse_command(json.dumps(backup(callback_url=url)).encode())
    assert command.callback_url == url
