import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf, RequestOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatDateTime, formatNumber } from "../lib/format";
import { severityTone, statusTone } from "../lib/labels";

type Alert = ResponseOf<"/api/alerts", "get">[number];
type Silence = ResponseOf<"/api/silences", "get">[number];
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export function describeSilence(s: Pick<Silence, "recurring" | "starts_at" | "ends_at">): string {
  const r = s.recurring as { days?: number[]; start?: string; end?: string } | null;
  if (r && Array.isArray(r.days)) return `every ${r.days.map((d) => DAYS[d] ?? d).join(", ")} ${r.start}–${r.end} UTC`;
  return `${formatDateTime(s.starts_at)} → ${s.ends_at ? formatDateTime(s.ends_at) : "until removed"}`;
}

function AlertTable({ rows, caption }: { rows: Alert[]; caption: string }) {
  return (
    <DataTable
      caption={caption}
      rows={rows}
      rowKey={(a) => a.id}
      rowTestId={(a) => `alert-${a.id}`}
      columns={[
        { key: "sev", header: "Severity", render: (a) => <Badge tone={severityTone(a.severity)}>{a.severity}</Badge> },
        { key: "what", header: "Alert", render: (a) => <div className="min-w-48 [overflow-wrap:anywhere]"><div className="font-medium">{a.rule}{a.resource_id ? ` · ${a.resource_id}` : ""}</div><div className="text-xs text-slate-600">{a.message}</div></div> },
        { key: "value", header: "Value / threshold", align: "right", render: (a) => (a.value !== null ? `${formatNumber(a.value, 1)} / ${formatNumber(a.threshold, 1)}` : "—") },
        { key: "state", header: "State", render: (a) => <span><Badge tone={statusTone(a.state)}>{a.state}</Badge>{a.silenced_by && <div className="text-xs text-slate-500">silenced</div>}</span> },
        { key: "when", header: "Started", render: (a) => <span className="whitespace-nowrap text-xs">{formatDateTime(a.started_at)}{a.resolved_at && <div>resolved {formatDateTime(a.resolved_at)}</div>}</span> },
        { key: "breach", header: "Predicted breach", render: (a) => <span className="text-xs">{a.breach_at ? formatDateTime(a.breach_at) : "—"}</span> },
        { key: "sent", header: "Notified", render: (a) => <span className="text-xs">{a.deliveries.length ? a.deliveries.map((d) => `${d.channel}: ${d.status}`).join(", ") : "—"}</span> },
      ]}
    />
  );
}

