"""Rendering a week's report to files: the HTML page, the CSV of its mentions and, optionally, a PDF."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from config.model import Config
from reports.html import weekly_report_html
from reports.mentions_csv import write_mentions_csv
from reports.pdf import find_chromium, print_pdf
from reports.week_mentions import WeekMentions
from reports.week_summary import SummaryPoint, summary_lines, week_summary
from reports.weekly import collect_weekly_report
from reports.weeks import report_week


@dataclass(frozen=True)
class ReportFiles:
    """The files of one week's report.

    Attributes:
        week: the ISO week, e.g. "2026-W45".
        html: `overheard-<week>.html`, self-contained.
        csv: `overheard-<week>-mentions.csv`, the week's mentions.
        pdf: `overheard-<week>.pdf`, or None when not asked for.
        mentions: mention rows in the CSV.
        summary: the report's summary as plain-text lines: the week, then the sentences of its summary
            section (`reports.week_summary`), for a log or a plain-text email.
        points: the summary's sentences with their topics (the email's HTML body lists them).
    """

    week: str
    html: Path
    csv: Path
    pdf: Path | None
    mentions: int
    summary: tuple[str, ...]
    points: tuple[SummaryPoint, ...] = ()


def render_weekly_report(
    connection: duckdb.DuckDBPyConnection, config: Config, week: str, out_dir: Path, *, pdf: bool = False
) -> ReportFiles:
    """Render one ISO week's mention report into `out_dir` (created if missing; same-named files replaced).

    Each file is written beside its final name and then moved into place, so a failed run leaves the
    previous files whole.

    Args:
        connection: the warehouse (read-only is fine).
        config: the configuration: time zone, brands, competitors, sources, playbook.
        week: the ISO week, e.g. "2026-W45", in `config.timezone`.
        out_dir: the folder to write into.
        pdf: also print a PDF with headless Chromium.

    Returns:
        The paths written, the CSV's row count and a short summary.

    Raises:
        ValueError: `week` is not an ISO week.
        reports.exceptions.ChromiumNotFound: `pdf` is asked for and Chromium is not installed
            (checked before anything is written).
        reports.exceptions.PdfPrintError: Chromium did not print the PDF.
    """
    the_week = report_week(week, config.timezone)
    if pdf:
        find_chromium()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(the_week.label)
    html_path, csv_path, pdf_path = out_dir / f"{stem}.html", out_dir / f"{stem}-mentions.csv", out_dir / f"{stem}.pdf"
    with WeekMentions(connection, the_week, [brand.name for brand in config.all_brands]) as staged:
        report = collect_weekly_report(staged, config)
        partial_csv = _partial(csv_path)
        mentions = write_mentions_csv(staged, partial_csv)
    partial_html = _partial(html_path)
    partial_html.write_text(
        weekly_report_html(report, csv_name=csv_path.name, sections=config.report.section_ids), encoding="utf-8"
    )
    os.replace(partial_csv, csv_path)
    os.replace(partial_html, html_path)
    if pdf:
        partial_pdf = _partial(pdf_path)
        print_pdf(html_path, partial_pdf)
        os.replace(partial_pdf, pdf_path)
    return ReportFiles(
        week=the_week.label, html=html_path, csv=csv_path, pdf=pdf_path if pdf else None, mentions=mentions,
        summary=summary_lines(report),
        points=week_summary(report),
    )


def report_stem(week_label: str) -> str:
    """The name the files of a week's report start with, e.g. "overheard-2026-W45"."""
    return f"overheard-{week_label}"


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")
