"""Every vector produced by the official SDK signer must reproduce, and verification must hold."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cbr.signing import (
    Credentials,
    SignatureError,
    canonical_query,
    canonical_uri,
    parse_date,
    sign_request,
    verify_request,
)

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "signing-vectors.json").read_text())
CREDENTIALS = Credentials(VECTORS["credentials"]["ak"], VECTORS["credentials"]["sk"])
SIGNED_AT = parse_date(VECTORS["x_sdk_date"])


def _body(vector: dict) -> bytes | None:
    body = vector["input"]["body"]
    return None if body is None else body.encode()


def _sign(vector: dict) -> dict[str, str]:
    request = vector["input"]
    return sign_request(
        CREDENTIALS,
        request["method"],
        request["host"],
        request["path_as_sent"],
        [tuple(pair) for pair in request["query_params_decoded"]],
        request["headers_before_authorization"],
        _body(vector),
    )


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["id"])
def test_vector_reproduces(vector: dict) -> None:
    request, middle = vector["input"], vector["intermediate"]
    assert canonical_uri(request["path_as_sent"]) == middle["canonical_uri"]
    pairs = [tuple(pair) for pair in request["query_params_decoded"]]
    assert canonical_query(pairs) == middle["canonical_query_string"]
    assert _sign(vector)["Authorization"] == vector["output"]["authorization"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["id"])
def test_signed_vector_verifies(vector: dict) -> None:
    request = vector["input"]
    verified = verify_request(
        request["method"],
        request["path_as_sent"],
        request["query_as_sent"],
        _sign(vector),
        _body(vector),
        {CREDENTIALS.access_key: CREDENTIALS.secret_key}.get,
        now=SIGNED_AT + timedelta(minutes=3),
    )
    assert verified.access_key == CREDENTIALS.access_key


def _verify(headers: dict[str, str], body: bytes | None, now: datetime = SIGNED_AT, query: str = "") -> None:
    verify_request(
        "POST",
        "/v3/p/checkpoints",
        query,
        headers,
        body,
        {CREDENTIALS.access_key: CREDENTIALS.secret_key}.get,
        now=now,
    )


def _signed_post(body: bytes) -> dict[str, str]:
    return sign_request(
        CREDENTIALS,
        "POST",
        "127.0.0.1:9",
        "/v3/p/checkpoints",
        [],
        {"Content-Type": "application/json", "X-Project-Id": "p"},
        body,
        now=SIGNED_AT,
    )


def test_tampered_body_is_refused() -> None:
    headers = _signed_post(b'{"a": 1}')
    with pytest.raises(SignatureError, match="does not match"):
        _verify(headers, b'{"a": 2}')


def test_tampered_query_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        _verify(_signed_post(b"{}"), b"{}", query="limit=5")


@pytest.mark.parametrize("skew", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_date_more_than_fifteen_minutes_off_is_refused(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="away from the server clock"):
        _verify(_signed_post(b"{}"), b"{}", now=SIGNED_AT + skew)


def test_date_within_fifteen_minutes_is_accepted() -> None:
    _verify(_signed_post(b"{}"), b"{}", now=SIGNED_AT + timedelta(minutes=14, seconds=59))


def test_unknown_access_key_is_refused() -> None:
    headers = sign_request(
        Credentials("OTHERKEY", "x"), "POST", "h", "/v3/p/checkpoints", [], {}, b"{}", now=SIGNED_AT
    )
    with pytest.raises(SignatureError, match="unknown access key"):
        _verify(headers, b"{}")


def test_wrong_secret_is_refused() -> None:
    headers = sign_request(
        Credentials(CREDENTIALS.access_key, "not-the-secret"),
        "POST",
        "h",
        "/v3/p/checkpoints",
        [],
        {},
        b"{}",
        now=SIGNED_AT,
    )
    with pytest.raises(SignatureError, match="does not match"):
        _verify(headers, b"{}")


@pytest.mark.parametrize(
    "authorization",
    ["", "garbage", "SDK-HMAC-SM3 Access=AKTESTEXAMPLE0000001, SignedHeaders=host;x-sdk-date, Signature=ab"],
)
def test_malformed_or_foreign_authorization_is_refused(authorization: str) -> None:
    headers = _signed_post(b"{}") | {"Authorization": authorization}
    with pytest.raises(SignatureError):
        _verify(headers, b"{}")


def test_without_sm3_in_hashlib_an_sm3_signature_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashlib, "algorithms_available", {"sha256"})
    authorization = "SDK-HMAC-SM3 Access=AKTESTEXAMPLE0000001, SignedHeaders=host;x-sdk-date, Signature=ab"
    headers = _signed_post(b"{}") | {"Authorization": authorization}
    with pytest.raises(SignatureError, match="SDK-HMAC-SM3 is not supported"):
        _verify(headers, b"{}")


def test_secrets_never_appear_in_repr() -> None:
    shown = repr(Credentials("AK", "very-secret", "token-secret"))
    assert "very-secret" not in shown and "token-secret" not in shown


def test_security_token_is_signed() -> None:
    headers = sign_request(
        Credentials("AK", "SK", "TOKEN"), "GET", "h", "/v3/p/vaults", [], {}, None, now=SIGNED_AT
    )
    assert headers["X-Security-Token"] == "TOKEN"
    assert "x-security-token" in headers["Authorization"]
    assert datetime.now(UTC) > SIGNED_AT
