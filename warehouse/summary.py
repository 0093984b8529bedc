"""The run summary printed after each run: sources, brands, failures, where the warehouse is."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from warehouse.connection import read_warehouse

# The count columns of a source's line, left to right: fetched = not kept + unmatched + matched, and
# matched = new + seen before + repeated (README, "The run summary").
SOURCE_COUNTS = ("fetched", "not kept", "unmatched", "matched", "new", "seen before", "repeated")
# The coverage and cost ledger's columns (`source_coverage`; README, "The run summary").
LEDGER_COLUMNS = ("source", "answered", "asked", "seen", "matched", "window", "quota used", "left", "cost", "left out")
# What to look at when a source's health is flagged, by health.
HEALTH_HINTS = {
    "broken": "its error is under 'Sources that failed or were skipped'",
    "silent": "check that it still works",
    "not matching": (
        "it still answers as usual but nothing names a brand: did the brand's terms change, did the feed change "
        "topic, or is the query too narrow?"
    ),
}


def latest_run_id(warehouse_path: str | Path) -> str | None:
    """The id of the run with the latest data interval, or None before the first load."""
    connection = read_warehouse(warehouse_path)
    if connection is None:
        return None
    with connection:
        row = connection.execute("SELECT run_id FROM runs ORDER BY window_end DESC, run_id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def run_summary(warehouse_path: str | Path, run_id: str | None = None, *, alert_channels: Sequence[str]) -> str:
    """A plain-text summary of one run (the latest when `run_id` is None).

    Args:
        warehouse_path: the warehouse.
        run_id: the run; None for the latest.
        alert_channels: the channels alerts are sent through (`config.playbook.alerts.channels`); with
            none, the summary says that alerts are only recorded instead of counting them as undelivered.

    Returns:
        Lines for a terminal or a task log.
    """
    connection = read_warehouse(warehouse_path)
    if connection is None:
        return f"No warehouse at {warehouse_path} yet: no run has loaded."
    with connection:
        run_id = run_id or latest_run_id(warehouse_path)
        if run_id is None:
            return f"The warehouse at {warehouse_path} has no runs yet."
        sources = connection.execute(
            """
            SELECT source, status, items_fetched, items_fetched - mentions_collected, dropped_unmatched,
                   mentions_matched, mentions_new, mentions_seen_before,
                   mentions_matched - mentions_new - mentions_seen_before, error, warnings, window_start, window_end
            FROM runs WHERE run_id = ? ORDER BY source
            """,
            [run_id],
        ).fetchall()
        if not sources:
            return f"No run {run_id!r} in {warehouse_path}."
        brands = connection.execute(
            """
            SELECT b.brand, any_value(b.role),
                   count(*) FILTER (WHERE m.last_run_id = $run_id AND NOT m.is_owned),
                   count(*) FILTER (WHERE m.first_run_id = $run_id AND NOT m.is_owned),
                   count(*) FILTER (WHERE NOT m.is_owned AND NOT m.is_deleted)
            FROM mention_brands b JOIN mentions m USING (mention_key)
            GROUP BY b.brand ORDER BY any_value(b.role), b.brand
            """,
            {"run_id": run_id},
        ).fetchall()
        [(total, earned)] = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT is_owned AND NOT is_deleted) FROM mentions"
        ).fetchall()
        ledger = connection.execute(
            """
            SELECT source, status, len(asked), items_seen, mentions_matched, window_share, quota_used, quota_unit,
                   quota_left, quota_period, estimated_cost, price_currency, left_out
            FROM source_coverage WHERE run_id = ? ORDER BY source
            """,
            [run_id],
        ).fetchall()
        unhealthy = connection.execute(
            f"""
            SELECT source, health, consecutive_failures, consecutive_zero_runs, consecutive_unmatched_runs,
                   last_matched_at
            FROM source_health
            WHERE health IN ({", ".join(f"'{health}'" for health in HEALTH_HINTS)})
              AND source IN (SELECT source FROM runs WHERE run_id = ?)
            ORDER BY source
            """,
            [run_id],
        ).fetchall()
        care = _care_lines(connection, run_id, alert_channels)

    # Each source's window: the run's data interval, or further back on its first run (`backfill_days`).
    starts, window_end = {row[11] for row in sources}, max(row[12] for row in sources)
    searched = "data interval" if len(starts) == 1 else "sources searched from"
    or_later = "" if len(starts) == 1 else " or later"
    lines = [f"Run {run_id} ({searched} {min(starts):%Y-%m-%d %H:%M}{or_later} to {window_end:%Y-%m-%d %H:%M %Z})", ""]
    lines += _table(("source", "status", *SOURCE_COUNTS), [row[:9] for row in sources])
    lines += ["", "Coverage and cost (what each source was asked, what it spent):"]
    lines += _table(LEDGER_COLUMNS, [_ledger_line(*row) for row in ledger])
    left_out = [f"  {row[0]}: {line}" for row in ledger for line in row[12] or ()]
    if left_out:
        lines += ["", "Left out (what we could not listen to):", *left_out]
    lines.append("")
    lines += _table(("brand", "role", "seen this run", "new", "earned total"), brands)
    failed = [f"  {row[0]}: {row[9]}" for row in sources if row[1] in ("failed", "skipped")]
    if failed:
        lines += ["", "Sources that failed or were skipped:", *failed]
    health = [_health_warning(*row) for row in unhealthy]
    if health:
        lines += ["", "Connector health:", *health]
    warned = [f"  {row[0]}: {warning}" for row in sources for warning in row[10]]
    if warned:
        lines += ["", "Warnings:", *warned]
    lines += care
    lines += ["", f"Warehouse: {Path(warehouse_path).resolve()} ({total} mentions, {earned} earned)"]
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """Lines of a plain-text table, each column as wide as its widest value and two spaces apart: the first
    two (names) left-aligned, so a long name never runs into the next column, the counts right-aligned."""
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows, strict=True)]

    def line(values: tuple[Any, ...]) -> str:
        return "  ".join(
            f"{value!s:<{width}}" if position < 2 else f"{value!s:>{width}}"
            for position, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return [line(header), *(line(row) for row in rows)]


def _care_lines(connection: Any, run_id: str, alert_channels: Sequence[str]) -> list[str]:
    """Triage lines: items this run opened per queue, escalations, the backlog (overdue at the run's end)
    and alerts not yet delivered."""
    if connection.execute("SELECT count(*) FROM triage_items").fetchone()[0] == 0:
        return []
    opened = connection.execute(
        """
        SELECT t.queue, count(*), count(*) FILTER (WHERE t.escalated)
        FROM triage_items AS t JOIN mentions AS m USING (mention_key) WHERE m.first_run_id = ?
        GROUP BY t.queue ORDER BY t.queue
        """,
        [run_id],
    ).fetchall()
    backlog, overdue = connection.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE due_at < (SELECT max(window_end) FROM runs WHERE run_id = ?))
        FROM triage_items WHERE status IN ('open', 'claimed')
        """,
        [run_id],
    ).fetchone()
    pending = connection.execute("SELECT count(*) FROM alerts WHERE delivered_at IS NULL").fetchone()[0]
    new_items = ", ".join(f"{queue} {count}" + (f" ({escalated} escalated)" if escalated else "")
                          for queue, count, escalated in opened) or "none"
    alerts = f"alerts not yet delivered {pending}" if alert_channels else (
        f"alerts: {pending} recorded, not sent: no channel is configured (playbook.alerts.email or .webhook)"
    )
    return ["", f"Triage: new items {new_items}; open backlog {backlog} ({overdue} overdue); {alerts}"]


