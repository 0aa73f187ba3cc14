"""The check every test's answers go through (api_helpers.conforming_client) finds what the OpenAPI
document does not describe."""

from __future__ import annotations

import json

from aiohttp import web
from api_helpers import mismatch_of

from orchestrator.api.app import endpoints
from orchestrator.api.spec import openapi_document

DOCUMENT = openapi_document(endpoints())
SUBMIT = DOCUMENT["paths"]["/v1/commands"]["post"]


def test_a_described_answer_passes() -> None:
    body = {"workflow_id": "6f1c0b8e-8f4e-4a57-9a43-2f1d2c6b7c10", "command_id": "c", "status": "pending"}
    response = web.json_response(body | {"duplicate": False}, status=202)
    assert mismatch_of(DOCUMENT, SUBMIT, response) is None


def test_an_undescribed_status_a_wrong_body_or_media_type_is_found() -> None:
    assert mismatch_of(DOCUMENT, SUBMIT, web.json_response({}, status=418)) is not None
    assert "required property" in (mismatch_of(DOCUMENT, SUBMIT, web.json_response({}, status=202)) or "")
    as_json = web.Response(
        status=422, text=json.dumps({"title": "x", "status": 422}), content_type="text/plain"
    )
    assert mismatch_of(DOCUMENT, SUBMIT, as_json) is not None


def test_the_command_body_is_described_as_the_queues_command_schemas() -> None:
    schema = SUBMIT["requestBody"]["content"]["application/json"]["schema"]
    kinds = set(schema["discriminator"]["mapping"])
    assert kinds == {"backup", "restore", "replicate", "fleet_backup", "restore_drill"}
