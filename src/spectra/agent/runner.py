"""The agent loop: register, heartbeat (each beat held as the long-poll for commands), report prices, execute
commands once, watch notices.

Exactly-once execution across crashes: before acting on a command the agent records it as "executing" in its
state file; cloud launches carry the command's request id as client token (EC2 returns the same instance
for a repeated token, and the AWS backend also finds it by tag), and the other steps look before they act
(an instance already of the new type is not stopped again), so redoing an interrupted command changes nothing
new; the "executed" report carries an Idempotency-Key, so a repeated report changes nothing either.

A step that ends the agent's own instance (terminating it after a switch, migration or replacement, stopping
it when it is idle) waits until the command's report has been delivered, so the server always learns the
outcome; a dry run first checks that the step will be allowed. The instance a switch or fail-over replaced keeps
serving until its replacement runs: it is terminated then, or at the termination notice's deadline (ten minutes
for a switch without one), whichever comes first — a step saved with the command's outcome, so a crash neither
loses nor repeats it.

The agent watches the replicas it launched (the cloud's notices for them, and whether they still run) and reports
one being reclaimed, once, as a termination notice naming it; before moving to a promoted replica it checks the
replica is still there, and fails the promotion otherwise (the server then fails over to on-demand at once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from spectra.agent.cloud import CloudBackend, CloudError, Notice
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient, ServerError

log = logging.getLogger("spectra.agent")

AGENT_VERSION = "1.0"
SWITCHING = {"switch", "return_to_spot", "fallback_on_demand"}
AFTER_REPORT = "after_report"
MAX_STEP_ATTEMPTS = 10  # a step the cloud keeps refusing (the dry run said it would not) is given up, loudly
# How long a replaced instance keeps serving while its replacement boots, when no notice sets a deadline.
REPLACEMENT_WAIT = timedelta(minutes=10)
# How often the agent checks its replicas: well inside the two-minute notice, and one or two EC2 calls per replica
# per check (a large fleet's agents must stay clear of the API's rate limits).
REPLICA_CHECK_SECONDS = 15.0
# How often the agent asks which of its instances may go (ZOMBIEs past their grace period, released replicas).
CLEANUP_CHECK_SECONDS = 60.0
# How often the agent looks for the cloud's notices: a rebalance or termination notice is reported within this.
NOTICE_CHECK_SECONDS = 5.0
# The longest the agent holds a heartbeat open waiting for commands (the server allows up to a minute).
MAX_HOLD_SECONDS = 30.0


class Agent:
    def __init__(
        self,
        server: ServerClient,
        backend: CloudBackend,
        store: StateStore,
        candidate_types: list[str] | None = None,
        logical_name: str | None = None,
        on_switch: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.server = server
        self.backend = backend
        self.store = store
        self.candidate_types = candidate_types
        self.logical_name = logical_name
        self.on_switch = on_switch  # told the new instance id after a switch (the sim backend follows it)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.heartbeat_interval = 30.0
        self.reported_notice: str | None = None
        self.executed = 0
        self.holding = False  # a beat is held open for commands (see `heartbeat`)
        # The beating thread and the notice watcher take turns on the state file, the outbox and the cloud.
        self._lock = threading.RLock()
        self._after_report: list[dict[str, Any]] = []

    @property
    def agent_id(self) -> str:
        assert self.store.state.agent_id, "register() first"
        return self.store.state.agent_id

    # ------------------------------------------------------------------ protocol
    def register(self) -> dict[str, Any]:
        me = self.backend.identity()
        body = {
            "installation_id": self.store.state.installation_id,
            "instance_id": me.instance_id,
            "instance_type": me.instance_type,
            "region": me.region,
            "availability_zone": me.availability_zone,
            "lifecycle": "spot" if me.lifecycle == "spot" else "on_demand",
            "logical_name": self.logical_name,
            "agent_version": AGENT_VERSION,
        }
        answer = self.server.request("POST", "/api/agents/register", body)
        self.store.state.agent_id = answer["agent_id"]
        self.store.save()
        self.heartbeat_interval = float(answer.get("config", {}).get("heartbeat_interval_seconds") or 30)
        return dict(answer)

    def heartbeat(self, wait: float = 0) -> dict[str, Any]:
        """Beat. With `wait`, the server holds the answer until a command is open for this agent (or `wait` runs
        out): the beat is also the agent's long-poll, one request per interval for a fleet of any size."""
        me = self.backend.identity()
        self.holding = wait > 0
        try:
            answer = self.server.request(
                "POST",
                f"/api/agents/{self.agent_id}/heartbeat",
                {"status": "running", "instance_id": me.instance_id, "agent_version": AGENT_VERSION},
                params={"wait": wait} if wait > 0 else None,
                timeout=wait + 10 if wait > 0 else None,
            )
        finally:
            self.holding = False
        self.heartbeat_interval = float(answer.get("config", {}).get("heartbeat_interval_seconds") or 30)
        with self._lock:
            self.server.flush()  # the server is up: send what was queued while it was not
        return dict(answer)

    def report_prices(self) -> int:
        me = self.backend.identity()
        since = self.store.state.last_price_report_at
        points = self.backend.spot_prices(
            self.candidate_types or [me.instance_type], datetime.fromisoformat(since) if since else None
        )
        if not points:
            return 0
        prices = [
            {
                "instance_type": p.instance_type,
                "availability_zone": p.availability_zone,
                "region": me.region,
                "product_description": p.product,
                "price": float(p.price_usd_per_hour),
                "observed_at": p.at.isoformat(),
            }
            for p in points
        ]
        newest = max(p.at for p in points)
        key = f"prices:{self.agent_id}:{newest.isoformat()}:{len(prices)}"
        self.server.send_or_queue(
            "POST",
            f"/api/agents/{self.agent_id}/pricing-report",
            {"instance_id": me.instance_id, "prices": prices},
            key=key,
        )
        self.store.state.last_price_report_at = newest.isoformat()
        self.store.save()
        return len(prices)

    def check_notice(self) -> Notice | None:
        notice = self.backend.notice()
        if notice is None:
            return None
        marker = f"{notice.kind}:{self.backend.identity().instance_id}"
        if marker != self.reported_notice:
            path = "termination-notice" if notice.kind == "termination" else "rebalance-notice"
            body: dict[str, Any] = {
                "instance_id": self.backend.identity().instance_id,
                "notice_time": self.clock().isoformat(),
            }
            if notice.deadline is not None:
                body["termination_time"] = notice.deadline.isoformat()
            self.server.send_or_queue("POST", f"/api/agents/{self.agent_id}/{path}", body, key=f"notice:{marker}")
            self.reported_notice = marker
        return notice

    def clean_up(self) -> int:
        """Terminate the instances the server no longer needs (`instances-to-terminate`: ZOMBIEs past their grace
        period, released replicas) and report them. Never the instance the agent acts for, nor the one it runs on
        (after a switch they differ), nor one a switch still owes a termination once its replacement runs (that step
        decides when). Nothing is kept for it: a crash between terminating and reporting leaves them listed, and
        terminating again is harmless."""
        keep = {self.backend.identity().instance_id} | {s["instance_id"] for s in self.store.state.after_report}
        done = []
        for item in self.server.request("GET", f"/api/agents/{self.agent_id}/instances-to-terminate"):
            instance_id = item.get("instance_id")
            if not instance_id or instance_id in keep or self.backend.runs_on(instance_id):
                continue
            region = item.get("region") or self.store.state.replicas.get(instance_id, {}).get("region")
            try:
                self.backend.terminate(instance_id, region)
            except Exception as exc:  # the next check tries again
                log.warning("could not terminate %s (%s)", instance_id, exc)
                continue
            done.append(instance_id)
        if done:
            self.store.state.replicas = {k: v for k, v in self.store.state.replicas.items() if k not in done}
            digest = hashlib.sha256(",".join(sorted(done)).encode()).hexdigest()[:32]
            self.server.send_or_queue(
                "POST",
                f"/api/agents/{self.agent_id}/termination-report",
                {"instance_ids": done, "reason": "no longer needed (terminated by the agent)"},
                key=f"cleanup:{digest}",
            )
        return len(done)

    def check_replicas(self) -> int:
        """Report each watched replica the cloud is reclaiming (or has reclaimed), once, as a termination notice
        naming it: the server stops counting on it and queues a new standby. Returns how many were reported."""
        lost = 0
        for instance_id, info in list(self.store.state.replicas.items()):
            try:
                notice = self.backend.watch(instance_id, info.get("region"))
            except Exception as exc:  # a health check that fails says nothing about the replica
                log.warning("could not check replica %s (%s)", instance_id, exc)
                continue
            if notice is None or notice.kind != "termination":
                continue
            body: dict[str, Any] = {"instance_id": instance_id, "notice_time": self.clock().isoformat()}
            if notice.deadline is not None:
                body["termination_time"] = notice.deadline.isoformat()
            # Forgotten in the same save that queues the report: a crash neither loses nor repeats it.
            del self.store.state.replicas[instance_id]
            self.server.send_or_queue(
                "POST", f"/api/agents/{self.agent_id}/termination-notice", body, key=f"notice:termination:{instance_id}"
            )
            lost += 1
        return lost

    def pending_commands(self, wait: float = 0) -> list[dict[str, Any]]:
        answer = self.server.request(
            "GET", f"/api/agents/{self.agent_id}/pending-commands", params={"wait": wait}, timeout=wait + 10
        )
        return list(answer or [])

    # ------------------------------------------------------------------ commands
    def execute(self, command: dict[str, Any]) -> dict[str, Any]:
        cid = command["id"]
        done = self.store.state.commands.get(cid, "")
        if done.startswith("executed:"):
            result = json.loads(done.split(":", 1)[1])  # executed before a crash: only the report is missing
        else:
            self.store.state.commands[cid] = "executing:" + json.dumps(command, default=str)
            self.store.save()
            self._after_report = []
            try:
                result = {"success": True, "result": self._act(command)}
            except Exception as exc:
                log.exception("command %s (%s) failed", cid, command.get("command_type"))
                result = {"success": False, "result": {}, "message": str(exc)[:500]}
                self._after_report = []
            # The outcome, the replicas it changes and the steps still owed after its report are saved together.
            self._track_replicas(command, result)
            self.store.state.commands[cid] = "executed:" + json.dumps(result)
            self.store.state.after_report.extend({"command_id": cid, **step} for step in self._after_report)
            self._after_report = []
            self.store.save()
        self.server.send_or_queue(
            "POST", f"/api/agents/{self.agent_id}/commands/{cid}/executed", result, key=f"executed:{cid}"
        )
        self.finish_after_report()
        self.executed += 1
        return dict(result)

    def _track_replicas(self, command: dict[str, Any], result: dict[str, Any]) -> None:
        """Replicas to watch: one launched by create_replica; none once promoted or terminated."""
        kind, payload = command["command_type"], command.get("payload") or {}
        replicas = self.store.state.replicas
        if kind == "create_replica" and result.get("success") and result["result"].get("instance_id"):
            target = payload.get("target") or {}
            replicas[str(result["result"]["instance_id"])] = {
                "region": target.get("region") or self.backend.identity().region,
                "command_id": command["id"],
            }
        elif kind == "promote_replica":
            replicas.pop(str(payload.get("new_primary") or payload.get("instance_id") or ""), None)
        elif kind in ("terminate", "cleanup") and result.get("success"):
            for instance_id in result["result"].get("terminated") or []:
                replicas.pop(str(instance_id), None)

    def _replacement_runs(self, step: dict[str, Any]) -> bool:
        """Whether a replaced instance may go: its replacement runs, or the deadline for it has passed."""
        if self.clock() >= datetime.fromisoformat(step["not_after"]):
            return True
        try:
            return self.backend.describe(step["after_running"], step.get("region")).state == "running"
        except CloudError:
            return False  # not visible yet: the old instance keeps serving until the deadline

    def finish_after_report(self) -> int:
        """Carry out owed steps whose command's report has been delivered (its outbox item is gone) and, for a
        replaced instance, whose replacement runs. A step is forgotten once the cloud accepted it; one that fails
        is tried again on the next loop (up to a limit)."""
        undelivered = {item.key for item in self.store.state.outbox}
        done = 0
        for step in list(self.store.state.after_report):
            if f"executed:{step['command_id']}" in undelivered:
                continue
            if step.get("after_running") and not self._replacement_runs(step):
                continue
            try:
                if step["action"] == "terminate":
                    self.backend.terminate(step["instance_id"], step.get("region"))
                elif step["action"] == "stop":
                    self.backend.stop(step["instance_id"], step.get("region"), wait=False)
            except Exception as exc:
                step["attempts"] = int(step.get("attempts", 0)) + 1
                if step["attempts"] < MAX_STEP_ATTEMPTS:
                    log.warning("could not %s %s (%s); retrying", step["action"], step["instance_id"], exc)
                    self.store.save()
                    continue
                log.error("gave up trying to %s %s: %s", step["action"], step["instance_id"], exc)
            self.store.state.after_report.remove(step)
            self.store.save()
            done += 1
        return done

    def _act(self, command: dict[str, Any]) -> dict[str, Any]:
        kind = command["command_type"]
        payload = command.get("payload") or {}
        token = command.get("request_id") or command["id"]
        me = self.backend.identity()
        if kind in SWITCHING or kind == "create_replica":
            target = payload.get("target") or {}
            lifecycle = (
                "on-demand" if kind == "fallback_on_demand" or command.get("target_mode") == "on_demand" else "spot"
            )
            terminate_old = kind != "create_replica" and payload.get("terminate_old", True)
            if terminate_old:
                self.backend.check_allowed("terminate", me.instance_id)
            started = time.monotonic()
            new_id = self.backend.launch(
                target.get("instance_type") or me.instance_type,
                target.get("availability_zone") or me.availability_zone,
                lifecycle,
                token,
            )
            boot = payload.get("boot_seconds_hint")
            result: dict[str, Any] = {
                "instance_type": target.get("instance_type") or me.instance_type,
                "availability_zone": target.get("availability_zone") or me.availability_zone,
                "lifecycle": lifecycle.replace("-", "_"),
                "boot_seconds": boot if boot is not None else round(time.monotonic() - started, 3),
            }
            if kind == "create_replica":
                result["instance_id"] = new_id
                return result
            result.update({"new_instance_id": new_id, "old_instance_id": me.instance_id})
            self._follow(new_id, me.region)
            if terminate_old and me.instance_id != new_id:
                # The old instance serves until the new one runs (or the notice's deadline): no boot time lost.
                deadline = payload.get("notice_deadline")
                not_after = datetime.fromisoformat(deadline) if deadline else self.clock() + REPLACEMENT_WAIT
                self._after_report.append(
                    {
                        "action": "terminate",
                        "instance_id": me.instance_id,
                        "region": me.region,
                        "after_running": new_id,
                        "not_after": not_after.isoformat(),
                    }
                )
                result["old_instance_terminated"] = "once the replacement runs"
            return result
        if kind == "promote_replica":
            new_primary = payload.get("new_primary") or payload.get("instance_id")
            if not new_primary:
                raise ValueError("a promote_replica command needs new_primary")
            region = (self.store.state.replicas.get(str(new_primary)) or {}).get("region") or me.region
            # The health check: the server may not know yet that the cloud took the replica.
            lost = self.backend.watch(str(new_primary), region)
            if lost is not None:
                raise CloudError(f"replica {new_primary} is gone or being reclaimed; it cannot take over")
            self._follow(str(new_primary), region)
            return {"promoted": new_primary}
        if kind in ("terminate", "cleanup"):
            ids = payload.get("cloud_instance_ids") or [
                payload.get("cloud_instance_id") or payload.get("instance") or payload.get("instance_id")
            ]
            terminated = [i for i in ids if i]
            for instance_id in terminated:
                self.backend.terminate(str(instance_id))
            return {"terminated": terminated}
        if kind == "migrate":
            return self._migrate(payload, token)
        if kind == "resize":
            return self._resize(payload, token)
        if kind == "stop":
            return self._stop(payload)
        raise ValueError(f"unknown command type {kind!r}")

    # ------------------------------------------------------------------ carbon actions
    def _target(self, payload: dict[str, Any]) -> tuple[str, str]:
        me = self.backend.identity()
        return str(payload.get("cloud_instance_id") or me.instance_id), str(payload.get("region") or me.region)

    def _follow(self, new_id: str, region: str | None) -> None:
        self.backend.follow(new_id, region)
        if self.on_switch:
            self.on_switch(new_id)

    def _retire(self, instance_id: str, region: str | None) -> bool | str:
        """Terminate a replaced instance: now, or — when the agent runs on it — once the report is delivered."""
        if self.backend.runs_on(instance_id):
            self._after_report.append({"action": "terminate", "instance_id": instance_id, "region": region})
            return AFTER_REPORT
        self.backend.terminate(instance_id, region)
        return True

    def _replace(
        self,
        old_id: str,
        old_region: str,
        instance_type: str,
        zone: str | None,
        region: str,
        lifecycle: str,
        token: str,
    ) -> dict[str, Any]:
        """Launch the replacement, wait until it runs, then retire the old instance (idempotent by `token`)."""
        self.backend.check_allowed("terminate", old_id, old_region)
        started = time.monotonic()
        new_id = self.backend.launch(instance_type, zone, lifecycle, token, region=region)
        try:
            view = self.backend.wait_running(new_id, region)
        except Exception:
            self.backend.terminate(new_id, region)  # never leave a half-made replacement running
            raise
        if self.backend.identity().instance_id == old_id:
            self._follow(new_id, region)
        terminated = self._retire(old_id, old_region)
        return {
            "new_instance_id": new_id,
            "old_instance_id": old_id,
            "region": region,
            "new_availability_zone": view.availability_zone,
            "new_instance_type": view.instance_type,
            "lifecycle": "spot" if lifecycle == "spot" else "on_demand",
            "old_instance_terminated": terminated,
            "boot_seconds": round(time.monotonic() - started, 3),
        }

    def _migrate(self, payload: dict[str, Any], token: str) -> dict[str, Any]:
        """Move the instance to another region: the same type, launched there from that region's template."""
        old_id, old_region = self._target(payload)
        to_region = payload.get("target_region")
        if not to_region:
            raise ValueError("a migrate command needs target_region")
        instance_type, lifecycle = payload.get("instance_type"), payload.get("lifecycle")
        if not instance_type or not lifecycle:
            view = self.backend.describe(old_id, old_region)
            instance_type, lifecycle = instance_type or view.instance_type, lifecycle or view.lifecycle
        if to_region == old_region:
            raise CloudError(f"{old_id} already runs in {to_region}")
        return self._replace(old_id, old_region, instance_type, None, to_region, _lifecycle(lifecycle), token)

    def _resize(self, payload: dict[str, Any], token: str) -> dict[str, Any]:
        """Change the instance type: in place (stop → modify → start) for an on-demand instance the agent does
        not run on; otherwise a replacement of the new type in the same zone (spot instances cannot be stopped,
        and nothing would start the agent's own instance again)."""
        target_id, region = self._target(payload)
        new_type = payload.get("target_type")
        if not new_type:
            raise ValueError("a resize command needs target_type")
        lifecycle = payload.get("lifecycle") or self.backend.describe(target_id, region).lifecycle
        if _lifecycle(lifecycle) == "on-demand" and not self.backend.runs_on(target_id):
            self.backend.change_type(target_id, new_type, region)
            if self.backend.identity().instance_id == target_id:
                self._follow(target_id, region)  # same instance, new type
            return {"method": "modified", "instance_id": target_id, "new_instance_type": new_type, "region": region}
        result = self._replace(
            target_id, region, new_type, payload.get("availability_zone"), region, _lifecycle(lifecycle), token
        )
        return {"method": "replaced", **result}

    def _stop(self, payload: dict[str, Any]) -> dict[str, Any]:
        target_id, region = self._target(payload)
        if payload.get("lifecycle") == "spot":
            raise CloudError(f"{target_id} is a one-time spot instance: EC2 can terminate it, not stop it")
        if self.backend.runs_on(target_id):
            self.backend.check_allowed("stop", target_id, region)
            self._after_report.append({"action": "stop", "instance_id": target_id, "region": region})
            return {"stopped": target_id, "when": AFTER_REPORT}
        self.backend.stop(target_id, region, wait=True)
        return {"stopped": target_id, "when": "now"}

    # ------------------------------------------------------------------ loop
    def run(
        self,
        stop: threading.Event,
        price_interval: float = 300.0,
        poll_wait: float = MAX_HOLD_SECONDS,
        watch_interval: float = NOTICE_CHECK_SECONDS,
    ) -> None:
        """Run until `stop` is set. One thread beats, holding each beat as a long-poll (up to `poll_wait`, and
        never past the next beat or the next price report) and executes the commands it brings; another watches
        the cloud's notices every `watch_interval` and reports them at once (the server's answer, a command, then
        ends the held beat). The two take turns for everything but the held beat."""
        # A server that sheds a boot burst (503) or is down is tried again, with back-off, until it answers.
        attempt = 0
        while not self.store.state.agent_id and not stop.is_set():
            try:
                self.register()
            except ServerError as exc:
                if not exc.retryable:
                    raise
                attempt += 1
            except httpx.TransportError:
                attempt += 1
            if not self.store.state.agent_id:
                stop.wait(self.server.backoff(min(attempt, 6)))
        if stop.is_set():
            return
        self.resume()
        watcher = threading.Thread(
            target=self._watch, args=(stop, watch_interval), daemon=True, name=f"agent-watch-{self.agent_id}"
        )
        watcher.start()
        try:
            self._beat(stop, price_interval, poll_wait)
        finally:
            stop.set()
            watcher.join(timeout=watch_interval + 30)

    def _beat(self, stop: threading.Event, price_interval: float, poll_wait: float) -> None:
        next_prices = next_cleanup = 0.0
        pending = 0  # commands the last beat said are open (the first beat answers at once if any are)
        while not stop.is_set():
            try:
                with self._lock:
                    now = time.monotonic()
                    if now >= next_prices:
                        self.report_prices()
                        next_prices = now + price_interval
                    if now >= next_cleanup:
                        self.clean_up()
                        next_cleanup = now + CLEANUP_CHECK_SECONDS
                    self.finish_after_report()
                    if pending:
                        for command in self.pending_commands():
                            self.execute(command)
                # A beat every interval: the held answer comes back a second before the next one is due.
                due = min(next_prices, next_cleanup) - time.monotonic()
                wait = max(0.0, min(poll_wait, self.heartbeat_interval - 1.0, due))
                answer = self.heartbeat(wait)
                if answer.get("status") == "replaced":
                    # Another installation registered on this instance and took over: two agents acting for one
                    # instance would fight over it.
                    log.error("agent %s was replaced by a newer installation on this instance; stopping", self.agent_id)
                    stop.set()
                    break
                pending = int(answer.get("pending_commands") or 0)
            except ServerError as exc:
                log.error("server refused a request: %s", exc)
                stop.wait(1.0)
            except Exception as exc:
                log.warning("agent loop error (%s); retrying", exc)
                stop.wait(self.server.backoff(3))

    def _watch(self, stop: threading.Event, every: float) -> None:
        next_replica_check = 0.0
        while not stop.is_set():
            try:
                with self._lock:
                    self.check_notice()
                    self.finish_after_report()  # a replaced instance retires as soon as its replacement runs
                    if time.monotonic() >= next_replica_check:
                        self.check_replicas()
                        next_replica_check = time.monotonic() + REPLICA_CHECK_SECONDS
            except Exception as exc:  # the report stays queued; the next check looks again
                log.warning("notice check failed (%s)", exc)
            stop.wait(every)

    def wait_stopped(self, thread: threading.Thread, timeout: float = 30.0) -> None:
        """After `stop` is set: wait for `thread` (running `run`) to finish what it is doing. A beat held for
        commands is not waited out: leaving it loses nothing."""
        deadline = time.monotonic() + timeout
        while thread.is_alive() and not self.holding and time.monotonic() < deadline:
            thread.join(0.05)

    def resume(self) -> None:
        """After a restart: finish what a crash interrupted. A command caught mid-way is executed again (its
        launches are idempotent by request id); one executed but perhaps unreported is reported (again)."""
        for cid, state in list(self.store.state.commands.items()):
            if state.startswith("executing:"):
                self.execute(json.loads(state.split(":", 1)[1]))
            elif state.startswith("executed:"):
                self.server.send_or_queue(
                    "POST",
                    f"/api/agents/{self.agent_id}/commands/{cid}/executed",
                    json.loads(state.split(":", 1)[1]),
                    key=f"executed:{cid}",
                )
        self.server.flush()
        self.finish_after_report()


def _lifecycle(value: str) -> str:
    """The server says on_demand, EC2 says on-demand."""
    return "spot" if value == "spot" else "on-demand"
