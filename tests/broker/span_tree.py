"""The spans an in-memory exporter captured, as a tree a person reads: one line per span, children indented
under their parent, with the span's kind, trace id, span id and parent span id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return _hex(span.context.span_id, 16)


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return _hex(span.context.trace_id, 32)


def parent_id(span: ReadableSpan) -> str | None:
    return _hex(span.parent.span_id, 16) if span.parent is not None else None


def render(spans: Sequence[ReadableSpan]) -> str:
    """Every span under its parent, in start order; a span whose parent was not captured (the sender's,
    outside this process) starts a root line naming that parent."""
    ordered = sorted(spans, key=lambda s: s.start_time or 0)
    known = {span_id(s) for s in ordered}
    children: dict[str | None, list[ReadableSpan]] = defaultdict(list)
    for span in ordered:
        parent = parent_id(span)
        children[parent if parent in known else None].append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        parent = parent_id(span)
        outside = " (not captured: the sender's)" if depth == 0 and parent else ""
        lines.append(
            f"{'  ' * depth}{span.name} [{span.kind.name.lower()}] "
            f"trace={trace_id(span)} span={span_id(span)} parent={parent or '-'}{outside}"
        )
        for child in children[span_id(span)]:
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return "\n".join(lines) + "\n"
