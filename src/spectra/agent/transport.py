"""HTTP to the Spectra server: bearer token, retries with exponential backoff and jitter, and an on-disk
outbox so reports made while the server is down are sent later, once (each carries an Idempotency-Key)."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import httpx

from spectra.agent.state import StateStore

log = logging.getLogger("spectra.agent")

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
# 409s that a retry clears (the problem's `code`): a concurrent writer won a race on the same rows, or the same
# report (same Idempotency-Key) is still being processed. Any other 409 is the server's answer and final.
TRANSIENT_CONFLICTS = {"stale_version", "integrity_conflict", "idempotency_in_progress"}


class ServerError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"server answered {status}: {body}")
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:
        if self.status == 409:
            return isinstance(self.body, dict) and self.body.get("code") in TRANSIENT_CONFLICTS
        return self.status in RETRYABLE


class ServerClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        store: StateStore,
        timeout: float = 35.0,
        max_backoff: float = 30.0,
        sleep: Any = time.sleep,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )
        self.store = store
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.rng = random.Random()

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to min(cap, 0.5 s × 2^attempt)."""
        return self.rng.uniform(0, min(self.max_backoff, 0.5 * (2**attempt)))

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        attempts: int = 6,
        timeout: float | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                response = self.http.request(
                    method,
                    path,
                    json=body,
                    params=params,
                    headers=headers,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code < 400:
                    return response.json() if response.content else None
                error = ServerError(response.status_code, _body(response))
                if not error.retryable:
                    raise error
                last = error
            wait = self.backoff(attempt)
            log.warning("server unreachable or busy (%s); retrying in %.1fs", last, wait)
            self._sleep(wait)
        assert last is not None
        raise last

    def send_or_queue(self, method: str, path: str, body: dict[str, Any], key: str | None = None) -> None:
        """Queue first (so a crash cannot lose it), then try to deliver everything queued, oldest first."""
        self.store.enqueue(method, path, body, key)
        self.flush()

    def flush(self) -> int:
        sent = 0
        for item in list(self.store.state.outbox):
            try:
                self.request(item.method, item.path, item.body, key=item.key, attempts=1)
            except ServerError as exc:
                if exc.retryable:
                    break
                log.error("server refused a queued report (%s); dropping it", exc)
            except httpx.TransportError:
                break
            self.store.drop(item.key)
            sent += 1
        return sent


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
