"""Choosing the log format and level, the ids a line carries, when tracing turns on, which traceparents are
kept, and that all of it runs without OpenTelemetry installed."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrator.observability import log_context, tracing
from orchestrator.observability.logs import LogSettingError, chosen_format, chosen_level, setup_logging

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restored_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_on_a_terminal_json_elsewhere_unless_the_variable_says() -> None:
    assert chosen_format({}, Terminal()) == "text"
    assert chosen_format({}, io.StringIO()) == "json"
    assert chosen_format({"CBR_ORCH_LOG_FORMAT": "JSON"}, Terminal()) == "json"
    assert chosen_format({"CBR_ORCH_LOG_FORMAT": "text"}, io.StringIO()) == "text"
    with pytest.raises(LogSettingError, match="CBR_ORCH_LOG_FORMAT='yaml'"):
        chosen_format({"CBR_ORCH_LOG_FORMAT": "yaml"}, io.StringIO())


def test_the_level_is_info_unless_the_variable_names_another() -> None:
    assert chosen_level({}) == logging.INFO
    assert chosen_level({"CBR_ORCH_LOG_LEVEL": "debug"}) == logging.DEBUG
    with pytest.raises(LogSettingError, match="CBR_ORCH_LOG_LEVEL='LOUD'"):
        chosen_level({"CBR_ORCH_LOG_LEVEL": "loud"})


@pytest.mark.usefixtures("restored_root")
def test_a_line_carries_the_ids_bound_in_its_task_and_nothing_after_they_are_unbound() -> None:
    out = io.StringIO()
    setup_logging(out, {"CBR_ORCH_LOG_FORMAT": "json"})
    log = logging.getLogger("orchestrator.test")
    with log_context.bound(workflow_id="w-1", command_id="c-1"):
        log_context.bind(cbr_request_id="r-1")
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    assert (inside["workflow_id"], inside["command_id"], inside["cbr_request_id"]) == ("w-1", "c-1", "r-1")
    assert not set(log_context.FIELDS) & set(outside)
    with pytest.raises(ValueError, match="not a log field: password"):
        log_context.bind(password="x")


@pytest.mark.usefixtures("restored_root")
def test_with_tracing_on_a_line_carries_the_current_trace_and_span_ids() -> None:
    out = io.StringIO()
    setup_logging(out, {"CBR_ORCH_LOG_FORMAT": "json"})
    exporter = InMemorySpanExporter()
    assert tracing.setup_tracing("test", exporter)
    try:
        with tracing.span("outer", parent=VALID):
            logging.getLogger("orchestrator.test").warning("traced")
    finally:
        tracing.shutdown_tracing()
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    [span] = exporter.get_finished_spans()
    assert span.context is not None
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_the_standard_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert tracing.requested(environ) is on


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (VALID, True),
        (VALID.encode(), True),
        (VALID.upper(), False),  # W3C: lowercase hex only
        ("ff" + VALID[2:], False),  # the forbidden version
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", False),
        (VALID + "-extra", False),
        ("secret-key", False),
        (None, False),
        (42, False),
    ],
)
def test_only_a_well_formed_traceparent_is_kept(value: object, kept: bool) -> None:
    assert tracing.valid_traceparent(value) == (VALID if kept else None)


def test_without_opentelemetry_installed_tracing_stays_off_and_everything_else_runs() -> None:
    script = textwrap.dedent(
        """
        import importlib.abc, io, logging, sys

        class NoOpenTelemetry(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoOpenTelemetry())
        import orchestrator.worker, orchestrator.api.app, orchestrator.cli.app
        from orchestrator.observability import tracing
        from orchestrator.observability.logs import setup_logging

        out = io.StringIO()
        setup_logging(out, {"CBR_ORCH_LOG_FORMAT": "json"})
        assert tracing.setup_tracing("test") is False
        with tracing.command_span("accept", TRACEPARENT) as kept, tracing.span("call") as span:
            span.set_attribute("a", 1)
            logging.getLogger("t").info("no ids")
        assert kept == TRACEPARENT, kept
        assert "opentelemetry" not in sys.modules
        print(out.getvalue())
        """
    ).replace("TRACEPARENT", repr(VALID))
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={"OTEL_TRACES_EXPORTER": "otlp", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    said = [json.loads(line) for line in run.stdout.splitlines() if line]
    assert "install cbr-orchestrator[tracing]" in said[0]["message"]
    assert said[1]["message"] == "no ids" and "trace_id" not in said[1]



def test_every_instrumentation_the_tracing_module_uses_is_in_the_tracing_extra() -> None:
    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {re.split(r"[<>=!~\[ ;]", requirement)[0] for requirement in extras["tracing"]}
    source = (root / "orchestrator" / "observability" / "otel.py").read_text()
    instrumentation = re.compile(r"^from opentelemetry\.instrumentation\.(\w+) import \w+Instrumentor$", re.M)
    used = set(instrumentation.findall(source))
    assert used == {"aio_pika", "aiohttp_client", "asyncpg"}
    wanted = {f"opentelemetry-instrumentation-{module.replace('_', '-')}" for module in used}
    assert wanted | {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"} <= named
    assert "cbr-orchestrator[tracing]" in extras["test"]


def test_the_console_exporter_and_the_service_name_come_from_the_environment() -> None:
    script = (
        "from orchestrator.observability import tracing\n"
        "assert tracing.setup_tracing('cbr-orchestrator-test')\n"
        "with tracing.span(\"a command's work\"):\n"
        "    pass\n"
        "tracing.shutdown_tracing()\n"  # flushes the batch to stdout
    )
    environment = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "backups-eu"}
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed["name"] == "a command's work"
    assert printed["resource"]["attributes"]["service.name"] == "backups-eu"


def test_otlp_over_another_protocol_is_named_as_not_shipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert tracing.setup_tracing("cbr-orchestrator-test")
    tracing.shutdown_tracing()  # no span: nothing is sent
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='grpc' is not shipped here" in caplog.text
