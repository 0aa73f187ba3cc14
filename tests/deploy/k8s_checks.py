"""What the rendered manifests must hold beyond their schemas; each check returns its problems ([] = fine).

Checks take the objects ``kubectl kustomize`` renders, so they see what a cluster would receive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from orchestrator.config import Settings

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
# After the drain the worker hands its leases back and closes its connections: room for that.
GRACE_MARGIN_SECONDS = 10
# Variables whose values are secrets (or hold one, like a URL with a password): never in a ConfigMap or
# a literal `value`, only from a Secret.
SECRET_VARIABLES = (
    "CBR_ORCH_DATABASE_URL",
    "CBR_ORCH_AMQP_URL",
    "CBR_ORCH_CREDENTIALS",
    "CBR_ORCH_API__CALLBACK_SECRET",
)
# The metrics endpoint's settings as the conventions name them, for as long as orchestrator/config.py
# has no `metrics` section yet (once it has one, the keys are checked against its fields instead).
METRICS_CONVENTION = ("HOST", "PORT", "RPO_SECONDS", "PER_RESOURCE")


def pod_specs(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def containers(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc, pod in pod_specs(docs):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            yield doc, container


def where(doc: Doc, container: Doc | None = None) -> str:
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    return f"{name} container {container['name']}" if container else name


def component(doc: Doc) -> str:
    return str(doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", ""))


def secrets_with_values(docs: list[Doc]) -> list[str]:
    """Secrets carrying data, and kustomizations that would generate one: secrets belong in the cluster."""
    found = [
        f"Secret/{d['metadata'].get('name')} has {key}"
        for d in docs
        if d.get("kind") == "Secret"
        for key in ("data", "stringData")
        if d.get(key)
    ]
    found += [
        f"a Kustomization generates secrets {d['secretGenerator']}" for d in docs if d.get("secretGenerator")
    ]
    return found


def container_gaps(docs: list[Doc]) -> list[str]:
    """Every container has CPU and memory requests and limits; long-running ones both probes."""
    gaps = []
    for doc, container in containers(docs):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(bound, {}))
            if missing:
                gaps.append(f"{where(doc, container)}: no {bound} for {', '.join(sorted(missing))}")
        if doc["kind"] in LONG_RUNNING:
            gaps += [
                f"{where(doc, container)}: no {probe}"
                for probe in ("livenessProbe", "readinessProbe")
                if probe not in container
            ]
    return gaps


def security_gaps(docs: list[Doc]) -> list[str]:
    """Non-root, read-only root, no capabilities, no privilege escalation, seccomp RuntimeDefault."""
    gaps = []
    for doc, pod in pod_specs(docs):
        pod_context = pod.get("securityContext", {})
        if pod_context.get("runAsNonRoot") is not True:
            gaps.append(f"{where(doc)}: pod not runAsNonRoot")
        if pod.get("automountServiceAccountToken") is not False:
            gaps.append(f"{where(doc)}: mounts a service account token it never uses")
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            gaps += [f"{where(doc, container)}: {gap}" for gap in _container_security_gaps(container)]
    return gaps


def _container_security_gaps(container: Doc) -> list[str]:
    context = container.get("securityContext", {})
    gaps = []
    if context.get("readOnlyRootFilesystem") is not True:
        gaps.append("root filesystem writable")
    if context.get("allowPrivilegeEscalation") is not False:
        gaps.append("privilege escalation allowed")
    if context.get("runAsNonRoot") is not True:
        gaps.append("not runAsNonRoot")
    if "ALL" not in context.get("capabilities", {}).get("drop", []):
        gaps.append("capabilities not dropped (ALL)")
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        gaps.append("seccomp profile not RuntimeDefault")
    return gaps


def probe_gaps(docs: list[Doc], settings: Settings) -> list[str]:
    """The worker's probes on its metrics port, the API server's on its own port; ports as configured."""
    ports = {"metrics": settings_port(settings, "metrics"), "http": settings.api.port}
    probe_port = {"worker": "metrics", "api": "http"}
    gaps = []
    for doc, container in containers(docs):
        declared = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        gaps += [
            f"{where(doc, container)}: port {name} is {number}, the settings say {ports[name]}"
            for name, number in declared.items()
            if name in ports and number != ports[name]
        ]
        expected_port = probe_port.get(component(doc))
        if expected_port is None:
            continue
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet", {})
            if (get.get("path"), get.get("port")) != (path, expected_port) or expected_port not in declared:
                gaps.append(f"{where(doc, container)}: {probe} is not GET {path} on port {expected_port}")
    return gaps


def settings_port(settings: Settings, section: str) -> int:
    """The port of a settings section; the metrics port's convention (9464) until config.py has one."""
    part = getattr(settings, section, None)
    return int(part.port) if part is not None else 9464


