"""Alerts for the care team: recorded once per event, then delivered by email and Slack-compatible webhook.

An alert is raised for a volume spike, a service-level breach (a triage item past its first-response due
time) or an escalation (a mention whose priority passed the escalation threshold). Its `alert_key` names
the event, so raising the same spike again on the next run finds the row already there and sends nothing.

Delivery goes through Airflow notifiers, one per channel, each reading its Airflow connection when it
sends. An alert stays pending until every configured channel has it; a channel that fails is tried again
on the next call while channels that succeeded are not sent to twice. Connection secrets (the SMTP
login and password, the webhook token, in every form `core.secret_scrubbing` knows) are scrubbed from
every error message before it is raised, logged or stored.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import duckdb
from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowException

from airflow_edge.connections import ConnectionMissing, airflow_connection, connection_credentials
from core.secret_scrubbing import SecretScrubber

log = logging.getLogger(__name__)

# What a person reads as the kind of an alert, by `Alert.kind`.
KIND_LABELS = {"spike": "Volume spike", "breach": "Service-level breach", "escalation": "Escalation"}

WEBHOOK_TIMEOUT_SECONDS = 10
# Slack Block Kit limits: header text 150 characters, section text 3,000.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000
_ERROR_LIMIT = 500

# slack_sdk logs the whole webhook URL, token included, at DEBUG: hand it a logger that never does.
_webhook_client_log = logging.getLogger(f"{__name__}.webhook_client")
_webhook_client_log.setLevel(logging.INFO)


@dataclass(frozen=True)
class Alert:
    """One event the care team is told about, once.

    Attributes:
        alert_key: names the event, and so deduplicates it: `spike:<brand>:<category or all>:<hour ISO>`,
            `breach:<mention_key>` or `escalation:<mention_key>`.
        kind: `spike`, `breach` or `escalation`.
        subject: one line: the email subject and the webhook card's title.
        body: plain text, what happened and what to do.
        link: where to act on it (the mention, the dashboard), shown last.
        fields: facts shown as `Name: value` lines under the body (brand, counts, due time).
    """

    alert_key: str
    kind: str
    subject: str
    body: str
    link: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KIND_LABELS:
            raise ValueError(f"alert kind {self.kind!r} is not one of {', '.join(KIND_LABELS)}")
        if not self.alert_key.startswith(f"{self.kind}:"):
            raise ValueError(f"alert key {self.alert_key!r} should start with {self.kind + ':'!r}")
        if not self.subject.strip() or "\n" in self.subject or "\r" in self.subject:
            raise ValueError(f"alert subject must be one non-empty line, got {self.subject!r}")

    @property
    def text(self) -> str:
        """The whole plain-text message: body, then the fields, then the link."""
        facts = "\n".join(f"{name}: {value}" for name, value in self.fields.items())
        return "\n\n".join(part for part in (self.body.strip(), facts, self.link and f"Link: {self.link}") if part)


@dataclass(frozen=True)
class DeliveryReport:
    """What one `deliver_pending` call did.

    Attributes:
        delivered: keys of the alerts that every channel now has (delivered_at was set).
        failed: alert key → the (secret-free) error of the channels that failed; these stay pending.
        sent: channel → messages it sent in this call.
    """

    delivered: tuple[str, ...]
    failed: Mapping[str, str]
    sent: Mapping[str, int]


class AlertDeliveryError(Exception):
    """A channel could not deliver an alert; the message carries no secret. Tried again on the next run."""


class AlertNotifier(Protocol):
    """A channel that sends one alert, raising `AlertDeliveryError` when it cannot."""

    def send(self, alert: Alert) -> None:
        """Deliver the alert."""


class EmailAlertNotifier(BaseNotifier):
    """Emails an alert through the SMTP server of an Airflow connection (the SMTP provider's `SmtpHook`).

    The connection (conn type `smtp`) holds host, port, login and password; its extra can set
    `disable_ssl`, `disable_tls`, `timeout`, `retry_limit` and `from_email`, as the SMTP provider documents.

    Args:
        smtp_conn_id: the Airflow connection of the SMTP server.
        to: recipient addresses.
        from_address: the sender; None uses the connection's `from_email` extra.
    """

    def __init__(self, *, smtp_conn_id: str, to: Sequence[str], from_address: str | None = None):
        super().__init__()
        if isinstance(to, str) or not to:
            raise ValueError("alert email needs a list of recipient addresses ('to')")
        self.smtp_conn_id = smtp_conn_id
        self.to = list(to)
        self.from_address = from_address

    def send(self, alert: Alert) -> None:
        """Email the alert: its subject, and its text as the body (HTML-escaped).

        Raises:
            AlertDeliveryError: the connection is missing, or the server refused, failed or timed out.
        """
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        scrubber = _scrubber("email", self.smtp_conn_id)
        try:
            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
                smtp.send_email_smtp(
                    to=self.to,
                    from_email=self.from_address,
                    subject=alert.subject,
                    html_content=_email_html(alert),
                    custom_headers={"X-Overheard-Alert": alert.alert_key},
                )
        except (OSError, AirflowException) as error:
            raise AlertDeliveryError(_describe("email", self.smtp_conn_id, error, scrubber)) from None

    def notify(self, context: Mapping[str, Any]) -> None:
        """Airflow's entry point: send the `Alert` in `context["alert"]` (e.g. `notifier({"alert": alert})`)."""
        self.send(context["alert"])


class WebhookAlertNotifier(BaseNotifier):
    """Posts an alert as a Slack message card to an incoming webhook (the Slack provider's `SlackWebhookHook`).

    The connection (conn type `slackwebhook`) holds the webhook's endpoint in host (default
    `https://hooks.slack.com/services`) and its token in password (`T000/B000/XXXX`), or the whole URL in
    password. Any Slack-compatible webhook (Mattermost, Rocket.Chat, ...) works; only HTTP 200 counts as sent.

    Args:
        webhook_conn_id: the Airflow connection of the webhook.
    """

    def __init__(self, *, webhook_conn_id: str):
        super().__init__()
        self.webhook_conn_id = webhook_conn_id

    def send(self, alert: Alert) -> None:
        """Post the alert's card: its subject as title, its text, its kind and key.

        Raises:
            AlertDeliveryError: the connection is missing, the webhook did not answer in time or answered non-200.
        """
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        scrubber = _scrubber("webhook", self.webhook_conn_id)
        hook = SlackWebhookHook(
            slack_webhook_conn_id=self.webhook_conn_id, timeout=WEBHOOK_TIMEOUT_SECONDS, logger=_webhook_client_log
        )
        try:
            hook.send(**webhook_message(alert))
        except (OSError, AirflowException) as error:
            raise AlertDeliveryError(_describe("webhook", self.webhook_conn_id, error, scrubber)) from None

    def notify(self, context: Mapping[str, Any]) -> None:
        """Airflow's entry point: send the `Alert` in `context["alert"]` (e.g. `notifier({"alert": alert})`)."""
        self.send(context["alert"])


def alert_notifiers(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, AlertNotifier]:
    """The notifiers of the configured channels, by channel name (`email`, `webhook`).

    Args:
        settings: plain values, each channel optional:
            `{"email": {"connection": "smtp_default", "to": [...], "from_address": ...},
            "webhook": {"connection": "alerts_webhook"}}`.

    Returns:
        Channel name → notifier, for `deliver_pending`; empty when no channel is configured.

    Raises:
        ValueError: an unknown channel or setting, or an email channel without recipients.
    """
    unknown = set(settings) - {"email", "webhook"}
    if unknown:
        raise ValueError(f"unknown alert channel(s) {', '.join(sorted(unknown))}; use email and/or webhook")
    notifiers: dict[str, AlertNotifier] = {}
    if "email" in settings:
        email = _known_settings("email", settings["email"], {"connection", "to", "from_address"})
        notifiers["email"] = EmailAlertNotifier(
            smtp_conn_id=email.get("connection", "smtp_default"),
            to=email.get("to") or [],
            from_address=email.get("from_address"),
        )
    if "webhook" in settings:
        webhook = _known_settings("webhook", settings["webhook"], {"connection"})
        notifiers["webhook"] = WebhookAlertNotifier(webhook_conn_id=webhook.get("connection", "alerts_webhook"))
    return notifiers


def configured_notifiers(settings: Any) -> dict[str, AlertNotifier]:
    """The notifiers of a playbook's `alerts` settings (`config.playbook.AlertSettings`); empty when none."""
    return alert_notifiers(settings.model_dump(exclude_none=True, exclude={"kinds"}))


def record_alerts(connection: duckdb.DuckDBPyConnection, alerts: Iterable[Alert], raised_at: datetime) -> list[Alert]:
    """Record alerts once each: an alert whose key is already in the table is left alone.

    The `body` column keeps `Alert.text` (body, fields and link): the text every channel sends.

    Args:
        connection: the warehouse, with the `alerts` table.
        alerts: the alerts this run found (repeats of earlier ones are expected).
        raised_at: when this run raised them (the end of the run's data interval).

    Returns:
        The alerts that were new, in the order given; only these will be delivered.
    """
    by_key: dict[str, Alert] = {}
    for alert in alerts:
        by_key.setdefault(alert.alert_key, alert)
    unique = list(by_key.values())
    if not unique:
        return []
    inserted = connection.execute(
        """
        INSERT INTO alerts (alert_key, kind, subject, body, raised_at)
        SELECT unnest($keys::VARCHAR[]), unnest($kinds::VARCHAR[]), unnest($subjects::VARCHAR[]),
               unnest($bodies::VARCHAR[]), $raised_at
        ON CONFLICT DO NOTHING
        RETURNING alert_key
        """,
        {
            "keys": [alert.alert_key for alert in unique],
            "kinds": [alert.kind for alert in unique],
            "subjects": [alert.subject for alert in unique],
            "bodies": [alert.text for alert in unique],
            "raised_at": raised_at,
        },
    ).fetchall()
    new_keys = {key for (key,) in inserted}
    return [alert for alert in unique if alert.alert_key in new_keys]


def deliver_pending(
    connection: duckdb.DuckDBPyConnection, notifiers: Mapping[str, AlertNotifier], delivered_at: datetime
) -> DeliveryReport:
    """Send every alert not yet delivered through every channel that does not have it yet.

    Each alert's row is updated as soon as its channels were tried: `channels` gains the channels that
    sent it, and `delivered_at` is set once all configured channels have it. A channel that fails leaves
    its error in `delivery_error` and the alert pending, so the next call tries that channel again (an SMTP
    outage loses nothing) without re-sending on the channels that already succeeded. Once a channel fails,
    it is not tried again for the remaining alerts of this call: a mail server that is down or hanging costs
    one timeout per run, not one per alert; those alerts carry the same error and stay pending.

    Args:
        connection: the warehouse, with the `alerts` table, outside a transaction.
        notifiers: channel name → notifier, from `alert_notifiers`.
        delivered_at: when this run delivers (the end of the run's data interval).

    Returns:
        What was delivered, what failed and why, and how many messages each channel sent.

    Raises:
        ValueError: no channel is configured (alerts would be marked delivered having gone nowhere).
    """
    if not notifiers:
        raise ValueError("no alert channel is configured; configure email and/or webhook, or skip delivery")
    pending = connection.execute(
        """
        SELECT alert_key, kind, subject, body, channels FROM alerts
        WHERE delivered_at IS NULL ORDER BY raised_at, alert_key
        """
    ).fetchall()
    delivered: list[str] = []
    failed: dict[str, str] = {}
    sent = dict.fromkeys(notifiers, 0)
    down: dict[str, str] = {}  # channel → its error in this call
    for key, kind, subject, body, channels in pending:
        alert = Alert(alert_key=key, kind=kind, subject=subject, body=body)
        has = list(channels)
        errors = []
        for channel in sorted(set(notifiers) - set(has)):
            if channel in down:
                errors.append(down[channel])
                continue
            try:
                notifiers[channel].send(alert)
            except AlertDeliveryError as error:
                down[channel] = str(error)
                errors.append(down[channel])
                log.warning(
                    "Alert %s not sent by %s, which is skipped for the rest of this run: %s", key, channel, error
                )
                continue
            has.append(channel)
            sent[channel] += 1
        complete = set(notifiers) <= set(has)
        connection.execute(
            "UPDATE alerts SET channels = ?, delivered_at = ?, delivery_error = ? WHERE alert_key = ?",
            [has, delivered_at if complete else None, "; ".join(errors) or None, key],
        )
        if complete:
            delivered.append(key)
        else:
            failed[key] = "; ".join(errors)
    return DeliveryReport(delivered=tuple(delivered), failed=failed, sent=sent)


def webhook_message(alert: Alert) -> dict[str, Any]:
    """The Slack-compatible message for an alert: `text` for clients without blocks, and a Block Kit card.

    Text from mentions is escaped (`&`, `<`, `>`), so a post cannot ping `<!channel>` or forge a link.
    """
    label = KIND_LABELS[alert.kind]
    return {
        "text": _slack_text(f"{alert.subject}\n\n{alert.text}", _SECTION_LIMIT),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _shorten(alert.subject, _HEADER_LIMIT)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_text(alert.text, _SECTION_LIMIT)}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _slack_text(f"{label} · {alert.alert_key}", _SECTION_LIMIT)}],
            },
        ],
    }


