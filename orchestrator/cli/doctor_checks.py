"""The checks ``cbr-orchestrator doctor`` runs: each says ok or not, what it found, and what to do.

Database reachable and migrated; broker reachable with the application's queues and exchanges declared
(passive declarations: nothing is created) and its dead-letter queue empty; each configured project's
credentials accepted by CBR (one ``list_vault`` with limit 1, not paced by the shared rate limiter);
our clock against each CBR endpoint's ``Date``; each project's shared rate-limit bucket. No check prints
a secret: URLs show with their password hidden, credentials by project and region only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.errors import CbrApiError
from orchestrator.cbr.server_clock import clock_skew_seconds
from orchestrator.cli.connection_problems import broker_problem, database_problem, hide_passwords
from orchestrator.cli.startup import SchemaNeed, schema_problem
from orchestrator.config import ProjectCredentials, RateLimitSettings, Settings
from orchestrator.store.rate_buckets import StoredBucket

PROBE_SECONDS = 10.0
CREDENTIALS_VARIABLES = "CBR_ORCH_CREDENTIALS or CBR_ORCH_SECRETS_FILE"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a deployment depends on them."""
    database = await database_check(settings)
    checks = [database, *await broker_checks(settings), *await cbr_checks(settings)]
    if database.ok:
        checks += await rate_limit_checks(settings)
    return checks


async def database_check(settings: Settings) -> Check:
    from orchestrator.store.migrations import read_schema_state

    url = settings.database_url
    try:
        state = await read_schema_state(url, PROBE_SECONDS)
    except Exception as exc:
        unreached = database_problem(exc, url)
        return Check("database", False, unreached.headline, f"{unreached.check}: {unreached.todo}")
    problem = schema_problem(state, url, SchemaNeed.CURRENT)
    if problem is not None:
        return Check("database", False, problem.headline, f"{problem.check}: {problem.todo}")
    return Check("database", True, f"{hide_passwords(url)}: reachable, every migration applied")


async def broker_checks(settings: Settings) -> list[Check]:
    from orchestrator.broker.probe import find_topology

    amqp = settings.amqp_url.get_secret_value()
    try:
        found = await find_topology(settings)
    except Exception as exc:
        problem = broker_problem(exc, amqp)
        return [Check("broker", False, problem.headline, f"{problem.check}: {problem.todo}")]
    where = hide_passwords(amqp)
    if found.missing:
        hint = "start a worker once (it declares them), or load the broker's definitions file"
        return [Check("broker", False, f"{where}: not declared: {', '.join(found.missing)}", hint)]
    consumers = found.commands.consumers if found.commands else 0
    checks = [
        Check("broker", True, f"{where}: topology declared; {consumers} consumers on the commands queue")
    ]
    waiting = found.dead_letters.messages if found.dead_letters else 0
    if waiting:
        hint = "see them with `cbr-orchestrator dead-letters list`; after a fix, `dead-letters replay`"
        checks.append(
            Check("dead letters", False, f"{waiting} messages in {settings.names.dead_letter_queue}", hint)
        )
    else:
        checks.append(Check("dead letters", True, f"{settings.names.dead_letter_queue} is empty"))
    return checks


async def cbr_checks(settings: Settings) -> list[Check]:
    if not settings.credentials:
        hint = f"set {CREDENTIALS_VARIABLES}: a worker refuses every command of a project it has none for"
        return [Check("credentials", False, "no project is configured", hint)]
    clients = CbrClients(settings)  # no rate limiter: one call per project
    try:
        checks = [await _credentials_check(clients, cred) for cred in settings.credentials]
    finally:
        await clients.close()
    regions = sorted({cred.region for cred in settings.credentials})
    async with aiohttp.ClientSession() as session:
        checks += [await _clock_check(session, settings, region) for region in regions]
    return checks


async def _credentials_check(clients: CbrClients, cred: ProjectCredentials) -> Check:
    name = f"credentials {cred.project_id} {cred.region}"
    try:
        page = await clients.get(cred.project_id, cred.region).list_vaults(
            limit=1, request_timeout=PROBE_SECONDS
        )
    except CbrApiError as exc:
        detail = f"CBR answered HTTP {exc.status} {exc.code}: {exc.message}"
        if exc.status in (401, 403):
            hint = f"correct this project's keys (or IAM user) in {CREDENTIALS_VARIABLES}"
        elif exc.status == 0:
            hint = f"check CBR_ORCH_CBR_ENDPOINTS for {cred.region} and the network to it"
        else:
            hint = "see CBR's error code; the call was one list_vault with limit 1"
        return Check(name, False, detail, hint)
    except Exception as exc:  # the error's type only: its text could quote what was sent
        hint = f"check CBR_ORCH_CBR_ENDPOINTS for {cred.region} and the network to it"
        return Check(name, False, f"no answer from CBR ({type(exc).__name__})", hint)
    return Check(name, True, f"accepted by CBR ({page.count} vaults)")


async def _clock_check(session: aiohttp.ClientSession, settings: Settings, region: str) -> Check:
    endpoint = settings.cbr_endpoint(region)
    name = f"clock {region}"
    try:
        skew = await clock_skew_seconds(session, endpoint, PROBE_SECONDS)
    except Exception as exc:
        return Check(name, False, f"{endpoint}: no Date to compare ({type(exc).__name__}: {exc})", "")
    allowed = max(settings.worker.poll_clock_slack_seconds, 1.0)  # Date has a resolution of one second
    detail = f"{endpoint}: our clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead of'} its Date"
    if abs(skew) > allowed:
        hint = "synchronise this host's clock (NTP); polls allow CBR_ORCH_WORKER__POLL_CLOCK_SLACK_SECONDS"
        return Check(name, False, detail, hint)
    return Check(name, True, detail)


async def rate_limit_checks(settings: Settings) -> list[Check]:
    from orchestrator.store.rate_buckets import BucketKey, RateBuckets

    policy = settings.rate_limit
    if not policy.enabled:
        return [Check("rate limit", True, "off (CBR_ORCH_RATE_LIMIT__ENABLED=false)")]
    buckets = await RateBuckets.open(settings.database_url, policy)
    try:
        return [
            _bucket_check(cred, policy, await buckets.read(BucketKey(cred.region, cred.project_id)))
            for cred in settings.credentials
        ]
    finally:
        await buckets.close()


def _bucket_check(cred: ProjectCredentials, policy: RateLimitSettings, bucket: StoredBucket | None) -> Check:
    name = f"rate limit {cred.project_id} {cred.region}"
    if bucket is None:
        return Check(name, True, f"no call yet; starts at {policy.rate:g} calls/s")
    state = (
        f"{bucket.rate:.1f} calls/s (start {policy.rate:g}, max {policy.max_rate:g}), "
        f"{bucket.throttled_count} throttled"
    )
    if bucket.blocked_until > datetime.now(UTC):
        hint = "CBR answers 429: fewer workers or CBR_ORCH_WORKER__CONCURRENCY, or a higher CBR quota"
        return Check(name, False, f"blocked by CBR until {bucket.blocked_until:%H:%M:%S}; {state}", hint)
    if bucket.rate <= policy.min_rate:
        return Check(
            name, False, f"at its floor: {state}", "CBR keeps throttling; the rate climbs back after"
        )
    return Check(name, True, state)
