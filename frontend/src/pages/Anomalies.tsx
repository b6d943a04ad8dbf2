import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { ClientPicker, useTenant } from "../auth/tenant";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, StatCard, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatCo2e, formatDateTime, formatNumber, formatUsd } from "../lib/format";
import { humanize, severityTone, statusTone } from "../lib/labels";

type Anomaly = ResponseOf<"/api/anomalies", "get">["items"][number];

const KINDS = ["runaway_process", "idle_waste", "carbon_spike", "cost_anomaly"] as const;
const STATUSES = ["open", "resolved", "dismissed"] as const;
const PAGE = 25;

function DismissForm({ anomaly, onDone }: { anomaly: Anomaly; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const [days, setDays] = useState("7");
  const dismiss = useAction(
    (vars: { reason: string; suppress_days: number | null }, key: string) =>
      unwrap(
        api.POST("/api/anomalies/{anomaly_id}/dismiss", {
          params: { path: { anomaly_id: anomaly.id } },
          body: { ...vars, version: anomaly.version },
          headers: idempotencyHeaders(key),
        }),
      ),
    {
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: ["carbon.anomaly"] });
        onDone();
      },
    },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    dismiss.mutate({ reason: reason.trim(), suppress_days: days ? Number(days) : null });
  };
  return (
    <form onSubmit={submit} className="mt-2 space-y-2 rounded-md bg-slate-50 p-3" aria-label={`Dismiss ${anomaly.title}`}>
      <TextField label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} hint="Dismissed patterns teach the detector." />
      <TextField label="Suppress similar for" unit="days" type="number" min={0} max={365} value={days} onChange={(e) => setDays(e.target.value)} />
      {dismiss.isError && <ErrorState error={dismiss.error} title="Could not dismiss" />}
      <div className="flex gap-2">
        <Button type="submit" variant="danger" busy={dismiss.isPending} data-testid="confirm-dismiss">
          Dismiss
        </Button>
        <Button variant="secondary" onClick={onDone}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function Actions({ anomaly }: { anomaly: Anomaly }) {
  const queryClient = useQueryClient();
  const [dismissing, setDismissing] = useState(false);
  const resolve = useAction(
    (_: null, key: string) =>
      unwrap(
        api.POST("/api/anomalies/{anomaly_id}/resolve", {
          params: { path: { anomaly_id: anomaly.id } },
          body: { version: anomaly.version },
          headers: idempotencyHeaders(key),
        }),
      ),
    { onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["carbon.anomaly"] }) },
  );
  if (anomaly.status !== "open") return <span className="text-xs text-slate-500">{anomaly.note ?? ""}</span>;
  return (
    <div className="min-w-40">
      <div className="flex flex-wrap gap-1">
        <Button variant="secondary" busy={resolve.isPending} onClick={() => resolve.mutate(null)} aria-label={`Resolve ${anomaly.title}`} data-testid="resolve">
          Resolve
        </Button>
        <Button variant="ghost" onClick={() => setDismissing((v) => !v)} aria-expanded={dismissing} aria-label={`Dismiss ${anomaly.title}`} data-testid="dismiss">
          Dismiss
        </Button>
      </div>
      {resolve.isError && <ErrorState error={resolve.error} title="Could not resolve" />}
      {dismissing && <DismissForm anomaly={anomaly} onDone={() => setDismissing(false)} />}
    </div>
  );
}

