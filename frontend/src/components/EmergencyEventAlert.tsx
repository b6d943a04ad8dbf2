// A live emergency (rebalance recommendation or termination notice): a countdown to the notice deadline,
// the emergency replica's state, and the timeline of what Spectra did about it.
import { formatDateTime, formatDuration, formatTime } from "../lib/format";
import { useNow } from "../hooks/useNow";
import { Countdown } from "./Countdown";
import { Badge } from "./ui";

export interface EmergencyStep {
  at: string;
  step: string;
  [detail: string]: unknown;
}

export interface EmergencyEvent {
  id: string;
  agent_id: string;
  instance_id: string | null;
  kind: string; // "rebalance" | "termination"
  status: string; // open, replica_queued, promoted, failed, …
  notice_time: string | null;
  notice_deadline: string | null;
  received_at: string | null;
  replica_id: string | null;
  pool_id: string | null;
  promoted_at: string | null;
  promotion_seconds: number | null;
  steps: EmergencyStep[];
}

export interface EmergencyReplica {
  id: string;
  status: string;
  pool_id: string | null;
  instance_id: string | null;
  boot_seconds: number | null;
}

// The server's active states; "failed_over" stays active until the old instance is gone.
const ACTIVE = new Set(["open", "replica_queued", "failed_over"]);
const SETTLED = new Set(["promoted", "resolved"]);

export function isActiveEmergency(event: Pick<EmergencyEvent, "status">): boolean {
  return ACTIVE.has(event.status);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function detailValue(value: unknown): string {
  if (typeof value === "string" && ISO_TIME.test(value)) return formatTime(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Details of a timeline step other than its time and name, as "key: value" pairs. */
export function stepDetails(step: EmergencyStep): string {
  return Object.entries(step)
    .filter(([k, v]) => k !== "at" && k !== "step" && v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k.replaceAll("_", " ")}: ${detailValue(v)}`)
    .join(" · ");
}

/** The countdown shows while the emergency is active, or its deadline is still ahead and nothing settled it. */
export function showsCountdown(event: Pick<EmergencyEvent, "status" | "notice_deadline">, nowMs: number): boolean {
  if (!event.notice_deadline || SETTLED.has(event.status)) return false;
  return ACTIVE.has(event.status) || new Date(event.notice_deadline).getTime() > nowMs;
}

export function EmergencyEventAlert({
  event,
  replica,
  agentName,
  clockOffsetMs = 0,
}: {
  event: EmergencyEvent;
  replica?: EmergencyReplica | null;
  agentName?: string;
  clockOffsetMs?: number;
}) {
  const now = useNow(1000) + clockOffsetMs;
  const countdown = showsCountdown(event, now);
  const active = isActiveEmergency(event) || countdown;
  const termination = event.kind === "termination";
  const title = termination ? "Termination notice" : "Rebalance recommendation";
  return (
    <section
      role={active ? "alert" : "region"}
      aria-label={`${title} for ${agentName ?? event.agent_id}`}
      data-testid="emergency-alert"
      data-status={event.status}
      className={
        active
          ? "min-w-0 rounded-lg border-2 border-red-300 bg-red-50 p-4"
          : "min-w-0 rounded-lg border border-slate-200 bg-white p-4"
      }
    >
      <header className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h3 className="font-semibold text-slate-900">
            {title} · {agentName ?? event.agent_id}
          </h3>
          <p className="break-all text-xs text-slate-600">
            instance {event.instance_id ?? "—"} · notice {formatDateTime(event.notice_time ?? event.received_at)}
          </p>
        </div>
        <div className="flex items-center gap-2">
          <Badge tone={active ? "bad" : event.status === "promoted" || event.status === "resolved" ? "good" : "neutral"}>
            {event.status.replaceAll("_", " ")}
          </Badge>
          {/* A termination deadline stays real after a fail-over is queued: the old instance still dies then. */}
          {(active || (termination && event.status === "failed_over")) && event.notice_deadline && (
            <span className="text-sm">
              deadline in <Countdown deadline={event.notice_deadline} offsetMs={clockOffsetMs} label="Time left before the notice deadline" testId="emergency-countdown" />
            </span>
          )}
        </div>
      </header>
      <dl className="mt-3 grid grid-cols-2 gap-2 text-sm sm:grid-cols-4">
        <div>
          <dt className="text-xs text-slate-500">Deadline</dt>
          <dd>{formatDateTime(event.notice_deadline)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-500">Replica</dt>
          <dd data-testid="emergency-replica">{replica ? `${replica.status.replaceAll("_", " ")} (${replica.pool_id ?? "pool —"})` : event.replica_id ? "queued" : "none yet"}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-500">Replica boot</dt>
          <dd>{formatDuration(replica?.boot_seconds)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-500">Promotion</dt>
          <dd>{event.promotion_seconds !== null ? `${formatDuration(event.promotion_seconds)} after notice` : "—"}</dd>
        </div>
      </dl>
      {event.steps.length > 0 && (
        <ol className="mt-3 space-y-1 break-words border-l-2 border-slate-300 pl-3 text-sm" aria-label="Action timeline" data-testid="emergency-timeline">
          {event.steps.map((step, i) => (
            <li key={`${step.at}-${i}`}>
              <time dateTime={step.at} className="mr-2 font-mono text-xs text-slate-500">
                {formatTime(step.at)}
              </time>
              <span className="font-medium">{step.step.replaceAll("_", " ")}</span>
              {stepDetails(step) && <span className="text-slate-600"> — {stepDetails(step)}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
