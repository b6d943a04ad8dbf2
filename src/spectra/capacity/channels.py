"""Notification channels shared by every domain (through capacity's service): Slack webhook and SMTP e-mail.

Each send is retried on transient failures (network errors, HTTP 429/5xx, SMTP errors) with exponential
back-off, and returns a Delivery saying what happened, so callers can store delivery status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from spectra.core.clock import clock
from spectra.core.config import Settings, get_settings

log = logging.getLogger("spectra.capacity.channels")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    severity: str = "warning"  # info | warning | critical


@dataclass
class Delivery:
    channel: str  # slack | email | none
    status: str  # sent | failed | skipped
    attempts: int
    error: str | None
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out


class _Retryable(Exception):
    pass


def _retry(channel: str, attempt_once: Any, attempts: int, backoff: float) -> Delivery:
    error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            attempt_once()
            return Delivery(channel, "sent", attempt, None, clock.now())
        except _Retryable as exc:
            error = str(exc)
        except Exception as exc:  # a permanent failure (bad address, 4xx): no point retrying
            log.warning("%s delivery failed: %s", channel, exc)
            return Delivery(channel, "failed", attempt, str(exc), clock.now())
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    log.warning("%s delivery failed after %d attempts: %s", channel, attempts, error)
    return Delivery(channel, "failed", attempts, error, clock.now())


def send_slack(
    url: str, message: Message, *, timeout: float = 10.0, attempts: int = ATTEMPTS, backoff: float = BACKOFF_SECONDS
) -> Delivery:
    icon = {"critical": ":red_circle:", "warning": ":warning:"}.get(message.severity, ":information_source:")
    payload = {"text": f"{icon} *{message.subject}*\n{message.text}"}

    def once() -> None:
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    return _retry("slack", once, attempts, backoff)


def send_email(
    settings: Settings, message: Message, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF_SECONDS
) -> Delivery:
    if not settings.smtp_host or not settings.smtp_to:
        return Delivery("email", "skipped", 0, "SMTP is not configured", clock.now())
    email = EmailMessage()
    email["From"] = settings.smtp_from or (settings.smtp_username or "spectra@localhost")
    email["To"] = ", ".join(settings.smtp_to)
    email["Subject"] = f"[Spectra {message.severity}] {message.subject}"
    email.set_content(message.text)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None

    async def send() -> None:
        await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_starttls,
            timeout=settings.http_timeout_seconds,
        )

    def once() -> None:
        try:
            _run(send())
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPAuthenticationError):
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc

    return _retry("email", once, attempts, backoff)


def _run(coro: Any) -> None:
    """Run a coroutine from sync code, also when called from a thread that already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def slack_url(settings: Settings) -> str | None:
    url = settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url is not None else ""
    return url or None


def configured(settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    out = []
    if slack_url(settings):
        out.append("slack")
    if settings.smtp_host and settings.smtp_to:
        out.append("email")
    return out


def deliver(message: Message, settings: Settings | None = None) -> list[Delivery]:
    """Send to every configured channel; one Delivery each (a single 'none/skipped' when none is set up)."""
    settings = settings or get_settings()
    out: list[Delivery] = []
    url = slack_url(settings)
    if url:
        out.append(send_slack(url, message, timeout=settings.http_timeout_seconds))
    if settings.smtp_host and settings.smtp_to:
        out.append(send_email(settings, message))
    if not out:
        out.append(Delivery("none", "skipped", 0, "no notification channel is configured", clock.now()))
    return out