function Silences() {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ rule: "", resource: "", reason: "", starts: "", ends: "", recurring: false, days: [] as number[], from: "22:00", to: "06:00" });
  const silences = useQuery({ queryKey: ["capacity.alert", "silences"], queryFn: () => unwrap(api.GET("/api/silences")) });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["capacity.alert"] });
  const create = useAction((body: RequestOf<"/api/silences", "post">, key: string) => unwrap(api.POST("/api/silences", { body, headers: idempotencyHeaders(key) })), {
    onSuccess: () => {
      setForm({ ...form, reason: "", starts: "", ends: "" });
      refresh();
    },
  });
  const remove = useAction((id: string, key: string) => unwrap(api.DELETE("/api/silences/{silence_id}", { params: { path: { silence_id: id } }, headers: idempotencyHeaders(key) })), { onSuccess: refresh });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const toIso = (local: string) => (local ? new Date(local).toISOString() : null);
    create.mutate({
      rule: form.rule || null,
      resource_id: form.resource || null,
      reason: form.reason,
      ...(form.recurring ? { recurring: { days: form.days, start: form.from, end: form.to } } : { starts_at: toIso(form.starts), ends_at: toIso(form.ends) }),
    });
  };
  return (
    <Card title="Silences" testId="silences" description="Mute matching alerts for a one-off window (a deploy) or every week at the same hours (a nightly batch).">
      <form onSubmit={submit} className="mb-4 grid gap-3 md:grid-cols-3" aria-label="Create a silence">
        <TextField label="Rule" value={form.rule} onChange={(e) => setForm({ ...form, rule: e.target.value })} placeholder="any rule" />
        <TextField label="Resource" value={form.resource} onChange={(e) => setForm({ ...form, resource: e.target.value })} placeholder="any resource" />
        <TextField label="Reason" value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} required data-testid="silence-reason" />
        <fieldset className="md:col-span-3">
          <legend className="text-sm font-medium text-slate-700">Window</legend>
          <label className="mr-4 text-sm">
            <input type="radio" name="kind" checked={!form.recurring} onChange={() => setForm({ ...form, recurring: false })} /> One-off
          </label>
          <label className="text-sm">
            <input type="radio" name="kind" checked={form.recurring} onChange={() => setForm({ ...form, recurring: true })} data-testid="silence-recurring" /> Recurring every week
          </label>
        </fieldset>
        {form.recurring ? (
          <>
            <fieldset className="md:col-span-3">
              <legend className="text-sm text-slate-700">Days (UTC)</legend>
              <div className="flex flex-wrap gap-3">
                {DAYS.map((d, i) => (
                  <label key={d} className="text-sm">
                    <input
                      type="checkbox"
                      checked={form.days.includes(i)}
                      onChange={(e) => setForm({ ...form, days: e.target.checked ? [...form.days, i].sort() : form.days.filter((x) => x !== i) })}
                    />{" "}
                    {d}
                  </label>
                ))}
              </div>
            </fieldset>
            <TextField label="From" unit="HH:MM UTC" type="time" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} required />
            <TextField label="To" unit="HH:MM UTC, may be next day" type="time" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} required />
          </>
        ) : (
          <>
            <TextField label="Starts" type="datetime-local" value={form.starts} onChange={(e) => setForm({ ...form, starts: e.target.value })} hint="empty = now (your local time)" />
            <TextField label="Ends" type="datetime-local" value={form.ends} onChange={(e) => setForm({ ...form, ends: e.target.value })} hint="empty = until removed" />
          </>
        )}
        <div className="md:col-span-3">
          {create.isError && <ErrorState error={create.error} title="Silence not created" />}
          <Button type="submit" busy={create.isPending} disabled={form.recurring && form.days.length === 0} data-testid="create-silence">
            Create silence
          </Button>
        </div>
      </form>
      {remove.isError && <ErrorState error={remove.error} />}
      <QueryView query={silences} isEmpty={(s) => s.length === 0} empty={<EmptyState title="No silences" />}>
        {(rows) => (
          <DataTable
            caption="Silences"
            rows={rows}
            rowKey={(s) => s.id}
            columns={[
              { key: "what", header: "Matches", render: (s) => `${s.rule ?? "any rule"} · ${s.resource_id ?? "any resource"}` },
              { key: "when", header: "When", render: (s) => <span className="text-xs">{describeSilence(s)}</span> },
              { key: "why", header: "Reason", render: (s) => <span className="text-xs">{s.reason} ({s.created_by})</span> },
              { key: "del", header: <span className="sr-only">Remove</span>, render: (s) => <Button variant="ghost" onClick={() => remove.mutate(s.id)} aria-label={`Remove silence: ${s.reason}`}>Remove</Button> },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function Alerts() {
  const queryClient = useQueryClient();
  useEventStream(["capacity."]);
  const alerts = useQuery({ queryKey: ["capacity.alert", "list"], queryFn: () => unwrap(api.GET("/api/alerts", { params: { query: { limit: 200 } } })), refetchInterval: 60_000 });
  const test = useAction((_: null, key: string) => unwrap(api.POST("/api/test-alert", { body: { message: "Test alert from the Spectra UI" }, headers: idempotencyHeaders(key) })), {
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["capacity.alert"] }),
  });
  const firing = (alerts.data ?? []).filter((a) => a.state === "firing");
  return (
    <>
      <PageHeader
        title="Alerts"
        description="Capacity alerts: what is firing now, the history with delivery status per channel, and silences."
        actions={
          <Button variant="secondary" busy={test.isPending} onClick={() => test.mutate(null)} data-testid="test-alert">
            Send a test alert
          </Button>
        }
      />
      {test.isError && <ErrorState error={test.error} title="Test alert failed" />}
      {test.isSuccess && (
        <p role="status" className="mb-3 text-sm text-slate-700">
          Test alert: {test.data.deliveries.length ? test.data.deliveries.map((d) => `${d.channel} ${d.status}${d.error ? ` (${d.error})` : ""}`).join(", ") : "no channel configured"}.
        </p>
      )}
      <Card title={`Firing now (${firing.length})`} className="mb-4" testId="alerts-firing">
        <QueryView query={alerts} isEmpty={() => firing.length === 0} empty={<EmptyState title="Nothing is firing" />}>
          {() => <AlertTable rows={firing} caption="Firing alerts" />}
        </QueryView>
      </Card>
      <Card title="History" className="mb-4" testId="alerts-history">
        <QueryView query={alerts} isEmpty={(a) => a.length === 0} empty={<EmptyState title="No alerts yet" />}>
          {(rows) => <AlertTable rows={rows} caption="Alert history" />}
        </QueryView>
      </Card>
      <Silences />
    </>
  );
}