def grace_problems(docs: list[Doc], settings: Settings) -> list[str]:
    """A worker pod is given more than its drain before it is killed."""
    needed = settings.worker.drain_seconds + GRACE_MARGIN_SECONDS
    return [
        f"{where(doc)}: terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds', 30)} "
        f"< drain {settings.worker.drain_seconds:g}s + {GRACE_MARGIN_SECONDS}s"
        for doc, pod in pod_specs(docs)
        if component(doc) == "worker" and pod.get("terminationGracePeriodSeconds", 30) < needed
    ]


def scaling_problems(docs: list[Doc], commands_queue: str) -> list[str]:
    """Each ScaledObject scales the worker Deployment on the length of the queue the workers consume,
    with RabbitMQ's address from a TriggerAuthentication that reads it from a Secret."""
    problems = []
    workers = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment" and component(d) == "worker"}
    auths = {d["metadata"]["name"]: d for d in docs if d["kind"] == "TriggerAuthentication"}
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    if not scaled:
        problems.append("no ScaledObject")
    for doc in scaled:
        target = doc["spec"]["scaleTargetRef"]
        if target.get("kind", "Deployment") != "Deployment" or target["name"] not in workers:
            problems.append(f"{where(doc)}: scales {target}, not the worker Deployment")
        for trigger in doc["spec"]["triggers"]:
            problems += [f"{where(doc)}: {p}" for p in _trigger_problems(trigger, commands_queue, auths)]
    return problems


def _trigger_problems(trigger: Doc, commands_queue: str, auths: dict[str, Doc]) -> list[str]:
    metadata = trigger.get("metadata", {})
    problems = []
    if trigger.get("type") != "rabbitmq" or metadata.get("mode") != "QueueLength":
        problems.append(f"trigger {trigger.get('type')}/{metadata.get('mode')} is not rabbitmq QueueLength")
    if metadata.get("queueName") != commands_queue:
        problems.append(
            f"measures queue {metadata.get('queueName')!r}, the workers consume {commands_queue!r}"
        )
    if "host" in metadata:
        problems.append("RabbitMQ's address (with its password) written in the trigger")
    auth = auths.get(trigger.get("authenticationRef", {}).get("name", ""))
    refs = auth["spec"].get("secretTargetRef", []) if auth else []
    if not any(ref["parameter"] == "host" for ref in refs):
        problems.append("no TriggerAuthentication giving the host from a Secret")
    return problems


def secret_reference_problems(docs: list[Doc]) -> list[str]:
    """Secret settings come from Secrets: by secretKeyRef, or CBR_ORCH_SECRETS_FILE in a mounted Secret."""
    problems = [
        f"ConfigMap/{d['metadata']['name']} holds {key}"
        for d in docs
        if d["kind"] == "ConfigMap"
        for key in d.get("data", {})
        if key in SECRET_VARIABLES
    ]
    needs = {
        "worker": ("CBR_ORCH_DATABASE_URL", "CBR_ORCH_AMQP_URL"),
        "api": ("CBR_ORCH_DATABASE_URL", "CBR_ORCH_AMQP_URL"),
    }
    needs["migrate"] = ("CBR_ORCH_DATABASE_URL",)
    for doc, pod in pod_specs(docs):
        for container in pod["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            problems += [
                f"{where(doc, container)}: {name} not from a Secret"
                for name in needs.get(component(doc), ())
                if "secretKeyRef" not in env.get(name, {}).get("valueFrom", {})
            ]
            problems += [
                f"{where(doc, container)}: {name} has a literal value"
                for name in SECRET_VARIABLES
                if "value" in env.get(name, {})
            ]
            if component(doc) == "worker":
                problems += _secrets_file_problems(doc, pod, container, env)
    return problems


def _secrets_file_problems(doc: Doc, pod: Doc, container: Doc, env: dict[str, Doc]) -> list[str]:
    path = env.get("CBR_ORCH_SECRETS_FILE", {}).get("value", "")
    secret_volumes = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
    mounted = [
        m
        for m in container.get("volumeMounts", [])
        if m["name"] in secret_volumes and m.get("readOnly") is True
    ]
    if not any(path.startswith(m["mountPath"].rstrip("/") + "/") for m in mounted):
        return [
            f"{where(doc, container)}: CBR_ORCH_SECRETS_FILE {path!r} is not in a read-only mounted Secret"
        ]
    return []


def unknown_setting_keys(data: dict[str, str]) -> list[str]:
    """ConfigMap keys that name no setting of orchestrator/config.py (they would be silently ignored)."""
    return [key for key in data if not _names_a_setting(key)]


def _names_a_setting(key: str) -> bool:
    if not key.startswith("CBR_ORCH_"):
        return False
    top, _, nested = key.removeprefix("CBR_ORCH_").lower().partition("__")
    field = Settings.model_fields.get(top)
    if field is None:
        return top == "metrics" and nested.upper() in METRICS_CONVENTION
    if not nested:
        return True
    section = field.annotation
    return isinstance(section, type) and issubclass(section, BaseModel) and nested in section.model_fields


