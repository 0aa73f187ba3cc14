"""/v1/schedules: add (scope ``schedule``), list (scope ``read``), remove; bad input answered 422 with the
field at fault; a key limited to some projects neither sees nor touches another project's schedule."""

from __future__ import annotations

from typing import Any

from api_helpers import OTHER_PROJECT, PROJECT, REGION, bearer
from api_types import MakeKey

FLEET = {"project_id": PROJECT, "region": REGION, "select": {"protectables": {"types": ["server"]}}}
NIGHTLY = {
    "name": "nightly",
    "rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0",
    "time_zone": "Europe/Berlin",
    "command": FLEET,
}


async def test_add_list_and_remove(client: Any, make_key: MakeKey) -> None:
    key = await make_key(("schedule", "read"))
    added = await client.post("/v1/schedules", json=NIGHTLY, headers=bearer(key))
    assert added.status == 201, await added.text()
    body = await added.json()
    assert (body["name"], body["time_zone"], added.headers["Location"]) == (
        "nightly", "Europe/Berlin", "/v1/schedules/nightly",
    )  # fmt: skip
    assert body["next_occurrence"] is not None and body["last_run"]["workflow_id"] is None
    again = await client.post("/v1/schedules", json=NIGHTLY, headers=bearer(key))
    assert again.status == 409
    listed = await (await client.get("/v1/schedules", headers=bearer(key))).json()
    assert [s["name"] for s in listed["schedules"]] == ["nightly"]
    removed = await client.delete("/v1/schedules/nightly", headers=bearer(key))
    assert (removed.status, await removed.json()) == (200, {"name": "nightly", "removed": True})
    assert (await client.delete("/v1/schedules/nightly", headers=bearer(key))).status == 404


async def test_bad_input_is_a_422_naming_the_field(client: Any, make_key: MakeKey) -> None:
    key = await make_key(("schedule",))
    cases = [
        ({**NIGHTLY, "rrule": "FREQ=NEVER"}, "rrule"),
        ({**NIGHTLY, "time_zone": "Europe/Atlantis"}, "time_zone"),
        ({**NIGHTLY, "command": {**FLEET, "command_id": "x"}}, "command.command_id"),
        ({**NIGHTLY, "command": {**FLEET, "select": {}}}, "command.select"),
        ({**NIGHTLY, "enabled": "yes"}, "enabled"),
    ]
    for body, where in cases:
        answer = await client.post("/v1/schedules", json=body, headers=bearer(key))
        assert answer.status == 422, (body, await answer.text())
        problem = await answer.json()
        assert any(e["location"].startswith(where) for e in problem["errors"]), problem
    no_credentials = {**NIGHTLY, "command": {**FLEET, "project_id": OTHER_PROJECT}}
    answer = await client.post("/v1/schedules", json=no_credentials, headers=bearer(key))
    assert answer.status == 422 and "no credentials" in (await answer.json())["detail"]
    assert (await client.post("/v1/schedules", data=b"{", headers=bearer(key))).status == 400


async def test_scopes_and_projects(client: Any, make_key: MakeKey) -> None:
    reader = await make_key(("read",))
    assert (await client.post("/v1/schedules", json=NIGHTLY, headers=bearer(reader))).status == 403
    elsewhere = await make_key(("schedule", "read"), (OTHER_PROJECT,))
    assert (await client.post("/v1/schedules", json=NIGHTLY, headers=bearer(elsewhere))).status == 404
    owner = await make_key(("schedule",), (PROJECT,))
    assert (await client.post("/v1/schedules", json=NIGHTLY, headers=bearer(owner))).status == 201
    assert (await (await client.get("/v1/schedules", headers=bearer(elsewhere))).json())["schedules"] == []
    assert (await client.delete("/v1/schedules/nightly", headers=bearer(elsewhere))).status == 404
    assert (await client.get("/v1/schedules")).status == 401
