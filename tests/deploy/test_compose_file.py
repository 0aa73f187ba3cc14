"""deploy/compose.yaml: valid against the Compose specification's JSON schema (check-jsonschema's vendored
copy), and consistent with the rest of deploy/: the services and their order of start, no password
written in it, every image pinned, every file it mounts present, the users and vhost of the RabbitMQ
definitions, the ports Prometheus scrapes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
ORCHESTRATOR_SERVICES = ("migrate", "worker", "api")
# a release, never a moving tag: PostgreSQL's releases are MAJOR.MINOR, the others' MAJOR.MINOR.PATCH
EXACT_TAG = re.compile(r"^(postgres:\d+\.\d+|[\w./-]+:v?\d+\.\d+\.\d+)(-[\w.-]+)?$")
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?[^}]*\}")
METRICS_PORT = "9464"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def check_against_the_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    command = [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", path]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    done = check_against_the_compose_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_does_refuse_an_invalid_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("service_completed_successfully", "service_finished", 1))
    done = check_against_the_compose_schema(broken)
    assert done.returncode != 0 and "service_finished" in done.stdout + done.stderr


def test_the_stack_has_its_services() -> None:
    assert set(services()) == {
        "postgres",
        "rabbitmq-definitions",
        "rabbitmq",
        "migrate",
        "worker",
        "api",
        "emulator",
        "prometheus",
        "grafana",
    }
    assert services()["worker"]["deploy"]["replicas"] == 2
    assert services()["emulator"]["profiles"] == ["emulator"]
    assert [services()[name]["command"] for name in ORCHESTRATOR_SERVICES] == [
        ["migrate"],
        ["worker"],
        ["api"],
    ]


def test_workers_and_api_start_after_a_completed_migrate_on_healthy_services() -> None:
    for name in ("worker", "api"):
        depends_on = services()[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
        assert depends_on["postgres"] == depends_on["rabbitmq"] == {"condition": "service_healthy"}
    assert services()["migrate"]["restart"] == "no"
    rabbitmq = services()["rabbitmq"]["depends_on"]
    assert rabbitmq == {"rabbitmq-definitions": {"condition": "service_completed_successfully"}}


def built_targets_with_healthcheck() -> set[str]:
    parser = DockerfileParser(str(REPO / "Dockerfile"))
    targets, current = set(), ""
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            current = instruction["value"].split()[-1]
        elif instruction["instruction"] == "HEALTHCHECK":
            targets.add(current)
    return targets


def test_every_long_running_service_has_a_healthcheck() -> None:
    one_shot = {"migrate", "rabbitmq-definitions"}
    for name, service in services().items():
        if name in one_shot:
            continue
        own = service.get("healthcheck", {}).get("test")
        from_image = service.get("build", {}).get("target") in built_targets_with_healthcheck()
        assert own or from_image, name


def test_every_image_is_pinned_and_the_python_one_is_the_dockerfiles() -> None:
    for name, service in services().items():
        if "build" in service:
            continue
        assert EXACT_TAG.match(service["image"]), (name, service["image"])
    (base,) = {image for image in DockerfileParser(str(REPO / "Dockerfile")).parent_images if ":" in image}
    assert services()["rabbitmq-definitions"]["image"] == base


def test_no_password_is_written_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    assert "guest" not in text and "change-me" not in text
    for url in re.findall(r"\w+://[^\s\"']+", text):
        if "@" in url:
            password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
            assert REQUIRED_VARIABLE.fullmatch(password), url


def example_variables() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_password_variable_is_in_the_env_example_as_a_placeholder() -> None:
    required = set(REQUIRED_VARIABLE.findall(COMPOSE.read_text()))
    from_secrets = {s["environment"] for s in compose()["secrets"].values() if "environment" in s}
    assert required | from_secrets == set(example_variables())
    assert set(example_variables().values()) == {"change-me"}


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
    for secret in compose()["secrets"].values():
        if "file" in secret:
            example = (DEPLOY / secret["file"]).with_suffix(".example.json")
            assert example.exists() and json.loads(example.read_text())["credentials"], example


def amqp_user_and_vhost(service: str) -> tuple[str, str]:
    url = services()[service]["environment"]["CBR_ORCH_AMQP_URL"]
    match = re.fullmatch(r"amqp://(\w+):\$\{[^}]+\}@rabbitmq:5672/(\w+)", url)
    assert match, url
    return match[1], match[2]


def test_each_component_connects_as_its_own_rabbitmq_user_in_the_vhost_of_the_definitions() -> None:
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
    users = {user["name"] for user in definitions["users"]}
    (vhost,) = (v["name"] for v in definitions["vhosts"])
    assert amqp_user_and_vhost("worker") == ("worker", vhost)
    assert amqp_user_and_vhost("api") == ("api", vhost)
    secrets = set(services()["rabbitmq-definitions"]["secrets"])
    assert secrets == {f"rabbitmq_{user}_password" for user in users}


def test_the_database_url_names_the_database_postgres_creates() -> None:
    postgres = services()["postgres"]["environment"]
    for name in ORCHESTRATOR_SERVICES:
        url = services()[name]["environment"]["CBR_ORCH_DATABASE_URL"]
        user, database = url.split("://", 1)[1].split(":", 1)[0], url.rsplit("/", 1)[1]
        assert (user, database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])


def test_prometheus_scrapes_the_workers_and_the_api_on_their_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (workers,) = jobs["cbr-orchestrator-worker"]["dns_sd_configs"]
    assert workers["names"] == ["worker"] and str(workers["port"]) == METRICS_PORT
    assert jobs["cbr-orchestrator-api"]["static_configs"] == [{"targets": [f"api:{METRICS_PORT}"]}]
    for name in ("worker", "api"):
        assert services()[name]["environment"]["CBR_ORCH_METRICS__PORT"] == METRICS_PORT


def test_the_readmes_password_snippet_writes_every_variable_of_the_env_example(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", (DEPLOY / "README.md").read_text(), re.DOTALL)
    (snippet,) = [block for block in blocks if "token_hex" in block]
    done = subprocess.run(["bash", "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    written = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    assert set(written) == set(example_variables())
    assert all(re.fullmatch(r"[0-9a-f]{48}", value) for value in written.values())
    assert len(set(written.values())) == len(written)