def network_problems(docs: list[Doc]) -> list[str]:
    """Workers: in only to metrics from the monitoring namespace; out to DNS, PostgreSQL, RabbitMQ, HTTPS.
    API: in on http (and metrics from monitoring); out to DNS, PostgreSQL, RabbitMQ. Every pod covered."""
    policies = {component(d): d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    problems = [f"{where(d)}: no NetworkPolicy" for d, _ in pod_specs(docs) if component(d) not in policies]
    wanted = {"worker": {53, 5432, 5672, 443}, "api": {53, 5432, 5672}, "migrate": {53, 5432}}
    for name, ports in wanted.items():
        spec = policies.get(name)
        if spec is None:
            continue
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            problems.append(f"{name}: policy does not restrict both directions")
        reached = {p.get("port") for rule in spec.get("egress", []) for p in rule.get("ports", [])}
        problems += [f"{name}: no egress to port {port}" for port in sorted(ports - reached)]
        problems += [f"{name}: {p}" for p in _ingress_problems(name, spec.get("ingress", []))]
    return problems


def _ingress_problems(name: str, rules: list[Doc]) -> list[str]:
    allowed = {"worker": set(), "api": {"http"}, "migrate": set()}[name]
    problems = []
    for rule in rules:
        ports = {p.get("port") for p in rule.get("ports", [])}
        if not ports:
            problems.append("ingress on every port")
        from_monitoring = rule.get("from") and all(_is_monitoring(peer) for peer in rule["from"])
        open_ports = ports if not from_monitoring else ports - {"metrics"}
        problems += [
            f"ingress on {port} from {rule.get('from', 'anywhere')}" for port in open_ports - allowed
        ]
    return problems


def _is_monitoring(peer: Doc) -> bool:
    labels = peer.get("namespaceSelector", {}).get("matchLabels", {})
    return labels == {"kubernetes.io/metadata.name": "monitoring"} and "podSelector" not in peer


def selection_problems(docs: list[Doc]) -> list[str]:
    """PDBs, Services and the ServiceMonitor select what they are meant to, on ports that exist."""
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    problems = [
        f"{where(d)}: no PodDisruptionBudget"
        for d in deployments
        if not any(
            _selects(p["spec"]["selector"]["matchLabels"], d)
            for p in docs
            if p["kind"] == "PodDisruptionBudget"
        )
    ]
    services = [d for d in docs if d["kind"] == "Service"]
    for service in services:
        chosen = [d for d in deployments if _selects(service["spec"]["selector"], d)]
        names = {
            p["name"]
            for d in chosen
            for c in d["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        if not chosen:
            problems.append(f"{where(service)}: selects no Deployment")
        problems += [
            f"{where(service)}: targetPort {p['targetPort']} is no container port"
            for p in service["spec"]["ports"]
            if p["targetPort"] not in names
        ]
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        scraped = [s for s in services if _matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"])]
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        problems += [
            f"{where(d)}: not scraped by {where(monitor)}"
            for d in deployments
            if not any(_selects(s["spec"]["selector"], d) and ports & _port_names(s) for s in scraped)
        ]
    return problems


def _selects(selector: dict[str, str], workload: Doc) -> bool:
    return _matches(selector, workload["spec"]["template"]["metadata"])


def _matches(selector: dict[str, str], metadata: Doc) -> bool:
    labels = metadata.get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _port_names(service: Doc) -> set[str]:
    return {p["name"] for p in service["spec"]["ports"]}


def image_problems(docs: list[Doc]) -> list[str]:
    """Every image pinned: a tag other than latest, or a digest."""
    problems = []
    for doc, container in containers(docs):
        image = container["image"]
        tag = re.search(r":([^:/@]+)$", image.split("@")[0])
        if "@sha256:" not in image and (tag is None or tag.group(1) == "latest"):
            problems.append(f"{where(doc, container)}: image {image} is not pinned")
    return problems


def referenced_secret_keys(docs: list[Doc]) -> set[tuple[str, str]]:
    """(Secret, key) pairs the manifests read and cannot do without (optional references left out)."""
    refs = set()
    for _, container in containers(docs):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                refs.add((ref["name"], ref["key"]))
    for doc in docs:
        if doc["kind"] == "TriggerAuthentication":
            refs |= {(r["name"], r["key"]) for r in doc["spec"].get("secretTargetRef", [])}
    return refs


def mounted_secrets(docs: list[Doc]) -> set[str]:
    return {
        v["secret"]["secretName"]
        for _, pod in pod_specs(docs)
        for v in pod.get("volumes", [])
        if "secret" in v
    }


def secrets_created_by(readme: str) -> set[tuple[str, str]]:
    """(Secret, key) pairs the README's ``kubectl create secret generic`` commands make."""
    made = set()
    for command in re.findall(r"kubectl[^\n]*?create secret generic (?:[^\n]*\\\n)*[^\n]*", readme):
        name = re.search(r"create secret generic ([a-z0-9-]+)", command)
        keys = re.findall(r"--from-(?:literal|file)=([A-Za-z0-9._-]+)=", command)
        if name:
            made |= {(name.group(1), key) for key in keys}
    return made
