"""Alerts: recorded once per event, delivered by email (SMTP sink) and webhook (HTTP sink) on 127.0.0.1."""

from __future__ import annotations

import base64
import email
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from care.alerts import Alert, alert_notifiers, deliver_pending, record_alerts
from reports.delivery import email_report
from reports.exceptions import ReportDeliveryError
from reports.render import ReportFiles

ALERTS_DDL = """
CREATE TABLE alerts (
    alert_key       VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,
    subject         VARCHAR NOT NULL,
    body            VARCHAR NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    channels        VARCHAR[] NOT NULL DEFAULT [],
    delivery_error  VARCHAR
)
"""

SMTP_LOGIN = "care-bot"
SMTP_PASSWORD = "smtp-Pa55word-7f3k"
WEBHOOK_TOKEN = "T0001/B0002/hookSecret9x8y7z"
SETTINGS = {
    "email": {"connection": "smtp_alerts", "to": ["care@brightwave.example"], "from_address": "overheard@example.org"},
    "webhook": {"connection": "alerts_webhook"},
}

RUN_1 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RUN_2 = datetime(2026, 3, 2, 15, 15, tzinfo=UTC)

SPIKE = Alert(
    alert_key="spike:Brightwave:all:2026-03-02T14:00:00+00:00",
    kind="spike",
    subject="Volume spike: Brightwave, 42 mentions in the hour to 15:00 UTC (usual 6)",
    body="Brightwave had 42 mentions between 14:00 and 15:00 UTC, 7 times the usual 6.\nMost are negative.",
    link="https://dashboard.example/brightwave",
    fields={"Brand": "Brightwave", "Mentions": "42"},
)
BREACH = Alert(
    alert_key="breach:x:1890",
    kind="breach",
    subject="First response overdue: @dana_k on X, due 14:30 UTC",
    body="@dana_k wrote: <!channel> my router & modem are dead <https://evil.example|click>",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """An SMTP server on 127.0.0.1 that wants our login and keeps every message; start and stop at will.

    With `echo_credentials`, it refuses every login, quoting back the login and the password as
    AUTH LOGIN sent it (base64), as some relays' error replies do.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.messages: list[Message] = []
        self.envelopes: list[Envelope] = []
        self.echo_credentials = False
        self._controller: Controller | None = None

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            if self.echo_credentials:
                sent = base64.b64encode(auth_data.password).decode()
                return AuthResult(success=False, handled=False, message=f"535 5.7.8 {auth_data.login.decode()} / {sent} refused")
            ok = auth_data.login == SMTP_LOGIN.encode() and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok)

        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, authenticator=authenticate, auth_require_tls=False
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class WebhookSink:
    """An HTTP server on 127.0.0.1 taking webhook POSTs; answers the scripted statuses in turn, the last repeating.

    An error answer echoes the path it was posted to, as some servers do, token and all; with
    `echo_url_encoded`, it echoes the whole URL URL-encoded instead, as JSON APIs quoting a request do.
    """

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.statuses = [200]
        self.echo_url_encoded = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.posts.append((self.path, payload))
                status = sink.statuses.pop(0) if len(sink.statuses) > 1 else sink.statuses[0]
                url = f"http://{self.headers['Host']}{self.path}"
                echoed = json.dumps({"error": "no_such_hook", "url": quote(url, safe="")}) if sink.echo_url_encoded \
                    else f"no webhook at {self.path}"
                reply = b"ok" if status == 200 else echoed.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(ALERTS_DDL)
    yield connection
    connection.close()


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    """A running SMTP sink, and the `smtp_alerts` connection pointing at it."""
    sink = SmtpSink()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,
        "login": SMTP_LOGIN,
        "password": SMTP_PASSWORD,
        "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", json.dumps(connection))
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    """A webhook sink, and the `alerts_webhook` connection: endpoint in host, token in password."""
    sink = WebhookSink()
    connection = {"conn_type": "slackwebhook", "host": f"{sink.base_url}/services", "password": WEBHOOK_TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps(connection))
    yield sink
    sink.close()


def _row(warehouse: duckdb.DuckDBPyConnection, alert_key: str) -> dict:
    cursor = warehouse.execute("SELECT * FROM alerts WHERE alert_key = ?", [alert_key])
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _html_body(message: Message) -> str:
    (part,) = message.get_payload()
    return part.get_payload(decode=True).decode("utf-8")


def test_the_same_spike_raised_twice_sends_one_email_and_one_post(warehouse, smtp_sink, webhook_sink):
    notifiers = alert_notifiers(SETTINGS)

    assert record_alerts(warehouse, [SPIKE, SPIKE], RUN_1) == [SPIKE]
    first = deliver_pending(warehouse, notifiers, RUN_1)
    assert record_alerts(warehouse, [SPIKE], RUN_2) == []
    second = deliver_pending(warehouse, notifiers, RUN_2)

    assert (first.delivered, first.failed, first.sent) == ((SPIKE.alert_key,), {}, {"email": 1, "webhook": 1})
    assert (second.delivered, second.failed, second.sent) == ((), {}, {"email": 0, "webhook": 0})

    (message,) = smtp_sink.messages
    assert message["Subject"] == "Volume spike: Brightwave, 42 mentions in the hour to 15:00 UTC (usual 6)"
    assert (message["From"], message["To"]) == ("overheard@example.org", "care@brightwave.example")
    assert message["X-Overheard-Alert"] == SPIKE.alert_key
    assert _html_body(message) == (
        "<p>Brightwave had 42 mentions between 14:00 and 15:00 UTC, 7 times the usual 6.<br>\nMost are negative.</p>\n"
        "<p>Brand: Brightwave<br>\nMentions: 42</p>\n"
        "<p>Link: https://dashboard.example/brightwave</p>"
    )

    ((path, card),) = webhook_sink.posts
    assert path == f"/services/{WEBHOOK_TOKEN}"
    assert card["text"].startswith("Volume spike: Brightwave, 42 mentions in the hour to 15:00 UTC (usual 6)\n\n")
    assert [block["type"] for block in card["blocks"]] == ["header", "section", "context"]
    assert card["blocks"][0]["text"]["text"] == SPIKE.subject
    assert "Brand: Brightwave\nMentions: 42" in card["blocks"][1]["text"]["text"]
    assert card["blocks"][2]["elements"][0]["text"] == f"Volume spike · {SPIKE.alert_key}"

    row = _row(warehouse, SPIKE.alert_key)
    assert (row["raised_at"], row["delivered_at"]) == (RUN_1, RUN_1)
    assert (row["channels"], row["delivery_error"]) == (["email", "webhook"], None)


def test_smtp_down_keeps_the_alert_pending_and_the_next_run_delivers_it(warehouse, smtp_sink):
    notifiers = alert_notifiers({"email": SETTINGS["email"]})
    record_alerts(warehouse, [SPIKE], RUN_1)
    smtp_sink.stop()

    down = deliver_pending(warehouse, notifiers, RUN_1)

    assert (down.delivered, down.sent) == ((), {"email": 0})
    assert down.failed[SPIKE.alert_key].startswith("email via connection 'smtp_alerts': ConnectionRefusedError")
    row = _row(warehouse, SPIKE.alert_key)
    assert (row["delivered_at"], row["channels"]) == (None, [])
    assert row["delivery_error"] == down.failed[SPIKE.alert_key]

    smtp_sink.start()
    back = deliver_pending(warehouse, notifiers, RUN_2)

    assert (back.delivered, back.failed) == ((SPIKE.alert_key,), {})
    assert [message["Subject"] for message in smtp_sink.messages] == [SPIKE.subject]
    row = _row(warehouse, SPIKE.alert_key)
    assert (row["delivered_at"], row["channels"], row["delivery_error"]) == (RUN_2, ["email"], None)


def test_webhook_500_still_emails_then_retries_the_webhook_without_emailing_again(warehouse, smtp_sink, webhook_sink):
    notifiers = alert_notifiers(SETTINGS)
    webhook_sink.statuses = [500, 200]
    record_alerts(warehouse, [SPIKE, BREACH], RUN_1)

    first = deliver_pending(warehouse, notifiers, RUN_1)

    assert first.sent == {"email": 2, "webhook": 0}
    assert "Status Code: 500" in first.failed[BREACH.alert_key]
    assert first.failed[SPIKE.alert_key] == first.failed[BREACH.alert_key]  # not tried again after the 500
    row = _row(warehouse, SPIKE.alert_key)
    assert (row["delivered_at"], row["channels"]) == (None, ["email"])

    second = deliver_pending(warehouse, notifiers, RUN_2)

    assert (second.delivered, second.failed, second.sent) == (
        (BREACH.alert_key, SPIKE.alert_key),  # oldest first, then by key
        {},
        {"email": 0, "webhook": 2},
    )
    assert [message["Subject"] for message in smtp_sink.messages] == [BREACH.subject, SPIKE.subject]
    assert len(webhook_sink.posts) == 3  # one refused, two accepted
    for key in (SPIKE.alert_key, BREACH.alert_key):
        row = _row(warehouse, key)
        assert (row["delivered_at"], row["channels"], row["delivery_error"]) == (RUN_2, ["email", "webhook"], None)


def test_secrets_stay_out_of_the_alerts_table_errors_and_logs(warehouse, smtp_sink, webhook_sink, monkeypatch, caplog):
    full_url = f"{webhook_sink.base_url}/services/{WEBHOOK_TOKEN}"
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "slackwebhook", "password": full_url}))
    webhook_sink.statuses = [500]
    record_alerts(warehouse, [SPIKE], RUN_1)

    with caplog.at_level(logging.DEBUG):
        report = deliver_pending(warehouse, alert_notifiers(SETTINGS), RUN_1)

    assert webhook_sink.posts[0][0] == f"/services/{WEBHOOK_TOKEN}"  # the server did echo the token back
    assert smtp_sink.envelopes[0].mail_from == "overheard@example.org"  # logged in with the password
    error = report.failed[SPIKE.alert_key]
    assert error.startswith("webhook via connection 'alerts_webhook': AirflowException: Response body: 'no webhook at")
    table = str(warehouse.execute("SELECT * FROM alerts").fetchall())
    for secret in (SMTP_PASSWORD, WEBHOOK_TOKEN, "hookSecret9x8y7z"):
        assert secret not in error
        assert secret not in table
        assert secret not in caplog.text
    assert "***" in error


def test_credentials_echoed_back_encoded_stay_out_of_alerts_report_emails_and_logs(
    warehouse, smtp_sink, webhook_sink, monkeypatch, caplog, tmp_path
):
    full_url = f"{webhook_sink.base_url}/services/{WEBHOOK_TOKEN}"
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "slackwebhook", "password": full_url}))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", os.environ["AIRFLOW_CONN_SMTP_ALERTS"])
    webhook_sink.statuses, webhook_sink.echo_url_encoded, smtp_sink.echo_credentials = [403], True, True
    record_alerts(warehouse, [SPIKE], RUN_1)
    (tmp_path / "week.html").write_text("<p>week</p>")
    (tmp_path / "week.csv").write_text("mention_key\n")
    files = ReportFiles("2026-W10", tmp_path / "week.html", tmp_path / "week.csv", None, 0, ("0 mentions",))

    with caplog.at_level(logging.DEBUG):
        alerts = deliver_pending(warehouse, alert_notifiers(SETTINGS), RUN_1)
        with pytest.raises(ReportDeliveryError) as report:
            email_report(files, smtp_conn_id="smtp_reports", to=["a@example.org"], from_address=None, subject="Week")

    email_error, webhook_error = alerts.failed[SPIKE.alert_key].split("; ")
    assert email_error == "email via connection 'smtp_alerts': SMTPAuthenticationError: (535, b'5.7.8 *** / *** refused')"
    assert webhook_error.startswith(
        "webhook via connection 'alerts_webhook': AirflowException: Response body: '{\"error\": \"no_such_hook\", \"url\": \"***\"}'"
    )
    assert str(report.value) == (
        "report email via connection 'smtp_reports': SMTPAuthenticationError: (535, b'5.7.8 *** / *** refused')"
    )
    stored = str(warehouse.execute("SELECT * FROM alerts").fetchall())
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name != "mail.log")  # not the sink's
    assert "not sent by email" in logged and "not sent by webhook" in logged
    for leaked in (SMTP_LOGIN, SMTP_PASSWORD, base64.b64encode(SMTP_PASSWORD.encode()).decode(), "hookSecret9x8y7z"):
        assert leaked not in alerts.failed[SPIKE.alert_key] + str(report.value) + stored + logged


def test_mentions_cannot_ping_the_channel_and_notifiers_run_as_airflow_notifiers(webhook_sink):
    notifier = alert_notifiers({"webhook": {}})["webhook"]

    notifier({"alert": BREACH})  # how Airflow calls a notifier: with a context

    ((_, card),) = webhook_sink.posts
    assert card["blocks"][1]["text"]["text"] == (
        "@dana_k wrote: &lt;!channel&gt; my router &amp; modem are dead &lt;https://evil.example|click&gt;"
    )
    assert "<!channel>" not in card["text"]
    assert card["blocks"][2]["elements"][0]["text"] == "Service-level breach · breach:x:1890"


def test_a_missing_connection_is_a_delivery_error_that_says_what_to_set(warehouse):
    notifiers = alert_notifiers({"email": {"connection": "no_such_smtp", "to": ["care@brightwave.example"]}})
    record_alerts(warehouse, [SPIKE], RUN_1)

    report = deliver_pending(warehouse, notifiers, RUN_1)

    assert report.failed == {
        SPIKE.alert_key: "email: Airflow connection 'no_such_smtp' is not defined; "
        "set AIRFLOW_CONN_NO_SUCH_SMTP or add it with `airflow connections add`"
    }


def test_alert_settings_are_checked(warehouse):
    assert alert_notifiers({}) == {}
    assert sorted(alert_notifiers(SETTINGS)) == ["email", "webhook"]
    with pytest.raises(ValueError, match="unknown alert channel"):
        alert_notifiers({"pager": {}})
    with pytest.raises(ValueError, match="recipient"):
        alert_notifiers({"email": {"to": "care@brightwave.example"}})
    with pytest.raises(ValueError, match="unknown webhook alert setting"):
        alert_notifiers({"webhook": {"url": "https://hooks.example/x"}})
    with pytest.raises(ValueError, match="no alert channel"):
        deliver_pending(warehouse, {}, RUN_1)
    with pytest.raises(ValueError, match="should start with 'spike:'"):
        Alert(alert_key="breach:x:1", kind="spike", subject="Spike", body="")
