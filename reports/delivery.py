"""Sending a week's report by email through an Airflow SMTP connection (the SMTP provider's `SmtpHook`).

The connection (conn type `smtp`) holds host, port, login and password; its extra can set
`disable_ssl`, `disable_tls`, `timeout`, `retry_limit` and `from_email`, as for alert emails
(`care.alerts.EmailAlertNotifier`). The body is the report's summary (`reports.week_summary`) twice, as
alternatives: plain text, for text-mode clients and previews, and HTML with inline styles only (no `<style>`,
no script, nothing to fetch, one table 600 pixels wide), as mail clients render it; the HTML, the CSV and the
PDF are attached, except a file larger than `max_attachment_bytes` (mail servers commonly refuse messages
over 10-25 MB), which the body names instead with its path.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_edge.connections import ConnectionMissing, airflow_connection, connection_credentials
from core.secret_scrubbing import SecretScrubber
from reports.exceptions import ReportDeliveryError
from reports.render import ReportFiles

if TYPE_CHECKING:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

MAX_ATTACHMENT_BYTES = 10_000_000
_ERROR_LIMIT = 500


def email_report(
    files: ReportFiles,
    *,
    smtp_conn_id: str,
    to: Sequence[str],
    from_address: str | None,
    subject: str,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
) -> None:
    """Email a rendered report to a list of addresses.

    Args:
        files: the report's files, from `reports.render.render_weekly_report`.
        smtp_conn_id: the Airflow connection of the SMTP server.
        to: recipient addresses.
        from_address: the sender; None uses the connection's `from_email` extra.
        subject: the subject line.
        max_attachment_bytes: files larger than this are named in the body, not attached.

    Raises:
        ValueError: no recipients, or a subject that is not one line.
        ReportDeliveryError: the connection is missing, or the server refused, failed or timed out
            (the message carries no password).
    """
    if isinstance(to, str) or not to:
        raise ValueError("the report email needs a list of recipient addresses ('to')")
    if not subject.strip() or "\n" in subject or "\r" in subject:
        raise ValueError(f"the report email's subject must be one non-empty line, got {subject!r}")
    paths = [path for path in (files.html, files.csv, files.pdf) if path is not None]
    attached = [path for path in paths if path.stat().st_size <= max_attachment_bytes]
    left_out = [path for path in paths if path not in attached]
    scrubber = _scrubber(smtp_conn_id)
    try:
        with _report_smtp_hook(_email_text(files, attached, left_out), smtp_conn_id=smtp_conn_id) as smtp:
            smtp.send_email_smtp(
                to=list(to),
                from_email=from_address,
                subject=subject,
                html_content=_email_body(files, attached, left_out),
                files=[str(path) for path in attached],
                custom_headers={"X-Overheard-Report": files.week},
            )
    except (OSError, AirflowException) as error:
        message = scrubber.scrub(f"{type(error).__name__}: {error}")
        raise ReportDeliveryError(f"report email via connection {smtp_conn_id!r}: {message[:_ERROR_LIMIT]}") from None


def _report_smtp_hook(plain_text: str, smtp_conn_id: str) -> SmtpHook:
    """The SMTP provider's hook, its message's HTML body given `plain_text` as the alternative before it.

    The provider sends `multipart/mixed` of the HTML and the attachments; a mail client shows the last
    alternative it can: `multipart/mixed` of `multipart/alternative` (text/plain, text/html) and the attachments.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class ReportSmtpHook(SmtpHook):
        def _build_mime_message(self, *args: Any, **kwargs: Any) -> tuple[MIMEMultipart, list[str]]:
            message, recipients = super()._build_mime_message(*args, **kwargs)
            html_part, *attachments = list(message.get_payload())
            alternatives = MIMEMultipart("alternative")
            alternatives.attach(MIMEText(plain_text, "plain", "utf-8"))
            alternatives.attach(html_part)
            message.set_payload([alternatives, *attachments])
            return message, recipients

    return ReportSmtpHook(smtp_conn_id=smtp_conn_id)


