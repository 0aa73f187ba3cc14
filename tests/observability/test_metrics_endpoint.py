"""The metrics endpoint: readiness against a database that cannot be reached, one endpoint per process
shared by the worker and the API server, a port taken, and the list of metrics the alert rules name."""

from __future__ import annotations

import functools
import importlib.util
import socket
from pathlib import Path

import aiohttp
import pytest
from cli_runner import run_cli
from engine_helpers import EndToEnd
from prometheus_client import REGISTRY
from scrape import free_port, scrape

from orchestrator.broker.readiness import readiness
from orchestrator.config import MetricsSettings, Settings
from orchestrator.observability import metrics
from orchestrator.observability.metrics_server import MetricsServerError, metrics_served

# The list the compose/k8s alert rules and the dashboard are written against: name, type, labels.
EXPECTED = {
    "cbr_orch_workflows": ("counter", ("kind", "outcome")),
    "cbr_orch_workflow_duration_seconds": ("histogram", ("kind",)),
    "cbr_orch_step_duration_seconds": ("histogram", ("kind", "step")),
    "cbr_orch_cbr_calls": ("counter", ("operation", "status")),
    "cbr_orch_cbr_call_duration_seconds": ("histogram", ("operation",)),
    "cbr_orch_cbr_throttled": ("counter", ("project",)),
    "cbr_orch_rate_limiter_wait_seconds": ("histogram", ()),
    "cbr_orch_leases_taken_over": ("counter", ()),
    "cbr_orch_outbox_lag_seconds": ("gauge", ()),
    "cbr_orch_intake_queue_depth": ("gauge", ()),
    "cbr_orch_admission_wait_seconds": ("histogram", ()),
    "cbr_orch_dead_letters": ("gauge", ()),
    "cbr_orch_backup_age_seconds": ("gauge", ("project",)),
    "cbr_orch_protected_resources": ("gauge", ("project", "state")),
    "cbr_orch_resource_backup_age_seconds": ("gauge", ("project", "resource_id")),
    "cbr_orch_posture_events": ("counter", ("project", "event")),
    "cbr_orch_posture_act_commands": ("counter", ("project", "result")),
    "cbr_orch_api_requests": ("counter", ("route", "status")),
    "cbr_orch_api_request_duration_seconds": ("histogram", ("route",)),
}


def test_the_deploy_rules_are_checked_against_these_metrics() -> None:
    """tests/deploy holds the alert rules to the metrics' names and types: the same list as here."""
    path = Path(__file__).parents[1] / "deploy" / "metric_names.py"
    spec = importlib.util.spec_from_file_location("deploy_metric_names", path)
    assert spec is not None and spec.loader is not None
    deploy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(deploy)
    exposed = {name + ("_total" if kind == "counter" else ""): kind for name, (kind, _) in EXPECTED.items()}
    assert exposed == deploy.METRICS


def test_every_metric_of_the_list_is_registered_with_exactly_its_labels() -> None:
    registered = {
        family.name: family.type for family in REGISTRY.collect() if family.name.startswith(metrics.PREFIX)
    }
    assert registered == {name: kind for name, (kind, _) in EXPECTED.items()}
    # a counter is exposed with the _total suffix the alert rules use
    assert {m._name for m in metrics.ALL} == set(EXPECTED)
    for metric in metrics.ALL:
        assert tuple(metric._labelnames) == EXPECTED[metric._name][1], metric._name


async def test_readyz_answers_503_naming_the_database_when_its_port_is_closed(settings: Settings) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        dead = f"postgresql://postgres@127.0.0.1:{closed.getsockname()[1]}/nothing"
        broken = settings.model_copy(update={"database_url": dead})
        served = MetricsSettings(port=free_port())
        async with (
            metrics_served(served, functools.partial(readiness, broken)),
            aiohttp.ClientSession() as session,
        ):
            async with session.get(f"http://127.0.0.1:{served.port}/readyz") as ready:
                status, body = ready.status, await ready.json()
            async with session.get(f"http://127.0.0.1:{served.port}/healthz") as health:
                assert health.status == 200  # alive, only not ready
    assert status == 503
    assert body["status"] == "unavailable" and body["broker"] == "ok"
    assert body["database"].startswith("unreachable (")
    assert "postgres@" not in str(body)


async def test_readyz_answers_200_when_the_database_and_the_broker_answer(settings: Settings) -> None:
    served = MetricsSettings(port=free_port())
    async with (
        metrics_served(served, functools.partial(readiness, settings)),
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{served.port}/readyz") as ready,
    ):
        answer = (ready.status, await ready.json())
    assert answer == (200, {"status": "ok", "database": "ok", "broker": "ok"})


async def test_a_worker_and_an_api_server_in_one_process_share_one_endpoint() -> None:
    served = MetricsSettings(port=free_port())

    async def worker_ready() -> dict[str, str]:
        return {"database": "ok"}

    async def api_ready() -> dict[str, str]:
        return {"api": "unreachable (OSError)"}

    async with metrics_served(served, worker_ready), aiohttp.ClientSession() as session:
        async with (
            metrics_served(served, api_ready),
            session.get(f"http://127.0.0.1:{served.port}/readyz") as both,
        ):
            assert both.status == 503
        async with session.get(f"http://127.0.0.1:{served.port}/readyz") as one:
            assert (one.status, await one.json()) == (200, {"status": "ok", "database": "ok"})
        assert ("cbr_orch_dead_letters", frozenset()) in await scrape(served.port)
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with its last user
        await scrape(served.port)


async def test_a_port_taken_is_an_error_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        served = MetricsSettings(port=taken.getsockname()[1])
        with pytest.raises(MetricsServerError, match="CBR_ORCH_METRICS__PORT"):
            async with metrics_served(served):
                pass


async def test_a_worker_whose_metrics_port_is_taken_exits_2_with_one_line(e2e: EndToEnd) -> None:
    settings = e2e.settings  # e2e: the queues the worker declares are deleted afterwards
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        metrics_on = settings.model_copy(update={"metrics": MetricsSettings(port=port)})
        env = metrics_on.as_environment() | {"CBR_ORCH_METRICS__PORT": str(port)}
        run = await run_cli(settings.database_url, "worker", env=env)
    assert run.code == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("not started: CBR_ORCH_METRICS__PORT: cannot listen on 127.0.0.1:"), run.stderr
    assert "Traceback" not in run.stderr
