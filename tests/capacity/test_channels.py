"""Notification channels against real local servers: an HTTP server for Slack, aiosmtpd for SMTP."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from spectra.capacity import channels, service
from spectra.core.config import get_settings

MESSAGE = channels.Message("cpu forecast: 1 resource", "• web-1 cpu forecast to reach 90% in 35 min", "warning")


class _Webhook(HTTPServer):
    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Webhook

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"error")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def webhook() -> Iterator[_Webhook]:
    server = _Webhook([])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Webhook) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def test_slack_posts_text(webhook: _Webhook) -> None:
    delivery = channels.send_slack(_url(webhook), MESSAGE, backoff=0.0)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("slack", "sent", 1)
    assert webhook.bodies == [
        {"text": ":warning: *cpu forecast: 1 resource*\n• web-1 cpu forecast to reach 90% in 35 min"}
    ]


def test_slack_retries_server_errors(webhook: _Webhook) -> None:
    webhook.statuses = [500, 503]
    delivery = channels.send_slack(_url(webhook), MESSAGE, backoff=0.0)
    assert delivery.status == "sent" and delivery.attempts == 3
    assert len(webhook.bodies) == 3


def test_slack_gives_up_after_attempts(webhook: _Webhook) -> None:
    webhook.statuses = [500, 500, 500]
    delivery = channels.send_slack(_url(webhook), MESSAGE, attempts=3, backoff=0.0)
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.error == "HTTP 500"


def test_slack_client_error_is_not_retried(webhook: _Webhook) -> None:
    webhook.statuses = [404]
    delivery = channels.send_slack(_url(webhook), MESSAGE, backoff=0.0)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.error is not None and "404" in delivery.error


def test_slack_unreachable_fails_after_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    delivery = channels.send_slack(f"http://127.0.0.1:{port}/", MESSAGE, attempts=2, backoff=0.0, timeout=2)
    assert delivery.status == "failed" and delivery.attempts == 2


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp_server() -> Iterator[tuple[Controller, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_email_is_delivered_to_a_real_smtp_server(smtp_server, settings_env) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    settings_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port),
                 SMTP_TO="ops@example.com,oncall@example.com", SMTP_FROM="spectra@example.com",
                 SMTP_STARTTLS="false")  # fmt: skip
    delivery = channels.send_email(get_settings(), MESSAGE, backoff=0.0)
    assert delivery.status == "sent" and delivery.attempts == 1
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "spectra@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    body = envelope.content.decode()
    assert "Subject: [Spectra warning] cpu forecast: 1 resource" in body
    assert "web-1 cpu forecast" in body


def test_email_to_a_dead_server_fails_with_status(settings_env) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_TO="ops@example.com", SMTP_STARTTLS="false")
    delivery = channels.send_email(get_settings(), MESSAGE, attempts=2, backoff=0.0)
    assert delivery.status == "failed" and delivery.attempts == 2 and delivery.error


def test_service_notify_uses_every_configured_channel(webhook: _Webhook, smtp_server, settings_env) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    settings_env(SLACK_WEBHOOK_URL=_url(webhook), SMTP_HOST="127.0.0.1",
                 SMTP_PORT=str(controller.port), SMTP_TO="ops@example.com",
                 SMTP_STARTTLS="false")  # fmt: skip
    deliveries = service.notify("carbon spike", "eu-west-1 emissions 2x expected", "critical")
    assert [(d["channel"], d["status"]) for d in deliveries] == [("slack", "sent"), ("email", "sent")]
    assert webhook.bodies[0]["text"].startswith(":red_circle: *carbon spike*")
    assert len(inbox.envelopes) == 1


def test_no_channel_configured_is_reported(settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(SLACK_WEBHOOK_URL="", SMTP_HOST="")
    deliveries = service.notify("x", "y")
    assert [(d["channel"], d["status"]) for d in deliveries] == [("none", "skipped")]
