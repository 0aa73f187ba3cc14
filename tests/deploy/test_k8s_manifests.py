"""deploy/k8s: each overlay renders with kustomize, every object passes its schema, and the rendered
manifests hold what running the orchestrator needs (k8s_checks); each check is shown to catch its fault."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from k8s_checks import (
    container_gaps,
    grace_problems,
    image_problems,
    mounted_secrets,
    network_problems,
    probe_gaps,
    referenced_secret_keys,
    scaling_problems,
    secret_reference_problems,
    secrets_created_by,
    secrets_with_values,
    security_gaps,
    selection_problems,
    unknown_setting_keys,
)
from k8s_render import CRD_SCHEMAS, K8S, OVERLAYS, Doc, named, rendered, schema_problems, source_documents

from orchestrator.config import Settings

DIRECTORIES = ("base", *OVERLAYS)
KINDS = {
    "ConfigMap": 1,
    "Deployment": 2,
    "Job": 1,
    "Service": 2,
    "PodDisruptionBudget": 2,
    "NetworkPolicy": 3,
    "ScaledObject": 1,
    "TriggerAuthentication": 1,
    "ServiceMonitor": 1,
    "PrometheusRule": 1,
}
CONFIG = "cbr-orchestrator-config"
NAMESPACES = {"base": None, "overlays/dev": "cbr-orchestrator-dev", "overlays/production": "cbr-orchestrator"}


def settings_of(docs: list[Doc], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a pod of these manifests reads: the ConfigMap's variables, nothing from this machine."""
    for name in [n for n in os.environ if n.startswith("CBR_ORCH_")]:
        monkeypatch.delenv(name)
    for name, value in named(docs, "ConfigMap", CONFIG)["data"].items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize("directory", DIRECTORIES)
def test_kustomize_renders_every_part(directory: str) -> None:
    docs = rendered(directory)
    counts = {kind: sum(d["kind"] == kind for d in docs) for kind in {d["kind"] for d in docs}}
    assert counts == KINDS
    assert {d["metadata"].get("namespace") for d in docs} == {NAMESPACES[directory]}


@pytest.mark.parametrize("directory", DIRECTORIES)
def test_every_object_passes_its_schema(directory: str) -> None:
    docs = rendered(directory)
    assert [p for doc in docs for p in schema_problems(doc)] == []
    assert {(d["apiVersion"], d["kind"]) for d in docs} >= set(CRD_SCHEMAS)


def _worker(docs: list[Doc]) -> Doc:
    return named(docs, "Deployment", "cbr-orchestrator-worker")


def _worker_container(docs: list[Doc]) -> Doc:
    container: Doc = _worker(docs)["spec"]["template"]["spec"]["containers"][0]
    return container


def _scaled(docs: list[Doc]) -> Doc:
    return named(docs, "ScaledObject", "cbr-orchestrator-worker")


def _monitor(docs: list[Doc]) -> Doc:
    return named(docs, "ServiceMonitor", "cbr-orchestrator")


def _rule(docs: list[Doc]) -> Doc:
    rule: Doc = named(docs, "PrometheusRule", "cbr-orchestrator")["spec"]["groups"][0]["rules"][0]
    return rule


