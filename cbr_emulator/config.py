"""Settings of an emulator instance: its tenants, its inventory and how fast its tasks progress."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cbr_emulator.rate_limit import RateLimit

DEFAULT_REGION = "eu-west-101"
DEFAULT_ACCESS_KEY = "EMULATORACCESSKEY000"
DEFAULT_SECRET_KEY = "emulator-secret-key-for-local-use-only"
DEFAULT_PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class Tenant(BaseModel):
    """One project in one region, reachable with one AK/SK pair and one IAM user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_key: str
    secret_key: str = Field(repr=False)
    project_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    region: str
    project_name: str | None = None
    domain_name: str = "emulator-domain"
    user_name: str = "emulator-user"
    password: str = Field(default="emulator-password", repr=False)

    @property
    def name(self) -> str:
        return self.project_name or self.region


DEFAULT_TENANT = Tenant(
    access_key=DEFAULT_ACCESS_KEY,
    secret_key=DEFAULT_SECRET_KEY,
    project_id=DEFAULT_PROJECT_ID,
    region=DEFAULT_REGION,
)


class Progression(BaseModel):
    """How long asynchronous work takes on the emulator's clock.

    A task's duration is ``base_seconds + size_gb / gb_per_second``; ``instant`` finishes every task
    at the next look. ``failure_probability`` makes that share of backup tasks end in ``error``.
    """

    model_config = ConfigDict(extra="forbid")

    instant: bool = False
    base_seconds: float = Field(default=2.0, ge=0)
    gb_per_second: float = Field(default=10.0, gt=0)
    waiting_seconds: float = Field(default=1.0, ge=0)
    failure_probability: float = Field(default=0.0, ge=0, le=1)
    # when the clock jumps over many occurrences of a policy, only the last ``catch_up_runs`` run
    catch_up_runs: int = Field(default=24, ge=1, le=1000)

    @classmethod
    def instantly(cls) -> Progression:
        return cls(instant=True, base_seconds=0, waiting_seconds=0)

    @classmethod
    def realistic(cls) -> Progression:
        return cls(base_seconds=60, gb_per_second=0.5, waiting_seconds=20)


class Inventory(BaseModel):
    """The fake servers and disks each project owns, generated deterministically from ``seed``."""

    model_config = ConfigDict(extra="forbid")

    servers: int = Field(default=20, ge=0, le=200_000)
    disks: int = Field(default=10, ge=0, le=200_000)
    data_disks_per_server: int = Field(default=1, ge=0, le=16)
    seed: int = 42


class EmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenants: list[Tenant] = Field(default_factory=lambda: [DEFAULT_TENANT])
    inventory: Inventory = Field(default_factory=Inventory)
    progression: Progression = Field(default_factory=Progression)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    clock_skew_minutes: float = 15.0
    manual_clock: bool = False
    token_ttl_seconds: float = Field(default=86_400.0, gt=0)  # IAM token validity, on the emulator clock
    # backup tasks that run at once in each project; further ones wait in ``waiting`` (None: no limit)
    backup_capacity: int | None = Field(default=None, ge=1)
    # requests per second per project and region (429 APIG.0308 beyond it); None: no limit
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    # a whole-server backup restored onto another server of its project (its disks mapped); CBR's error
    # catalogue refuses that with 2003, as the emulator does by default: on for restore drills to scratch
    cross_server_restore: bool = False
