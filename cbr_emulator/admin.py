"""The admin API under ``/_emulator/``: inspect and steer a running emulator (no CBR authentication).

It is a local development tool: bind the server to 127.0.0.1. Bodies are JSON, validated with
pydantic; a bad body is 400 ``{"error_code": "EMULATOR.0400", "error_msg": "…", "request_id": "…"}``.

=======  =============================  ==========================================================
method   path                           body → answer
=======  =============================  ==========================================================
GET      /_emulator/health              → ``{"status": "ok", "now": …}``
GET      /_emulator/state               → ``{"emulator": describe(), "clock", "tenants", "counters",
                                        "faults", "rate_limit"}`` (tenants without secrets)
GET      /_emulator/ledger              → ``{"projects": [{"region", "project_id", "checkpoints",
                                        "restores", "replications"}]}``: every side effect, one by one
                                        (see ``ledger.py``)
GET      /_emulator/inventory           ``?region=&project_id=`` (both optional filters) →
                                        ``{"projects": [{"region", "project_id", "servers",
                                        "disks"}]}``: each server with its disks, each standalone disk,
                                        with the vault it is bound to and its newest available backup
                                        (see ``inventory_listing.py``); 404 when no tenant matches
GET      /_emulator/faults              → ``{"seed", "rules": [rule + "fired"]}``
PUT      /_emulator/faults              ``FaultPlan`` (replaces all rules, reseeds) → same as GET
DELETE   /_emulator/faults              → same as GET, with no rules
GET      /_emulator/counters            → counters (see ``counters.py``)
POST     /_emulator/counters            (no body) resets, with the peak running counts; → the counters
                                        as they were just before
POST     /_emulator/clock/advance       ``{"seconds": N}`` (N ≥ 0) → ``{"now", "manual"}``; a manual
                                        clock moves by N, a real one gains an offset of N
PUT      /_emulator/progression         ``{"speed": "instant"|"fast"|"realistic"}`` or the fields
                                        of ``Progression`` → ``{"progression": {...}}``
GET/PUT  /_emulator/rate-limit          ``{"requests_per_second": float|null, "burst": int}``
GET/PUT  /_emulator/capacity            ``{"backup_capacity": int|null}``: backup tasks running at once
                                        per project (null: no limit); → the same, plus the running,
                                        waiting and peak counts of every project
=======  =============================  ==========================================================
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cbr_emulator.body import read_json
from cbr_emulator.config import Progression
from cbr_emulator.errors import CbrError
from cbr_emulator.faults import FaultPlan
from cbr_emulator.gateway import GatewayError
from cbr_emulator.keys import CLOCK, COUNTERS, DOMAIN, FAULTS, RATE_LIMITER, TENANTS
from cbr_emulator.rate_limit import RateLimit
from cbr_emulator.speeds import Speed, progression_for

Model = TypeVar("Model", bound=BaseModel)
MAX_ADMIN_BODY = 1024 * 1024


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=10 * 365 * 86_400)


class Capacity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_capacity: int | None = Field(ge=1)


class SpeedChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed: Speed


def _bad_request(message: str) -> GatewayError:
    return GatewayError(400, "EMULATOR.0400", message)


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}" for item in error.errors()
    )


async def _body(request: web.Request) -> Any:
    try:
        _, body = await read_json(request, MAX_ADMIN_BODY)
    except CbrError as exc:
        raise _bad_request(exc.message) from None
    return body


async def _parse(request: web.Request, model: type[Model]) -> Model:
    body = await _body(request)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(f"invalid body: {_problems(exc)}") from None


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "now": request.app[CLOCK].now().isoformat()})


def _clock_body(request: web.Request) -> dict[str, Any]:
    clock = request.app[CLOCK]
    return {"now": clock.now().isoformat(), "manual": clock.manual}


def _tenants_body(request: web.Request) -> list[dict[str, Any]]:
    fields = {"access_key", "project_id", "region", "project_name", "domain_name", "user_name"}
    return [tenant.model_dump(include=fields) for tenant in request.app[TENANTS].tenants]


async def state(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response(
        {
            "emulator": app[DOMAIN].describe(),
            "clock": _clock_body(request),
            "tenants": _tenants_body(request),
            "counters": app[COUNTERS].snapshot(),
            "faults": app[FAULTS].snapshot(),
            "rate_limit": app[RATE_LIMITER].limit.model_dump(),
        }
    )


async def ledger(request: web.Request) -> web.Response:
    return web.json_response(request.app[DOMAIN].ledger())


INVENTORY_FILTERS = frozenset({"region", "project_id"})


async def inventory(request: web.Request) -> web.Response:
    query = request.rel_url.query
    unknown = sorted(set(query) - INVENTORY_FILTERS)
    if unknown:
        raise _bad_request(f"unknown query parameter {unknown[0]!r}; filters are region and project_id")
    region, project_id = query.get("region") or None, query.get("project_id") or None
    listed = request.app[DOMAIN].inventory(region, project_id)
    if not listed["projects"]:
        wanted = ", ".join(f"{k} {v}" for k, v in (("region", region), ("project_id", project_id)) if v)
        raise GatewayError(404, "EMULATOR.0404", f"no tenant's project matches {wanted}")
    return web.json_response(listed)


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS].snapshot())


async def put_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].replace(await _parse(request, FaultPlan))
    return web.json_response(request.app[FAULTS].snapshot())


async def delete_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return web.json_response(request.app[FAULTS].snapshot())


async def get_counters(request: web.Request) -> web.Response:
    return web.json_response(request.app[COUNTERS].snapshot())


async def reset_counters(request: web.Request) -> web.Response:
    if await _body(request) not in (None, {}):
        raise _bad_request("POST /_emulator/counters takes no body (or {})")
    counters = request.app[COUNTERS]
    before = counters.snapshot()
    counters.reset()
    request.app[DOMAIN].reset_peaks()
    return web.json_response(before)


async def advance_clock(request: web.Request) -> web.Response:
    step = await _parse(request, Advance)
    request.app[CLOCK].advance(step.seconds)
    request.app[DOMAIN].tick()
    return web.json_response(_clock_body(request))


async def _progression(request: web.Request) -> Progression:
    body = await _body(request)
    try:
        if isinstance(body, dict) and "speed" in body:
            return progression_for(SpeedChoice.model_validate(body).speed)
        return Progression.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(f"invalid body: {_problems(exc)}") from None


async def put_progression(request: web.Request) -> web.Response:
    progression = await _progression(request)
    request.app[DOMAIN].set_progression(progression)
    return web.json_response({"progression": progression.model_dump()})


async def get_rate_limit(request: web.Request) -> web.Response:
    return web.json_response(request.app[RATE_LIMITER].limit.model_dump())


async def put_rate_limit(request: web.Request) -> web.Response:
    limiter = request.app[RATE_LIMITER]
    limiter.configure(await _parse(request, RateLimit))
    return web.json_response(limiter.limit.model_dump())


def _capacity_body(request: web.Request) -> dict[str, Any]:
    described = request.app[DOMAIN].describe()
    tasks = {
        f"{project['region']}/{project['project_id']}": project["backup_tasks"]
        for project in described.get("projects", [])
    }
    return {"backup_capacity": described.get("backup_capacity"), "backup_tasks": tasks}


async def get_capacity(request: web.Request) -> web.Response:
    return web.json_response(_capacity_body(request))


async def put_capacity(request: web.Request) -> web.Response:
    request.app[DOMAIN].set_backup_capacity((await _parse(request, Capacity)).backup_capacity)
    return web.json_response(_capacity_body(request))


def admin_routes() -> list[web.RouteDef]:
    prefix = "/_emulator"
    return [
        web.get(f"{prefix}/health", health, allow_head=False),
        web.get(f"{prefix}/state", state, allow_head=False),
        web.get(f"{prefix}/ledger", ledger, allow_head=False),
        web.get(f"{prefix}/inventory", inventory, allow_head=False),
        web.get(f"{prefix}/faults", get_faults, allow_head=False),
        web.put(f"{prefix}/faults", put_faults),
        web.delete(f"{prefix}/faults", delete_faults),
        web.get(f"{prefix}/counters", get_counters, allow_head=False),
        web.post(f"{prefix}/counters", reset_counters),
        web.post(f"{prefix}/clock/advance", advance_clock),
        web.put(f"{prefix}/progression", put_progression),
        web.get(f"{prefix}/rate-limit", get_rate_limit, allow_head=False),
        web.put(f"{prefix}/rate-limit", put_rate_limit),
        web.get(f"{prefix}/capacity", get_capacity, allow_head=False),
        web.put(f"{prefix}/capacity", put_capacity),
    ]