def _email_text(files: ReportFiles, attached: Sequence[Path], left_out: Sequence[Path]) -> str:
    """The email's plain-text body: the HTML body's words, each point a wrapped paragraph led by a dash."""
    heading, *_ = files.summary or (f"Week {files.week}",)
    points = [point.text for point in files.points] or list(files.summary[1:])
    lines = [f"Overheard: mentions in week {files.week}", "", *textwrap.wrap(heading, 72), ""]
    for point in points:
        lines += [*textwrap.wrap(point, 72, initial_indent="- ", subsequent_indent="  "), ""]
    if attached:
        lines.append(f"Attached: {', '.join(path.name for path in attached)}.")
    lines += [f"Not attached, {path.stat().st_size / 1_000_000:.0f} MB: {path}" for path in left_out]
    return "\n".join(lines) + "\n"


def _email_body(files: ReportFiles, attached: Sequence[Path], left_out: Sequence[Path]) -> str:
    """The email's HTML body: the report's summary, then what is attached and what was too large to attach.

    Mail clients drop `<style>` blocks and scripts and ignore most layout CSS, so the body is one
    600-pixel table with inline styles only, system fonts, and no image or link to fetch.
    """
    heading, *_ = files.summary or (f"Week {files.week}",)
    points = files.points
    items = [
        f'<li style="{_ITEM_STYLE}{" font-weight: bold;" if point.change else ""}'
        f'{" color: #8a5a00; font-weight: bold;" if point.alert else ""}">{html.escape(point.text)}</li>'
        for point in points
    ] or [f'<li style="{_ITEM_STYLE}">{html.escape(line)}</li>' for line in files.summary[1:]]
    notes = []
    if attached:
        notes.append(f"Attached: {html.escape(', '.join(path.name for path in attached))}.")
    for path in left_out:
        size = path.stat().st_size / 1_000_000
        notes.append(f"Not attached, {size:.0f} MB: {html.escape(str(path))}")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>Overheard, week {html.escape(files.week)}</title></head>",
        '<body style="margin: 0; padding: 0; background: #ffffff;">',
        f'<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="{_TABLE_STYLE}">',
        f'<tr><td style="{_CELL_STYLE}">',
        f'<h1 style="{_HEADING_STYLE}">Overheard: mentions in week {html.escape(files.week)}</h1>',
        f'<p style="{_LEDE_STYLE}">{html.escape(heading)}</p>',
        f'<ul style="{_LIST_STYLE}">',
        *items,
        "</ul>",
        *(f'<p style="{_NOTE_STYLE}">{note}</p>' for note in notes),
        "</td></tr></table>",
        "</body></html>",
    ])


_FONT = "font-family: Arial, Helvetica, sans-serif; color: #1d1d1f;"
_TABLE_STYLE = "width: 600px; max-width: 100%; border-collapse: collapse;"
_CELL_STYLE = f"{_FONT} padding: 16px; font-size: 14px; line-height: 1.45;"
_HEADING_STYLE = f"{_FONT} font-size: 20px; margin: 0 0 6px 0;"
_LEDE_STYLE = f"{_FONT} color: #555555; margin: 0 0 12px 0;"
_LIST_STYLE = "margin: 0 0 12px 0; padding: 0 0 0 20px;"
_ITEM_STYLE = f"{_FONT} margin: 0 0 8px 0;"
_NOTE_STYLE = f"{_FONT} color: #555555; font-size: 12px; margin: 0 0 4px 0;"


def _scrubber(conn_id: str) -> SecretScrubber:
    """The scrubber of the SMTP connection's secrets.

    Raises:
        ReportDeliveryError: the connection is not defined (the message says how to define it).
    """
    try:
        connection = airflow_connection(conn_id, "report email")
    except ConnectionMissing as missing:
        raise ReportDeliveryError(str(missing)) from None
    return SecretScrubber.for_connections({conn_id: connection_credentials(connection)})
