"""deploy/prometheus: promtool accepts the configuration and the rules, and its unit tests of the rules
(alerts.test.yml: each alert firing when it should, silent when it should not) pass; every alert carries
what an operator needs, and names only metrics the orchestrator exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from metric_names import METRICS, metric_of, named_series, series_names, summed_shared_gauges

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
SEVERITIES = {"page", "warning"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: `apt-get install prometheus` (.ci/run installs it)"
    return subprocess.run([binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_configuration_and_its_rule_files() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    done = promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_fail_when_an_alert_waits_longer(tmp_path: Path) -> None:
    """The unit tests do look at the rules: with one alert's ``for`` doubled, they fail."""
    text = (PROMETHEUS / "alerts.yml").read_text()
    assert "for: 5m" in text
    (tmp_path / "alerts.yml").write_text(text.replace("for: 5m", "for: 10m", 1))
    shutil.copy(PROMETHEUS / "alerts.test.yml", tmp_path)
    done = subprocess.run(
        [shutil.which("promtool") or "promtool", "test", "rules", "alerts.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "CbrOrchOutboxLagging" in done.stdout + done.stderr


def test_every_alert_is_tested_by_promtool() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == {rule["alert"] for rule in alerts()}


def test_every_alert_says_how_long_how_bad_and_what() -> None:
    for rule in alerts():
        assert rule["expr"] and rule["for"], rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_alerts_name_only_exported_metrics_and_cover_the_obvious_pages() -> None:
    named = set().union(*(named_series(rule["expr"]) for rule in alerts()))
    assert named <= series_names(), named - series_names()
    assert {metric_of(series) for series in named} >= {
        "cbr_orch_outbox_lag_seconds",
        "cbr_orch_workflows_total",
        "cbr_orch_protected_resources",
        "cbr_orch_backup_age_seconds",
        "cbr_orch_dead_letters",
        "cbr_orch_cbr_throttled_total",
        "up",
    }


@pytest.mark.parametrize(
    ("expr", "series"),
    [
        ('sum by (kind) (rate(cbr_orch_dead_letters{state="x"}[15m]))', {"cbr_orch_dead_letters"}),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) or vector(0)", {"x_bucket"}),
        ('absent(up{job="w"} == 1) and on (instance) other', {"up", "other"}),
    ],
)
def test_the_series_named_in_an_expression_are_found(expr: str, series: set[str]) -> None:
    assert named_series(expr) == series


def test_no_alert_sums_a_gauge_every_worker_reports_alike() -> None:
    assert [rule["alert"] for rule in alerts() if summed_shared_gauges(rule["expr"])] == []
    assert summed_shared_gauges("sum by (project) (cbr_orch_protected_resources)") == {
        "cbr_orch_protected_resources"
    }
    assert summed_shared_gauges("sum(max by (project) (cbr_orch_protected_resources))") == set()


def test_every_metric_is_known_by_type() -> None:
    assert set(METRICS.values()) == {"counter", "gauge", "histogram"}
    assert all(name.startswith("cbr_orch_") for name in METRICS)
