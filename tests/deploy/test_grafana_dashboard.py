"""deploy/grafana: the dashboard parses, every panel queries the provisioned datasource with expressions
that name only exported metrics, and together the panels show every metric (the per-resource one aside,
which is off by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from metric_names import METRICS, metric_of, named_series, series_names, summed_shared_gauges

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "cbr-orchestrator.json"
OFF_BY_DEFAULT = {"cbr_orch_resource_backup_age_seconds"}


def panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_every_panel_queries_the_provisioned_datasource() -> None:
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert panels()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]


def test_every_expression_names_exported_metrics_only() -> None:
    for panel in panels():
        for target in panel["targets"]:
            named = named_series(target["expr"])
            assert named and named <= series_names(), (panel["title"], named - series_names())


def test_no_panel_sums_a_gauge_every_worker_reports_alike() -> None:
    summed = [p["title"] for p in panels() for t in p["targets"] if summed_shared_gauges(t["expr"])]
    assert summed == []


def test_the_panels_show_every_metric() -> None:
    shown = {metric_of(s) for panel in panels() for t in panel["targets"] for s in named_series(t["expr"])}
    assert shown >= set(METRICS) - OFF_BY_DEFAULT


def test_the_panels_have_unique_ids_and_fit_the_grid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_the_provider_loads_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "cbr-orchestrator.yml").read_text())
    (loaded,) = provider["providers"]
    compose = yaml.safe_load((GRAFANA.parent / "compose.yaml").read_text())
    assert f"./grafana/dashboards:{loaded['options']['path']}:ro" in compose["services"]["grafana"]["volumes"]
