"""The suite must keep exercising every operation it promises; this test runs last (see conftest)."""

from __future__ import annotations

import copy as copy_module
import json
from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import (
    EXPECTED_OPERATIONS,
    OperationRecorder,
    Pool,
    RecordingCbrClient,
    raw_json,
    response_class_name,
    response_problems,
    success_statuses,
)


def test_promised_operations_are_real_sdk_operations() -> None:
    assert len(EXPECTED_OPERATIONS) == 74  # every operation of the official SDK
    known = set(success_statuses())
    assert known == EXPECTED_OPERATIONS, known ^ EXPECTED_OPERATIONS


def test_suite_exercises_every_promised_operation(recorder: OperationRecorder) -> None:
    missing = EXPECTED_OPERATIONS - recorder.succeeded
    unexpected = recorder.succeeded - EXPECTED_OPERATIONS
    attempts = {op: recorder.failed[op] for op in sorted(missing) if op in recorder.failed}
    assert not missing, (
        f"operations never completed successfully in this run: {sorted(missing)} "
        f"(failed attempts: {attempts}); run the whole tests/contract directory"
    )
    assert not unexpected, f"operations exercised but not in the promised list: {sorted(unexpected)}"
    assert recorder.succeeded == EXPECTED_OPERATIONS


def _fake(operation: str, document: Any, status: int) -> Any:
    response = getattr(cbr, response_class_name(operation))()
    response.status_code = status
    response.raw_content = json.dumps(document).encode() if document is not None else b""
    return response


def test_strict_checks_catch_what_the_sdk_would_swallow(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    """The SDK's own parser tolerates misnamed, missing and mistyped fields; the suite's checks must not."""
    vault = new_vault(cbr_a, [pool_a.server()])
    document = raw_json(cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)))
    assert response_problems("show_vault", _fake("show_vault", document, 200)) == []

    def broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
        copy = copy_module.deepcopy(document)
        change(copy)
        return response_problems("show_vault", _fake("show_vault", copy, 200))

    assert broken(lambda d: d["vault"]["billing"].update(specCode=d["vault"]["billing"].pop("spec_code")))
    assert broken(lambda d: d["vault"]["billing"].update(size=str(d["vault"]["billing"]["size"])))
    assert broken(lambda d: d["vault"].pop("id"))
    assert broken(lambda d: d["vault"].update(resources={}))
    assert broken(lambda d: d["vault"].update(created_at="27/11/2026"))
    assert broken(lambda d: d.update(extra=1))
    assert broken(lambda d: d.pop("vault"))
    assert response_problems("show_vault", _fake("show_vault", document, 201))
    assert response_problems("delete_vault", _fake("delete_vault", {"vault": {}}, 204))
    assert response_problems("restore_backup", _fake("restore_backup", None, 200))