def _ledger_line(
    source: str, status: str, asked: int | None, seen: int, matched: int, window_share: float, quota_used: int | None,
    quota_unit: str | None, quota_left: int | None, quota_period: str | None, cost: Decimal | None,
    currency: str | None, left_out: list[str] | None,
) -> tuple[str, ...]:
    """A source's line of the ledger table: blank where its platform meters or charges nothing."""
    return (
        source, status, "" if asked is None else str(asked), str(seen), str(matched), f"{window_share:.0%}",
        "" if quota_used is None else f"{quota_used} {quota_unit}",
        "" if quota_left is None else f"{quota_left} this {quota_period}",
        "" if cost is None else f"{cost.quantize(Decimal('0.01'))} {currency}",
        str(len(left_out or ())),
    )


def _health_warning(
    source: str, health: str, failures: int, zero_runs: int, unmatched_runs: int, last_matched_at: object
) -> str:
    """A flagged source's line under "Connector health", with what to look at (`HEALTH_HINTS`)."""
    last = f"; last matching mention {last_matched_at:%Y-%m-%d %H:%M}" if last_matched_at else ""
    hint = HEALTH_HINTS[health]
    if health == "broken":
        return f"  {source} used to produce mentions and has failed {failures} run(s) in a row{last}; {hint}"
    if health == "not matching":
        return f"  {source} has matched nothing for {unmatched_runs} runs in a row{last}; {hint}"
    return f"  {source} has returned nothing for {zero_runs} runs in a row{last}; {hint}"
