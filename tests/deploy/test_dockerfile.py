"""The image's recipe, checked without a Docker daemon: hadolint finds nothing, the base is pinned, both
targets run as a numeric non-root user with a healthcheck, and the orchestrator's healthcheck command,
run here against a real HTTP server, passes exactly when ``/healthz`` answers 200."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from dockerfile_parse import DockerfileParser

from cbr_emulator.config import EmulatorConfig
from cbr_emulator.server import start_emulator

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
PINNED_BASE = r"python:3\.11\.\d+-slim-bookworm"
# what tests/packaging/test_wheel_migrate.py builds its wheel from: the image's wheel gets the same
WHEEL_SOURCES = {"pyproject.toml", "setup.py", "README.md", "orchestrator", "cbr_emulator", "sql"}


def stages() -> dict[str, list[dict[str, Any]]]:
    """The instructions of each stage, by stage name."""
    found: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for instruction in DockerfileParser(str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            current = found.setdefault(instruction["value"].split()[-1], [])
        current.append(instruction)
    return found


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def healthcheck_command(stage: list[dict[str, Any]]) -> list[str]:
    (healthcheck,) = values(stage, "HEALTHCHECK")
    command: list[str] = json.loads(healthcheck.split(" CMD ", 1)[1])
    return command


def hadolint(dockerfile: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [HADOLINT, "--no-color", "--format", "json", dockerfile], capture_output=True, text=True, timeout=60
    )
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def test_hadolint_finds_nothing() -> None:
    assert hadolint(DOCKERFILE) == []


def test_hadolint_does_find_what_it_should(tmp_path: Path) -> None:
    """The linter runs for real: an unpinned, cache-keeping, root image draws findings."""
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN pip install aiohttp\n")
    assert {f["code"] for f in hadolint(sloppy)} >= {"DL3007", "DL3013", "DL3042"}


def test_the_base_image_is_pinned_to_an_exact_version() -> None:
    parser = DockerfileParser(str(DOCKERFILE))
    external = {image for image in parser.parent_images if image not in stages()}
    assert len(external) == 1
    (base,) = external
    assert re.fullmatch(PINNED_BASE, base), base


def test_the_wheel_is_built_from_the_sources_the_packaging_test_builds_from() -> None:
    copied = {part for value in values(stages()["build"], "COPY") for part in value.split()[:-1]}
    assert copied == WHEEL_SOURCES


def test_each_target_installs_from_its_lock_with_hashes_and_no_cache() -> None:
    for target, lock in (("orchestrator", "requirements.lock"), ("emulator", "requirements-emulator.lock")):
        (run,) = values(stages()[target], "RUN")
        assert f"source={lock}," in run
        assert "--require-hashes" in run and "--no-index /wheels/" in run and "pip check" in run
        assert run.count("pip install") == run.count("--no-cache-dir")
    assert not any("apt-get" in v for stage in stages().values() for v in values(stage, "RUN"))


def test_the_targets_run_as_a_numeric_non_root_user_with_a_healthcheck() -> None:
    for target in ("orchestrator", "emulator"):
        (user,) = values(stages()[target], "USER")
        uid, gid = (int(part) for part in user.split(":"))
        assert uid > 0 and gid > 0
        assert healthcheck_command(stages()[target])[0] == "python"


def test_the_default_target_runs_a_worker_of_the_orchestrator() -> None:
    last = list(stages())[-1]
    assert last == "orchestrator"
    orchestrator, emulator = stages()["orchestrator"], stages()["emulator"]
    assert values(orchestrator, "ENTRYPOINT") == ['["cbr-orchestrator"]']
    assert values(orchestrator, "CMD") == ['["worker"]']
    assert values(emulator, "ENTRYPOINT") == ['["cbr-emulator"]']
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"cbr-orchestrator", "cbr-emulator"} <= set(scripts)


class Healthz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def probe(command: list[str], port: int | None) -> int:
    env = {"PATH": str(Path(sys.executable).parent)}
    if port is not None:
        env["CBR_ORCH_METRICS__PORT"] = str(port)
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_the_orchestrator_healthcheck_passes_only_on_a_healthy_answer(
    healthz_server: ThreadingHTTPServer,
) -> None:
    command = healthcheck_command(stages()["orchestrator"])
    port = healthz_server.server_address[1]
    assert probe(command, port) == 0
    Healthz.status = 503
    try:
        assert probe(command, port) != 0
    finally:
        Healthz.status = 200
    healthz_server.shutdown()
    healthz_server.server_close()
    assert probe(command, port) != 0, "nothing listens any more"
    assert probe(command, 0) == 0, "port 0 turns the metrics server off: nothing to probe"


async def test_the_emulator_healthcheck_asks_a_route_the_emulator_serves() -> None:
    (url,) = [part for part in healthcheck_command(stages()["emulator"])[2].split("'") if "://" in part]
    path = url.split("8790", 1)[1]
    assert values(stages()["emulator"], "CMD") == ['["--host", "0.0.0.0", "--port", "8790"]']
    async with (
        await start_emulator(EmulatorConfig()) as running,
        aiohttp.ClientSession() as session,
        session.get(running.base_url + path) as response,
    ):
        assert response.status == 200
