"""The soak's result as a table (Jepsen-style: what was sent, what became of it, what broke) and as JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from orchestrator.bench.soak.accounting import FINAL, Effects, Figures
from orchestrator.bench.soak.chaos import ChaosLog
from orchestrator.bench.soak.run import SoakResult
from orchestrator.bench.soak.workers import PoolFigures


def _counts(counts: Mapping[str, int], order: tuple[str, ...] = ()) -> str:
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join(f"{k} {counts[k]}" for k in keys) or "none"


def _examples(examples: list[str]) -> str:
    return f" — e.g. {'; '.join(examples)}" if examples else ""


def _sent(f: Figures) -> str:
    commands = f"{f.commands} commands ({_counts(f.by_kind)})"
    extras = f"{f.duplicates_sent} duplicates, {f.bad_sent} bad, {f.edge_sent} edge cases"
    return f"{f.messages_sent} messages: {commands}, {extras}"


def _edge(f: Figures) -> str:
    ended = _counts(f.edge_ended, FINAL)
    return f"taken in and ended: {ended}; refused: {_counts(f.edge_refused)}"


def _effects(e: Effects) -> str:
    kinds = f">1 checkpoint {e.checkpoints}, >1 restore task {e.restores}, >1 replication {e.replications}"
    return f"{e.duplicated_commands}: {kinds}; {e.extra} extra{_examples(e.examples)}"


def _dead_letters(f: Figures) -> str:
    valid = f"valid commands {f.valid_dead_lettered}{_examples(f.valid_dead_lettered_examples)}"
    odd = f"without a reason {f.without_reason}, unmatched {f.unmatched_dead_letters}"
    return f"{f.dead_lettered}: {valid}, {odd}"


def _workers(w: PoolFigures) -> str:
    terms = _counts({str(k): v for k, v in w.terminated_exit_codes.items()})
    alone = _counts({str(k): v for k, v in w.exited_alone.items()})
    signals = f"SIGKILL {w.killed}, SIGTERM {w.terminated} (exit codes {terms})"
    overstayed = f"SIGKILLed after the SIGTERM grace {w.overstayed_sigterm}"
    return f"started {w.started}, {signals}, {overstayed}, exited alone {alone}"


def _chaos(chaos: ChaosLog) -> tuple[str, str]:
    restarts = [f"{r.service} at {r.at_seconds:.0f} s, took {r.took_seconds:.0f} s" for r in chaos.restarts]
    plans = [f"{p['name']} ×{p['fired']}" for p in chaos.fault_plans]
    return "; ".join(restarts) or "none", "; ".join(plans) or "none"


def _time(result: SoakResult) -> str:
    settle = f"settle {result.settle_seconds:.0f} s{'' if result.settled else ' (did not settle)'}"
    return f"window {result.window_seconds:.0f} s, {settle}, wall {result.wall_seconds:.0f} s"


def soak_rows(result: SoakResult) -> list[tuple[str, str]]:
    f = result.figures
    restarts, plans = _chaos(result.chaos)
    commands = f.workflows - f.fleet_children
    return [
        ("sent", _sent(f)),
        ("re-sent (confirm lost while the broker restarted)", str(f.resends)),
        ("accepted", str(f.accepted)),
        ("refused (dead-lettered bad messages, by reason)", _counts(f.refused)),
        ("workflows", f"{f.workflows} ({commands} commands, {f.fleet_children} fleet children)"),
        ("ended, by outcome", _counts(f.ended, FINAL)),
        ("failed, by error code", _failed_why(f)),
        ("fleet children ended, by outcome", _counts(f.children_ended, FINAL)),
        ("edge cases (end, or be refused with a reason)", _edge(f)),
        ("final events (total / distinct)", f"{f.final_events_total} / {f.final_events_distinct}"),
        ("all events (total / distinct)", f"{f.events_total} / {f.events_distinct}"),
        ("lost", f"{f.lost} ({f.unended_workflows} workflows unended){_examples(f.lost_examples)}"),
        ("commands with more than one final event", str(f.double_ended)),
        ("duplicate CBR side effects (commands)", _effects(f.effects)),
        ("checkpoints without a known marker", str(f.effects.unattributed_checkpoints)),
        ("succeeded without a side effect", str(f.effects.succeeded_without_effect)),
        ("dead-lettered", _dead_letters(f)),
        ("bad messages not dead-lettered", f"{f.bad_not_refused}{_examples(f.bad_not_refused_examples)}"),
        ("id reuses taken in before their command (first wins)", str(f.conflicts_won_by_the_reuse)),
        ("events never marked published", str(f.unpublished_events)),
        ("workers", _workers(result.workers)),
        ("service restarts", restarts),
        ("fault plans (faults fired)", plans),
        ("CBR requests", _counts(result.cbr_requests)),
        ("time", _time(result)),
    ]


def soak_table(result: SoakResult) -> Table:
    o = result.options
    title = f"soak: {o.commands} commands, {o.workers} workers" + ("" if o.chaos else " (no chaos)")
    table = Table(title=title, show_header=False)
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    for name, value in soak_rows(result):
        table.add_row(name, escape(value))
    for command_id, trail in result.trails.items():
        table.add_row(f"steps of {escape(command_id)}", escape(trail))
    failures = result.figures.failures
    verdict = "[green]ok[/]" if not failures else "[red]FAILED[/]: " + escape("; ".join(failures))
    table.add_row("verdict", verdict)
    return table


def soak_json(result: SoakResult) -> dict[str, Any]:
    raw = dataclasses.asdict(result)
    raw["options"]["logs_dir"] = str(result.options.logs_dir) if result.options.logs_dir else None
    for key in ("worker", "rate_limit"):
        raw["options"][key] = getattr(result.options, key).model_dump()
    raw["failures"] = result.figures.failures
    raw["ok"] = result.ok
    return raw


def _failed_why(f: Figures) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(f.failed_why.items())) or "none"
