"""Error answers are read like the SDK reads them and classified by what the caller should do."""

import json
from datetime import UTC, datetime

import pytest

from orchestrator.cbr.errors import (
    BUSY_CODES,
    CbrApiError,
    ErrorKind,
    classify,
    connection_error,
    error_from_response,
    parse_error_body,
    parse_retry_after,
    timeout_error,
)

RETRY, DONE, TERMINAL = ErrorKind.RETRY_LATER, ErrorKind.ALREADY_DONE, ErrorKind.TERMINAL


@pytest.mark.parametrize(
    ("status", "code", "operation", "kind"),
    [
        # the five busy codes of the architecture, with their published statuses
        (400, "BackupService.6125", "create_checkpoint", RETRY),
        (400, "BackupService.2002", "restore_backup", RETRY),
        (400, "BackupService.2010", "restore_backup", RETRY),
        (500, "BackupService.0002", "create_checkpoint", RETRY),
        (400, "BackupService.6130", "copy_checkpoint", RETRY),
        # throttling, by status or gateway code
        (429, "429", "list_backups", RETRY),
        (429, "APIGW.0308", "list_backups", RETRY),
        (400, "APIG.0308", "list_backups", RETRY),
        (403, "APIGW.0308", "create_checkpoint", RETRY),
        # transient server-side failures
        (500, "BackupService.9910", "create_vault", RETRY),
        (500, "500", "show_vault", RETRY),
        (502, "502", "show_vault", RETRY),
        (503, "503", "list_op_logs", RETRY),
        (504, "504", "create_checkpoint", RETRY),
        (408, "408", "show_vault", RETRY),
        (500, "BackupService.1001", "copy_backup", RETRY),  # backup not yet available: may heal
        # 5xx that will not heal
        (500, "BackupService.1002", "copy_backup", TERMINAL),
        (500, "BackupService.1004", "copy_backup", TERMINAL),
        (500, "BackupService.1005", "copy_checkpoint", TERMINAL),
        (500, "BackupService.9998", "show_vault", TERMINAL),
        (501, "501", "show_vault", TERMINAL),
        # already done
        (400, "BackupService.6103", "add_vault_resource", DONE),
        (400, "BackupService.6103", "create_vault", DONE),
        (500, "BackupService.1009", "copy_backup", DONE),
        (400, "BackupService.6703", "add_member", DONE),
        (404, "BackupService.6105", "delete_vault", DONE),
        (404, "BackupService.6200", "delete_backup", DONE),
        (404, "BackupService.6000", "delete_policy", DONE),
        (404, "BackupService.6705", "delete_member", DONE),
        (404, "BackupService.6601", "delete_vault_tag", DONE),
        (400, "BackupService.6135", "remove_vault_resource", DONE),
        (404, "BackupService.6002", "disassociate_vault_policy", DONE),
        # terminal client errors
        (404, "BackupService.6105", "show_vault", TERMINAL),
        (404, "BackupService.6200", "show_backup", TERMINAL),
        (404, "BackupService.6217", "show_checkpoint", TERMINAL),
        (404, "BackupService.6500", "show_op_log", TERMINAL),
        (400, "BackupService.9900", "create_vault", TERMINAL),
        (400, "BackupService.6104", "add_vault_resource", TERMINAL),
        (400, "BackupService.6114", "create_checkpoint", TERMINAL),
        (400, "BackupService.6135", "create_checkpoint", TERMINAL),  # only "already done" on remove
        (404, "BackupService.6002", "associate_vault_policy", TERMINAL),
        (401, "APIGW.0301", "show_vault", TERMINAL),
        (403, "BackupService.8600", "show_vault", TERMINAL),
        (409, "409", "update_vault", TERMINAL),
    ],
)
def test_classification(status: int, code: str, operation: str, kind: ErrorKind) -> None:
    assert classify(status, code, operation) is kind


