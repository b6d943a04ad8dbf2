"""The agent's local state file: its agent id (a new one per installation), progress and an outbox.

Writes are atomic (write to a temporary file, fsync, rename), so a crash leaves the old or the new state,
never half of one.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class OutboxItem:
    key: str  # sent as Idempotency-Key: a resend after a crash is recognised by the server
    method: str
    path: str
    body: dict[str, Any]


@dataclass
class AgentState:
    installation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    agent_id: str | None = None
    # command id -> "executing" | "executed:<result json>"; lets a restarted agent finish without redoing
    commands: dict[str, str] = field(default_factory=dict)
    outbox: list[OutboxItem] = field(default_factory=list)
    last_price_report_at: str | None = None
    # Steps owed after a command's report is delivered: ending this agent's own instance (stop, terminate), and
    # retiring an instance a switch replaced once its replacement runs (or the notice's deadline passes):
    # {"command_id", "action", "instance_id", "region", ["after_running", "not_after"]}
    after_report: list[dict[str, Any]] = field(default_factory=list)
    # Replicas this agent launched and watches until they are promoted, terminated or reported lost:
    # cloud instance id -> {"region", "command_id"}
    replicas: dict[str, dict[str, Any]] = field(default_factory=dict)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.state = self._load()

    def _load(self) -> AgentState:
        if not self.path.exists():
            return AgentState()
        raw = json.loads(self.path.read_text())
        raw["outbox"] = [OutboxItem(**item) for item in raw.get("outbox", [])]
        return AgentState(**raw)

    def save(self) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w") as handle:
                json.dump(asdict(self.state), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)

    def enqueue(self, method: str, path: str, body: dict[str, Any], key: str | None = None) -> OutboxItem:
        item = OutboxItem(key=key or uuid.uuid4().hex, method=method, path=path, body=body)
        self.state.outbox.append(item)
        self.save()
        return item

    def drop(self, key: str) -> None:
        self.state.outbox = [i for i in self.state.outbox if i.key != key]
        self.save()
