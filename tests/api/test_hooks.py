"""``POST /v1/hooks/{name}``: a verified delivery starts one workflow, whatever the sender retries; a
delivery not verified, ignored by the filter or too large starts nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hook_senders import (
    COMMAND,
    GITHUB_SECRET,
    GITLAB_SECRET,
    PROJECT,
    REGION,
    SECRETS_ENV,
    STANDARD_SECRET,
    TRIGGERS,
    body_of,
    github_headers,
    gitlab_headers,
    rewrite,
    standard_headers,
    trigger,
)
from pydantic import SecretStr

from orchestrator.api.app import build_app
from orchestrator.api.context import ApiContext
from orchestrator.api.triggers import command_id_of
from orchestrator.config import Settings
from orchestrator.messages import workflow_id_for
from orchestrator.store import Store

ALERT = {"status": "firing", "servers": ["ecs-12"]}
SECRET_VALUES = (STANDARD_SECRET, GITHUB_SECRET, GITLAB_SECRET)


@pytest.fixture
def triggers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable, value in SECRETS_ENV.items():
        monkeypatch.setenv(variable, value)
    path = tmp_path / "triggers.toml"
    path.write_text(TRIGGERS)
    return path


@pytest.fixture
def hook_settings(api_settings: Settings, triggers_file: Path) -> Settings:
    api = api_settings.api.model_copy(
        update={
            "triggers_file": triggers_file,
            "callback_hosts": ["hooks.example.com"],
            "callback_secret": SecretStr(STANDARD_SECRET),
        }
    )
    return api_settings.model_copy(update={"api": api})


@pytest.fixture
async def hooks(hook_settings: Settings, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(ApiContext(hook_settings, store)))) as test_client:
        yield test_client


async def no_workflow(store: Store) -> bool:
    return await store.list_workflows() == []


async def test_a_signed_delivery_starts_one_workflow(hooks: TestClient[Any, Any], store: Store) -> None:
    body = body_of(ALERT)
    answer = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-1", body))
    assert answer.status == 202
    got = await answer.json()
    command_id = command_id_of("alert-backup", "msg-1")
    assert got == {
        "status": "accepted",
        "workflow_id": str(workflow_id_for(command_id)),
        "command_id": command_id,
        "duplicate": False,
    }
    workflow = await store.workflow_by_command(command_id)
    assert workflow is not None and workflow.input["resources"] == [
        {"id": "ecs-12", "type": "OS::Nova::Server"}
    ]


async def test_a_replayed_delivery_names_the_same_workflow_and_starts_nothing(
    hooks: TestClient[Any, Any], store: Store
) -> None:
    body = body_of(ALERT)
    first = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-1", body))
    await asyncio.sleep(1)  # the sender's retry: signed again, later
    again = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-1", body))
    assert first.status == again.status == 202
    first_answer, again_answer = await first.json(), await again.json()
    assert again_answer["workflow_id"] == first_answer["workflow_id"]
    assert (first_answer["duplicate"], again_answer["duplicate"]) == (False, True)
    assert len(await store.list_workflows()) == 1


def unsigned(headers: dict[str, str], drop: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != drop}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("other secret", "no secret matches"),
        ("stale", "5 minutes"),
        ("body changed", "no secret matches"),
        ("no signature", "required"),
        ("no timestamp", "required"),
        ("no id", "required"),
    ],
)
async def test_an_unverified_standard_delivery_is_401_and_starts_nothing(
    hooks: TestClient[Any, Any], store: Store, case: str, reason: str
) -> None:
    body = body_of(ALERT)
    good = standard_headers("msg-1", body)
    headers = {
        "other secret": standard_headers(
            "msg-1", body, secret="whsec_" + "b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmc="
        ),
        "stale": standard_headers("msg-1", body, age=timedelta(minutes=6)),
        "body changed": good,
        "no signature": unsigned(good, "webhook-signature"),
        "no timestamp": unsigned(good, "webhook-timestamp"),
        "no id": unsigned(good, "webhook-id"),
    }[case]
    sent = body_of({**ALERT, "servers": ["ecs-13"]}) if case == "body changed" else body
    answer = await hooks.post("/v1/hooks/alert-backup", data=sent, headers=headers)
    text = await answer.text()
    assert answer.status == 401, text
    assert answer.content_type == "application/problem+json"
    assert reason in text and not any(secret in text for secret in SECRET_VALUES)
    assert await no_workflow(store)


async def test_github_deliveries_are_verified_by_their_signature(
    hooks: TestClient[Any, Any], store: Store
) -> None:
    body = body_of({"servers": ["ecs-1"]})
    forged = await hooks.post(
        "/v1/hooks/deploy-backup", data=body, headers=github_headers("g-1", body, secret="x")
    )
    assert forged.status == 401
    assert await no_workflow(store)
    answer = await hooks.post("/v1/hooks/deploy-backup", data=body, headers=github_headers("g-1", body))
    assert answer.status == 202
    assert (await answer.json())["command_id"] == command_id_of("deploy-backup", "g-1")


async def test_gitlab_deliveries_are_verified_by_their_token(
    hooks: TestClient[Any, Any], store: Store
) -> None:
    body = body_of({"object_kind": "deployment", "servers": ["ecs-1"]})
    wrong = await hooks.post(
        "/v1/hooks/gitlab-backup", data=body, headers=gitlab_headers("u-1", token="nope")
    )
    assert wrong.status == 401
    assert await no_workflow(store)
    answer = await hooks.post("/v1/hooks/gitlab-backup", data=body, headers=gitlab_headers("u-1"))
    assert answer.status == 202
    assert len(await store.list_workflows()) == 1


async def test_a_delivery_the_filter_rejects_is_ignored(hooks: TestClient[Any, Any], store: Store) -> None:
    body = body_of({"status": "resolved", "servers": ["ecs-12"]})
    answer = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-2", body))
    assert answer.status == 202
    assert await answer.json() == {"status": "ignored"}
    assert await no_workflow(store)


async def test_an_oversized_body_is_413_unread(hooks: TestClient[Any, Any], store: Store) -> None:
    body = body_of({"status": "firing", "servers": ["ecs-12"], "pad": "x" * 70_000})
    answer = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-3", body))
    assert answer.status == 413
    assert (await answer.json())["status"] == 413
    assert await no_workflow(store)


async def test_an_unknown_trigger_is_404(hooks: TestClient[Any, Any]) -> None:
    body = body_of(ALERT)
    answer = await hooks.post("/v1/hooks/no-such", data=body, headers=standard_headers("msg-1", body))
    assert answer.status == 404
    assert answer.content_type == "application/problem+json"


async def test_a_signed_body_that_is_not_json_is_400(hooks: TestClient[Any, Any], store: Store) -> None:
    body = b"{not json"
    answer = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-4", body))
    assert answer.status == 400
    assert await no_workflow(store)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (
            COMMAND.replace('kind = "backup"', 'kind = "backup", callback_url = "http://169.254.169.254/x"'),
            "callback host 169.254.169.254 is not on the allow-list",
        ),
        (
            COMMAND.replace(
                'kind = "backup"', 'kind = "backup", callback_url = "https://evil.example.org/x"'
            ),
            "callback host evil.example.org is not on the allow-list",
        ),
        (COMMAND.replace('region = "', 'region = "x'), "no credentials configured"),
        (COMMAND.replace('kind = "backup"', 'kind = "backup", colour = "blue"'), "colour"),
    ],
)
async def test_a_command_that_would_be_refused_on_the_queue_is_422(
    hook_settings: Settings, triggers_file: Path, store: Store, command: str, reason: str
) -> None:
    rewrite(
        triggers_file,
        trigger("refused", "standard-webhooks", "HOOK_STANDARD", "body.status == 'firing'", command),
    )
    async with TestClient(TestServer(build_app(ApiContext(hook_settings, store)))) as client:
        body = body_of(ALERT)
        answer = await client.post("/v1/hooks/refused", data=body, headers=standard_headers("m", body))
        text = await answer.text()
    assert answer.status == 422, text
    assert reason in text
    assert await no_workflow(store)


async def test_a_callback_to_an_allowed_host_is_accepted(
    hook_settings: Settings, triggers_file: Path, store: Store
) -> None:
    allowed = COMMAND.replace(
        'kind = "backup"', 'kind = "backup", callback_url = "https://hooks.example.com/done"'
    )
    rewrite(
        triggers_file,
        trigger("called-back", "standard-webhooks", "HOOK_STANDARD", "body.status == 'firing'", allowed),
    )
    async with TestClient(TestServer(build_app(ApiContext(hook_settings, store)))) as client:
        body = body_of(ALERT)
        answer = await client.post("/v1/hooks/called-back", data=body, headers=standard_headers("m", body))
    assert answer.status == 202
    [workflow] = await store.list_workflows()
    assert workflow.input["callback_url"] == "https://hooks.example.com/done"


async def test_a_delivery_id_reused_for_another_payload_is_409(
    hooks: TestClient[Any, Any], store: Store
) -> None:
    body = body_of(ALERT)
    first = await hooks.post("/v1/hooks/alert-backup", data=body, headers=standard_headers("msg-9", body))
    other = body_of({**ALERT, "servers": ["ecs-99"]})
    again = await hooks.post("/v1/hooks/alert-backup", data=other, headers=standard_headers("msg-9", other))
    assert (first.status, again.status) == (202, 409)
    assert len(await store.list_workflows()) == 1


async def test_post_commands_refuses_a_callback_host_off_the_allow_list(
    hook_settings: Settings, store: Store, make_key: Any
) -> None:
    key = await make_key(("backup",), (PROJECT,))
    command = {
        "kind": "backup",
        "command_id": "cb-1",
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "prod"},
        "resources": [{"id": "ecs-1"}],
        "callback_url": "http://169.254.169.254/latest",
    }
    async with TestClient(TestServer(build_app(ApiContext(hook_settings, store)))) as client:
        answer = await client.post("/v1/commands", json=command, headers={"Authorization": f"Bearer {key}"})
        text = await answer.text()
    assert answer.status == 422, text
    assert "callback host 169.254.169.254 is not on the allow-list" in text
    assert await no_workflow(store)


async def test_a_trigger_over_its_delivery_rate_is_429_and_starts_nothing_more(
    hook_settings: Settings, store: Store
) -> None:
    api = hook_settings.api.model_copy(update={"hook_rate": 0.1, "hook_burst": 1})
    settings = hook_settings.model_copy(update={"api": api})
    async with TestClient(TestServer(build_app(ApiContext(settings, store)))) as client:
        body = body_of({"status": "firing", "servers": ["ecs-1"]})
        other_secret = "whsec_" + base64.b64encode(b"a-secret-the-sender-does-not-own").decode()
        forged = standard_headers("msg-forged", body, secret=other_secret)
        url = "/v1/hooks/alert-backup"
        assert (await client.post(url, data=body, headers=forged)).status == 401
        first = await client.post(url, data=body, headers=standard_headers("msg-a", body))
        assert first.status == 202, "an unverified delivery must not spend the trigger's budget"
        second = await client.post(url, data=body, headers=standard_headers("msg-b", body))
        assert second.status == 429
        assert int(second.headers["Retry-After"]) >= 1
        assert (await second.json())["status"] == 429
    assert [w.command_id for w in await store.list_workflows()] == [command_id_of("alert-backup", "msg-a")]
