"""The status page: signed in by a session cookie, showing only the key's projects, escaping what it shows."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sse import frames, insert_event, new_workflow

from orchestrator.api.sessions import COOKIE
from orchestrator.store import Store


async def sign_in(client: Any, key: str) -> Any:
    answer = await client.post("/status/login", data={"key": key}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/status"
    return answer


async def test_signing_in_sets_an_httponly_strict_cookie_that_does_not_hold_the_key(
    client: Any, make_key: Any
) -> None:
    key = await make_key(("read",))
    answer = await sign_in(client, key)
    cookie = answer.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert key.split("_")[-1] not in cookie.value and cookie.value.startswith(key.split("_")[1] + ".")
    page = await client.get("/status")
    assert page.status == 200 and "Fleets" in await page.text()
    assert "nonce-" in page.headers["Content-Security-Policy"]


async def test_without_a_session_the_pages_send_to_the_login_form(client: Any) -> None:
    for path in ("/status", f"/status/workflows/{uuid.uuid4()}"):
        answer = await client.get(path, allow_redirects=False)
        assert (answer.status, answer.headers["Location"]) == (303, "/status/login")
    client.session.cookie_jar.update_cookies({COOKIE: "0123456789abcdef.9999999999.forged"})
    assert (await client.get("/status", allow_redirects=False)).status == 303


async def test_a_bad_key_or_one_that_may_not_read_is_refused_at_login(client: Any, make_key: Any) -> None:
    bad = await client.post("/status/login", data={"key": "cbro_nope"}, allow_redirects=False)
    assert bad.status == 401 and COOKIE not in bad.cookies and "cbro_nope" not in await bad.text()
    writer = await make_key(("backup",))
    assert (await client.post("/status/login", data={"key": writer}, allow_redirects=False)).status == 403


async def test_a_form_posted_from_another_site_is_refused(client: Any, make_key: Any) -> None:
    key = await make_key(("read",))
    headers = {"Origin": "https://evil.example"}
    answer = await client.post("/status/login", data={"key": key}, headers=headers, allow_redirects=False)
    assert answer.status == 403 and COOKIE not in answer.cookies


async def test_the_page_shows_only_the_keys_projects_and_escapes_what_it_shows(
    client: Any, store: Store, make_key: Any, dsn: str
) -> None:
    mine, theirs = await new_workflow(store, "p-a"), await new_workflow(store, "p-b")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE workflows SET status = 'failed', finished_at = now(), error_code = 'BackupService.6302',"
            " error_message = '<script>alert(1)</script>' WHERE id = $1",
            mine,
        )
    finally:
        await conn.close()
    await sign_in(client, await make_key(("read",), projects=("p-a",)))
    text = await (await client.get("/status")).text()
    assert str(mine) in text and str(theirs) not in text
    assert "BackupService.6302" in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert(1)" not in text
    assert (await client.get(f"/status/workflows/{theirs}")).status == 404
    timeline = await client.get(f"/status/workflows/{mine}")
    assert timeline.status == 200 and "BackupService.6302" in await timeline.text()


async def test_the_session_cookie_opens_the_event_stream_for_the_keys_projects(
    client: Any, store: Store, make_key: Any, dsn: str
) -> None:
    await sign_in(client, await make_key(("read",), projects=("p-a",)))
    mine, theirs = await new_workflow(store, "p-a"), await new_workflow(store, "p-b")
    stream = await client.get("/v1/events", headers={"Last-Event-ID": "0"})
    assert stream.status == 200
    conn = await asyncpg.connect(dsn)
    try:
        await insert_event(conn, theirs, "theirs")
        await insert_event(conn, mine, "mine")
    finally:
        await conn.close()
    assert [f.data["name"] for f in await frames(stream, 1)] == ["mine"]


async def test_signing_out_ends_the_session(client: Any, make_key: Any) -> None:
    await sign_in(client, await make_key(("read",)))
    await client.post("/status/logout", allow_redirects=False)
    assert (await client.get("/status", allow_redirects=False)).status == 303
