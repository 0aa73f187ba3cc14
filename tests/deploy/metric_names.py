"""The metrics the orchestrator exports (prefix ``cbr_orch_``), by name and type, as agreed for issue 11's
alert rules and dashboard; and which of them a PromQL expression names."""

from __future__ import annotations

import re

METRICS = {
    "cbr_orch_workflows_total": "counter",
    "cbr_orch_workflow_duration_seconds": "histogram",
    "cbr_orch_step_duration_seconds": "histogram",
    "cbr_orch_cbr_calls_total": "counter",
    "cbr_orch_cbr_call_duration_seconds": "histogram",
    "cbr_orch_cbr_throttled_total": "counter",
    "cbr_orch_rate_limiter_wait_seconds": "histogram",
    "cbr_orch_leases_taken_over_total": "counter",
    "cbr_orch_outbox_lag_seconds": "gauge",
    "cbr_orch_intake_queue_depth": "gauge",
    "cbr_orch_admission_wait_seconds": "histogram",
    "cbr_orch_dead_letters": "gauge",
    "cbr_orch_backup_age_seconds": "gauge",
    "cbr_orch_protected_resources": "gauge",
    "cbr_orch_resource_backup_age_seconds": "gauge",
    "cbr_orch_posture_events_total": "counter",
    "cbr_orch_posture_act_commands_total": "counter",
    "cbr_orch_api_requests_total": "counter",
    "cbr_orch_api_request_duration_seconds": "histogram",
}
# Gauges every worker reports alike (read from PostgreSQL or RabbitMQ): summed over workers they multiply
SHARED_GAUGES = {
    "cbr_orch_outbox_lag_seconds",
    "cbr_orch_intake_queue_depth",
    "cbr_orch_dead_letters",
    "cbr_orch_backup_age_seconds",
    "cbr_orch_protected_resources",
    "cbr_orch_resource_backup_age_seconds",
}
# Prometheus' own series of each scrape target
SCRAPE_SERIES = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w$.])([A-Za-z_:][\w:]*)\b(?!\s*\()")


def series_names() -> set[str]:
    """Every series name the metrics expose (a histogram's ``_bucket``, ``_sum`` and ``_count``)."""
    names = set(SCRAPE_SERIES)
    for name, kind in METRICS.items():
        names |= {name + suffix for suffix in HISTOGRAM_SUFFIXES} if kind == "histogram" else {name}
    return names


def metric_of(series: str) -> str:
    """The metric a series name belongs to (a histogram's series → the histogram)."""
    for suffix in HISTOGRAM_SUFFIXES:
        if series.endswith(suffix) and METRICS.get(series.removesuffix(suffix)) == "histogram":
            return series.removesuffix(suffix)
    return series


def named_series(expr: str) -> set[str]:
    """The series names in a PromQL expression: what is left once strings, label matchers, groupings,
    ranges, functions and keywords are taken out."""
    bare = _STRING.sub('""', expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = _GROUPING.sub(" ", bare)
    return {name for name in _IDENTIFIER.findall(bare) if name not in _KEYWORDS}


def summed_shared_gauges(expr: str) -> set[str]:
    """The shared gauges that ``expr`` sums straight over the series of several workers."""
    summed = re.compile(r"\b(?:sum|avg|count)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*(\w+)")
    return {name for name in summed.findall(expr) if name in SHARED_GAUGES}