Mutation = Callable[[list[Doc]], Any]
REFUSED_BY_SCHEMA: dict[str, tuple[str, Mutation]] = {
    "container field misspelled": ("Deployment", lambda d: _worker_container(d).update(resource={})),
    "replicas misspelled": ("Deployment", lambda d: _worker(d)["spec"].update(replica=2)),
    "probe port of a wrong type": (
        "Deployment",
        lambda d: _worker_container(d)["livenessProbe"]["httpGet"].update(port=["metrics"]),
    ),
    "Job field misspelled": (
        "Job",
        lambda d: named(d, "Job", "cbr-orchestrator-migrate")["spec"].update(backofLimit=4),
    ),
    "unknown apiVersion": (
        "Service",
        lambda d: named(d, "Service", "cbr-orchestrator-api").update(apiVersion="v9"),
    ),
    "ScaledObject field misspelled": ("ScaledObject", lambda d: _scaled(d)["spec"].update(scaleTargetref={})),
    "ScaledObject count not an integer": (
        "ScaledObject",
        lambda d: _scaled(d)["spec"].update(maxReplicaCount="10"),
    ),
    "trigger without a type": ("ScaledObject", lambda d: _scaled(d)["spec"]["triggers"][0].pop("type")),
    "rabbitmq metadata misspelled": (
        "ScaledObject",
        lambda d: _scaled(d)["spec"]["triggers"][0]["metadata"].update(queuename="cbr.commands"),
    ),
    "rabbitmq mode unknown": (
        "ScaledObject",
        lambda d: _scaled(d)["spec"]["triggers"][0]["metadata"].update(mode="Length"),
    ),
    "TriggerAuthentication ref without a key": (
        "TriggerAuthentication",
        lambda d: named(d, "TriggerAuthentication", "cbr-orchestrator-rabbitmq")["spec"]["secretTargetRef"][
            0
        ].pop("key"),
    ),
    "ServiceMonitor endpoint field misspelled": (
        "ServiceMonitor",
        lambda d: _monitor(d)["spec"]["endpoints"][0].update(prot="metrics"),
    ),
    "ServiceMonitor scheme unknown": (
        "ServiceMonitor",
        lambda d: _monitor(d)["spec"]["endpoints"][0].update(scheme="ftp"),
    ),
    "ServiceMonitor without a selector": ("ServiceMonitor", lambda d: _monitor(d)["spec"].pop("selector")),
    "ServiceMonitor interval not a duration": (
        "ServiceMonitor",
        lambda d: _monitor(d)["spec"]["endpoints"][0].update(interval="30 seconds"),
    ),
    "rule field misspelled": ("PrometheusRule", lambda d: _rule(d).update(expression="up")),
    "rule both alert and record": ("PrometheusRule", lambda d: _rule(d).update(record="cbr:lag")),
}


@pytest.mark.parametrize("fault", sorted(REFUSED_BY_SCHEMA))
def test_a_schema_refuses_a_broken_object(fault: str) -> None:
    kind, mutate = REFUSED_BY_SCHEMA[fault]
    docs = rendered("base")
    mutate(docs)
    problems = [p for doc in docs if doc["kind"] == kind for p in schema_problems(doc)]
    assert problems, f"{fault}: accepted"


def test_no_secret_with_values_anywhere() -> None:
    written = [doc for _, doc in source_documents()]
    assert secrets_with_values(written) == []
    assert [p for d in DIRECTORIES for p in secrets_with_values(rendered(d))] == []


Check = Callable[[list[Doc], Settings], list[str]]
CHECKS: dict[str, Check] = {
    "requests, limits and probes": lambda docs, _: container_gaps(docs),
    "security context": lambda docs, _: security_gaps(docs),
    "probe ports": probe_gaps,
    "termination grace": grace_problems,
    "scaled queue": lambda docs, settings: scaling_problems(docs, settings.names.commands_queue),
    "secret references": lambda docs, _: secret_reference_problems(docs),
    "ConfigMap keys": lambda docs, _: unknown_setting_keys(named(docs, "ConfigMap", CONFIG)["data"]),
    "network policies": lambda docs, _: network_problems(docs),
    "selectors and ports": lambda docs, _: selection_problems(docs),
    "pinned images": lambda docs, _: image_problems(docs),
    "secrets without values": lambda docs, _: secrets_with_values(docs),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("directory", DIRECTORIES)
def test_the_rendered_manifests_pass(directory: str, check: str, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = rendered(directory)
    assert CHECKS[check](docs, settings_of(docs, monkeypatch)) == []


def test_the_scaled_queue_is_the_one_the_workers_consume(monkeypatch: pytest.MonkeyPatch) -> None:
    for directory in DIRECTORIES:
        docs = rendered(directory)
        trigger = _scaled(docs)["spec"]["triggers"][0]
        assert trigger["metadata"]["queueName"] == settings_of(docs, monkeypatch).names.commands_queue
        assert trigger["metadata"]["mode"] == "QueueLength"


def test_workers_get_longer_than_their_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    for directory in DIRECTORIES:
        docs = rendered(directory)
        grace = _worker(docs)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > settings_of(docs, monkeypatch).worker.drain_seconds


def _add_secret(docs: list[Doc]) -> None:
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"k": "v"}})


def _worker_env(docs: list[Doc], name: str) -> Doc:
    env: Doc = next(e for e in _worker_container(docs)["env"] if e["name"] == name)
    return env


def _policy(docs: list[Doc], name: str) -> Doc:
    spec: Doc = named(docs, "NetworkPolicy", f"cbr-orchestrator-{name}")["spec"]
    return spec