def _email_html(alert: Alert) -> str:
    paragraphs = (html.escape(part).replace("\n", "<br>\n") for part in alert.text.split("\n\n"))
    return "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)


def _slack_text(text: str, limit: int) -> str:
    """Slack mrkdwn escaping of `&`, `<`, `>`, cut to `limit` characters without splitting an entity."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    entity = cut.rfind("&")
    if entity >= 0 and ";" not in cut[entity:]:
        cut = cut[:entity]
    return cut + "…"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _known_settings(channel: str, settings: Mapping[str, Any], known: set[str]) -> Mapping[str, Any]:
    unknown = set(settings) - known
    if unknown:
        raise ValueError(
            f"unknown {channel} alert setting(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(known))}"
        )
    return settings


def _scrubber(channel: str, conn_id: str) -> SecretScrubber:
    """The scrubber of the channel's connection's secrets.

    Raises:
        AlertDeliveryError: the connection is not defined (the message says how to define it).
    """
    try:
        connection = airflow_connection(conn_id, channel)
    except ConnectionMissing as missing:
        raise AlertDeliveryError(str(missing)) from None
    return SecretScrubber.for_connections({conn_id: connection_credentials(connection)})


def _describe(channel: str, conn_id: str, error: Exception, scrubber: SecretScrubber) -> str:
    message = scrubber.scrub(f"{type(error).__name__}: {error}")
    return f"{channel} via connection {conn_id!r}: {_shorten(message, _ERROR_LIMIT)}"