@pytest.mark.parametrize("code", sorted(BUSY_CODES))
def test_every_busy_code_means_later_whatever_the_status(code: str) -> None:
    assert classify(400, code, "create_checkpoint") is RETRY
    assert classify(500, code, "create_checkpoint") is RETRY


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"error_code": "BackupService.6105", "error_msg": "vault gone"}',
            ("BackupService.6105", "vault gone"),
        ),
        ('{"errorCode": "APIGW.0308", "errorMsg": "slow down"}', ("APIGW.0308", "slow down")),
        ('{"code": "X.1", "message": "plain"}', ("X.1", "plain")),
        ('{"error": {"code": "IAM.0002", "message": "nested"}}', ("IAM.0002", "nested")),
        ('{"error": {"error_code": "E.1", "error_msg": "nested snake"}}', ("E.1", "nested snake")),
        # snake pair wins over the others when several are present
        (
            '{"code": "C", "message": "m", "error_code": "E", "error_msg": "e"}',
            ("E", "e"),
        ),
        # an incomplete pair is not a pair: fall back to the status
        ('{"error_code": "E.9"}', ("503", '{"error_code": "E.9"}')),
        ("<html>Bad Gateway</html>", ("503", "<html>Bad Gateway</html>")),
        ("", ("503", "")),
        ("[1, 2]", ("503", "[1, 2]")),
        ('{"error_code": 6105, "error_msg": null}', ("6105", '{"error_code": 6105, "error_msg": null}')),
    ],
)
def test_error_body_variants(body: str, expected: tuple[str, str]) -> None:
    code, message, _ = parse_error_body(503, body)
    assert (code, message) == expected


def test_request_id_from_header_then_body() -> None:
    body = json.dumps({"error_code": "APIGW.0301", "error_msg": "bad sig", "request_id": "body-id"})
    with_header = error_from_response("show_vault", 401, {"x-request-id": "header-id"}, body)
    assert with_header.request_id == "header-id"
    without_header = error_from_response("show_vault", 401, {}, body)
    assert without_header.request_id == "body-id"
    nested = error_from_response(
        "show_vault", 500, {}, '{"error": {"code": "c", "message": "m", "request_id": "n"}}'
    )
    assert nested.request_id == "n"


def test_error_from_response_fields() -> None:
    error = error_from_response(
        "list_backups",
        429,
        {"X-Request-Id": "r-1", "Retry-After": "7"},
        '{"error_code": "APIGW.0308", "error_msg": "throttled"}',
    )
    assert (error.operation, error.status, error.code, error.message) == (
        "list_backups",
        429,
        "APIGW.0308",
        "throttled",
    )
    assert (error.kind, error.retry_after, error.request_id) == (RETRY, 7.0, "r-1")
    assert error.throttled
    assert error.retry_later
    assert not error.already_done
    assert "list_backups" in str(error)
    assert "APIGW.0308" in str(error)
    assert "r-1" in str(error)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("12", 12.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_timeout_outcome_unknown_only_for_non_idempotent_calls() -> None:
    create = timeout_error("create_checkpoint", 5, idempotent=False)
    show = timeout_error("show_checkpoint", 5, idempotent=True)
    assert (create.status, create.code, create.kind, create.outcome_unknown) == (0, "timeout", RETRY, True)
    assert (show.kind, show.outcome_unknown) == (RETRY, False)
    assert "outcome unknown" in str(create)


def test_connection_error_outcome() -> None:
    refused = connection_error("create_checkpoint", "refused", request_sent=False, idempotent=False)
    broken = connection_error("create_checkpoint", "reset", request_sent=True, idempotent=False)
    read = connection_error("list_backups", "reset", request_sent=True, idempotent=True)
    assert (refused.code, refused.status, refused.kind) == ("connection_error", 0, RETRY)
    assert [refused.outcome_unknown, broken.outcome_unknown, read.outcome_unknown] == [False, True, False]


def test_long_messages_are_cut() -> None:
    error = error_from_response("show_vault", 502, {}, "x" * 10_000)
    assert len(error.message) == 2000


def test_is_an_exception_with_kind() -> None:
    error = CbrApiError(operation="op", status=400, code="c", message="m", kind=TERMINAL)
    assert isinstance(error, Exception)
    assert error.kind == "terminal"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_gateway_5xx_to_a_call_that_is_not_idempotent_is_an_unknown_outcome(status: int) -> None:
    gateway = '{"error_code": "APIG.0201", "error_msg": "Backend timeout."}'
    create = error_from_response("create_checkpoint", status, {}, gateway, idempotent=False)
    lookup = error_from_response("list_backups", status, {}, gateway, idempotent=True)
    assert (create.kind, create.outcome_unknown) == (RETRY, True)
    assert lookup.outcome_unknown is False


def test_a_5xx_with_which_cbr_itself_refuses_a_create_is_definite() -> None:
    busy = '{"error_code": "BackupService.0002", "error_msg": "busy"}'
    refused = error_from_response("create_checkpoint", 500, {}, busy, idempotent=False)
    assert (refused.kind, refused.outcome_unknown) == (RETRY, False)
    not_implemented = error_from_response("create_checkpoint", 501, {}, "", idempotent=False)
    assert not_implemented.outcome_unknown is False


def test_retry_after_is_capped() -> None:
    error = error_from_response(
        "list_backups", 429, {"Retry-After": "3600"}, "", idempotent=True, retry_after_cap=120.0
    )
    assert error.retry_after == 120.0
