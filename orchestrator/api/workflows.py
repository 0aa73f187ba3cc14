"""Following workflows: one workflow, a filtered list page by page, its resources page by page, and a
request to cancel it. A workflow of a project the key does not have answers 404, as an unknown one does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from orchestrator.api.auth import not_found, require
from orchestrator.api.bodies import (
    CancelBody,
    ResourceBody,
    ResourcePageBody,
    WorkflowDetailBody,
    WorkflowPage,
    answer,
    detail_of,
    summary_of,
)
from orchestrator.api.context import context_of
from orchestrator.api.keys import SCOPE_OF_KIND, Grant
from orchestrator.api.paging import MAX_LIMIT, bad_cursor, decode_cursor, encode_cursor, query_of
from orchestrator.api.problems import Problem, ProblemError
from orchestrator.api.spec import BY_KIND, Endpoint
from orchestrator.store import Store, Workflow, WorkflowStatus
from orchestrator.store.models import CancelVerdict
from orchestrator.store.resource_results import resource_outcomes
from orchestrator.store.status import WorkflowFilter

Kind = Literal["backup", "restore", "replicate", "fleet_backup", "restore_drill"]
DEFAULT_LIMIT = 100


def _rfc3339_only(value: object) -> object:
    """A query's time as the document says (RFC 3339); pydantic alone would also take "0.5" as a Unix time."""
    if isinstance(value, str):
        datetime.fromisoformat(value)  # ValueError for anything else
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    status: WorkflowStatus | None = None
    project: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    created_after: Instant | None = None
    created_before: Instant | None = None
    cursor: str | None = Field(default=None, max_length=200, description="next_cursor of the page before.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(default=None, max_length=200, description="next_cursor of the page before.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


async def get_workflow(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "read")
    ref = request.match_info["id"]
    detail = await context.store.status.detail(ref, payloads=True)
    if detail is None or not grant.sees(detail.workflow.project_id):
        raise not_found("workflow")
    wf = detail.workflow
    resources = [ResourceBody.model_validate(r) for r in resource_outcomes(wf)]
    return answer(detail_of(detail, resources))


async def list_workflows(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "read")
    query = query_of(request, ListQuery)
    chosen = _filter(query, grant)
    if chosen is None:  # a project the key does not have: nothing of it is listed
        return answer(WorkflowPage(workflows=[], next_cursor=None))
    found = await context.store.status.page(chosen, query.limit + 1)
    shown = found[: query.limit]
    more = len(found) > query.limit
    cursor = (
        encode_cursor({"at": shown[-1].created_at.isoformat(), "id": str(shown[-1].id)}) if more else None
    )
    return answer(WorkflowPage(workflows=[summary_of(wf) for wf in shown], next_cursor=cursor))


def _cursor_after(last: Workflow) -> str:
    return encode_cursor({"at": last.created_at.isoformat(), "id": str(last.id)})


def _filter(query: ListQuery, grant: Grant) -> WorkflowFilter | None:
    projects = grant.projects or None
    if query.project is not None:
        if not grant.sees(query.project):
            return None
        projects = frozenset({query.project})
    return WorkflowFilter(
        kind=query.kind,
        status=query.status,
        projects=projects,
        created_after=query.created_after,
        created_before=query.created_before,
        after=_after(query.cursor) if query.cursor is not None else None,
    )


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    position = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(position["at"]), uuid.UUID(position["id"])
    except (KeyError, TypeError, ValueError):
        raise bad_cursor() from None


async def workflow_resources(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "read")
    query = query_of(request, PageQuery)
    offset = _offset(query.cursor) if query.cursor is not None else 0
    wf = await _visible(context.store, request.match_info["id"], grant)
    if wf.kind == "fleet_backup":
        page = await context.store.fleet.resource_page(wf.id, offset, query.limit)
        rows, total = [ResourceBody.model_validate(r) for r in page.rows], page.total
    else:
        outcomes = resource_outcomes(wf)
        rows = [ResourceBody.model_validate(r) for r in outcomes[offset : offset + query.limit]]
        total = len(outcomes)
    following = offset + len(rows)
    cursor = encode_cursor({"offset": following}) if rows and following < total else None
    body = ResourcePageBody(workflow_id=wf.id, offset=offset, total=total, resources=rows, next_cursor=cursor)
    return answer(body)


def _offset(cursor: str) -> int:
    offset = decode_cursor(cursor).get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise bad_cursor()
    return offset


async def cancel_workflow(request: web.Request) -> web.Response:
    """202 when the workflow is asked to cancel (now or before); 409 when it has ended."""
    context = context_of(request)
    grant = await context.keys.authenticate(request)
    await context.keys.spend(grant)
    wf = await _visible(context.store, request.match_info["id"], grant)
    require(grant, SCOPE_OF_KIND.get(wf.kind, "admin"))
    outcome = await context.store.request_cancel(str(wf.id))
    if outcome.verdict is CancelVerdict.NOT_FOUND:
        raise not_found("workflow")
    if outcome.verdict not in (CancelVerdict.REQUESTED, CancelVerdict.ALREADY_REQUESTED):
        ended = outcome.status.value if outcome.status else "final"
        raise ProblemError(409, "Conflict", f"the workflow has ended ({ended}): nothing to cancel")
    body = CancelBody(
        workflow_id=wf.id,
        command_id=wf.command_id,
        kind=wf.kind,
        verdict=outcome.verdict.value,
        status=(outcome.status or wf.status).value,
        requested_at=outcome.requested_at,
    )
    return answer(body, 202)


async def _visible(store: Store, ref: str, grant: Grant) -> Workflow:
    wf = await store.status.find(ref)
    if wf is None or not grant.sees(wf.project_id):
        raise not_found("workflow")
    return wf


READ_PROBLEMS = {401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/workflows",
        "listWorkflows",
        "Workflows, newest first, filtered and paged (next_cursor).",
        list_workflows,
        scope="read",
        query=ListQuery,
        responses={200: WorkflowPage, **READ_PROBLEMS},
    ),
    Endpoint(
        "GET",
        "/v1/workflows/{id}",
        "getWorkflow",
        "A workflow (by workflow id or command id): state, resources, steps and events.",
        get_workflow,
        scope="read",
        responses={200: WorkflowDetailBody, **READ_PROBLEMS},
    ),
    Endpoint(
        "GET",
        "/v1/workflows/{id}/resources",
        "listWorkflowResources",
        "A workflow's resources with their results, a page at a time (a fleet's 100,000 too).",
        workflow_resources,
        scope="read",
        query=PageQuery,
        responses={200: ResourcePageBody, **READ_PROBLEMS},
    ),
    Endpoint(
        "POST",
        "/v1/workflows/{id}/cancel",
        "cancelWorkflow",
        "Ask a workflow to cancel (the scope of its kind): it stops at its next step; 409 once it ended.",
        cancel_workflow,
        scope=BY_KIND,
        responses={202: CancelBody, **READ_PROBLEMS, 409: Problem},
    ),
]
