"""Every metric of the orchestrator (prometheus-client, prefix ``cbr_orch_``), in the process's registry.

The alert rules and the dashboard name these metrics and labels; ``docs/metrics.md`` says what each
means and which alert reads it. Label values stay bounded: a workflow kind and outcome, a CBR operation of
the operation table, an HTTP status code (or ``timeout`` / ``error``), a workflow phase, a configured
project, an API route template. A resource id appears only in the per-resource gauge, which is off unless
asked for.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "cbr_orch_"

# a call or a wait: milliseconds to a minute
SHORT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# a workflow, a step, an admission: a second to a day
LONG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21_600.0, 86_400.0)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

WORKFLOWS = Counter("cbr_orch_workflows", "Workflows ended, by kind and outcome.", ["kind", "outcome"])
WORKFLOW_DURATION = Histogram(
    "cbr_orch_workflow_duration_seconds",
    "From a workflow's creation to its end.",
    ["kind"],
    buckets=LONG_BUCKETS,
)
STEP_DURATION = Histogram(
    "cbr_orch_step_duration_seconds",
    "One action a workflow's machine asked for (a CBR call, a lock, an admission), by the phase asking.",
    ["kind", "step"],
    buckets=STEP_BUCKETS,
)
CBR_CALLS = Counter(
    "cbr_orch_cbr_calls",
    "CBR HTTP calls by operation and answer (the HTTP status, or timeout / error when none came).",
    ["operation", "status"],
)
CBR_CALL_DURATION = Histogram(
    "cbr_orch_cbr_call_duration_seconds",
    "CBR HTTP calls, from sending to the whole answer read.",
    ["operation"],
    buckets=SHORT_BUCKETS,
)
CBR_THROTTLED = Counter(
    "cbr_orch_cbr_throttled", "CBR answers that throttled (429 / APIG.0308), by project.", ["project"]
)
RATE_LIMITER_WAIT = Histogram(
    "cbr_orch_rate_limiter_wait_seconds",
    "How long a CBR call waited for a permit of its project's rate limiter.",
    buckets=SHORT_BUCKETS,
)
LEASES_TAKEN_OVER = Counter(
    "cbr_orch_leases_taken_over",
    "Workflows claimed after their previous run ended without a word (its lease expired).",
)
OUTBOX_LAG = Gauge("cbr_orch_outbox_lag_seconds", "Age of the oldest event not yet published (0 when none).")
INTAKE_QUEUE_DEPTH = Gauge(
    "cbr_orch_intake_queue_depth", "Commands waiting in the commands queue, as the broker counts them."
)
ADMISSION_WAIT = Histogram(
    "cbr_orch_admission_wait_seconds",
    "From a backup's creation to its admission (its resources' locks and room under its caps).",
    buckets=LONG_BUCKETS,
)
DEAD_LETTERS = Gauge("cbr_orch_dead_letters", "Messages waiting in the dead-letter queue.")
BACKUP_AGE = Gauge(
    "cbr_orch_backup_age_seconds",
    "Age of the oldest last good backup among the project's resources that have one.",
    ["project"],
)
PROTECTED_RESOURCES = Gauge(
    "cbr_orch_protected_resources",
    "Protectable resources by state: last good backup within the RPO (ok) or older (stale); from the"
    " coverage ledger once it has rows, also never backed up in their vault (never) and in no vault"
    " (unprotected).",
    ["project", "state"],
)
RESOURCE_BACKUP_AGE = Gauge(
    "cbr_orch_resource_backup_age_seconds",
    "Age of one resource's last good backup (only with CBR_ORCH_METRICS__PER_RESOURCE=true).",
    ["project", "resource_id"],
)
POSTURE_EVENTS = Counter(
    "cbr_orch_posture_events",
    "Changes of a resource's protection state told by an event (stale, recovered, unprotected), by project.",
    ["project", "event"],
)
POSTURE_ACT_COMMANDS = Counter(
    "cbr_orch_posture_act_commands",
    "Backup commands of stale → act, by project and result: submitted (a new workflow), duplicate (its"
    " episode's command was there already), refused (it could not be a command).",
    ["project", "result"],
)
API_REQUESTS = Counter(
    "cbr_orch_api_requests", "API requests by route template and HTTP status.", ["route", "status"]
)
API_REQUEST_DURATION = Histogram(
    "cbr_orch_api_request_duration_seconds",
    "API requests by route template, until the handler returned (a stream: until it ended).",
    ["route"],
    buckets=SHORT_BUCKETS,
)

ALL = (
    WORKFLOWS,
    WORKFLOW_DURATION,
    STEP_DURATION,
    CBR_CALLS,
    CBR_CALL_DURATION,
    CBR_THROTTLED,
    RATE_LIMITER_WAIT,
    LEASES_TAKEN_OVER,
    OUTBOX_LAG,
    INTAKE_QUEUE_DEPTH,
    ADMISSION_WAIT,
    DEAD_LETTERS,
    BACKUP_AGE,
    PROTECTED_RESOURCES,
    RESOURCE_BACKUP_AGE,
    POSTURE_EVENTS,
    POSTURE_ACT_COMMANDS,
    API_REQUESTS,
    API_REQUEST_DURATION,
)

CALL_TIMEOUT = "timeout"
CALL_ERROR = "error"


def cbr_call_status(http_status: int, timed_out: bool) -> str:
    """A CBR call's ``status`` label: its HTTP status, or why none came."""
    if http_status:
        return str(http_status)
    return CALL_TIMEOUT if timed_out else CALL_ERROR