FAULTS: dict[str, tuple[str, Mutation]] = {
    "limits dropped": (
        "requests, limits and probes",
        lambda d: _worker_container(d)["resources"].pop("limits"),
    ),
    "readiness probe dropped": (
        "requests, limits and probes",
        lambda d: named(d, "Deployment", "cbr-orchestrator-api")["spec"]["template"]["spec"]["containers"][
            0
        ].pop("readinessProbe"),
    ),
    "root filesystem writable": (
        "security context",
        lambda d: _worker_container(d)["securityContext"].update(readOnlyRootFilesystem=False),
    ),
    "capabilities kept": (
        "security context",
        lambda d: _worker_container(d)["securityContext"].pop("capabilities"),
    ),
    "worker probed on another port": (
        "probe ports",
        lambda d: _worker_container(d)["readinessProbe"]["httpGet"].update(port=8080),
    ),
    "metrics port not the configured one": (
        "probe ports",
        lambda d: _worker_container(d)["ports"][0].update(containerPort=9000),
    ),
    "grace below the drain": (
        "termination grace",
        lambda d: _worker(d)["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=20),
    ),
    "queue name misspelled": (
        "scaled queue",
        lambda d: _scaled(d)["spec"]["triggers"][0]["metadata"].update(queueName="cbr.command"),
    ),
    "prefix changed in the ConfigMap only": (
        "scaled queue",
        lambda d: named(d, "ConfigMap", CONFIG)["data"].update(CBR_ORCH_NAMES__PREFIX="prod"),
    ),
    "RabbitMQ address inline": (
        "scaled queue",
        lambda d: _scaled(d)["spec"]["triggers"][0]["metadata"].update(host="amqp://u:p@mq/"),
    ),
    "database URL in the ConfigMap": (
        "secret references",
        lambda d: named(d, "ConfigMap", CONFIG)["data"].update(CBR_ORCH_DATABASE_URL="postgresql://x"),
    ),
    "AMQP URL written as a value": (
        "secret references",
        lambda d: _worker_env(d, "CBR_ORCH_AMQP_URL").update(value="amqp://u:p@mq/"),
    ),
    "secrets file outside the mounted Secret": (
        "secret references",
        lambda d: _worker_env(d, "CBR_ORCH_SECRETS_FILE").update(value="/tmp/credentials.json"),
    ),
    "setting name misspelled": (
        "ConfigMap keys",
        lambda d: named(d, "ConfigMap", CONFIG)["data"].update(CBR_ORCH_WORKER__DRAIN_SECOND="20"),
    ),
    "worker open to every namespace": (
        "network policies",
        lambda d: _policy(d, "worker")["ingress"][0].pop("from"),
    ),
    "no egress to RabbitMQ": ("network policies", lambda d: _policy(d, "worker")["egress"].pop(2)),
    "PDB selects nothing": (
        "selectors and ports",
        lambda d: named(d, "PodDisruptionBudget", "cbr-orchestrator-api")["spec"]["selector"][
            "matchLabels"
        ].update({"app.kubernetes.io/component": "apis"}),
    ),
    "Service targets a missing port": (
        "selectors and ports",
        lambda d: named(d, "Service", "cbr-orchestrator-worker-metrics")["spec"]["ports"][0].update(
            targetPort="metric"
        ),
    ),
    "image on latest": (
        "pinned images",
        lambda d: _worker_container(d).update(image="cbr-orchestrator:latest"),
    ),
    "Secret with values": ("secrets without values", _add_secret),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_check_catches_its_fault(fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    check, mutate = FAULTS[fault]
    docs = rendered("base")
    mutate(docs)
    assert CHECKS[check](docs, settings_of(docs, monkeypatch)), f"{check} missed: {fault}"


def test_the_readme_creates_every_secret_the_manifests_read() -> None:
    readme = (K8S / "README.md").read_text("utf-8")
    created = secrets_created_by(readme)
    for directory in OVERLAYS:
        docs = rendered(directory)
        assert referenced_secret_keys(docs) <= created
        assert mounted_secrets(docs) <= {name for name, _ in created}
        assert f"kubectl apply -k deploy/k8s/{directory}" in readme


def test_the_readme_check_reads_commands() -> None:
    readme = (
        "kubectl -n ns create secret generic conn \\\n"
        "  --from-literal=database-url='x' \\\n"
        "  --from-file=a.json=./a\n"
    )
    assert secrets_created_by(readme) == {("conn", "database-url"), ("conn", "a.json")}