export function Anomalies() {
  const { clientId } = useTenant();
  const [kind, setKind] = useState("");
  const [status, setStatus] = useState("open");
  const [offset, setOffset] = useState(0);
  useEventStream(["carbon.anomaly"]);

  const filters = { kind: kind || null, status: status || null, client_id: clientId, limit: PAGE, offset };
  const list = useQuery({
    queryKey: ["carbon.anomaly", "list", filters],
    queryFn: () => unwrap(api.GET("/api/anomalies", { params: { query: filters } })),
    placeholderData: (previous) => previous,
  });
  const stats = useQuery({
    queryKey: ["carbon.anomaly", "stats", clientId],
    queryFn: () => unwrap(api.GET("/api/anomalies/stats", { params: { query: { client_id: clientId } } })),
  });

  return (
    <>
      <PageHeader
        title="Anomalies"
        description="Runaway processes, idle waste, carbon and cost spikes found in your instances' metrics. Resolve what you fixed; dismiss false alarms so similar ones stay quiet."
        actions={<ClientPicker />}
      />
      <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-4">
        <StatCard label="Open anomalies" value={stats.data ? formatNumber(stats.data.open, 0) : null} testId="anomalies-open" />
        <StatCard label="Open carbon waste" value={stats.data ? formatCo2e(stats.data.open_co2e_kg) : null} testId="anomalies-open-co2e" tone={stats.data?.open_co2e_kg ? "warn" : "neutral"} />
        <StatCard label="Open cost waste" value={stats.data ? formatUsd(stats.data.open_cost_usd) : null} testId="anomalies-open-cost" tone={stats.data?.open_cost_usd ? "warn" : "neutral"} />
        <StatCard label="Resolved / dismissed" value={stats.data ? `${stats.data.resolved} / ${stats.data.dismissed}` : null} />
      </div>
      {stats.isError && <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />}
      <Card
        title="Detected anomalies"
        actions={
          <>
            <SelectField
              label="Kind"
              value={kind}
              onChange={(e) => {
                setKind(e.target.value);
                setOffset(0);
              }}
              options={[{ value: "", label: "All kinds" }, ...KINDS.map((k) => ({ value: k, label: humanize(k) }))]}
            />
            <SelectField
              label="Status"
              value={status}
              onChange={(e) => {
                setStatus(e.target.value);
                setOffset(0);
              }}
              options={[{ value: "", label: "Any status" }, ...STATUSES.map((s) => ({ value: s, label: humanize(s) }))]}
            />
          </>
        }
      >
        <QueryView
          query={list}
          isEmpty={(page) => page.items.length === 0}
          empty={<EmptyState title="No anomalies match" hint="Detection runs on fresh metrics every few minutes; new findings appear here live." />}
        >
          {(page) => (
            <>
              <DataTable
                caption="Anomalies"
                testId="anomalies-table"
                rows={page.items}
                rowKey={(a) => a.id}
                rowTestId={(a) => `anomaly-${a.id}`}
                columns={[
                  { key: "severity", header: "Severity", render: (a) => <Badge tone={severityTone(a.severity)}>{a.severity}</Badge> },
                  {
                    key: "title",
                    header: "What",
                    render: (a) => (
                      <div>
                        <div className="font-medium">{a.title}</div>
                        <div className="text-xs text-slate-500">
                          {humanize(a.kind)} · {a.instance_id ?? "no instance"}
                          {a.region ? ` · ${a.region}` : ""}
                        </div>
                      </div>
                    ),
                  },
                  { key: "when", header: "Window", render: (a) => <span className="whitespace-nowrap text-xs">{formatDateTime(a.started_at)} → {formatDateTime(a.ended_at)}</span> },
                  { key: "co2e", header: "CO2e", align: "right", render: (a) => formatCo2e(a.co2e_kg) },
                  { key: "cost", header: "Cost", align: "right", render: (a) => formatUsd(a.cost_usd) },
                  { key: "status", header: "Status", render: (a) => <Badge tone={statusTone(a.status)}>{a.status}</Badge> },
                  { key: "actions", header: <span className="sr-only">Actions</span>, render: (a) => <Actions anomaly={a} /> },
                ]}
              />
              <div className="mt-3 flex items-center justify-between text-sm text-slate-600">
                <span>
                  {page.total === 0 ? 0 : page.offset + 1}–{page.offset + page.items.length} of {page.total}
                </span>
                <div className="flex gap-2">
                  <Button variant="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                    Previous
                  </Button>
                  <Button variant="secondary" disabled={page.offset + page.items.length >= page.total} onClick={() => setOffset(offset + PAGE)}>
                    Next
                  </Button>
                </div>
              </div>
            </>
          )}
        </QueryView>
      </Card>
    </>
  );
}
