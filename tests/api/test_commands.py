"""``POST /v1/commands``: accepted as the queue accepts a command, once per command id and once per
Idempotency-Key."""

from __future__ import annotations

from typing import Any

from api_helpers import backup_body, bearer, workflow_count
from api_types import MakeKey

from orchestrator.broker.intake import new_workflow
from orchestrator.messages import command_from_json, workflow_id_for
from orchestrator.store import Store, Verdict


async def test_a_command_is_accepted_with_its_workflow_and_location(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup", "read"))
    answer = await client.post("/v1/commands", json=backup_body(), headers=bearer(key))
    assert answer.status == 202
    body = await answer.json()
    assert body == {
        "workflow_id": str(workflow_id_for("api-backup-1")),
        "command_id": "api-backup-1",
        "status": "pending",
        "duplicate": False,
    }
    assert answer.headers["Location"] == f"/v1/workflows/{body['workflow_id']}"
    shown = await client.get(answer.headers["Location"], headers=bearer(key))
    assert (await shown.json())["workflow"]["command_id"] == "api-backup-1"


async def test_the_same_command_again_is_the_same_workflow_and_another_under_its_id_is_409(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    first = await (await client.post("/v1/commands", json=backup_body(), headers=bearer(key))).json()
    again = await client.post("/v1/commands", json=backup_body(), headers=bearer(key))
    assert again.status == 202
    assert await again.json() == first | {"duplicate": True}
    other = await client.post("/v1/commands", json=backup_body(incremental=False), headers=bearer(key))
    assert other.status == 409
    assert await workflow_count(store) == 1


async def test_the_api_and_the_queue_name_one_workflow_for_one_command(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    answer = await (await client.post("/v1/commands", json=backup_body(), headers=bearer(key))).json()
    [on_queue] = await store.create_workflows_if_absent([new_workflow(command_from_json(backup_body()))])
    assert (on_queue.verdict, str(on_queue.workflow_id)) == (Verdict.DUPLICATE, answer["workflow_id"])
    queued_first = backup_body("queued-first")
    await store.create_workflows_if_absent([new_workflow(command_from_json(queued_first))])
    later = await (await client.post("/v1/commands", json=queued_first, headers=bearer(key))).json()
    assert later["duplicate"] and later["workflow_id"] == str(workflow_id_for("queued-first"))
    assert await workflow_count(store) == 2


async def test_an_idempotency_key_gives_the_first_answer_again(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    headers = bearer(key) | {"Idempotency-Key": "deploy-42"}
    first = await client.post("/v1/commands", json=backup_body(), headers=headers)
    again = await client.post("/v1/commands", json=backup_body(), headers=headers)
    assert (again.status, again.headers["Location"]) == (first.status, first.headers["Location"])
    assert await again.json() == await first.json()  # duplicate: False, as the first answer said
    other_key = await make_key(("backup",))  # keys are per API key: another key's are its own
    elsewhere = await client.post("/v1/commands", json=backup_body(), headers=headers | bearer(other_key))
    assert (await elsewhere.json())["duplicate"] is True
    assert await workflow_count(store) == 1


async def test_a_refused_command_leaves_its_idempotency_key_free(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    await client.post("/v1/commands", json=backup_body(), headers=bearer(key))
    headers = bearer(key) | {"Idempotency-Key": "retry-me"}
    conflicting = await client.post("/v1/commands", json=backup_body(incremental=False), headers=headers)
    assert conflicting.status == 409
    fixed = await client.post("/v1/commands", json=backup_body("api-backup-2"), headers=headers)
    assert fixed.status == 202


async def test_a_pending_record_left_by_a_dead_request_is_taken_over(store: Store, make_key: MakeKey) -> None:
    from orchestrator.store.idempotency import Begun

    key_id = (await make_key(("backup",))).split("_")[1]
    assert (await store.idempotency.begin(key_id, "k", b"h")).verdict is Begun.PROCEED
    assert (await store.idempotency.begin(key_id, "k", b"h")).verdict is Begun.IN_PROGRESS
    taken = await store.idempotency.begin(key_id, "k", b"h", stale_seconds=0)
    assert taken.verdict is Begun.PROCEED


async def test_an_idempotency_key_must_be_visible_ascii(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    for bad in ("", "x" * 256, "with space"):
        answer = await client.post(
            "/v1/commands", json=backup_body(), headers=bearer(key) | {"Idempotency-Key": bad}
        )
        assert answer.status == 400
    assert await workflow_count(store) == 0
