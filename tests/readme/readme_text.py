"""The README (and docs/*.md) as the tests of tests/readme read them: fenced blocks, one section, the
``cbr-orchestrator`` command lines, the ports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
FIRST_RUN_HEADING = "## First real run"

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
# `cbr-orchestrator` as a command: at the start, after a space, a slash (.venv/bin/) or a backtick — not
# inside names such as urn:cbr-orchestrator or io.cbr-orchestrator.workflow
_COMMAND = re.compile(r"(?:^|(?<=[\s/`]))cbr-orchestrator\b([^\n`#|&;)]*)")
_REDIRECT = re.compile(r"^\d?>")
_URL_PORT = re.compile(r"(?://|@)[\w.\-]+:(\d+)")
_FLAG_PORT = re.compile(r"--port[ =]+(\d+)")
_DEFAULT_PORT = re.compile(r"PORT:-(\d+)")


@dataclass(frozen=True)
class Block:
    language: str
    text: str


def blocks(markdown: str, language: str | None = None) -> list[Block]:
    found = [Block(lang, body) for lang, body in _FENCE.findall(markdown)]
    return [b for b in found if language is None or b.language == language]


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same level or a higher one."""
    level = len(heading.split(" ", 1)[0])
    start = markdown.index(heading + "\n") + len(heading) + 1
    following = re.search(rf"^#{{1,{level}}} ", markdown[start:], re.MULTILINE)
    return markdown[start : start + following.start()] if following else markdown[start:]


@dataclass(frozen=True)
class Invocation:
    """One mention of ``cbr-orchestrator`` with what follows it: a subcommand (or none) and options."""

    text: str
    subcommand: str | None
    options: tuple[str, ...]


def invocations(markdown: str) -> list[Invocation]:
    """Every ``cbr-orchestrator …`` in code a reader sees: fenced shell blocks and inline code spans (not
    in HTML comments, which hold placeholders for what is not written yet)."""
    markdown = _COMMENT.sub("", markdown)
    code = [b.text for b in blocks(markdown) if b.language in ("sh", "bash", "")]
    code += _INLINE_CODE.findall(_FENCE.sub("", markdown))
    found = []
    for chunk in code:
        for match in _COMMAND.finditer(chunk):
            words = match.group(1).split()
            words = words[: next((n for n, w in enumerate(words) if _REDIRECT.match(w)), len(words))]
            subcommand = words[0] if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) else None
            options = tuple(_option(w) for w in words if w.lstrip("[").startswith("-"))
            found.append(Invocation(match.group(0).strip(), subcommand, options))
    return found


def _option(word: str) -> str:
    """``--port=1`` → ``--port``; ``[--json]`` (an optional part of a synopsis) → ``--json``."""
    return word.lstrip("[").split("=", 1)[0].rstrip("]")


def ports(markdown: str) -> list[int]:
    """Every port in a URL (``//host:N``, ``@host:N``), after ``--port`` or as a ``PORT:-N`` default."""
    return [int(p) for pattern in (_URL_PORT, _FLAG_PORT, _DEFAULT_PORT) for p in pattern.findall(markdown)]
