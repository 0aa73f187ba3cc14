"""Settings of an orchestrator process: one object, built from the environment, passed down.

Environment variables are prefixed ``CBR_ORCH_``; nested fields use ``__``
(``CBR_ORCH_WORKER__LEASE_SECONDS``).
Credentials per project and region come from ``CBR_ORCH_CREDENTIALS`` (JSON) or from the JSON file named
by ``CBR_ORCH_SECRETS_FILE`` (``{"credentials": [...]}``). Secrets are ``SecretStr``: they never show in
``repr``, logs or dumps, and nothing here writes them anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.rpo_rules import RpoFile, RpoFileField


class MissingCredentials(LookupError):
    def __init__(self, project_id: str, region: str) -> None:
        super().__init__(f"no credentials configured for project {project_id} in region {region}")
        self.project_id = project_id
        self.region = region


class ProjectCredentials(BaseModel):
    """AK/SK, or an IAM user (domain, user name, password), for one project in one region."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    project_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    region: str
    access_key: str | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None
    domain_name: str | None = None
    user_name: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ProjectCredentials:
        aksk = self.access_key is not None and self.secret_key is not None
        iam = self.user_name is not None and self.password is not None and self.domain_name is not None
        if aksk == iam:
            raise ValueError("give either access_key+secret_key or domain_name+user_name+password")
        return self

    def revealed(self) -> dict[str, Any]:
        """As JSON with the secrets in clear: to hand them to a process of ours, never to print."""
        raw = self.model_dump(mode="json", exclude_none=True)
        for name, value in self:
            if isinstance(value, SecretStr):
                raw[name] = value.get_secret_value()
        return raw

    @property
    def key(self) -> tuple[str, str]:
        return (self.project_id, self.region)


