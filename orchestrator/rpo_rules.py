"""RPO rules matched on resource selectors, read from a TOML file (``CBR_ORCH_COVERAGE__RPO_FILE``).

A rule names one or more of: ``name`` (a glob on the resource's name, ``fnmatch`` rules, case-sensitive),
``type`` (the resource type as CBR lists it, e.g. ``OS::Nova::Server``) and ``vault_tags`` (tags the vault
the resource is bound to must carry: CBR's protectable listing shows the vault with its tags, not the
resource's own tags); a resource matches when it meets all the rule names. The first rule that matches, in
file order, gives the RPO. The file may also hold ``[vaults]`` and ``[projects]`` tables (id or name →
seconds), read like ``CBR_ORCH_COVERAGE__VAULTS`` and ``__PROJECTS``, which win over them.

    [[rule]]
    name = "db-*"
    vault_tags = { tier = "gold" }
    rpo_seconds = 3600

A file that cannot be read, is not TOML, or holds anything else is refused with the reason and its place
(``rule[2].rpo_seconds``): the process does not start.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

RPO_FILE_MAX_BYTES = 1024 * 1024
MAX_RULES = 1000
Seconds = Annotated[float, Field(gt=0)]
Key = Annotated[str, Field(min_length=1, max_length=255)]


class RpoRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=255, description="Glob on the name.")
    type: str | None = Field(default=None, min_length=1, max_length=64, description="e.g. OS::Nova::Server")
    vault_tags: dict[Key, Annotated[str, Field(max_length=255)]] | None = Field(default=None, max_length=10)
    rpo_seconds: Seconds

    @model_validator(mode="after")
    def _selects_something(self) -> RpoRule:
        if self.name is None and self.type is None and not self.vault_tags:
            raise ValueError("a rule names at least one of name, type, vault_tags")
        return self

    def matches(self, name: str | None, resource_type: str, vault_tags: Mapping[str, str] | None) -> bool:
        if self.name is not None and (name is None or not fnmatchcase(name, self.name)):
            return False
        if self.type is not None and self.type != resource_type:
            return False
        tags = vault_tags or {}
        return all(tags.get(key) == value for key, value in (self.vault_tags or {}).items())


class RpoFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = None  # where it was read from (None: built in code)
    rule: tuple[RpoRule, ...] = Field(default=(), max_length=MAX_RULES)
    vaults: dict[Key, Seconds] = Field(default_factory=dict, max_length=10_000)
    projects: dict[Key, Seconds] = Field(default_factory=dict, max_length=10_000)

    def rpo_of(
        self, name: str | None, resource_type: str, vault_tags: Mapping[str, str] | None
    ) -> float | None:
        for rule in self.rule:
            if rule.matches(name, resource_type, vault_tags):
                return rule.rpo_seconds
        return None


def read_rpo_file(value: Any) -> Any:
    """A path (as the environment gives it) → the rules it holds; anything else is left to pydantic."""
    if not isinstance(value, str | Path):
        return value
    path = Path(value)
    raw = _toml_of(path)
    try:
        return RpoFile.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise ValueError(f"{path}: {_first_problem(exc)}") from None


def _toml_of(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            text = file.read(RPO_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(text) > RPO_FILE_MAX_BYTES:
        raise ValueError(f"{path}: larger than {RPO_FILE_MAX_BYTES} bytes")
    try:
        return tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not TOML ({exc})") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where or 'file'}: {message}{more}"


# a settings field: given a path, holds the rules read from it; dumped back as the path
RpoFileField = Annotated[
    RpoFile,
    BeforeValidator(read_rpo_file),
    PlainSerializer(lambda f: None if f.path is None else str(f.path), return_type=str | None),
]
