"""``GET /v1/coverage``: the coverage ledger summarised per project (counts per state, the oldest last good
backup, the worst offenders first), of the key's projects only. It reads the ledger as the last refresh
left it (``cbr-orchestrator coverage --refresh``); it never calls CBR."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.bodies import answer
from orchestrator.api.context import context_of
from orchestrator.api.paging import query_of
from orchestrator.api.problems import Problem
from orchestrator.api.spec import Endpoint
from orchestrator.engine.coverage_states import CoverageEntry, ProjectSummary, classify, summarise

State = Literal["ok", "stale", "never", "unprotected"]


class CoverageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    worst: int = Field(default=10, ge=0, le=1000, description="Worst offenders listed per project.")


class CoverageEntryBody(BaseModel):
    resource_id: str
    resource_type: str
    name: str | None
    state: State
    vault_id: str | None
    vault_name: str | None
    backup_id: str | None
    last_backup_at: datetime | None
    age_seconds: float | None
    rpo_seconds: float


class ProjectCoverageBody(BaseModel):
    project_id: str
    counts: dict[State, int]
    oldest_age_seconds: float | None
    worst: list[CoverageEntryBody]


class CoverageBody(BaseModel):
    projects: list[ProjectCoverageBody]


async def get_coverage(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "read")
    query = query_of(request, CoverageQuery)
    if query.project is not None and not grant.sees(query.project):
        return answer(CoverageBody(projects=[]))
    chosen = [query.project] if query.project else (sorted(grant.projects) or None)
    rows = await context.store.coverage.entries(chosen)
    summaries = summarise(classify(rows, context.settings.coverage), query.worst)
    return answer(CoverageBody(projects=[_project(s) for s in summaries]))


def _project(summary: ProjectSummary) -> ProjectCoverageBody:
    return ProjectCoverageBody.model_validate(
        {
            "project_id": summary.project_id,
            "counts": summary.counts,
            "oldest_age_seconds": summary.oldest_age_seconds,
            "worst": [_entry(e) for e in summary.worst],
        }
    )


def _entry(entry: CoverageEntry) -> CoverageEntryBody:
    return CoverageEntryBody.model_validate(entry, from_attributes=True)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/coverage",
        "getCoverage",
        "Per project of the key: resources ok, stale, never backed up, unprotected; worst offenders first.",
        get_coverage,
        scope="read",
        query=CoverageQuery,
        responses={200: CoverageBody, 401: Problem, 403: Problem, 422: Problem, 429: Problem},
    ),
]