class Names(BaseModel):
    """RabbitMQ object names; tests give each run its own prefix."""

    model_config = ConfigDict(frozen=True)

    prefix: str = "cbr"

    @property
    def commands_queue(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.dead-letters"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"


class WorkerSettings(BaseModel):
    """How a worker runs workflows.

    Leases: a claimed workflow is leased for ``lease_seconds``, renewed every ``heartbeat_seconds``; a run
    stops acting once less than ``lease_margin_seconds`` of its lease is left, and a call that is not
    idempotent starts only with more than its timeout plus that margin left. On SIGTERM in-flight runs
    get ``drain_seconds`` to reach their next pause, then they are stopped and their leases handed back.

    Unknown outcomes: lookups must find nothing for ``settle_seconds`` (longer than a CBR call's timeout)
    before such a call counts as not executed; they start ``settle_base_seconds`` apart and back off.

    Budget per workflow (then it ends ``failed``): ``max_failures_per_request`` "retry later" answers to
    one kind of request since it last succeeded, ``max_calls`` CBR calls, ``max_steps`` steps,
    ``max_workflow_seconds`` of age, ``max_failed_runs`` runs in a row that failed in our own code, and
    ``max_crashed_runs`` runs in a row that ended without a word (the worker killed, the lease lost).
    """

    model_config = ConfigDict(frozen=True)

    concurrency: int = Field(default=32, ge=1, le=1024)
    prefetch: int = Field(default=200, ge=1, le=5000)
    lease_seconds: float = Field(default=60.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    lease_margin_seconds: float = Field(default=2.0, gt=0)
    drain_seconds: float = Field(default=20.0, ge=0)
    settle_seconds: float = Field(default=120.0, gt=0)
    settle_base_seconds: float = Field(default=2.0, gt=0)
    max_failures_per_request: int = Field(default=60, ge=1)
    max_calls: int = Field(default=50_000, ge=1)
    max_steps: int = Field(default=1_000_000, ge=1)
    max_workflow_seconds: float = Field(default=8 * 86_400.0, gt=0)
    max_failed_runs: int = Field(default=5, ge=1)
    max_crashed_runs: int = Field(default=20, ge=1)
    idle_poll_seconds: float = Field(default=1.0, gt=0)
    status_poll_seconds: float = Field(default=5.0, gt=0)
    # a checkpoint whose tasks the poller watches (it wakes the workflow when they end) is polled this
    # rarely: the poll is then only the safety net
    watched_poll_seconds: float = Field(default=60.0, gt=0)
    # status listings start this long before the oldest outstanding poll (cloud vs our clock; see poller)
    poll_clock_slack_seconds: float = Field(default=5.0, ge=0, le=3600)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    relay_poll_seconds: float = Field(default=2.0, gt=0)
    publish_timeout_seconds: float = Field(default=10.0, gt=0)  # an event not confirmed by then: again later
    delivery_limit: int = Field(default=5, ge=1)
    progress_every_seconds: float = Field(default=60.0, gt=0)
    # a command message larger than this is refused, except a fleet_backup up to the second cap
    max_command_bytes: int = Field(default=64 * 1024, ge=1024)
    max_fleet_command_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # publications of an event to its reply_to queue before the relay gives the reply up (parks it)
    reply_attempts: int = Field(default=5, ge=1, le=1000)

    @model_validator(mode="after")
    def _caps_ordered(self) -> WorkerSettings:
        if self.max_fleet_command_bytes < self.max_command_bytes:
            raise ValueError("max_fleet_command_bytes must not be below max_command_bytes")
        return self

    @model_validator(mode="after")
    def _heartbeats_fit_the_lease(self) -> WorkerSettings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("worker.heartbeat_seconds must be at most half of worker.lease_seconds")
        return self


class RateLimitSettings(BaseModel):
    """The CBR call limiter of each (region, project), shared by every worker through PostgreSQL.

    A new shared bucket starts at ``rate`` calls/s with ``burst`` permits; a 429 / ``APIG.0308`` multiplies
    the rate by ``decrease_factor`` (at most once per ``decrease_cooldown_seconds``, never below
    ``min_rate``) and blocks everyone for its ``Retry-After`` (``default_block_seconds`` without one);
    each ``quiet_seconds`` without throttling adds ``increase_step`` up to ``max_rate``. A process leases
    about ``lease_window_seconds`` worth of permits at a time (1 to ``max_lease``); while PostgreSQL is
    unreachable it runs alone at ``fallback_rate`` and asks again every ``db_retry_seconds``.
    """

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    rate: float = Field(default=200.0, gt=0)
    burst: int = Field(default=100, ge=1)
    min_rate: float = Field(default=0.5, gt=0)
    max_rate: float = Field(default=1000.0, gt=0)
    decrease_factor: float = Field(default=0.5, gt=0, lt=1)
    increase_step: float = Field(default=5.0, ge=0)
    quiet_seconds: float = Field(default=2.0, ge=0)
    decrease_cooldown_seconds: float = Field(default=1.0, ge=0)
    default_block_seconds: float = Field(default=1.0, ge=0)
    lease_window_seconds: float = Field(default=0.1, gt=0)
    max_lease: int = Field(default=50, ge=1)
    fallback_rate: float = Field(default=1.0, gt=0)
    db_retry_seconds: float = Field(default=5.0, gt=0)
    db_timeout_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RateLimitSettings:
        if self.min_rate > self.max_rate:
            raise ValueError("min_rate must not exceed max_rate")
        return self


class ApiSettings(BaseModel):
    """The HTTP API server (``cbr-orchestrator api``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    key_rate: float = Field(default=20.0, gt=0, description="Requests per second one API key may make.")
    key_burst: int = Field(default=40, ge=1)
    hook_rate: float = Field(
        default=10.0, gt=0, description="Verified deliveries per second one named trigger may take."
    )
    hook_burst: int = Field(default=20, ge=1)
    key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a process trusts a key it looked up (a revocation's delay)."
    )
    triggers_file: Path | None = Field(default=None, description="The named webhook triggers (TOML).")
    callback_hosts: list[str] = Field(
        default_factory=list, description="Hosts a callback URL may name; '*.example.com' names subdomains."
    )
    callback_private_networks: bool = Field(
        default=False,
        description="Let callback host names resolve to loopback, private or link-local addresses "
        "(refused by default; a literal IP on callback_hosts is always allowed).",
    )
    callback_secret: SecretStr | None = Field(
        default=None, description="Signs callbacks (Standard Webhooks, 'whsec_…'); none: callbacks refused."
    )
    callback_expire_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="A callback not delivered this long after its event is dropped.",
    )
    callback_timeout_seconds: float = Field(default=10.0, gt=0)
    callback_backoff_seconds: float = Field(
        default=2.0,
        gt=0,
        description="The first wait before a failed callback is tried again (then doubled).",
    )
    callback_backoff_max_seconds: float = Field(default=3600.0, gt=0)

    def allows_callback(self, host: str) -> bool:
        """``host`` is on ``callback_hosts``: named exactly, or under a ``*.suffix`` entry."""
        host = host.lower().rstrip(".")
        for allowed in self.callback_hosts:
            allowed = allowed.lower().rstrip(".")
            if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
                return True
        return False


class MetricsSettings(BaseModel):
    """The metrics endpoint of a process (``/metrics``, ``/healthz``, ``/readyz``) and what it reports.

    ``port`` 0 serves nothing. The backup-age gauges count a resource's last good backup as stale once it
    is older than ``rpo_seconds``; they, the outbox lag and the queue depths are read from PostgreSQL and
    RabbitMQ every ``refresh_seconds``, not on every scrape. ``per_resource`` adds one gauge per protected
    resource (a series each: only for fleets small enough to graph).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    rpo_seconds: float = Field(default=86_400.0, gt=0)
    per_resource: bool = False
    refresh_seconds: float = Field(default=15.0, gt=0)


class CoverageSettings(BaseModel):
    """The coverage ledger (``cbr-orchestrator coverage``, ``GET /v1/coverage``): the RPO each protected
    resource is held to, how its refresh reads CBR, how often the worker refreshes it, and whether a
    resource out of its RPO gets a backup command of its own (``act``).

    A resource's RPO is the first that names it, most specific first: a selector rule of ``rpo_file`` (name
    glob, type, its vault's tags), its vault (``vaults``, then the file's ``[vaults]``, by vault id or
    name), its project (``projects``, then the file's ``[projects]``), else ``default_rpo_seconds``. A
    refresh lists only the backups created since the last one, except once every ``full_pass_seconds``,
    when it lists them all (a deleted backup leaves the ledger then).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_rpo_seconds: float = Field(default=86_400.0, gt=0)
    projects: dict[str, float] = Field(default_factory=dict, description="Project id → RPO in seconds.")
    vaults: dict[str, float] = Field(default_factory=dict, description="Vault id or name → RPO in seconds.")
    rpo_file: RpoFileField | None = Field(
        default=None, description="A TOML file of RPO rules per selector (orchestrator/rpo_rules.py)."
    )
    protectable_types: tuple[str, ...] = ("server",)
    full_pass_seconds: float = Field(default=86_400.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=1000, description="Backups and vaults asked per list call.")
    refresh_seconds: float | None = Field(
        default=None, gt=0, description="The worker refreshes each project's ledger this often (None: never)."
    )
    act: bool = Field(default=False, description="A resource turned stale or never gets a backup command.")
    act_rate: float = Field(default=1.0, gt=0, le=100, description="Backup commands submitted per second.")
    act_max_per_run: int = Field(default=100, ge=1, le=10_000, description="Backup commands per refresh.")

    def rpo_for(
        self,
        project_id: str,
        vault_id: str | None,
        vault_name: str | None,
        *,
        name: str | None = None,
        resource_type: str = "",
        vault_tags: dict[str, str] | None = None,
    ) -> float:
        rules = self.rpo_file or RpoFile()
        selected = rules.rpo_of(name, resource_type, vault_tags)
        if selected is not None:
            return selected
        for vaults in (self.vaults, rules.vaults):
            for key in (vault_id, vault_name):
                if key is not None and key in vaults:
                    return vaults[key]
        for projects in (self.projects, rules.projects):
            if project_id in projects:
                return projects[project_id]
        return self.default_rpo_seconds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CBR_ORCH_", env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/cbr_orchestrator"
    database_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A database statement or connection attempt taking longer fails."
    )
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    startup_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long worker, api and migrate wait for PostgreSQL and RabbitMQ to start listening.",
    )
    names: Names = Field(default_factory=Names)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    credentials: list[ProjectCredentials] = Field(default_factory=list)
    secrets_file: Path | None = None
    cbr_endpoints: dict[str, str] = Field(
        default_factory=dict, description="Region → base URL overrides, e.g. for the emulator."
    )
    cbr_timeout_seconds: float = Field(default=30.0, gt=0)
    cbr_max_retry_after_seconds: float = Field(
        default=120.0, gt=0, description="Retry-After answers are capped at this many seconds."
    )

    @field_validator("credentials", mode="before")
    @classmethod
    def _credentials_as_in_the_file(cls, value: Any) -> Any:
        """``CBR_ORCH_CREDENTIALS`` takes the secrets file's form too: ``{"credentials": [...]}``."""
        if isinstance(value, dict) and set(value) == {"credentials"}:
            return value["credentials"]
        return value

    @model_validator(mode="after")
    def _calls_fit_the_lease(self) -> Settings:
        """A call that is not idempotent needs its timeout plus the margin of lease left to start, and its
        outcome, when unknown, needs lookups over a window longer than its timeout."""
        worker = self.worker
        if worker.lease_seconds <= self.cbr_timeout_seconds + worker.lease_margin_seconds:
            raise ValueError(
                "worker.lease_seconds must exceed cbr_timeout_seconds + worker.lease_margin_seconds"
            )
        if worker.settle_seconds <= self.cbr_timeout_seconds:
            raise ValueError("worker.settle_seconds must exceed cbr_timeout_seconds")
        return self

    @model_validator(mode="after")
    def _load_secrets_file(self) -> Settings:
        if self.secrets_file is not None:
            loaded = _read_secrets_file(self.secrets_file)
            object.__setattr__(self, "credentials", [*self.credentials, *loaded])
        return self

    def as_environment(self) -> dict[str, str]:
        """These settings as another process reads them (a worker the bench, the soak or a test starts):
        ``CBR_ORCH_*`` variables with the secrets in clear, the secrets file's credentials among them."""
        return {
            "CBR_ORCH_DATABASE_URL": self.database_url,
            "CBR_ORCH_DATABASE_TIMEOUT_SECONDS": str(self.database_timeout_seconds),
            "CBR_ORCH_AMQP_URL": self.amqp_url.get_secret_value(),
            "CBR_ORCH_NAMES": self.names.model_dump_json(),
            "CBR_ORCH_WORKER": self.worker.model_dump_json(),
            "CBR_ORCH_RATE_LIMIT": self.rate_limit.model_dump_json(),
            "CBR_ORCH_METRICS": self.metrics.model_dump_json(),
            "CBR_ORCH_COVERAGE": self.coverage.model_dump_json(),
            "CBR_ORCH_CREDENTIALS": json.dumps([cred.revealed() for cred in self.credentials]),
            "CBR_ORCH_CBR_ENDPOINTS": json.dumps(self.cbr_endpoints),
            "CBR_ORCH_CBR_TIMEOUT_SECONDS": str(self.cbr_timeout_seconds),
            "CBR_ORCH_CBR_MAX_RETRY_AFTER_SECONDS": str(self.cbr_max_retry_after_seconds),
        }

    def credentials_for(self, project_id: str, region: str) -> ProjectCredentials:
        for cred in self.credentials:
            if cred.key == (project_id, region):
                return cred
        raise MissingCredentials(project_id, region)

    def has_credentials(self, project_id: str, region: str) -> bool:
        return any(c.key == (project_id, region) for c in self.credentials)

    def cbr_endpoint(self, region: str) -> str:
        return self.cbr_endpoints.get(region, f"https://cbr.{region}.myhuaweicloud.com")


def _read_secrets_file(path: Path) -> list[ProjectCredentials]:
    try:
        raw: Any = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        # the message names the file and the error class only, never the content
        raise ValueError(f"cannot read secrets file {path}: {type(exc).__name__}") from None
    items = raw.get("credentials", []) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ValueError(f"secrets file {path}: 'credentials' must be a list")
    return [ProjectCredentials.model_validate(item) for item in items]


ENV_PREFIX = "CBR_ORCH_"
NESTED = ("worker", "rate_limit", "names", "metrics", "coverage")


def env_name(location: tuple[int | str, ...]) -> str:
    """The environment variable a settings field is read from (``worker.lease_seconds`` →
    ``CBR_ORCH_WORKER__LEASE_SECONDS``; anything inside a JSON value → that value's variable)."""
    parts = [str(p) for p in location]
    if not parts:
        return f"{ENV_PREFIX}*"
    if parts[0] in NESTED and len(parts) > 1:
        return f"{ENV_PREFIX}{parts[0].upper()}__{parts[1].upper()}"
    return f"{ENV_PREFIX}{parts[0].upper()}"


def explain_settings_error(exc: ValidationError) -> list[str]:
    """One line per mistake, naming the environment variable to fix (never echoing a value)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if not location:  # a rule across fields: its message names them
            lines.append(message)
            continue
        within = location[2:] if location[0] in NESTED else location[1:]
        inside = f" (at {'.'.join(str(p) for p in within)})" if within else ""
        lines.append(f"{env_name(location)}{inside}: {message}")
    return lines
